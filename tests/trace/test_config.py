"""`config = { ... }` and BPFTRACE_* settings as current bpftrace checks and applies them (0.17 has no config
block; the texts are current bpftrace's, tests/runtime/config and other of its repository)."""

import io

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session
from pybpf.trace.source import ScriptError
from support import testapp


def run(capsys, script: str, code: int = 0) -> tuple[str, str]:
    assert main(["--no-cache", "-e", script]) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_unknown_key_is_an_error_at_the_entry(capsys):
    _, err = run(capsys, "config = { bad_config=raw } begin {}", code=1)
    assert err.splitlines()[:3] == ["stdin:1:12-26: ERROR: bad_config: not a known configuration option",
                                    "config = { bad_config=raw } begin {}", "           " + "~" * 14]


@pytest.mark.parametrize("script, message", [
    ('config = { license="Potato" } begin { exit(); }',
     "Invalid value for license. Found: Potato. Valid values: Dual MIT/GPL, Dual BSD/GPL, Dual MPL/GPL, "
     "GPL and additional rights, GPL v2, GPL."),
    ("config = { print_maps_on_exit=maybe } begin { exit(); }",
     "print_maps_on_exit: Invalid bool value: valid values are true, false, 1 or 0."),
    ("config = { max_strlen=many } begin { exit(); }", "max_strlen: expecting a number, got many"),
    ("config = { btf=1 } begin { exit(); }", "btf: can only be set as an environment variable"),
])
def test_bad_values_are_errors(capsys, script, message):
    _, err = run(capsys, script, code=1)
    assert message in err


def test_keys_in_environment_spelling_and_renamed_keys(capsys):
    out, err = run(capsys, "config = { BPFTRACE_PRINT_MAPS_ON_EXIT=0; map_keys_max=2 } begin { @a = 1; exit(); }")
    assert "@a" not in out
    assert "WARNING: map_keys_max has been renamed, please use max_map_keys" in err


def test_max_map_keys_sizes_the_maps_the_script_does_not_declare():
    compiled = compile_script("config = { max_map_keys = 3 } let @d = hash(9); begin { @a[1] = 1; @d[1] = 1; }",
                              cache=False)
    assert compiled.resources.maps["@a"].entries == 3
    assert compiled.resources.maps["@d"].entries == 9


def test_max_map_keys_acts_map_full(capsys):
    out, err = run(capsys, "config = { max_map_keys = 2 } begin { @[1] = 1; @[2] = 2; @[3] = 3; exit(); }")
    assert "@[1]: 1" in out and "@[2]: 2" in out and "@[3]" not in out
    assert "WARNING: Map full; can't update element." in err


def test_max_strlen_bounds_str():
    """str() reads at most max_strlen bytes, the NUL included (the size of bpftrace 0.17's str())."""
    out = io.StringIO()
    session = Session(compile_script('config = { max_strlen = 6 } uprobe:support.testapp:greet '
                                     '{ printf("[%s]\\n", str(arg0)); }', cache=False), out=out, err=io.StringIO())
    session.start()
    try:
        testapp.greet("hello world")
    finally:
        session.finish()
    assert out.getvalue().splitlines()[0] == "[hello]"


def test_environment_wins_over_the_script(capsys, monkeypatch):
    monkeypatch.setenv("BPFTRACE_PRINT_MAPS_ON_EXIT", "1")
    out, _ = run(capsys, "config = { print_maps_on_exit = 0 } begin { @a = 7; exit(); }")
    assert "@a: 7" in out


def test_stack_mode_is_the_default_mode_of_kstack_and_ustack():
    compiled = compile_script("config = { stack_mode = perf } begin { @[ustack] = 1; @k[ustack(raw)] = 1; }",
                              cache=False)
    assert compiled.resources.maps["@"].keys[0].params[0] == 1  # perf
    assert compiled.resources.maps["@k"].keys[0].params[0] == 2  # raw, as written


def test_a_bad_environment_value_is_an_error(capsys, monkeypatch):
    monkeypatch.setenv("BPFTRACE_MAX_STRLEN", "abc")
    _, err = run(capsys, "begin { exit(); }", code=1)
    assert "ERROR: BPFTRACE_MAX_STRLEN: expecting a number, got abc" in err


def test_script_errors_are_script_errors():
    with pytest.raises(ScriptError):
        compile_script("config = { nope = 1 } begin { }", cache=False)


def test_config_builtin_reads_the_settings(capsys):
    """bpftrace's stdlib `config()`, bare `config` and `__builtin_config`: a record of the settings in force."""
    out, _ = run(capsys, 'config = { stack_mode = perf; max_strlen = 32; unstable_typeinfo = 1 } begin { '
                         'printf("%d %s %d %s\\n", config().max_strlen, config.stack_mode, config().cpp_demangle, '
                         '__builtin_config.unstable_typeinfo); '
                         'if (config().license == __builtin_config.license) { print(config.license); } exit(); }')
    assert out.splitlines()[:2] == ["32 perf 1 enable", "GPL"]


def test_field_of_an_unknown_function_is_one_error(capsys):
    _, err = run(capsys, "begin { print(nosuch().x); }", code=1)
    assert err.count("ERROR") == 1 and "Unknown function: nosuch" in err

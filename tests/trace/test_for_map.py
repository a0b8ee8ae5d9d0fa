"""`for ($kv : @map)` (a bpf_for_each_map_elem callback) and block-scoped variables around loops."""

import pytest

from pybpf import elf
from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from support.kernel import assert_linux_loads, needs_kernel

OUTPUT = {
    "key and value": ('begin { @m[16] = 32; for ($kv : @m) { printf("%d %d\\n", $kv.0, $kv.1); } clear(@m); exit(); }',
                      "16 32\n"),
    "several keys are a tuple": ('begin { @m[16, 17] = 32; for ($kv : @m) { print($kv); } clear(@m); exit(); }',
                                 "((16, 17), 32)\n"),
    "strings": ('begin { @m["abc"] = "aa"; for ($kv : @m) { print($kv); } clear(@m); exit(); }', "(abc, aa)\n"),
    "count values": ('begin { @m[1] = count(); @m[1] = count(); for ($kv : @m) { print($kv.1); } clear(@m); exit(); }',
                     "2\n"),
    "outer variables are shared": ('begin { @m[0] = 0; @m[1] = 1; $v = 1; for ($kv : @m) { $v *= 2; } print($v); '
                                   'clear(@m); exit(); }', "4\n"),
    "break stops": ('begin { @m[0] = 0; @m[1] = 1; $n = 0; for ($kv : @m) { $n += 1; break; } print($n); clear(@m); '
                    'exit(); }', "1\n"),
    "continue goes on": ('begin { @m[0] = 0; @m[1] = 1; $n = 0; for ($kv : @m) { continue; $n += 1; } print($n); '
                         'clear(@m); exit(); }', "0\n"),
    "return leaves the probe": ('begin { @m[0] = 0; for ($kv : @m) { return; } print("after"); } '
                                'interval:ms:1 { clear(@m); exit(); }', ""),
    "exit in the body": ('begin { @m[0] = 0; @m[1] = 0; for ($kv : @m) { print("in"); exit(); } print("after"); }',
                         "in\n\n\n@m[0]: 0\n@m[1]: 0\n"),
    "nested loops": ('begin { @a[1] = 1; @a[2] = 2; @b[1] = 1; @b[2] = 2; @b[3] = 3; $n = 0; for ($x : @a) { '
                     'for ($y : @b) { $n += $x.1 * $y.1; } } print($n); clear(@a); clear(@b); exit(); }', "18\n"),
    "a variable of the body is its own": ('begin { @m[1] = 1; @m[2] = 2; for ($kv : @m) { $local = $kv.1; } '
                                          '$local = "s"; print($local); clear(@m); exit(); }', "s\n"),
}


@pytest.mark.parametrize("name", OUTPUT)
def test_for_map_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")


def test_loop_variable_is_scoped_to_the_loop(capsys):
    assert main(["--no-cache", "-e", 'begin { @m[1] = 1; for ($kv : @m) { } print($kv); }']) != 0
    assert "ERROR: Undefined or undeclared variable: $kv" in capsys.readouterr().err


def test_iterating_an_unknown_map_is_an_error(capsys):
    assert main(["--no-cache", "-e", 'begin { for ($kv : @nothing) { } }']) != 0
    assert "ERROR: Undefined map: @nothing" in capsys.readouterr().err


def test_the_object_carries_btf_func_info_for_the_callback():
    """Linux loads a program with a callback only with BTF func_info: one FUNC per subprogram."""
    obj = elf.load(compile_script(OUTPUT["nested loops"][0], cache=False).elf)
    (program,) = obj.programs
    assert len(program.func_info) == 3  # the probe and its two loop callbacks
    assert [obj.btf[type_id].kind for _, type_id in program.func_info] == ["FUNC"] * 3


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("script", ['begin { $n = 0; for ($i : 0..10) { $n += $i; } print($n); }',
                                    'macro add(x) { x + 1 } begin { $a = { let $b = 2; add($b) }; print($a); }'])
def test_linux_verifies_loops_and_macros(script):
    assert_linux_loads(script)

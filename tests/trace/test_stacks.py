"""kstack and ustack on the virtual kernel: the traced Python code's stack, in bpftrace's stack modes."""

import io

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session
from support import testapp


def trace(script: str, workload) -> str:
    out, err = io.StringIO(), io.StringIO()
    session = Session(compile_script(script, cache=False), out=out, err=err)
    session.start()
    try:
        workload()
    finally:
        session.poll()
        session.finish()
    return out.getvalue()


def calls_add():
    testapp.add(1, 2)


def test_ustack_as_a_map_key_names_the_python_callers():
    out = trace("uprobe:support.testapp:add { @[ustack] = count(); }", calls_add)
    lines = out.splitlines()
    frames = lines[lines.index("@[") + 1:lines.index("]: 1")]
    assert frames[0].startswith("        testapp.add (")  # the probed function, then its callers
    assert frames[1].startswith("        test_stacks.calls_add (")
    assert all(line.startswith(" " * 8) for line in frames)


def test_perf_and_raw_modes_print_addresses():
    out = trace('uprobe:support.testapp:add { printf("%s|%s", ustack(perf, 1), kstack(raw, 2)); }', calls_add)
    perf, raw = out.split("|")[:2]
    assert perf.startswith("\n\t7fff") and perf.rstrip().endswith(")")
    assert all(len(line) == 12 and int(line, 16) for line in raw.strip().splitlines())
    assert len(raw.strip().splitlines()) == 2


@pytest.mark.parametrize("script, message", [
    ("BEGIN { print(kstack(build_id)); }", "build_id stack mode can only be used for ustack"),
    ("BEGIN { print(ustack(bad)); }", "ustack() expects a stack mode (bpftrace, perf, raw, build_id) and an "
                                      "integer literal limit"),
    ("BEGIN { print(ustack(raw, 0)); }", "ustack() limit must be between 1 and 127 (0 provided)"),
])
def test_misuse_is_a_diagnostic(capsys, script, message):
    assert main(["--no-cache", "-e", script]) == 1
    assert message in capsys.readouterr().err

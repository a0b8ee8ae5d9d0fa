"""Builtins current bpftrace defines in its standard library: assert, ppid, probetype, signal, kaddr.

None of them is in bpftrace 0.17 but signal() (whose 0.17 form needs a kernel probe): the expected texts
are current bpftrace's (tests/runtime/stdlib and call of its repository).
"""

import io
import os
import signal

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session
from support import testapp
from support.kernel import needs_kernel


def run(capsys, script: str, code: int = 0) -> tuple[str, str]:
    assert main(["--no-cache", "-e", script]) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_assert_failing_names_the_stdlib_place_and_exits_1(capsys):
    out, err = run(capsys, 'BEGIN { assert(false, "My error message"); printf("after\\n"); }', code=1)
    assert err.splitlines()[1:4] == ["stdlib/base.bt:6:5-37: ERROR: assert failed: My error message",
                                     '    errorf("assert failed: %s", msg);',
                                     "    " + "~" * 32]
    assert "after" not in out


def test_assert_holding_goes_on(capsys):
    out, err = run(capsys, 'BEGIN { $x = 2; assert($x == 2, "two"); printf("after\\n"); exit(); }')
    assert out.splitlines()[0] == "after"
    assert "assert failed" not in err


def test_ppid_is_the_parent_process_of_the_traced_program(capsys):
    out, _ = run(capsys, 'BEGIN { printf("%d %d\\n", ppid(curtask), ppid()); exit(); }')
    assert out.splitlines()[0] == f"{os.getppid()} {os.getppid()}"


def test_probetype_by_bpftrace_names_and_as_builtin_wrapper(capsys):
    out, _ = run(capsys, 'begin { if (__builtin_probetype == probetype()) { print(probetype); } } '
                         'interval:ms:1 { print(probetype); exit(); }')
    assert out.splitlines()[:2] == ["special", "interval"]


def test_signal_reaches_the_traced_program():
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: received.append(number))
    try:
        session = Session(compile_script('uprobe:support.testapp:add { signal("USR1"); }', cache=False, unsafe=True),
                          out=io.StringIO(), err=io.StringIO())
        session.start()
        try:
            testapp.add(1, 2)
        finally:
            session.finish()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == [signal.SIGUSR1]


def test_signal_misuse_is_a_diagnostic(capsys):
    _, err = run(capsys, 'BEGIN { signal("KILL"); }', code=1)
    assert "stdin:1:9-23: ERROR: signal() can not be used for this probetype special" in err
    _, err = run(capsys, 'uprobe:support.testapp:add { signal("KILL"); }', code=1)
    assert "signal() is unsafe. To use you need the --unsafe flag" in err
    assert main(["--no-cache", "--unsafe", "-e", 'uprobe:support.testapp:add { signal("NOPE"); }']) == 1
    assert "Invalid string for signal: NOPE" in capsys.readouterr().err
    assert main(["--no-cache", "--unsafe", "-e", "uprobe:support.testapp:add { signal(65); }"]) == 1
    assert "signal() accepts a string literal or an integer between 1 and 64 (inclusive)" in \
        capsys.readouterr().err


def test_kaddr_of_a_missing_symbol_is_a_diagnostic_at_the_call(capsys):
    _, err = run(capsys, 'begin { print(kaddr("asdfzzzzzzz")) }', code=1)
    assert err.splitlines()[:3] == ["stdin:1:15-35: ERROR: Failed to resolve kernel symbol: asdfzzzzzzz",
                                    'begin { print(kaddr("asdfzzzzzzz")) }', " " * 14 + "~" * 20]


@needs_kernel
def test_kaddr_is_the_kallsyms_address_on_linux(capsys):
    from pybpf.kernel.linux.ksyms import kallsyms_address
    address = kallsyms_address("proc_dointvec_jiffies")
    if address is None:
        pytest.skip("kallsyms addresses are hidden here (kptr_restrict)")
    assert main(["--no-cache", "--kernel", "linux", "-e",
                 'begin { printf("%lx\\n", kaddr("proc_dointvec_jiffies")); exit(); }']) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{address:x}"

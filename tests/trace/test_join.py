"""join(argv[, sep]): a NULL-terminated array of strings on one line.  On the virtual kernel a Python list
of str reaches a probe as such an array (kernel/virtual/probe_ctx.py), as an execve's argv does on Linux."""

import io

from pybpf import usdt
from pybpf.cli.pybpftrace import main
from pybpf.trace.builtins_stdlib import JOIN_ARGS
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session

ARGV = usdt.probe("pybpftrace_test", "argv")


def trace(script: str, *fired, output_format: str = "text") -> str:
    out = io.StringIO()
    session = Session(compile_script(script, cache=False), out=out, err=io.StringIO(), output_format=output_format)
    session.start()
    try:
        for args in fired:
            ARGV.fire(*args)
    finally:
        session.finish()
    return out.getvalue()


def test_join_with_the_default_and_a_given_separator():
    out = trace('usdt:pybpftrace_test:argv { join(arg0); join(arg0, ","); }', (["ls", "-l", "/tmp"],))
    assert out.splitlines()[:2] == ["ls -l /tmp", "ls,-l,/tmp"]


def test_join_stops_at_the_arrays_null_and_keeps_empty_strings():
    out = trace('usdt:pybpftrace_test:argv { join(arg0, "|"); }', (["a", "", "c"],), (["x"],))
    assert out.splitlines()[:2] == ["a||c", "x"]


def test_join_reads_at_most_its_limit_of_strings():
    words = [f"w{i}" for i in range(JOIN_ARGS + 4)]
    out = trace("usdt:pybpftrace_test:argv { join(arg0); }", (words,))
    assert out.splitlines()[0] == " ".join(words[:JOIN_ARGS])


def test_join_in_json():
    out = trace('usdt:pybpftrace_test:argv { join(arg0); }', (["a", "b"],), output_format="json")
    assert '{"type": "join", "data": "a b"}' in out.splitlines()


def test_join_misuse_is_a_diagnostic(capsys):
    assert main(["--no-cache", "-e", 'BEGIN { join("abc"); }']) == 1
    assert "join() expects an array of string pointers (string provided)" in capsys.readouterr().err
    assert main(["--no-cache", "-e", 'BEGIN { $s = ","; join(0, $s); }']) == 1
    assert "join() expects a string literal as its separator" in capsys.readouterr().err

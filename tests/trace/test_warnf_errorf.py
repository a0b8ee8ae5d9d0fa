"""warnf/errorf: printf's message reported as a diagnostic at the call, and tracing goes on."""

from pybpf.cli.pybpftrace import main


def _place(script: str, call: str, level: str, message: str) -> list[str]:
    col = script.index(call) + 1
    return [f"stdin:1:{col}-{col + len(call)}: {level}: {message}", script, " " * (col - 1) + "~" * len(call)]


def test_warnf_and_errorf_name_the_call(capsys):
    warn, error = 'warnf("bad %d", 10)', 'errorf("worse %s\\n", "x")'
    script = f'BEGIN {{ {warn}; {error}; printf("after\\n"); exit(); }}'
    assert main(["--no-cache", "-e", script]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[1:] == (_place(script, warn, "WARNING", "bad 10") +
                                             _place(script, error, "ERROR", "worse x"))
    assert captured.out.startswith("after\n")

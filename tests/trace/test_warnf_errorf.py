"""warnf/errorf: printf's message reported as a diagnostic at the call, and tracing goes on."""

from pybpf.cli.pybpftrace import main


def _place(script: str, call: str, level: str, message: str) -> list[str]:
    col = script.rindex(call) + 1
    return [f"stdin:1:{col}-{col + len(call)}: {level}: {message}", script, " " * (col - 1) + "~" * len(call)]


def test_warnf_and_errorf_name_the_call(capsys):
    warn, error = 'warnf("bad %d", 10)', 'errorf("worse %s\\n", "x")'
    script = f'BEGIN {{ {warn}; {error}; printf("after\\n"); exit(); }}'
    assert main(["--no-cache", "-e", script]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[1:] == (_place(script, warn, "WARNING", "bad 10") +
                                             _place(script, error, "ERROR", "worse x"))
    assert captured.out.startswith("after\n")


def test_errorf_in_a_macro_names_the_call_it_came_from(capsys):
    """bpftrace's runtime suite, call.errorf_macro_expansion: the macro's line, then "expanded from" the call."""
    script = 'macro bad() { errorf("Something bad"); } begin { bad(); exit(); }'
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().err.splitlines()[1:] == (_place(script, 'errorf("Something bad")', "ERROR",
                                                               "Something bad") +
                                                        _place(script, "bad()", "ERROR", "expanded from"))

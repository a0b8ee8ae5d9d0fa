"""Ctrl-C at any time, even before the probes run: END runs, the maps print, the exit status is 0."""

import signal

from pybpf.cli.pybpftrace import main
from pybpf.trace.runtime import Session


def test_sigint_during_begin_ends_the_run_cleanly(capsys, monkeypatch):
    start = Session.start

    def start_then_interrupt(self):
        start(self)
        signal.raise_signal(signal.SIGINT)  # as a runner's SIGINT arriving before the run loop

    monkeypatch.setattr(Session, "start", start_then_interrupt)
    assert main(["--no-cache", "-e", 'BEGIN { @a = 1; } END { printf("end\\n"); }']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "end" and "@a: 1" in out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back after the run

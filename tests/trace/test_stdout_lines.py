"""pybpftrace writes whole lines to a pipe, as bpftrace does: a printf without a newline waits for the end of
its line (or the exit).  bpftrace's runtime-test runner reads lines and drops a half-read one when it stops
the tracer, so `begin { printf("%d ", x); } end { print(x); }` must arrive as one line."""

import os
import subprocess
import sys


def test_a_partial_line_reaches_the_pipe_with_its_end():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen([sys.executable, "-m", "pybpf.cli.pybpftrace", "-q", "--no-cache", "-e",
                                'begin { printf("a "); } interval:ms:300 { printf("b\\n"); exit(); }'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        first = os.read(process.stdout.fileno(), 1024)  # whatever reaches the pipe first
    finally:
        rest, _ = process.communicate(timeout=60)
    assert first.startswith(b"a b\n")
    assert process.returncode == 0

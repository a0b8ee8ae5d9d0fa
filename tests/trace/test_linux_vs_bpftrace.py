"""Side by side with bpftrace on the Linux kernel: the same scripts on the same workloads print the same maps.

The workloads are binaries of names no other process has (pybpf_dd, a copy of
dd; probed), started by each tracer with -c, so their counts are exact and
the two outputs are compared line for line (latency histograms by total).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from support.kernel import needs_kernel

from kernel.linux_progs import build_probed, have_gcc

BPFTRACE = shutil.which("bpftrace")
pytestmark = [needs_kernel, pytest.mark.skipif(BPFTRACE is None, reason="needs bpftrace (the peer) installed")]
SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def trace(tracer: str, script: str, command: str, stdin: str = "") -> list[str]:
    """The map lines a tracer prints for script while -c command runs."""
    if tracer == "bpftrace":
        argv = [BPFTRACE, "-e", script, "-c", command]
    else:
        argv = [sys.executable, "-m", "pybpf.cli.pybpftrace", "--kernel", "linux", "-e", script, "-c", command]
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC), BPFTRACE_NO_USER_SYMBOLS="1")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, input=stdin)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith(("@", "["))]


@pytest.fixture(scope="module")
def dd(tmp_path_factory):
    path = tmp_path_factory.mktemp("dd") / "pybpf_dd"
    shutil.copy(shutil.which("dd"), path)
    return str(path)


def test_syscall_counts_by_process_are_the_same(dd):
    script = 'tracepoint:raw_syscalls:sys_enter /comm == "pybpf_dd"/ { @[comm, args->id] = count(); }'
    command = f"{dd} if=/dev/zero of=/dev/null bs=512 count=2000"
    ours, theirs = trace("pybpftrace", script, command), trace("bpftrace", script, command)
    assert sorted(ours) == sorted(theirs)
    assert any(line.startswith("@[pybpf_dd, 0]: 20") for line in ours)  # 2000 reads and a few more


def test_read_size_histograms_have_the_same_buckets(dd):
    script = ('tracepoint:syscalls:sys_exit_read /comm == "pybpf_dd"/ { @bytes = hist(args->ret); } '
              'tracepoint:syscalls:sys_enter_read /comm == "pybpf_dd"/ { @fd[args->fd] = count(); '
              '@big = sum(args->count > 2048); }')
    command = f"{dd} if=/dev/zero of=/dev/null bs=3000 count=700"
    ours, theirs = trace("pybpftrace", script, command), trace("bpftrace", script, command)
    assert ours[:ours.index("@fd[0]: 700")] == theirs[:theirs.index("@fd[0]: 700")]  # the hist, then @fd
    assert sorted(ours) == sorted(theirs)
    assert "[2K, 4K)             701 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|" in ours


@pytest.mark.skipif(not have_gcc(), reason="needs gcc to build tests/data/linux/probed.c")
def test_uprobe_latency_histograms_count_the_same_calls(tmp_path):
    probed = build_probed(str(tmp_path))
    script = (f"uprobe:{probed}:pybpf_add {{ @start[tid] = nsecs; @calls = count(); }} "
              f"uretprobe:{probed}:pybpf_add /@start[tid]/ {{ @ns = hist(nsecs - @start[tid]); "
              f"delete(@start[tid]); @sum = sum(retval); }}")
    command = f"{probed} 3000"  # -c: uprobes of the command only (bpftrace's pid filter)
    ours, theirs = trace("pybpftrace", script, command, "go\n"), trace("bpftrace", script, command, "go\n")
    for lines in (ours, theirs):
        assert "@calls: 3000" in lines and f"@sum: {sum(sum(range(i + 1)) for i in range(3000))}" in lines
        assert sum(int(m[1]) for line in lines if (m := re.match(r"\[.*\)\s+(\d+) \|", line))) == 3000

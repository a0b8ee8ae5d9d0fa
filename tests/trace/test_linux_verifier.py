"""The programs pybpftrace generates pass the Linux kernel's verifier unchanged.

Every script of the comparison corpus, the demo and the probe tests is
compiled and loaded on the running kernel by the one object loader
(load_object with LinuxKernel).  A refusal prints the verifier's last lines.
"""

import pytest

from pybpf.cli.demo import SCRIPT as DEMO
from support.bt_scripts import SCRIPTS
from support.kernel import assert_linux_loads, needs_kernel

MORE = {
    "demo": DEMO,
    "python probes": 'uprobe:support.testapp:add { @calls[arg0] = count(); @sum = sum(arg1); } '
                     'uretprobe:support.testapp:add { @ret = max(retval); } '
                     'uprobe:support.testapp:greet { printf("greet %s\\n", str(arg0)); @names[str(arg0)] = count(); }',
    "latency": 'uprobe:support.testapp:slow { @start[tid] = nsecs; } uretprobe:support.testapp:slow /@start[tid]/ '
               '{ @ms = lhist((nsecs - @start[tid]) / 1000000, 0, 100, 10); delete(@start[tid]); }',
    "timers": 'interval:ms:10 { @ticks = count(); if (@ticks == 5) { exit(); } } profile:hz:50 { @cpus[cpu] = count(); }',
    "builtins": 'BEGIN { printf("%d %s %d %d %d %d %d\\n", elapsed, comm, pid, tid, uid, gid, cpu); @r = rand; }',
    "strings": 'begin { $s = comm; if (strcontains($s, "py")) { @hit = count(); } '
               'printf("%d\\n", strncmp($s, "python", 6)); }',
    "usdt and audit": 'usdt:testapp:request { printf("%s %d\\n", str(arg0), arg1); } tracepoint:audit:open { @n = count(); }',
}
CASES = {**{name: script for name, (script, _) in SCRIPTS.items()}, **MORE}


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("name", CASES)
def test_linux_accepts_the_generated_programs(name):
    assert_linux_loads(CASES[name])

"""The programs pybpftrace generates pass the Linux kernel's verifier unchanged.

Every script of the comparison corpus, the demo and the probe tests is
compiled, its maps created on the running kernel, and each program loaded
with BPF_PROG_LOAD (map references resolved to the new maps' fds, as the
loader does).  A refusal prints the verifier's last lines.
"""

import pytest

from pybpf import elf
from pybpf.cli.demo import SCRIPT as DEMO
from pybpf.isa import encode
from pybpf.isa.insn import Insn
from pybpf.isa.opcodes import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX
from pybpf.trace.compiler import compile_script
from support.bt_scripts import SCRIPTS
from support.kernel import needs_kernel

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
    from pybpf.kernel.linux import syscall

    obj = elf.load(compile_script(CASES[name], cache=False).elf)
    fds = [syscall.map_create(m.type, m.key_size, m.value_size, m.max_entries, m.flags) for m in obj.maps]
    try:
        for prog in obj.programs:
            insns = [Insn(i.code, i.dst, BPF_PSEUDO_MAP_FD, i.off, fds[i.imm], i.imm2)
                     if i.code == 0x18 and i.src == BPF_PSEUDO_MAP_IDX else i for i in prog.insns]
            try:
                syscall.close(syscall.prog_load(prog.prog_type, encode(insns)).fd)
            except syscall.KernelError as err:
                pytest.fail(f"{prog.name}: {err}\n" + "\n".join(err.log.splitlines()[-8:]))
    finally:
        for fd in fds:
            syscall.close(fd)

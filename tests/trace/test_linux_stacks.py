"""kstack and ustack on the Linux kernel: stack maps read back and symbolised as bpftrace 0.17 prints them.

Kernel frames come from /proc/kallsyms (`name+offset`), user frames from the
process's mappings and ELF symbols; the workload is probed.c built with frame
pointers, started with -c, so its stack under pybpf_add is known.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from pybpf.kernel.linux.symbols import build_id
from pybpf.kernel.linux.uprobe import function_symbols, symbol_offset
from support.kernel import needs_kernel

from kernel.linux_progs import build_probed, have_gcc

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
BPFTRACE = shutil.which("bpftrace")
pytestmark = [needs_kernel, pytest.mark.skipif(not have_gcc(), reason="needs gcc to build "
                                                                      "tests/data/linux/probed.c")]


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    return build_probed(str(tmp_path_factory.mktemp("frames")), frame_pointers=True)


def run(tracer: str, script: str, command: str) -> str:
    """What a tracer prints on stdout for script while -c command runs (its stdin says go)."""
    if tracer == "bpftrace":
        argv = [BPFTRACE, "-e", script, "-c", command]
    else:
        argv = [sys.executable, "-m", "pybpf.cli.pybpftrace", "--kernel", "linux", "-e", script, "-c", command]
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    for _ in range(3):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, input="go\n")
        # bpftrace 0.17 races the -c command: it may read /proc/PID/exe after the command has exited, and
        # abort (read_symlink ... No such file or directory); that run says nothing about the stacks
        if not (tracer == "bpftrace" and done.returncode != 0 and "read_symlink" in done.stderr):
            break
    assert done.returncode == 0, done.stderr
    return done.stdout


def blocks(out: str) -> list[list[str]]:
    """The stacks a script printed with print(): runs of lines between the blank ones (not the maps, nor
    probed's own output line, `SUM SEMAPHORE-HITS`)."""
    return [b.strip("\n").splitlines() for b in re.split(r"\n\n+", out)
            if b.strip() and not b.startswith("@") and not re.fullmatch(r"\d+ \d+", b.strip())]


def test_a_syscall_tracepoint_kstack_holds_the_syscall_entry(probed):
    out = run("pybpftrace", "tracepoint:syscalls:sys_enter_write /pid == cpid/ { @[kstack] = count(); "
                            "@p[kstack(perf, 3)] = count(); }", f"{probed} 3")
    lines = out.splitlines()
    frames = lines[lines.index("@[") + 1:lines.index("]: 1")]
    assert all(re.fullmatch(r" {8}\w+\+\d+", f) for f in frames), frames
    assert any(f.strip().startswith("do_syscall_64+") for f in frames)
    assert frames[-1].strip().startswith("entry_SYSCALL_64")
    perf = lines[lines.index("@p[") + 1:]
    assert len([f for f in perf[:3] if re.fullmatch(r"\t[0-9a-f]{16} \w+\+\d+", f)]) == 3, perf


def test_a_uprobe_ustack_names_the_callers_in_each_mode(probed):
    out = run("pybpftrace", f"uprobe:{probed}:pybpf_add /arg1 == 2/ {{ print(ustack); print(ustack(perf, 2)); "
                            "print(ustack(raw, 1)); print(ustack(build_id, 1)); }", f"{probed} 4")
    plain, perf, raw, by_build_id = blocks(out)
    assert plain[:2] == ["        pybpf_add+0", plain[1]] and re.fullmatch(r" {8}main\+\d+", plain[1])
    assert re.fullmatch(rf"\t[0-9a-f]+ pybpf_add\+0 \({re.escape(probed)}\)", perf[0])
    assert re.fullmatch(rf"\t[0-9a-f]+ main\+\d+ \({re.escape(probed)}\)", perf[1]) and len(perf) == 2
    assert perf[0].split()[0] == raw[0] and len(raw) == 1  # the same address, unsymbolised
    assert by_build_id == [f"{build_id(probed)} {symbol_offset(probed, 'pybpf_add'):#04x}"]


def test_ustack_keys_a_map_by_stack_and_process(probed):
    out = run("pybpftrace", f"uprobe:{probed}:pybpf_add {{ @[ustack(1), pid - cpid] = count(); }}",
              f"{probed} 25")
    assert "@[\n        pybpf_add+0\n, 0]: 25\n" in out


@pytest.mark.skipif(BPFTRACE is None, reason="needs bpftrace (the peer) installed")
def test_kstack_is_the_same_text_as_bpftrace_and_ustack_the_same_shape(probed):
    script = (f"tracepoint:syscalls:sys_enter_write /pid == cpid/ {{ @k[kstack] = count(); "
              f"@kp[kstack(perf)] = count(); }} "
              f"uprobe:{probed}:pybpf_add /arg1 == 1/ {{ print(ustack(perf)); }}")
    ours, theirs = run("pybpftrace", script, f"{probed} 3"), run("bpftrace", script, f"{probed} 3")
    # current bpftrace indents a stack 8 spaces everywhere; 0.17 indented a map key's 4
    maps = lambda out: [line.strip() for line in out[out.index("@k"):].splitlines()]  # noqa: E731
    assert maps(ours) == maps(theirs)
    assert "        do_syscall_64+" in ours
    # the command shares the tracer's stdout: its own line may follow a stack without a blank line
    user = lambda out: [line for line in [b for b in blocks(out) if b[0].startswith("\t")][0]  # noqa: E731
                        if line.startswith("\t")]
    # bpftrace 0.17 may print a frame unresolved (0x... ([unknown])) when the command exited first
    shape = re.compile(r"\t[0-9a-f]+ (\w+\+\d+ \(/\S+\)|0x[0-9a-f]+ \(\[unknown\]\))")
    assert len(user(ours)) == len(user(theirs)) >= 2
    assert all(shape.fullmatch(line) for line in user(ours) + user(theirs))
    assert "pybpf_add" in function_symbols(probed)

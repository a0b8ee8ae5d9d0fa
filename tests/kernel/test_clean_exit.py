"""Nothing of ours stays in the kernel: links closed, processes killed at random moments, SIGTERM handled.

The kernel's own object ids (BPF_PROG_GET_NEXT_ID, BPF_LINK_GET_NEXT_ID and
their info) are the witness: after a child that loaded and attached programs
dies, no program of its name and no link to its programs may remain.
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from pybpf.kernel.linux import syscall
from pybpf.kernel.linux.attach import LINKS, attach, close_all
from pybpf.uapi import BpfCmd, ProgType
from support.kernel import needs_kernel

from kernel.linux_progs import counter_map, counting_prog

pytestmark = needs_kernel
u32 = ctypes.c_uint32
BPF_PROG_GET_FD_BY_ID, BPF_LINK_GET_FD_BY_ID = 13, 30


class GetIdAttr(ctypes.Structure):
    _fields_ = [("start_id", u32), ("next_id", u32), ("open_flags", u32)]


class LinkInfo(ctypes.Structure):
    _fields_ = [("type", u32), ("id", u32), ("prog_id", u32), ("_rest", ctypes.c_uint8 * 52)]


def _ids(cmd: BpfCmd) -> list[int]:
    ids, start = [], 0
    while True:
        attr = GetIdAttr(start_id=start)
        try:
            syscall.bpf(cmd, attr)
        except syscall.KernelError:
            return ids
        ids.append(attr.next_id)
        start = attr.next_id


def _open(cmd: int, obj_id: int):
    try:
        return syscall.bpf(BpfCmd(cmd), GetIdAttr(start_id=obj_id))
    except syscall.KernelError:
        return None  # freed meanwhile


def live_programs(name: str) -> list[int]:
    """Ids of loaded programs called name."""
    found = []
    for prog_id in _ids(BpfCmd.BPF_PROG_GET_NEXT_ID):
        fd = _open(BPF_PROG_GET_FD_BY_ID, prog_id)
        if fd is not None:
            if syscall.prog_info(fd).name == name:
                found.append(prog_id)
            os.close(fd)
    return found


def links_to(prog_ids) -> list[int]:
    found = []
    for link_id in _ids(BpfCmd.BPF_LINK_GET_NEXT_ID):
        fd = _open(BPF_LINK_GET_FD_BY_ID, link_id)
        if fd is not None:
            info = LinkInfo()
            syscall.obj_get_info(fd, info)
            if info.prog_id in prog_ids:
                found.append(link_id)
            os.close(fd)
    return found


def wait_gone(name: str, prog_ids=(), timeout: float = 10.0) -> tuple[list[int], list[int]]:
    """Programs of name and links to prog_ids still there once the kernel's deferred frees ran."""
    deadline = time.monotonic() + timeout
    while True:
        progs, links = live_programs(name), links_to(set(prog_ids))
        if (not progs and not links) or time.monotonic() > deadline:
            return progs, links
        time.sleep(0.05)


CHILD = textwrap.dedent("""
    import os, sys, time
    from pybpf.kernel.linux import syscall
    from pybpf.kernel.linux.attach import attach, install_signal_handlers
    from kernel.linux_progs import counter_map, counting_prog
    from pybpf.uapi import ProgType
    install_signal_handlers()
    counts = counter_map()
    ids = []
    for target, kind in [("tracepoint:syscalls:sys_enter_getppid", ProgType.BPF_PROG_TYPE_TRACEPOINT),
                         ("raw_tracepoint:sys_enter", ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT),
                         ("uprobe:libc:getppid", ProgType.BPF_PROG_TYPE_KPROBE),
                         ("profile:hz:50", ProgType.BPF_PROG_TYPE_PERF_EVENT)]:
        prog = counting_prog(kind, counts, name=sys.argv[1])
        ids.append(syscall.prog_info(prog).id)
        attach(None, prog, target, pid=os.getpid() if target.startswith("uprobe") else None)
    print(" ".join(map(str, ids)), flush=True)
    while True:
        os.getppid()
        time.sleep(0.001)
""")


def _child(name: str):
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(os.path.dirname(here), "src"), here,
                                         env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", CHILD, name], stdout=subprocess.PIPE, text=True, env=env)


def test_closing_a_link_releases_its_perf_events_and_bpf_link():
    counts = counter_map()
    prog = counting_prog(ProgType.BPF_PROG_TYPE_TRACEPOINT, counts, name="pybpf_close1")
    prog_id = syscall.prog_info(prog).id
    try:
        link = attach(None, prog, "tracepoint:syscalls:sys_enter_getppid")
        assert len(links_to({prog_id})) == 1 and link in LINKS
        link.close()
        assert links_to({prog_id}) == [] and link not in LINKS
        link.close()  # twice is harmless
        again = attach(None, prog, "tracepoint:syscalls:sys_enter_getpid")
        close_all()
        assert again.fds == [] and links_to({prog_id}) == []
    finally:
        syscall.close(prog)
        syscall.close(counts)
    assert wait_gone("pybpf_close1") == ([], [])


@pytest.mark.parametrize("round_", range(4))
def test_child_killed_at_a_random_moment_leaves_nothing(round_):
    name = f"pybpf_kill{round_}"
    rng = random.Random(round_)
    child = _child(name)
    ids = []
    try:
        if round_ % 2:  # once attached and running
            ids = [int(x) for x in child.stdout.readline().split()]
            assert len(ids) == 4 and links_to(set(ids))
            time.sleep(rng.uniform(0.0, 0.3))
        else:  # somewhere while importing, loading or attaching
            time.sleep(rng.uniform(0.2, 1.0))
    finally:
        child.kill()
        child.wait()
    assert wait_gone(name, ids) == ([], [])


def test_sigterm_closes_every_link_then_exits_as_sigterm():
    name = "pybpf_term"
    child = _child(name)
    try:
        ids = [int(x) for x in child.stdout.readline().split()]
        from pybpf.kernel.linux.perf import online_cpus
        assert len(links_to(set(ids))) == 3 + len(online_cpus())  # profile: one link per CPU
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()
    assert wait_gone(name, ids) == ([], [])

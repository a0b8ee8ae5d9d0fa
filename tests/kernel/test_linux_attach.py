"""Attach points of the real kernel (pybpf.kernel.linux.attach): exact counts for known workloads."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import time

import pytest

from pybpf.kernel.linux import attach as linux_attach
from pybpf.kernel.linux import syscall, tracefs, uprobe, usdt
from pybpf.kernel.linux.attach import AttachError, attach
from pybpf.uapi import ProgType
from support.kernel import needs_kernel

from kernel.linux_progs import NR_GETPPID, build_probed, counter_map, counting_prog, have_gcc, have_sdt, read_counter

pytestmark = needs_kernel
TRACEPOINT, KPROBE, PERF_EVENT = (ProgType.BPF_PROG_TYPE_TRACEPOINT, ProgType.BPF_PROG_TYPE_KPROBE,
                                  ProgType.BPF_PROG_TYPE_PERF_EVENT)
RAW_TRACEPOINT = ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT
needs_gcc = pytest.mark.skipif(not have_gcc(), reason="needs gcc to build tests/data/linux/probed.c")


@pytest.fixture
def counts():
    fd = counter_map()
    yield fd
    syscall.close(fd)


def test_tracepoint_counts_every_getppid_of_ours_exactly(counts):
    prog = counting_prog(TRACEPOINT, counts, pid=None)
    try:
        with attach(None, prog, "tracepoint:syscalls:sys_enter_getppid") as link:
            assert len(link.fds) == 2  # the perf event and its BPF link
            for _ in range(1234):
                os.getppid()
        for _ in range(10):
            os.getppid()  # detached: not counted
        assert read_counter(counts) == 1234
        assert link.fds == []
    finally:
        syscall.close(prog)


@pytest.mark.skipif(NR_GETPPID is None, reason="getppid's syscall number on this machine is not in the test")
def test_raw_tracepoint_sees_every_syscall_entry_of_ours(counts):
    prog = counting_prog(RAW_TRACEPOINT, counts, pid=None, syscall_nr=NR_GETPPID)
    try:
        with attach(None, prog, "raw_tracepoint:sys_enter"):
            for _ in range(500):
                os.getppid()
        assert read_counter(counts) == 500
    finally:
        syscall.close(prog)


def test_tracepoint_format_and_id_come_from_tracefs():
    fields = {f.name: f for f in tracefs.tracepoint_format("syscalls", "sys_enter_openat")}
    assert fields["__syscall_nr"].offset == 8 and fields["filename"].size == 8
    assert tracefs.tracepoint_id("syscalls", "sys_enter_openat") > 0


@pytest.mark.parametrize("target, message", [
    ("tracepoint:syscalls:no_such_event", "no tracepoint syscalls:no_such_event"),
    ("raw_tracepoint:no_such_raw_tp", "no raw tracepoint"),
    ("kprobe:do_sys_openat2", "this kernel has no kprobes"),
    ("fentry:do_sys_openat2", "fentry/fexit"),
    ("hardware:cycles:100000", "no hardware PMU"),
    ("nosuch:thing", "unknown probe type 'nosuch'"),
    ("uprobe:/bin/true:no_such_symbol_here", "no function 'no_such_symbol_here'"),
    ("software:nosuch:10", "unknown event"),
])
def test_unavailable_targets_are_clear_errors_and_leave_nothing(counts, target, message):
    if target.startswith("kprobe") and os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    if target.startswith("hardware") and os.path.exists("/sys/bus/event_source/devices/cpu"):
        pytest.skip("this machine has a hardware PMU")
    prog = counting_prog(RAW_TRACEPOINT if target.startswith("raw") else TRACEPOINT, counts)
    fds_before = set(os.listdir("/proc/self/fd"))
    try:
        with pytest.raises((AttachError, uprobe.SymbolError, tracefs.TracefsError)) as err:
            attach(None, prog, target)
        assert message in str(err.value)
        assert set(os.listdir("/proc/self/fd")) <= fds_before | {str(prog)}
        assert not [link for link in linux_attach.LINKS if link.fds]
    finally:
        syscall.close(prog)


def _run_probed(binary: str, n: int, attach_to, *args):
    """Start binary, attach with its pid, let it run n iterations; (its output, the link's fd count)."""
    child = subprocess.Popen([binary, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with attach_to(child.pid) as link:
            out, _ = child.communicate("go\n", timeout=30)
            return out.split(), len(link.fds)
    finally:
        child.kill()
        child.wait()


@needs_gcc
@pytest.mark.parametrize("kind", ["uprobe", "uretprobe"])
def test_uprobes_on_a_test_binary_count_every_call(tmp_path, counts, kind):
    binary = build_probed(str(tmp_path))
    prog = counting_prog(KPROBE, counts)
    try:
        out, nfds = _run_probed(binary, 777, lambda pid: attach(None, prog, f"{kind}:{binary}:pybpf_add", pid=pid))
        assert out[0] == str(sum(range(777))) and nfds == 2
        assert read_counter(counts) == 777
    finally:
        syscall.close(prog)


def test_uprobe_on_libc_counts_our_calls(counts):
    libc = uprobe.resolve_binary("libc")
    assert uprobe.symbol_offset(libc, "getppid") > 0
    prog = counting_prog(KPROBE, counts, pid=None)
    getppid = ctypes.CDLL(None).getppid
    try:
        with attach(None, prog, "uprobe:libc:getppid", pid=os.getpid()):
            for _ in range(300):
                getppid()
        assert read_counter(counts) == 300
    finally:
        syscall.close(prog)


@needs_gcc
@pytest.mark.parametrize("sdt", ["sdt.h", "asm"])
def test_usdt_probe_with_semaphore_fires_every_time(tmp_path, counts, sdt):
    if sdt == "sdt.h" and not have_sdt():
        pytest.skip("needs <sys/sdt.h> (apt-get install systemtap-sdt-dev)")
    if sdt == "asm" and platform.machine() != "x86_64":
        pytest.skip("the test program's own stapsdt note is written for x86-64")
    binary = build_probed(str(tmp_path), sdt=sdt)
    (probe,) = usdt.find_probe(binary, "pybpf", "tick")
    assert probe.semaphore and probe.args[0].size == -8 and probe.args[0].kind in ("reg", "mem")
    prog = counting_prog(KPROBE, counts)
    try:
        out, _ = _run_probed(binary, 321, lambda pid: attach(None, prog, f"usdt:{binary}:pybpf:tick", pid=pid))
        assert read_counter(counts) == 321
        assert out[1] == "321"  # the semaphore was raised for the whole run
    finally:
        syscall.close(prog)


def _rate(target: str, seconds: float) -> float:
    fd = counter_map()
    prog = counting_prog(PERF_EVENT, fd)
    try:
        with attach(None, prog, target):
            time.sleep(seconds)
        return read_counter(fd) / seconds
    finally:
        syscall.close(prog)
        syscall.close(fd)


def test_profile_fires_at_about_its_rate_on_every_cpu():
    from pybpf.kernel.linux.perf import online_cpus
    cpus = online_cpus()
    # cpu-clock samples only a CPU that is running: keep every CPU busy for the window (an idle one stays silent).
    burn = "import time\nend = time.monotonic() + 2.5\nwhile time.monotonic() < end: pass"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in cpus]
    try:
        time.sleep(0.3)
        rate = _rate("profile:hz:200", 1.0)
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    expected = 200 * len(cpus)
    assert 0.5 * expected < rate < 1.5 * expected, rate


def test_interval_fires_at_about_its_rate_on_one_cpu():
    rate = _rate("interval:ms:10", 1.0)
    assert 50 < rate < 150, rate


def test_software_event_counts_page_faults(counts):
    prog = counting_prog(PERF_EVENT, counts)
    try:
        with attach(None, prog, "software:page-faults:1") as link:
            import mmap
            m = mmap.mmap(-1, 64 * mmap.PAGESIZE)
            for i in range(64):
                m[i * mmap.PAGESIZE] = 1
            m.close()
            assert len(link.fds) == 2 * len(__import__("pybpf.kernel.linux.perf").kernel.linux.perf.online_cpus())
        assert read_counter(counts) >= 64
    finally:
        syscall.close(prog)


@pytest.mark.parametrize("target", ["profile:hz:10", "raw_tracepoint:sys_enter"])
def test_a_program_of_the_wrong_type_is_named_in_the_error(counts, target):
    prog = counting_prog(TRACEPOINT, counts)
    try:
        with pytest.raises(AttachError, match="programs; is the program of that type"):
            attach(None, prog, target)
    finally:
        syscall.close(prog)


@needs_gcc
@pytest.mark.skipif(platform.machine() != "x86_64", reason="the test program's own stapsdt note is x86-64")
def test_closing_a_usdt_link_lowers_the_semaphore_again(tmp_path, counts):
    binary = build_probed(str(tmp_path), sdt="asm")
    prog = counting_prog(KPROBE, counts)
    child = subprocess.Popen([binary, "50"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        attach(None, prog, f"usdt:{binary}:pybpf:tick", pid=child.pid).close()
        out, _ = child.communicate("go\n", timeout=30)
        assert out.split()[1] == "0" and read_counter(counts) == 0
    finally:
        child.kill()
        child.wait()
        syscall.close(prog)

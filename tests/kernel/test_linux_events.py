"""Events back from the real kernel: perf buffers and ring buffers with exact loss accounting, epoll, trace_pipe."""

from __future__ import annotations

import os

import pytest

from pybpf.kernel.linux import syscall, tracefs
from pybpf.kernel.linux.attach import attach
from pybpf.kernel.linux.perf import PerfBuffer, online_cpus, possible_cpus
from pybpf.kernel.linux.poll import Poller
from pybpf.kernel.linux.ringbuf import RingBuffer
from pybpf.kernel.linux.symbols import build_id, kallsyms, ksym
from pybpf.uapi import MapType, ProgType
from support.kernel import needs_kernel

from kernel.linux_progs import _bump, counter_map, load, pid_filter, read_counter

pytestmark = needs_kernel
TRACEPOINT = ProgType.BPF_PROG_TYPE_TRACEPOINT
TARGET = "tracepoint:syscalls:sys_enter_getppid"
BPF_F_CURRENT_CPU = 0xFFFFFFFF


@pytest.fixture
def counts():
    fd = counter_map(4)
    yield fd
    syscall.close(fd)


def perf_output_prog(events_fd: int, counts_fd: int) -> int:
    """On each getppid of ours: bpf_perf_event_output(ctx, events, CURRENT_CPU, &seq, 8); counter 0 counts
    runs, counter 1 failed outputs (the ring was full)."""
    return load(TRACEPOINT, f"""
        r6 = r1
        {pid_filter("out")}
        call bpf_ktime_get_ns
        *(u64 *)(r10 - 16) = r0
        {_bump(counts_fd, 0, "bumped")}
        r1 = r6
        r2 = map[fd:{events_fd}] ll
        r3 = {BPF_F_CURRENT_CPU} ll
        r4 = r10
        r4 += -16
        r5 = 8
        call bpf_perf_event_output
        if r0 == 0 goto out
        {_bump(counts_fd, 1, "out")}
        r0 = 0
        exit""", "pybpf_perfout")


def test_perf_buffer_delivers_every_sample_or_counts_it_lost(counts):
    events = syscall.map_create(MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, possible_cpus(), name="events")
    prog = perf_output_prog(events, counts)
    samples = []
    # The kernel reports a CPU's losses in that CPU's ring, before its next sample that fits: stay on one CPU
    # so that the last sample follows the losses.
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})
    try:
        with PerfBuffer(events, pages=1, on_sample=lambda cpu, data: samples.append(data)) as buf, \
                attach(None, prog, TARGET):
            assert len(buf.fds) == len(online_cpus())
            for _ in range(3000):  # a flood into one page per CPU, not read meanwhile
                os.getppid()
            buf.consume()
            os.getppid()  # the kernel writes PERF_RECORD_LOST before the next sample that fits
            buf.consume()
        produced, failed = read_counter(counts, 0), read_counter(counts, 1)
        assert produced == 3001
        assert buf.lost == failed > 0
        assert buf.received == len(samples) == produced - failed
        assert all(len(s) >= 8 for s in samples)  # u64 payload, padded by perf to 8-byte alignment
    finally:
        os.sched_setaffinity(0, affinity)
        syscall.close(prog)
        syscall.close(events)


def test_perf_buffer_wakes_epoll(counts):
    events = syscall.map_create(MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, possible_cpus(), name="events")
    prog = perf_output_prog(events, counts)
    try:
        with PerfBuffer(events, pages=4) as buf, Poller() as poller, attach(None, prog, TARGET):
            buf.add_to(poller)
            assert poller.poll(0) == 0
            for _ in range(5):
                os.getppid()
            while buf.received < 5:
                assert poller.poll(5.0) > 0
            assert buf.lost == 0
    finally:
        syscall.close(prog)
        syscall.close(events)


def ringbuf_prog(ring_fd: int, counts_fd: int) -> int:
    """On each getppid of ours: reserve 16 bytes; submit on even nanoseconds, discard on odd ones.
    Counters: 0 runs, 1 failed reservations, 2 discards."""
    return load(TRACEPOINT, f"""
        {pid_filter("out")}
        {_bump(counts_fd, 0, "bumped")}
        r1 = map[fd:{ring_fd}] ll
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 != 0 goto reserved
        {_bump(counts_fd, 1, "out")}
        r0 = 0
        exit
    reserved:
        r6 = r0
        call bpf_ktime_get_ns
        *(u64 *)(r6 + 0) = r0
        *(u64 *)(r6 + 8) = r0
        r0 &= 1
        if r0 == 0 goto submit
        r1 = r6
        r2 = 0
        call bpf_ringbuf_discard
        {_bump(counts_fd, 2, "done")}
        r0 = 0
        exit
    submit:
        r1 = r6
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 0
        exit""", "pybpf_ringbuf")


def test_ring_buffer_accounts_for_every_record_under_a_flood(counts):
    size = 4096
    ring = syscall.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, size, name="ring")
    prog = ringbuf_prog(ring, counts)
    records = []
    try:
        with RingBuffer(ring, size, records.append) as rb, Poller() as poller, attach(None, prog, TARGET):
            rb.add_to(poller)
            for _ in range(2000):  # 24 bytes a record: 170 fit, the rest fail to reserve
                os.getppid()
            poller.poll(1.0)
            for _ in range(100):  # after draining, room again: nothing lost
                os.getppid()
            rb.consume()
        produced, failed, discarded = (read_counter(counts, i) for i in range(3))
        assert produced == 2100 and failed > 0
        assert rb.discarded == discarded
        assert rb.received == len(records) == produced - failed - discarded
        assert all(len(r) == 16 and r[:8] == r[8:] for r in records)
    finally:
        syscall.close(prog)
        syscall.close(ring)


def test_ring_buffer_consume_returns_when_reading_makes_more_records(counts):
    # each record read makes another (the callback calls getppid): one call reads what was there and returns
    size = 4096
    ring = syscall.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, size, name="ring")
    prog = ringbuf_prog(ring, counts)
    try:
        with RingBuffer(ring, size, lambda record: os.getppid()) as rb, attach(None, prog, TARGET):
            for _ in range(20):
                os.getppid()
            first = rb.consume()
            assert 0 < first <= 20
            assert rb.consume() > 0  # what the first call's reading produced (half of it discarded)
    finally:
        syscall.close(prog)
        syscall.close(ring)


def test_trace_pipe_carries_bpf_trace_printk():
    marker = f"pybpf{os.getpid() % 100000:05d}"
    text = (marker + "\n\0").encode().ljust(16, b"\0")
    words = [int.from_bytes(text[i:i + 8], "little") for i in range(0, 16, 8)]
    prog = load(TRACEPOINT, f"""
        {pid_filter("out")}
        r1 = {words[0]} ll
        *(u64 *)(r10 - 16) = r1
        r1 = {words[1]} ll
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -16
        r2 = {len(marker) + 2}
        call bpf_trace_printk
    out:
        r0 = 0
        exit""", "pybpf_printk")
    fd = tracefs.open_trace_pipe()
    seen = b""
    try:
        with attach(None, prog, TARGET), Poller() as poller:
            def read():
                nonlocal seen
                try:
                    seen += os.read(fd, 65536)
                except BlockingIOError:
                    pass
            poller.add(fd, read)
            for _ in range(50):  # printk again each round: another reader of the pipe may take a line
                os.getppid()
                if marker.encode() in seen:
                    break
                poller.poll(0.1)
        assert marker.encode() in seen
    finally:
        os.close(fd)
        syscall.close(prog)


def test_kallsyms_and_elf_symbols():
    table = kallsyms()
    addr = table.address("__x64_sys_getppid") or table.address("sys_getppid")
    if addr is None:
        pytest.skip("kallsyms has no getppid entry point (addresses hidden?)")
    assert ksym(addr + 1) in ("__x64_sys_getppid", "sys_getppid")
    from pybpf.kernel.linux.symbols import ProcessSymbols, elf_symbols
    from pybpf.kernel.linux.uprobe import resolve_binary
    import ctypes
    libc = resolve_binary("libc")
    assert build_id(libc) and len(build_id(libc)) == 40
    assert elf_symbols(libc).address("getppid")
    getppid = ctypes.cast(ctypes.CDLL(None).getppid, ctypes.c_void_p).value
    name, offset, path = ProcessSymbols(os.getpid()).lookup(getppid)
    assert (name, offset) in (("getppid", 0), ("__getppid", 0)) and os.path.realpath(path) == libc

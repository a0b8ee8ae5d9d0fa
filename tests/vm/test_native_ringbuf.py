"""The native engine's ring buffer helpers run in machine code, and hand over to Python exactly when they must.

vm/jit/native_ringbuf.py: no callback for reserve/submit/discard/output/query
on a ring the program names; a reserve while a Python thread is inside
RingBufMap.reserve goes through Python (which waits for its lock); a commit
that is to wake a consumer blocked in RingBufMap.wait goes through Python,
which notifies it; BPF_RB_NO_WAKEUP wakes no one on any engine.
"""

from __future__ import annotations

import threading
import time

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.maps.ringbuf import RESERVING, WAITERS
from pybpf.uapi import MapType, ProgType
from pybpf.vm import jit
from pybpf.vm.jit.native_ringbuf import HELPERS, RESERVE, SUBMIT

pytestmark = pytest.mark.skipif(not jit.available(), reason="the native engine is not available here")
NO_WAKEUP, FORCE_WAKEUP = 1, 2


def producer(ring: int, submit_flags: int = 0):
    """Reserve 12 bytes, write them, submit; then output 3 bytes, discard a record, query: r0 = AVAIL_DATA."""
    return assemble(f"""
        r1 = map[fd:{ring}] ll
        r2 = 12
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = 0x0badcafe
        *(u32 *)(r0 + 8) = r1
        r1 = r0
        r2 = {submit_flags}
        call bpf_ringbuf_submit
        r1 = 0x616263
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{ring}] ll
        r2 = r10
        r2 += -4
        r3 = 3
        r4 = {NO_WAKEUP}
        call bpf_ringbuf_output
        r1 = map[fd:{ring}] ll
        r2 = 5
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = r0
        r2 = {NO_WAKEUP}
        call bpf_ringbuf_discard
        r1 = map[fd:{ring}] ll
        r2 = 0
        call bpf_ringbuf_query
    out:
        exit
    """, helper_id=helper_id)


def load(engine: str = "native", submit_flags: int = 0):
    """(kernel, ring map, program fd, {helper id: callbacks made}) with the engine's ring helpers counted."""
    kernel = VirtualKernel()
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, producer(fd, submit_flags), engine=engine)
    engine_obj = kernel.prog(prog.fd).interp
    calls = dict.fromkeys(HELPERS, 0)

    def counted(helper, impl):
        def call(*args):
            calls[helper] += 1
            return impl(*args)
        return call
    if engine == "native":  # the callback's table of helper implementations (the interpreter has none)
        engine_obj.plain = {i: counted(i, impl) if i in HELPERS else impl for i, impl in engine_obj.plain.items()}
    return kernel, kernel.map(fd), prog.fd, calls


def test_native_code_makes_no_ring_buffer_callback():
    kernel, ring, fd, calls = load()
    assert kernel.prog_test_run(fd, bytes(64), repeat=5).retval == 5 * (24 + 16 + 16)
    assert calls == dict.fromkeys(HELPERS, 0)
    records = list(ring.records())
    assert [r[8:] for r in records[::2]] == [b"\xfe\xca\xad\x0b"] * 5 and records[1::2] == [b"cba"] * 5
    assert ring.query(0) == 0


def test_a_reserve_during_a_python_reserve_waits_for_it_in_python():
    kernel, ring, fd, calls = load()
    ring._lock.acquire()  # a Python thread inside RingBufMap.reserve, between its two writes
    ring.words[RESERVING] = 1
    runner = threading.Thread(target=kernel.prog_test_run, args=(fd, bytes(64)))
    runner.start()
    runner.join(0.3)
    assert runner.is_alive() and ring.producer_pos == 0  # the native code went to Python, which waits
    ring._lock.release()
    runner.join(10)
    assert not runner.is_alive()
    assert calls[RESERVE] == 1 and ring.words[RESERVING] == 0
    assert len(list(ring.records())) == 2  # the reserve waited, then the rest ran native


@pytest.mark.parametrize("flags", [0, FORCE_WAKEUP])
@pytest.mark.parametrize("engine", ["interp", "native"])
def test_a_submit_wakes_a_waiting_consumer(engine, flags):
    kernel, ring, fd, calls = load(engine, submit_flags=flags)
    woken = []
    consumer = threading.Thread(target=lambda: woken.append((ring.wait(timeout=30), time.monotonic())))
    consumer.start()
    while ring.words[WAITERS] == 0:
        time.sleep(0.001)
    submitted = time.monotonic()
    kernel.prog_test_run(fd, bytes(64))
    consumer.join(30)
    assert woken[0][0] and woken[0][1] - submitted < 10
    if engine == "native":
        assert calls[SUBMIT] == 1 and calls[RESERVE] == 0  # the commit that wakes goes through Python


@pytest.mark.parametrize("engine", ["interp", "native"])
def test_no_wakeup_wakes_no_one(engine):
    kernel, ring, fd, calls = load(engine, submit_flags=NO_WAKEUP)
    woken = []
    consumer = threading.Thread(target=lambda: woken.append((ring.wait(timeout=0.5), time.monotonic())))
    consumer.start()
    while ring.words[WAITERS] == 0:
        time.sleep(0.001)
    submitted = time.monotonic()
    kernel.prog_test_run(fd, bytes(64))
    consumer.join(30)
    assert woken[0][0] and woken[0][1] - submitted >= 0.4  # found the data at its timeout, not woken
    assert sum(calls.values()) == 0

"""Structured events through a ring buffer: a program emits records, Python reads them as they arrive.

    python3 examples/ringbuf_events.py --events 10

The program reserves a 16-byte `struct event { u64 seq; u64 ts; }` in the
ring, fills it, and submits it; a test run fires it once per event.  The
consumer decodes each record with ctypes.
"""

from __future__ import annotations

import argparse
import ctypes
import sys

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType


class Event(ctypes.Structure):
    _fields_ = [("seq", ctypes.c_uint64), ("ts", ctypes.c_uint64)]


def producer(ring_fd: int, counter_fd: int):
    """Count the event in an array map, then emit {seq, ktime} through the ring buffer."""
    return assemble(f"""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{counter_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r6 = 1
        r6 = atomic_fetch_add((u64 *)(r0 + 0), r6)
        r1 = map[fd:{ring_fd}] ll
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r7 = r0
        *(u64 *)(r7 + 0) = r6
        call bpf_ktime_get_ns
        *(u64 *)(r7 + 8) = r0
        r1 = r7
        r2 = 0
        call bpf_ringbuf_submit
    out:
        r0 = 0
        exit
    """, helper_id=helper_id)


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10)
    args = parser.parse_args(argv)
    kernel = VirtualKernel()
    ring = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 1 << 16, name="events")
    counter = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, name="seq")
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, producer(ring, counter))
    received = []
    for _ in range(args.events):
        kernel.prog_test_run(prog.fd, bytes(64))
        kernel.map(ring).consume(lambda data: received.append(Event.from_buffer_copy(data)))
    for event in received:
        out.write(f"event seq={event.seq} ts={event.ts}\n")
    return 0 if [e.seq for e in received] == list(range(args.events)) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Ring buffer programs give the same records, positions and return codes on every engine (and on Linux).

The native engine runs bpf_ringbuf_reserve/submit/discard/output/query in
machine code (vm/jit/native_ringbuf.py); these runs pin that it writes what
RingBufMap writes: record sizes that are no multiple of 8, records that wrap
past the end of the ring, a full ring (NULL, -EAGAIN, drops counted), the
exact-fill record Linux refuses, discards and output's unknown flags.
"""

from __future__ import annotations

import struct

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm.engines import ENGINES
from support.kernel import needs_kernel

XDP = ProgType.BPF_PROG_TYPE_XDP
RING = 4096
PACKET = 256
NO_WAKEUP, FORCE_WAKEUP = 1, 2

# One program's calls, in order: (reserve, size, reserve flags, submit|discard, commit flags),
# (output, size, flags) from the stack, (query, flags).  Each call's result lands in the packet (u64 at 8 * index).
CALLS = [
    ("reserve", 13, 0, "submit", 0),
    ("reserve", 1000, 0, "discard", NO_WAKEUP),
    ("output", 13, 0),
    ("reserve", 2045, 0, "submit", FORCE_WAKEUP),
    ("query", 0),
    ("output", 400, 0),                    # -EAGAIN once the ring fills up
    ("reserve", 0, 0, "submit", 0),
    ("reserve", 8, 1, "submit", 0),       # reserve flags: NULL
    ("output", 5, 4),                      # unknown output flags: -EINVAL
    ("reserve", 4080, 0, "submit", 0),     # fits only an empty ring
    ("reserve", 4088, 0, "submit", 0),     # would fill it exactly: Linux refuses
    ("output", 16, NO_WAKEUP | FORCE_WAKEUP),
    ("query", 1),
    ("query", 2),
    ("query", 3),
    ("query", 9),
]
PROLOGUE = f"""
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += {PACKET}
    if r4 <= r3 goto body
    r0 = 0
    exit
body:
    r9 = r2
    r7 = *(u8 *)(r9 + {PACKET - 1})
"""


def _call(i: int, call: tuple, ring: int) -> str:
    result = f"*(u64 *)(r9 + {8 * i}) = r0"
    if call[0] == "query":
        return f"r1 = map[fd:{ring}] ll\nr2 = {call[1]}\ncall bpf_ringbuf_query\n{result}\n"
    if call[0] == "output":
        words = (call[1] + 7) // 8
        fill = "*(u64 *)(r10 - %d) = r7\n" % (8 * words) + "".join(
            f"r1 = {0x5a5a0000 + 64 * i + k}\n*(u64 *)(r10 - {8 * (words - k)}) = r1\n" for k in range(1, words))
        return (f"{fill}r1 = map[fd:{ring}] ll\nr2 = r10\nr2 += -{8 * words}\nr3 = {call[1]}\nr4 = {call[2]}\n"
                f"call bpf_ringbuf_output\n{result}\n")
    _, size, flags, commit, commit_flags = call
    writes = "".join(f"r1 = {(i * 31 + j) & 0xFF}\n*(u8 *)(r8 + {j}) = r1\n" for j in sorted({size // 2, size - 1})
                     if size)
    if size:
        writes += "*(u8 *)(r8 + 0) = r7\n"
    return (f"r1 = map[fd:{ring}] ll\nr2 = {size}\nr3 = {flags}\ncall bpf_ringbuf_reserve\n{result}\n"
            f"if r0 == 0 goto skip{i}\nr8 = r0\n{writes}r1 = r8\nr2 = {commit_flags}\n"
            f"call bpf_ringbuf_{commit}\nr0 = 1\n{result}\nskip{i}:\n")


def program(ring: int, calls=CALLS):
    body = "".join(_call(i, call, ring) for i, call in enumerate(calls))
    return assemble(PROLOGUE + body + "r0 = 2\nexit\n", helper_id=helper_id)


def packet(run: int) -> bytes:
    return bytes(PACKET - 1) + bytes([run & 0xFF])


def consume_after(run: int) -> bool:
    """The consumer reads after some runs only, so that records pile up, wrap and fill the ring."""
    return run % 3 == 2 or run % 7 == 0


def results(data_out: bytes, calls=CALLS) -> list[int]:
    """The helpers' results in the packet; a reserve's non-NULL pointer is kept as 1 (addresses differ)."""
    values = list(struct.unpack_from(f"<{len(calls)}Q", data_out))
    return [int(v != 0) if call[0] == "reserve" else v for v, call in zip(values, calls)]


def virtual_trace(engine: str, runs: int = 40):
    """Per run: (r0, the helpers' results, the records read after it, positions, drops); then the data area."""
    kernel = VirtualKernel()
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, RING)
    prog = kernel.prog_load(XDP, program(fd), engine=engine)
    ring = kernel.map(fd)
    trace = []
    for run in range(runs):
        out = kernel.prog_test_run(prog.fd, packet(run))
        read = list(ring.records()) if consume_after(run) else []
        trace.append((out.retval, results(out.data_out), read, ring.producer_pos, ring.consumer_pos))
    return trace, ring.dropped, ring.data.read()


@pytest.fixture(scope="module")
def reference():
    return virtual_trace("interp")


@pytest.mark.parametrize("engine", [name for name in ENGINES if name != "interp"])
def test_ring_programs_agree_with_the_interpreter(engine, reference):
    trace, dropped, data = virtual_trace(engine)
    assert trace == reference[0]
    assert dropped == reference[1] and data == reference[2]  # headers too: lengths, BUSY/DISCARD bits, pg_off


def test_the_trace_covers_what_it_claims(reference):
    trace, dropped, data = reference
    first = trace[0][1]
    assert first[:4] == [1, 1, 0, 1]  # reserved, reserved, output 0, reserved
    assert first[7] == 0 and first[8] == (-22) & (1 << 64) - 1  # reserve flags: NULL; output flags: -EINVAL
    assert first[10] == 0  # a record that would fill the ring exactly
    assert first[4] == sum((size + 8 + 7) // 8 * 8 for size in (13, 1000, 13, 2045))  # AVAIL_DATA: with headers
    assert first[5] == 0 and any(r[1][5] == (-11) & (1 << 64) - 1 for r in trace)  # output, full ring: -EAGAIN
    assert dropped > 0
    sizes = {len(record) for run in trace for record in run[2]}
    assert {13, 2045, 400, 0, 16} <= sizes and 1000 not in sizes  # the discarded record is skipped
    assert data[RING:] != bytes(RING)  # records wrapped: their tails were written past the end of the ring


@needs_kernel
def test_ring_programs_agree_with_linux(reference):
    """The same runs on the Linux kernel: the same results, records and positions (the oracle)."""
    from pybpf.isa import encode
    from pybpf.kernel.linux import syscall
    from pybpf.kernel.linux.ringbuf import RingBuffer

    fd = syscall.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, RING)
    try:
        loaded = syscall.prog_load(XDP, encode(program(fd)))
        trace = []
        read = []
        with RingBuffer(fd, RING, read.append) as reader:
            for run in range(len(reference[0])):
                out = syscall.prog_test_run(loaded.fd, packet(run))
                if consume_after(run):
                    reader.consume()
                position = struct.unpack_from("<Q", reader.producer, 0)[0]
                trace.append((out.retval, results(out.data_out), read[:], position,
                              struct.unpack_from("<Q", reader.consumer, 0)[0]))
                read.clear()
            ring = reader.producer[reader._data:reader._data + RING]
        syscall.close(loaded.fd)
    finally:
        syscall.close(fd)
    assert trace == reference[0]
    assert ring == reference[2][:RING]  # every byte: headers (pg_off is Linux's), unwritten record bytes

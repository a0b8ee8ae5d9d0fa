"""The programs of bench/engines.py: micro-benchmarks in the spirit of bpf-benchmark / llvmbpf.

Each entry is (source, packet): the assembly of an XDP program body that
finds the packet at r1 (the bench prepends the context-to-packet prologue
and its bounds check, `PACKET` bytes), `{counts}` where it uses the
benchmark's array map (8 u64 slots) and `{hashes}` where it uses its hash
map (u32 keys, u64 values, 8 entries, empty before each load).  The packet is the same bytes on
every engine and on the Linux kernel.
"""

from __future__ import annotations

import struct

from interp_vs_kernel import PROGRAMS as LOOP_PROGRAMS  # bench/ is on sys.path when this runs
from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble

PACKET = 256
# Before every body: the packet at r1 after the context's bounds check.
PROLOGUE = f"""
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += {PACKET}
    if r4 <= r3 goto body
    r0 = 0
    exit
body:
    r1 = r2
"""


def program(source: str, counts: int, hashes: int = 0):
    """The instructions of a body with its prologue, the bench's map fds in place."""
    return assemble(PROLOGUE + source.format(counts=counts, hashes=hashes), helper_id=helper_id)


def _packet(data: bytes) -> bytes:
    return data + bytes(PACKET - len(data))


_WORDS = _packet(b"".join(struct.pack("<I", (i * 2654435761) & 0xFFFFFFFF | 1) for i in range(64)))
_TEXT = b"the quick brown fox jumps over the lazy dog, again and again...\0"
_SORTED = _packet(b"".join(struct.pack("<I", 3 * i + 1) for i in range(64)))
_BYTES = bytes((i * 37 + 11) & 0xFF for i in range(PACKET))

PROGRAMS: dict[str, tuple[str, bytes]] = {
    "simple return": ("""
        r0 = 0
        exit
    """, bytes(PACKET)),
    "memory a+b": ("""
        r0 = *(u32 *)(r1 + 0)
        r2 = *(u32 *)(r1 + 4)
        r0 += r2
        exit
    """, _packet(struct.pack("<II", 40, 2))),
    "log2 over an array": ("""
        r0 = 0
        r6 = 0
    loop:
        r2 = r6
        r2 <<= 2
        r3 = r1
        r3 += r2
        r4 = *(u32 *)(r3 + 0)
        r5 = 0
        if r4 < 0x10000 goto b8
        r4 >>= 16
        r5 += 16
    b8:
        if r4 < 0x100 goto b4
        r4 >>= 8
        r5 += 8
    b4:
        if r4 < 0x10 goto b2
        r4 >>= 4
        r5 += 4
    b2:
        if r4 < 4 goto b1
        r4 >>= 2
        r5 += 2
    b1:
        if r4 < 2 goto done
        r5 += 1
    done:
        r0 += r5
        r6 += 1
        if r6 < 64 goto loop
        exit
    """, _WORDS),
    "primes by division": (LOOP_PROGRAMS["primes below 500 by division"], bytes(PACKET)),
    "memcpy 128 bytes": ("""
        r6 = 0
    loop:
        r2 = r1
        r2 += r6
        r3 = *(u8 *)(r2 + 0)
        *(u8 *)(r2 + 128) = r3
        r6 += 1
        if r6 < 128 goto loop
        r0 = *(u32 *)(r1 + 252)
        exit
    """, _BYTES),
    "strcmp match": ("""
        r6 = 0
        r0 = 0
    loop:
        r2 = r1
        r2 += r6
        r3 = *(u8 *)(r2 + 0)
        r4 = *(u8 *)(r2 + 64)
        if r3 != r4 goto differ
        if r3 == 0 goto out
        r6 += 1
        if r6 < 64 goto loop
        goto out
    differ:
        r0 = r3
        r0 -= r4
    out:
        exit
    """, _packet(_TEXT + _TEXT)),
    "strcmp mismatch": (None, _packet(_TEXT + _TEXT[:40] + b"X" + _TEXT[41:])),
    "switch dispatch": ("""
        r0 = 0
        r6 = 0
    loop:
        r2 = r1
        r2 += r6
        r3 = *(u8 *)(r2 + 0)
        r3 &= 7
        if r3 == 0 goto c0
        if r3 == 1 goto c1
        if r3 == 2 goto c2
        if r3 == 3 goto c3
        if r3 == 4 goto c4
        if r3 == 5 goto c5
        if r3 == 6 goto c6
        r0 ^= 0x77
        goto next
    c0:
        r0 += 1
        goto next
    c1:
        r0 *= 3
        goto next
    c2:
        r0 ^= 0x55
        goto next
    c3:
        r0 -= 7
        goto next
    c4:
        r0 <<= 1
        goto next
    c5:
        r0 >>= 1
        goto next
    c6:
        r0 |= 0x100
    next:
        r6 += 1
        if r6 < 256 goto loop
        exit
    """, _BYTES),
    "binary search": ("""
        r0 = 0
        r6 = 0
    search:
        r7 = r6
        r7 *= 23
        r7 &= 255
        r8 = 0
        r9 = 64
        r5 = 0
    step:
        r2 = r8
        r2 += r9
        r2 >>= 1
        r2 &= 63
        r3 = r2
        r3 <<= 2
        r4 = r1
        r4 += r3
        r4 = *(u32 *)(r4 + 0)
        if r4 >= r7 goto upper
        r8 = r2
        r8 += 1
        goto again
    upper:
        r9 = r2
    again:
        r5 += 1
        if r5 < 6 goto step
        r0 += r8
        r6 += 1
        if r6 < 4 goto search
        exit
    """, _SORTED),
    "checksum over a packet": ("""
        r0 = 0
        r6 = 0
    loop:
        r2 = r1
        r2 += r6
        r3 = *(u16 *)(r2 + 0)
        r0 += r3
        r6 += 2
        if r6 < 256 goto loop
        r2 = r0
        r2 >>= 16
        r0 &= 0xffff
        r0 += r2
        r2 = r0
        r2 >>= 16
        r0 += r2
        r0 ^= 0xffff
        r0 &= 0xffff
        exit
    """, _BYTES),
    "map counting loop": ("""
        r6 = 0
    loop:
        r1 = r6
        r1 &= 7
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{counts}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto next
        r1 = *(u64 *)(r0 + 0)
        r1 += r6
        *(u64 *)(r0 + 0) = r1
    next:
        r6 += 1
        if r6 < 64 goto loop
        r0 = r6
        exit
    """, bytes(PACKET)),
    "hash map counting loop": ("""
        r6 = 0
    loop:
        r1 = r6
        r1 &= 7
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{hashes}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto insert
        r1 = *(u64 *)(r0 + 0)
        r1 += r6
        *(u64 *)(r0 + 0) = r1
        goto next
    insert:
        *(u64 *)(r10 - 16) = r6
        r1 = map[fd:{hashes}] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
    next:
        r6 += 1
        if r6 < 64 goto loop
        r0 = r6
        exit
    """, bytes(PACKET)),
}
PROGRAMS["strcmp mismatch"] = (PROGRAMS["strcmp match"][0], PROGRAMS["strcmp mismatch"][1])
LOOPS = [name for name in PROGRAMS if name not in ("simple return", "memory a+b")]

"""The value semantics of arithmetic, comparisons and byte swaps (RFC 9669 section 4).

Pure functions over Python integers, keyed by the op names of the opcode
table.  Operands and results are unsigned and already truncated to the width;
a 32-bit result is zero-extended to 64 bits by the caller writing it to a
register.  Engines either call these or compile the same rules; the test
suite holds every engine to them.
"""

from __future__ import annotations

from typing import Callable

MASK = {8: 0xFF, 16: 0xFFFF, 32: 0xFFFFFFFF, 64: 0xFFFFFFFFFFFFFFFF}


def signed(value: int, width: int) -> int:
    """Interpret an unsigned `width`-bit value as two's complement."""
    value &= MASK[width]
    return value - (1 << width) if value >> (width - 1) else value


def sign_extend(value: int, from_bits: int, to_bits: int = 64) -> int:
    """Sign-extend the low `from_bits` of value to an unsigned `to_bits` value."""
    return signed(value, from_bits) & MASK[to_bits]


def _sdiv(a: int, b: int, w: int) -> int:
    if b == 0:
        return 0
    sa, sb = signed(a, w), signed(b, w)
    q = abs(sa) // abs(sb)
    return (q if (sa < 0) == (sb < 0) else -q) & MASK[w]


def _smod(a: int, b: int, w: int) -> int:
    if b == 0:
        return a
    sa, sb = signed(a, w), signed(b, w)
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & MASK[w]


# op name -> f(dst, src, width) -> result, for kind "alu" of the opcode table.
ALU: dict[str, Callable[[int, int, int], int]] = {
    "add": lambda a, b, w: (a + b) & MASK[w],
    "sub": lambda a, b, w: (a - b) & MASK[w],
    "mul": lambda a, b, w: (a * b) & MASK[w],
    "div": lambda a, b, w: a // b if b else 0,
    "sdiv": _sdiv,
    "or": lambda a, b, w: a | b,
    "and": lambda a, b, w: a & b,
    "lsh": lambda a, b, w: (a << (b & (w - 1))) & MASK[w],
    "rsh": lambda a, b, w: a >> (b & (w - 1)),
    "mod": lambda a, b, w: a % b if b else a,
    "smod": _smod,
    "xor": lambda a, b, w: a ^ b,
    "mov": lambda a, b, w: b,
    "arsh": lambda a, b, w: (signed(a, w) >> (b & (w - 1))) & MASK[w],
}

# op name -> f(dst, src, width) -> bool, for kind "jcond".
JMP: dict[str, Callable[[int, int, int], bool]] = {
    "jeq": lambda a, b, w: a == b,
    "jgt": lambda a, b, w: a > b,
    "jge": lambda a, b, w: a >= b,
    "jset": lambda a, b, w: bool(a & b),
    "jne": lambda a, b, w: a != b,
    "jsgt": lambda a, b, w: signed(a, w) > signed(b, w),
    "jsge": lambda a, b, w: signed(a, w) >= signed(b, w),
    "jlt": lambda a, b, w: a < b,
    "jle": lambda a, b, w: a <= b,
    "jslt": lambda a, b, w: signed(a, w) < signed(b, w),
    "jsle": lambda a, b, w: signed(a, w) <= signed(b, w),
}


def bswap(value: int, bits: int) -> int:
    """Reverse the byte order of the low `bits` of value (result zero-extended)."""
    n = bits // 8
    return int.from_bytes((value & MASK[bits]).to_bytes(n, "little"), "big")


# op name -> f(dst, bits) -> result for kind "end".  The host order of BPF is
# little-endian here (bpfel), so "le" only truncates and "be" swaps.
END: dict[str, Callable[[int, int], int]] = {
    "le": lambda v, bits: v & MASK[bits],
    "be": bswap,
    "bswap": bswap,
}

# Atomic read-modify-write: op name -> f(old, src, width) -> new memory value.
# Fetching variants return the old value in src (cmpxchg: in r0).
ATOMIC_UPDATE: dict[str, Callable[[int, int, int], int]] = {
    "add": ALU["add"], "fetch_add": ALU["add"],
    "or": ALU["or"], "fetch_or": ALU["or"],
    "and": ALU["and"], "fetch_and": ALU["and"],
    "xor": ALU["xor"], "fetch_xor": ALU["xor"],
    "xchg": lambda old, src, w: src,
}

"""Tracked numbers: which bits of a 64-bit value are known (kernel/bpf/tnum.c).

A tnum is (value, mask): bits set in mask are unknown, the others equal the
bits of value.  Every operation over-approximates: the result's set of
possible values contains every result of the operation on possible inputs.
"""

from __future__ import annotations

from typing import NamedTuple

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class Tnum(NamedTuple):
    value: int
    mask: int

    @property
    def is_const(self) -> bool:
        return not self.mask

    def __str__(self) -> str:
        """tnum_strn(): a known value as a number (decimal up to 512), else (value; mask)."""
        if not self.mask:
            return str(self.value) if self.value <= 512 else f"{self.value:#x}"
        return f"(0x{self.value:x}; 0x{self.mask:x})"


UNKNOWN = Tnum(0, U64)


def const(value: int) -> Tnum:
    return Tnum(value & U64, 0)


def trange(lo: int, hi: int) -> Tnum:
    """The tightest tnum holding every value in [lo, hi] (unsigned)."""
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return Tnum(lo & ~delta & U64, delta)


def lshift(a: Tnum, shift: int) -> Tnum:
    return Tnum((a.value << shift) & U64, (a.mask << shift) & U64)


def rshift(a: Tnum, shift: int) -> Tnum:
    return Tnum(a.value >> shift, a.mask >> shift)


def _sign(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def arshift(a: Tnum, shift: int, bits: int) -> Tnum:
    """Arithmetic right shift of the low `bits` bits, the result zero-extended to 64 bits."""
    width = (1 << bits) - 1
    return Tnum((_sign(a.value & width, bits) >> shift) & width, (_sign(a.mask & width, bits) >> shift) & width)


def add(a: Tnum, b: Tnum) -> Tnum:
    sm = a.mask + b.mask
    sv = a.value + b.value
    chi = ((sm + sv) ^ sv) & U64
    mu = chi | a.mask | b.mask
    return Tnum(sv & ~mu & U64, mu & U64)


def sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a.value - b.value) & U64
    alpha = (dv + a.mask) & U64
    beta = (dv - b.mask) & U64
    mu = (alpha ^ beta) | a.mask | b.mask
    return Tnum(dv & ~mu & U64, mu & U64)


def neg(a: Tnum) -> Tnum:
    return sub(const(0), a)


def and_(a: Tnum, b: Tnum) -> Tnum:
    alpha = a.value | a.mask
    beta = b.value | b.mask
    value = a.value & b.value
    return Tnum(value, alpha & beta & ~value & U64)


def or_(a: Tnum, b: Tnum) -> Tnum:
    value = a.value | b.value
    mu = a.mask | b.mask
    return Tnum(value, mu & ~value & U64)


def xor(a: Tnum, b: Tnum) -> Tnum:
    value = a.value ^ b.value
    mu = a.mask | b.mask
    return Tnum(value & ~mu & U64, mu)


def mul(a: Tnum, b: Tnum) -> Tnum:
    """Multiplication by shift-and-add over the known and unknown bits (tnum_mul)."""
    acc_v = (a.value * b.value) & U64
    acc_m = Tnum(0, 0)
    while a.value or a.mask:
        if a.value & 1:
            acc_m = add(acc_m, Tnum(0, b.mask))
        elif a.mask & 1:
            acc_m = add(acc_m, Tnum(0, b.value | b.mask))
        a = rshift(a, 1)
        b = lshift(b, 1)
    return add(Tnum(acc_v, 0), acc_m)


def intersect(a: Tnum, b: Tnum) -> Tnum:
    value = a.value | b.value
    mu = a.mask & b.mask
    return Tnum(value & ~mu & U64, mu)


def union(a: Tnum, b: Tnum) -> Tnum:
    """Every value either may hold."""
    mu = a.mask | b.mask | (a.value ^ b.value)
    return Tnum(a.value & ~mu & U64, mu & U64)


def cast(a: Tnum, size: int) -> Tnum:
    """Truncate to `size` bytes."""
    width = (1 << (size * 8)) - 1
    return Tnum(a.value & width, a.mask & width)


def is_aligned(a: Tnum, size: int) -> bool:
    return not size or not ((a.value | a.mask) & (size - 1))


def contains(a: Tnum, b: Tnum) -> bool:
    """Is every value of b a value of a (tnum_in)?"""
    if b.mask & ~a.mask:
        return False
    return a.value == b.value & ~a.mask


def subreg(a: Tnum) -> Tnum:
    return cast(a, 4)


def clear_subreg(a: Tnum) -> Tnum:
    return lshift(rshift(a, 32), 32)


def with_subreg(a: Tnum, low: Tnum) -> Tnum:
    return or_(clear_subreg(a), subreg(low))


def umin(a: Tnum) -> int:
    return a.value


def umax(a: Tnum) -> int:
    return a.value | a.mask

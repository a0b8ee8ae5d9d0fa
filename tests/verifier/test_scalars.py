"""Tracked numbers and bounds: every operation over-approximates the concrete result."""

from __future__ import annotations

import random

import pytest

from pybpf.verifier import bounds, branches, scalar_alu, tnum
from pybpf.verifier.bounds import Bounds

M64 = (1 << 64) - 1
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
       "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
       "lsh": lambda a, b: a << b, "rsh": lambda a, b: a >> b}


def _range(rng: random.Random) -> tuple[int, int]:
    lo = rng.choice([0, 1, 7, 255, 4096, 1 << 31, (1 << 63) - 5, M64 - 20]) + rng.randrange(4)
    return lo & M64, min(lo + rng.choice([0, 1, 3, 100, 1 << 20]), M64)


def _bounds(lo: int, hi: int) -> Bounds:
    b = Bounds()
    b.umin, b.umax = lo, hi
    b.sync()
    return b


def _holds(b: Bounds, value: int) -> bool:
    value &= M64
    s = bounds.s64(value)
    low = value & 0xFFFFFFFF
    return (b.umin <= value <= b.umax and b.smin <= s <= b.smax and b.u32_min <= low <= b.u32_max
            and b.s32_min <= bounds.s32(low) <= b.s32_max and tnum.contains(b.var_off, tnum.const(value)))


@pytest.mark.parametrize("op", sorted(OPS))
def test_alu_bounds_contain_every_result(op):
    rng = random.Random(op)
    for _ in range(300):
        a_lo, a_hi = _range(rng)
        b_lo, b_hi = (s := rng.randrange(64), s) if op in ("lsh", "rsh") else _range(rng)
        for bits in (64, 32):
            dst, src = _bounds(a_lo, a_hi), _bounds(b_lo, b_hi)
            if op in ("lsh", "rsh"):
                src = _bounds(b_lo % bits, b_lo % bits)
            scalar_alu.alu(op, dst, src, bits)
            for _ in range(5):
                a, b = rng.randint(a_lo, a_hi), rng.randint(src.umin, src.umax)
                mask = M64 if bits == 64 else 0xFFFFFFFF
                result = OPS[op](a & mask, b & mask) & mask
                assert _holds(dst, result), (op, bits, a, b, dst)


@pytest.mark.parametrize("op", ["jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset"])
def test_branch_refinement_keeps_every_value_that_takes_the_branch(op):
    rng = random.Random(op)
    compare = {"jeq": lambda a, b: a == b, "jne": lambda a, b: a != b, "jgt": lambda a, b: a > b,
               "jge": lambda a, b: a >= b, "jlt": lambda a, b: a < b, "jle": lambda a, b: a <= b,
               "jsgt": lambda a, b: bounds.s64(a) > bounds.s64(b), "jsge": lambda a, b: bounds.s64(a) >= bounds.s64(b),
               "jslt": lambda a, b: bounds.s64(a) < bounds.s64(b), "jsle": lambda a, b: bounds.s64(a) <= bounds.s64(b),
               "jset": lambda a, b: bool(a & b)}[op]
    for _ in range(300):
        a_lo, a_hi = _range(rng)
        k = rng.choice([0, 1, 8, 255, 1 << 31, M64, rng.randint(a_lo, a_hi)])
        dst, src = _bounds(a_lo, a_hi), bounds.known(k)
        verdict = branches.branch_taken(dst, src, op, 64)
        branches.refine(dst, src, op, 64)
        for _ in range(10):
            a = rng.randint(a_lo, a_hi)
            if compare(a, k):
                assert verdict != 0 and _holds(dst, a), (op, a_lo, a_hi, k, a, dst)
            else:
                assert verdict != 1


def test_tnum_range_and_printing():
    t = tnum.trange(0, 255)
    assert t == tnum.Tnum(0, 0xFF) and str(t) == "(0x0; 0xff)"
    assert tnum.add(tnum.const(3), tnum.const(4)) == tnum.const(7)
    assert tnum.mul(tnum.const(6), tnum.const(7)) == tnum.const(42)

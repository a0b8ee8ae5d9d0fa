"""Arithmetic on scalar bounds: adjust_scalar_min_max_vals() of the kernel.

Each operation gets the bounds of both operands at one width (64, or 32 for
the ALU class) and returns sound bounds of the result.  The table `RANGE_OPS`
maps the opcode table's operation names to their range functions; an
operation without one (division, modulo) gives an unknown scalar, as in
Linux 6.18.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from . import tnum
from .bounds import Bounds
from .tnum import Tnum


class Range(NamedTuple):
    umin: int
    umax: int
    smin: int
    smax: int


def _limits(bits: int) -> tuple[int, int, int]:
    return (1 << bits) - 1, -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _unbounded_u(bits: int) -> tuple[int, int]:
    return 0, (1 << bits) - 1


def _unbounded_s(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _add(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    umax_w, smin_w, smax_w = _limits(bits)
    umin, umax = a.umin + b.umin, a.umax + b.umax
    if umax > umax_w and umin <= umax_w:
        umin, umax = _unbounded_u(bits)
    elif umin > umax_w:
        umin, umax = umin - umax_w - 1, umax - umax_w - 1
    smin, smax = a.smin + b.smin, a.smax + b.smax
    if smin < smin_w or smax > smax_w:
        smin, smax = _unbounded_s(bits)
    return Range(umin, umax, smin, smax)


def _sub(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    umax_w, smin_w, smax_w = _limits(bits)
    umin, umax = a.umin - b.umax, a.umax - b.umin
    if umin < 0 <= umax:
        umin, umax = _unbounded_u(bits)
    elif umax < 0:
        umin, umax = umin + umax_w + 1, umax + umax_w + 1
    smin, smax = a.smin - b.smax, a.smax - b.smin
    if smin < smin_w or smax > smax_w:
        smin, smax = _unbounded_s(bits)
    return Range(umin, umax, smin, smax)


def _mul(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    umax_w, smin_w, smax_w = _limits(bits)
    umin, umax = a.umin * b.umin, a.umax * b.umax
    if umax > umax_w:
        umin, umax = _unbounded_u(bits)
    products = (a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax)
    smin, smax = min(products), max(products)
    if smin < smin_w or smax > smax_w:
        smin, smax = _unbounded_s(bits)
    return Range(umin, umax, smin, smax)


def _signed_from_unsigned(a: Range, b: Range, umin: int, umax: int, bits: int) -> Range:
    if a.smin < 0 or b.smin < 0:
        return Range(umin, umax, *_unbounded_s(bits))
    return Range(umin, umax, umin, umax)


def _and(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    return _signed_from_unsigned(a, b, t.value, min(a.umax, b.umax), bits)


def _or(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    return _signed_from_unsigned(a, b, max(a.umin, b.umin), t.value | t.mask, bits)


def _xor(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    return _signed_from_unsigned(a, b, t.value, t.value | t.mask, bits)


def _lsh(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    umax_w = (1 << bits) - 1
    if a.umax << b.umax > umax_w:
        umin, umax = _unbounded_u(bits)
    else:
        umin, umax = a.umin << b.umin, a.umax << b.umax
    smin, smax = _unbounded_s(bits)
    if a.smin >= 0 and umax <= (umax_w >> 1):
        smin, smax = umin, umax
    return Range(umin, umax, smin, smax)


def _rsh(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    umin, umax = a.umin >> b.umax, a.umax >> b.umin
    smin, smax = _unbounded_s(bits)
    if umax <= ((1 << (bits - 1)) - 1):
        smin, smax = umin, umax
    return Range(umin, umax, smin, smax)


def _arsh(a: Range, b: Range, t: Tnum, bits: int) -> Range:
    smin, smax = a.smin >> b.umin, a.smax >> b.umin
    if smin >= 0:
        return Range(smin, smax, smin, smax)
    return Range(*_unbounded_u(bits), smin, smax)


RangeOp = Callable[[Range, Range, Tnum, int], Range]

# Operation name (as in the opcode table) -> (tnum operation, range operation).
RANGE_OPS: dict[str, tuple[Callable[..., Tnum], RangeOp]] = {
    "add": (tnum.add, _add),
    "sub": (tnum.sub, _sub),
    "mul": (tnum.mul, _mul),
    "and": (tnum.and_, _and),
    "or": (tnum.or_, _or),
    "xor": (tnum.xor, _xor),
    "lsh": (lambda a, b, bits: tnum.lshift(a, b.value), _lsh),
    "rsh": (lambda a, b, bits: tnum.rshift(a, b.value), _rsh),
    "arsh": (lambda a, b, bits: tnum.arshift(a, b.value, bits), _arsh),
}
SHIFTS = ("lsh", "rsh", "arsh")
# Both operands known: the value itself, as the tnum and range functions above compute it for constants (the
# ranges may wrap to unbounded, and reg_bounds_sync() then narrows them to the tnum's value).  Operands and
# result at the operation's width; alu() keeps the low `bits` bits, zero-extended.
CONST_OPS: dict[str, Callable[[int, int, int], int]] = {
    "add": lambda a, b, bits: a + b,
    "sub": lambda a, b, bits: a - b,
    "mul": lambda a, b, bits: a * b,
    "and": lambda a, b, bits: a & b,
    "or": lambda a, b, bits: a | b,
    "xor": lambda a, b, bits: a ^ b,
    "lsh": lambda a, b, bits: a << b,
    "rsh": lambda a, b, bits: a >> b,
    "arsh": lambda a, b, bits: (a - (1 << bits) if a >> (bits - 1) else a) >> b,
}


def _view(b: Bounds, bits: int) -> tuple[Range, Tnum]:
    if bits == 64:
        return Range(b.umin, b.umax, b.smin, b.smax), b.var_off
    return Range(b.u32_min, b.u32_max, b.s32_min, b.s32_max), tnum.subreg(b.var_off)


def computable(op: str, src: Bounds, bits: int) -> bool:
    """is_safe_to_compute_dst_reg_range(): shifts need a constant amount below the width."""
    if op not in RANGE_OPS:
        return False
    if op in SHIFTS:
        return src.is_const and src.umax < bits if bits == 64 else src.is_const32 and src.u32_max < bits
    return True


def _apply(op: str, dst: Bounds, src: Bounds, bits: int) -> tuple[Range, Tnum]:
    tn_op, range_op = RANGE_OPS[op]
    a, ta = _view(dst, bits)
    b, tb = _view(src, bits)
    if op in SHIFTS:
        shift_b = Range(b.umin, b.umax, b.smin, b.smax)
        t = tn_op(ta, tnum.const(b.umin), bits)
        return range_op(a, shift_b, t, bits), (tnum.subreg(t) if bits == 32 else t)
    t = tn_op(ta, tb) if op != "mul" else tnum.mul(ta, tb)
    if bits == 32:
        t = tnum.subreg(t)
    return range_op(a, b, t, bits), t


def alu(op: str, dst: Bounds, src: Bounds, bits: int) -> None:
    """dst = dst <op> src on scalars, at 64 or 32 bits (the 32-bit result zero-extended)."""
    if op == "neg":
        zero = Bounds()
        zero.set_const(0)
        copy = Bounds()
        copy.copy_from(dst)
        dst.copy_from(zero)
        return alu("sub", dst, copy, bits)
    if not dst.var_off.mask and not src.var_off.mask and op in CONST_OPS and computable(op, src, bits):
        width = (1 << bits) - 1
        dst.set_const(CONST_OPS[op](dst.var_off.value & width, src.var_off.value & width, bits) & width)
        return
    if not computable(op, src, bits):
        dst.set_unknown()
        if bits == 32:
            dst.zext32()
            dst.sync()
        return
    result, t = _apply(op, dst, src, bits)
    if bits == 32:
        dst.set_unknown()
        dst.var_off = t
        dst.u32_min, dst.u32_max, dst.s32_min, dst.s32_max = result
        dst.zext32()
        dst.sync()
        return
    low: Range | None = None
    if op not in SHIFTS:
        low, _ = _apply(op, dst, src, 32)
    dst.set_unknown()
    dst.var_off = t
    dst.umin, dst.umax, dst.smin, dst.smax = result
    if low is not None:
        dst.u32_min, dst.u32_max, dst.s32_min, dst.s32_max = low
    dst.sync()


"""Conditional jumps on scalars: is_branch_taken() and regs_refine_cond_op().

A comparison either has a known outcome for every value the operands may
hold (the other edge is dead code and is not explored), or both edges are
followed with the operands narrowed by what the comparison proved.
"""

from __future__ import annotations

from . import tnum
from .bounds import Bounds

# A comparison and its negation (the fall-through edge), rev_opcode().
NEGATE = {"jeq": "jne", "jne": "jeq", "jgt": "jle", "jle": "jgt", "jge": "jlt", "jlt": "jge",
          "jsgt": "jsle", "jsle": "jsgt", "jsge": "jslt", "jslt": "jsge", "jset": "jnset", "jnset": "jset"}
# The same comparison with its operands swapped, flip_opcode().
FLIP = {"jlt": "jgt", "jle": "jge", "jslt": "jsgt", "jsle": "jsge", "jgt": "jlt", "jge": "jle",
        "jsgt": "jslt", "jsge": "jsle", "jeq": "jeq", "jne": "jne"}


# The bounds fields of each view: (width, signed) -> (min field, max field).
FIELDS = {(64, False): ("umin", "umax"), (32, False): ("u32_min", "u32_max"),
          (64, True): ("smin", "smax"), (32, True): ("s32_min", "s32_max")}


def _get(b: Bounds, bits: int, signed: bool) -> tuple[int, int]:
    lo, hi = FIELDS[(bits, signed)]
    return getattr(b, lo), getattr(b, hi)


def _u(b: Bounds, bits: int) -> tuple[int, int]:
    return _get(b, bits, False)


def _s(b: Bounds, bits: int) -> tuple[int, int]:
    return _get(b, bits, True)


def _t(b: Bounds, bits: int) -> tnum.Tnum:
    return b.var_off if bits == 64 else tnum.subreg(b.var_off)


def _const(b: Bounds, bits: int) -> bool:
    return _t(b, bits).is_const


def branch_taken(a: Bounds, b: Bounds, op: str, bits: int) -> int:
    """1 if `a op b` holds for all values, 0 if for none, -1 if it depends."""
    (au0, au1), (bu0, bu1) = _u(a, bits), _u(b, bits)
    (as0, as1), (bs0, bs1) = _s(a, bits), _s(b, bits)
    if op in ("jeq", "jne"):
        ta, tb = _t(a, bits), _t(b, bits)
        if ta.is_const and tb.is_const:
            equal = ta.value == tb.value
        elif au0 > bu1 or au1 < bu0 or as0 > bs1 or as1 < bs0 or (ta.value ^ tb.value) & ~(ta.mask | tb.mask):
            equal = False
        else:
            return -1
        return int(equal) if op == "jeq" else int(not equal)
    if op in ("jset", "jnset"):
        if not _const(b, bits):
            a, b = b, a
        if not _const(b, bits):
            return -1
        val, ta = _t(b, bits).value, _t(a, bits)
        result = 1 if (ta.value & ~ta.mask) & val else 0 if not (ta.value | ta.mask) & val else -1
        return result if op == "jset" or result < 0 else 1 - result
    if op in FLIP and op in ("jlt", "jle", "jslt", "jsle"):
        return branch_taken(b, a, FLIP[op], bits)
    lo_a, hi_a, lo_b, hi_b = (au0, au1, bu0, bu1) if op in ("jgt", "jge") else (as0, as1, bs0, bs1)
    if op in ("jgt", "jsgt"):
        return 1 if lo_a > hi_b else 0 if hi_a <= lo_b else -1
    return 1 if lo_a >= hi_b else 0 if hi_a < lo_b else -1


def refine(a: Bounds, b: Bounds, op: str, bits: int) -> None:
    """Narrow a and b by the knowledge that `a op b` holds (at `bits` width)."""
    if op in ("jlt", "jle", "jslt", "jsle"):
        return refine(b, a, FLIP[op], bits)
    if op == "jeq":
        for signed in (False, True):
            lo_name, hi_name = FIELDS[(bits, signed)]
            lo = max(getattr(a, lo_name), getattr(b, lo_name))
            hi = min(getattr(a, hi_name), getattr(b, hi_name))
            for r in (a, b):
                setattr(r, lo_name, lo)
                setattr(r, hi_name, hi)
        if bits == 64:
            a.var_off = b.var_off = tnum.intersect(a.var_off, b.var_off)
        else:
            low = tnum.intersect(tnum.subreg(a.var_off), tnum.subreg(b.var_off))
            a.var_off = tnum.with_subreg(a.var_off, low)
            b.var_off = tnum.with_subreg(b.var_off, low)
    elif op == "jne":
        if not _const(b, bits):
            a, b = b, a
        if _const(b, bits):
            _exclude(a, _t(b, bits).value, bits)
    elif op in ("jset", "jnset"):
        if not _const(b, bits):
            a, b = b, a
        if not _const(b, bits):
            return
        val = _t(b, bits).value
        if op == "jset":
            if val & (val - 1):
                return
            changed = tnum.or_(_t(a, bits), tnum.const(val))
        else:
            changed = tnum.and_(_t(a, bits), tnum.const(~val & ((1 << bits) - 1)))
        a.var_off = changed if bits == 64 else tnum.with_subreg(a.var_off, changed)
    elif op in ("jge", "jgt", "jsge", "jsgt"):
        # a >= b (or >): a's minimum rises to b's, b's maximum falls to a's.
        step = 1 if op in ("jgt", "jsgt") else 0
        lo_name, hi_name = FIELDS[(bits, op.startswith("js"))]
        setattr(a, lo_name, max(getattr(a, lo_name), getattr(b, lo_name) + step))
        setattr(b, hi_name, min(getattr(b, hi_name), getattr(a, hi_name) - step))
    a.sync()
    b.sync()


def _exclude(a: Bounds, val: int, bits: int) -> None:
    """a != val: a bound equal to val moves by one."""
    signed_val = val - (1 << bits) if val >> (bits - 1) else val
    for signed, value in ((False, val), (True, signed_val)):
        lo_name, hi_name = FIELDS[(bits, signed)]
        if getattr(a, lo_name) == value:
            setattr(a, lo_name, value + 1)
        elif getattr(a, hi_name) == value:
            setattr(a, hi_name, value - 1)

"""Scalar range tracking: a tnum plus signed and unsigned 64- and 32-bit bounds.

The five views of one value (var_off; umin/umax; smin/smax; u32_min/u32_max;
s32_min/s32_max) are kept consistent by `sync`, which is the kernel's
reg_bounds_sync(): every view is narrowed by what the others know.  ALU
operations follow adjust_scalar_min_max_vals(): each computes the result's
bounds soundly or gives up to "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

from . import tnum
from .tnum import U32, U64, Tnum

S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1


def s64(value: int) -> int:
    value &= U64
    return value - (1 << 64) if value >> 63 else value


def s32(value: int) -> int:
    value &= U32
    return value - (1 << 32) if value >> 31 else value


def u64(value: int) -> int:
    return value & U64


def u32(value: int) -> int:
    return value & U32


@dataclass(slots=True)
class Bounds:
    """What is known of a scalar (or of a pointer's variable offset)."""

    var_off: Tnum = tnum.UNKNOWN
    smin: int = S64_MIN
    smax: int = S64_MAX
    umin: int = 0
    umax: int = U64
    s32_min: int = S32_MIN
    s32_max: int = S32_MAX
    u32_min: int = 0
    u32_max: int = U32

    # -- constructors -------------------------------------------------------------
    def set_unknown(self) -> None:
        self.var_off = tnum.UNKNOWN
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = S32_MIN, S32_MAX, 0, U32

    def set_const(self, value: int) -> None:
        value &= U64
        self.var_off = tnum.const(value)
        self.umin = self.umax = value
        self.smin = self.smax = s64(value)
        self.u32_min = self.u32_max = value & U32
        self.s32_min = self.s32_max = s32(value)

    def set_const32(self, value: int) -> None:
        """Only the low 32 bits are known (the upper half is left alone)."""
        self.var_off = tnum.with_subreg(self.var_off, tnum.const(value))
        self.u32_min = self.u32_max = value & U32
        self.s32_min = self.s32_max = s32(value)

    def copy_from(self, other: "Bounds") -> None:
        self.var_off, self.smin, self.smax, self.umin, self.umax = (other.var_off, other.smin, other.smax,
                                                                    other.umin, other.umax)
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = (other.s32_min, other.s32_max, other.u32_min,
                                                                  other.u32_max)

    def copy(self) -> "Bounds":
        return Bounds(self.var_off, self.smin, self.smax, self.umin, self.umax, self.s32_min, self.s32_max,
                      self.u32_min, self.u32_max)

    def key(self) -> tuple:
        """Every view, as a tuple: equal keys are equal bounds."""
        return (self.var_off, self.smin, self.smax, self.umin, self.umax, self.s32_min, self.s32_max,
                self.u32_min, self.u32_max)

    # -- queries ------------------------------------------------------------------
    @property
    def is_const(self) -> bool:
        return self.var_off.is_const

    @property
    def value(self) -> int:
        return self.var_off.value

    @property
    def is_const32(self) -> bool:
        return tnum.subreg(self.var_off).is_const

    def is_unbounded(self) -> bool:
        return (self.smin, self.smax, self.umin, self.umax) == (S64_MIN, S64_MAX, 0, U64)

    def same_as(self, other: "Bounds") -> bool:
        return self.key() == other.key()

    def within(self, old: "Bounds") -> bool:
        """Is every value this may hold also possible in `old` (range_within + tnum_in)?"""
        return (old.umin <= self.umin and self.umax <= old.umax and old.smin <= self.smin
                and self.smax <= old.smax and old.u32_min <= self.u32_min and self.u32_max <= old.u32_max
                and old.s32_min <= self.s32_min and self.s32_max <= old.s32_max
                and tnum.contains(old.var_off, self.var_off))

    # -- keeping the views consistent ------------------------------------------
    def _update_from_tnum(self) -> None:
        var32 = tnum.subreg(self.var_off)
        self.s32_min = max(self.s32_min, s32(var32.value | (var32.mask & 0x80000000)))
        self.s32_max = min(self.s32_max, s32(var32.value | (var32.mask & 0x7FFFFFFF)))
        self.u32_min = max(self.u32_min, var32.value)
        self.u32_max = min(self.u32_max, var32.value | var32.mask)
        v, m = self.var_off
        self.smin = max(self.smin, s64(v | (m & (1 << 63))))
        self.smax = min(self.smax, s64(v | (m & S64_MAX)))
        self.umin = max(self.umin, v)
        self.umax = min(self.umax, v | m)

    def _deduce32(self) -> None:
        if self.umin >> 32 == self.umax >> 32:
            self.u32_min = max(self.u32_min, u32(self.umin))
            self.u32_max = min(self.u32_max, u32(self.umax))
            if s32(self.umin) <= s32(self.umax):
                self.s32_min = max(self.s32_min, s32(self.umin))
                self.s32_max = min(self.s32_max, s32(self.umax))
        if self.smin >> 32 == self.smax >> 32:
            if u32(self.smin) <= u32(self.smax):
                self.u32_min = max(self.u32_min, u32(self.smin))
                self.u32_max = min(self.u32_max, u32(self.smax))
            if s32(self.smin) <= s32(self.smax):
                self.s32_min = max(self.s32_min, s32(self.smin))
                self.s32_max = min(self.s32_max, s32(self.smax))
        if s32(self.u32_min) <= s32(self.u32_max):
            self.s32_min = max(self.s32_min, s32(self.u32_min))
            self.s32_max = min(self.s32_max, s32(self.u32_max))
        if u32(self.s32_min) <= u32(self.s32_max):
            self.u32_min = max(self.u32_min, u32(self.s32_min))
            self.u32_max = min(self.u32_max, u32(self.s32_max))

    def _deduce64(self) -> None:
        if s64(self.umin) <= s64(self.umax):
            self.smin = max(self.smin, s64(self.umin))
            self.smax = min(self.smax, s64(self.umax))
        if u64(self.smin) <= u64(self.smax):
            self.umin = max(self.umin, u64(self.smin))
            self.umax = min(self.umax, u64(self.smax))
        else:
            # The signed range crosses zero: its unsigned image is two pieces,
            # [smin, U64] and [0, smax]; a bound inside one piece decides.
            if self.umax <= u64(self.smax):
                self.smin = max(self.smin, 0)
                self.smax = min(self.smax, s64(self.umax))
                self.umin = max(self.umin, 0)
            elif self.umin >= u64(self.smin):
                self.smax = min(self.smax, -1)
                self.smin = max(self.smin, s64(self.umin))

    def _deduce_mixed(self) -> None:
        """The low half's bounds narrow the 64-bit bounds when the upper half is fixed."""
        new_umin = (self.umin & ~U32) | self.u32_min
        new_umax = (self.umax & ~U32) | self.u32_max
        self.umin = max(self.umin, new_umin)
        self.umax = min(self.umax, new_umax)
        new_smin = s64((u64(self.smin) & ~U32) | self.u32_min)
        new_smax = s64((u64(self.smax) & ~U32) | self.u32_max)
        if self.smin >> 32 == self.smax >> 32:
            self.smin = max(self.smin, new_smin)
            self.smax = min(self.smax, new_smax)
        if self.s32_min >= 0 and self.smin >= S32_MIN and self.smax <= S32_MAX:
            self.smin = max(self.smin, self.s32_min)
            self.smax = min(self.smax, self.s32_max)
            self.umin = max(self.umin, self.s32_min)
            self.umax = min(self.umax, self.s32_max)

    def _bound_offset(self) -> None:
        var64 = tnum.intersect(self.var_off, tnum.trange(self.umin, self.umax))
        var32 = tnum.intersect(tnum.subreg(var64), tnum.trange(self.u32_min, self.u32_max))
        self.var_off = tnum.or_(tnum.clear_subreg(var64), var32)

    def sync(self) -> None:
        """reg_bounds_sync(): narrow every view by the others."""
        v, m = self.var_off
        if not m and self.umin == v == self.umax and self.smin == self.smax == s64(v) \
                and self.u32_min == self.u32_max == v & U32 and self.s32_min == self.s32_max == s32(v):
            return  # a known value whose views all agree: nothing to narrow (and nothing contradicts)
        self._update_from_tnum()
        for _ in range(2):
            self._deduce32()
            self._deduce64()
            self._deduce_mixed()
        self._bound_offset()
        self._update_from_tnum()

    def is_sane(self) -> bool:
        """False when the bounds contradict each other (an impossible path)."""
        return (self.umin <= self.umax and self.smin <= self.smax and self.u32_min <= self.u32_max
                and self.s32_min <= self.s32_max
                and tnum.umin(self.var_off) <= self.umax and self.umin <= tnum.umax(self.var_off))

    # -- sub-register -----------------------------------------------------------
    def zext32(self) -> None:
        """The 32-bit result zero-extended: 64-bit views become the u32 view."""
        self.var_off = tnum.subreg(self.var_off)
        self.umin, self.umax = self.u32_min, self.u32_max
        self.smin, self.smax = self.u32_min, self.u32_max

    def sext32(self) -> None:
        """The low 32 bits sign-extended to 64 (movsx32 / ldxsw)."""
        self.sext(4)

    def sext(self, size: int) -> None:
        """Sign-extend the low `size` bytes (coerce_reg_to_size_sx)."""
        bits = size * 8
        lo = self.var_off
        if lo.is_const or self.is_const:
            value = _sext(self.var_off.value & ((1 << bits) - 1), bits)
            self.set_const(value)
            return
        low = tnum.cast(self.var_off, size)
        top_known = not (low.mask >> (bits - 1))
        if top_known:
            value = _sext(low.value, bits)
            self.set_unknown()
            if value < 0:
                self.var_off = Tnum(u64(value) & ~low.mask & U64, low.mask)
            else:
                self.var_off = low
        else:
            smin, smax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            umax_low = (1 << bits) - 1
            if self.umax <= (umax_low >> 1) and self.umin >= 0 and self.umax >> (bits - 1) == 0:
                lo_v, hi_v = self.umin, self.umax
                self.set_unknown()
                self.smin, self.smax = lo_v, hi_v
            else:
                self.set_unknown()
                self.smin, self.smax = smin, smax
        self.sync()

    def truncate(self, size: int) -> None:
        """Zero-extend the low `size` bytes (coerce_reg_to_size)."""
        if size >= 8:
            return
        mask = (1 << (size * 8)) - 1
        self.var_off = tnum.cast(self.var_off, size)
        if self.umax & ~mask == self.umin & ~mask:
            umin, umax = self.umin & mask, self.umax & mask
        else:
            umin, umax = 0, mask
        if umin > umax:
            umin, umax = 0, mask
        self.smin, self.smax, self.umin, self.umax = umin, umax, umin, umax
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = S32_MIN, S32_MAX, 0, U32
        if size == 4:
            self.u32_min, self.u32_max = umin, umax
            if umax <= S32_MAX:
                self.s32_min, self.s32_max = umin, umax
        else:
            self.u32_min, self.u32_max, self.s32_min, self.s32_max = umin, umax, umin, umax
        self.sync()


def _sext(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def known(value: int) -> Bounds:
    bounds = Bounds()
    bounds.set_const(value)
    return bounds


def unknown() -> Bounds:
    return Bounds()


def tnum_str(var_off: Tnum) -> str:
    return str(var_off)

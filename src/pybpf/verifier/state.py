"""Abstract machine states: frames of registers and stack slots, references.

A stack slot is 8 bytes, each byte typed as the kernel types them
(STACK_INVALID '?', STACK_SPILL 'r', STACK_MISC 'm', STACK_ZERO '0'); a slot
whose bytes are spilled holds the register state that was stored.  Byte k of
slot i is the byte at fp - 8*i - 1 - k, the kernel's order, so the log prints
a slot the way Linux does ("fp-8=mmmm0000").
"""

from __future__ import annotations

from .regs import NOT_INIT, SCALAR, STACK, Reg, reg_str
from .stack_liveness import ALL_SLOTS

INVALID, SPILL, MISC, ZERO = "?", "r", "m", "0"
ALL_LIVE = (1 << 11) - 1
MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8


class Slot:
    __slots__ = ("types", "spilled")

    def __init__(self) -> None:
        self.types = [INVALID] * 8
        self.spilled = Reg()

    def copy(self) -> "Slot":
        new = Slot.__new__(Slot)
        new.types = self.types[:]
        new.spilled = self.spilled.copy() if self.spilled.type != NOT_INIT else Reg()
        return new

    def forget_spill(self) -> None:
        """A plain write over part of a spilled register: its bytes become data."""
        self.types = [MISC if t == SPILL else t for t in self.types]
        self.spilled = Reg()

    @property
    def is_spill(self) -> bool:
        return self.types[7] == SPILL

    @property
    def is_spilled_scalar(self) -> bool:
        return self.is_spill and self.spilled.type == SCALAR


class Frame:
    """One function's registers and stack (struct bpf_func_state)."""

    __slots__ = ("regs", "stack", "frameno", "callsite", "subprog", "callback", "callback_ret")

    def __init__(self, frameno: int, callsite: int = -1, subprog: int = 0) -> None:
        self.regs = [Reg() for _ in range(11)]
        self.stack: list[Slot] = []
        self.frameno = frameno
        self.callsite = callsite
        self.subprog = subprog
        self.callback = False
        self.callback_ret = (0, 1)
        fp = self.regs[10]
        fp.set_pointer(STACK, frameno=frameno)

    def copy(self) -> "Frame":
        new = Frame.__new__(Frame)
        new.regs = [r.copy() for r in self.regs]
        new.stack = [s.copy() for s in self.stack]
        new.frameno, new.callsite, new.subprog = self.frameno, self.callsite, self.subprog
        new.callback, new.callback_ret = self.callback, self.callback_ret
        return new

    @property
    def allocated(self) -> int:
        return len(self.stack) * 8

    def grow(self, size: int) -> None:
        """Make room for `size` bytes below the frame pointer."""
        while len(self.stack) * 8 < size:
            self.stack.append(Slot())

    def slot(self, off: int) -> tuple[Slot, int]:
        """The slot holding the byte at fp+off (off < 0) and its index in the slot."""
        index = -off - 1
        self.grow(index // 8 * 8 + 8)
        return self.stack[index // 8], index % 8


class State:
    """A whole verifier state: call frames, acquired references, bookkeeping."""

    __slots__ = ("frames", "refs", "may_goto_depth", "hist", "first_idx", "traced")

    def __init__(self) -> None:
        self.frames: list[Frame] = [Frame(0)]
        self.refs: list[tuple[int, int]] = []  # (id, insn that acquired it)
        self.may_goto_depth = 0  # may_goto fall-throughs taken on this path
        # The path since the last checkpoint, for precision backtracking (precision.py): one entry per
        # processed instruction, (pc, frame depth, spilled/filled stack slot, linked registers).
        self.hist: list[tuple] = []
        self.first_idx = 0  # the instruction this stretch of path starts at
        # The precision walks back from this stretch of path (precision.py): len(hist) where one started ->
        # (hist's last entry then, frame depth, registers of the innermost frame, stack slots) it traced.
        # Shared by the copies of a state: an entry is only trusted where their hist holds the same entry.
        self.traced: dict[int, tuple] = {}

    def copy(self) -> "State":
        new = State.__new__(State)
        new.frames = [f.copy() for f in self.frames]
        new.refs = self.refs[:]
        new.may_goto_depth = self.may_goto_depth
        new.hist = self.hist[:]
        new.first_idx = self.first_idx
        new.traced = self.traced
        return new

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def regs(self) -> list[Reg]:
        return self.frames[-1].regs

    def all_regs(self):
        """Every register and spilled register of every frame (bpf_for_each_reg_in_vstate)."""
        for frame in self.frames:
            yield from frame.regs
            for slot in frame.stack:
                if slot.is_spill:
                    yield slot.spilled

    def forget_reference(self, ref: int) -> None:
        """The reference `ref` is no longer held (released, or its pointer proven NULL)."""
        self.refs = [(i, at) for i, at in self.refs if i != ref]

    def release_reference(self, ref: int, leaks_allowed: bool) -> None:
        """release_reference(): the reference goes, and every register holding it becomes unknown (privileged,
        pointer leaks allowed) or unreadable."""
        self.forget_reference(ref)
        for reg in self.all_regs():
            if reg.ref_obj_id == ref:
                reg.set_unknown() if leaks_allowed else reg.set_not_init()


# -- printing ---------------------------------------------------------------------
def frame_str(frame: Frame, refs: list[tuple[int, int]] | None = None) -> str:
    parts = [f"R{i}={reg_str(r, frame.frameno)}" for i, r in enumerate(frame.regs) if r.type != NOT_INIT]
    for i, slot in enumerate(frame.stack):
        off = -(i + 1) * 8
        if slot.is_spill:
            parts.append(f"fp{off}={reg_str(slot.spilled, frame.frameno)}")
        elif any(t != INVALID for t in slot.types):
            parts.append(f"fp{off}={''.join(slot.types)}")
    if refs:
        parts.append("refs=" + ",".join(str(r) for r, _ in refs))
    return " ".join(parts)


def state_str(state: State) -> str:
    lines = []
    for frame in state.frames:
        prefix = f" frame{frame.frameno}:" if frame.frameno else ""
        lines.append(prefix + " " + frame_str(frame, state.refs if frame is state.frame else None))
    return "".join(lines)


# -- state equivalence for pruning (states_equal, regsafe, stacksafe) -------------
class IdMap:
    """check_ids(): ids of the old state must map one-to-one onto ids of the new."""

    def __init__(self) -> None:
        self.fwd: dict[int, int] = {}
        self.back: dict[int, int] = {}

    def same(self, old: int, cur: int) -> bool:
        if not old and not cur:
            return True
        if not old or not cur:
            return False
        if self.fwd.get(old, cur) != cur or self.back.get(cur, old) != old:
            return False
        self.fwd[old], self.back[cur] = cur, old
        return True


# How states_equal() compares scalars (the kernel's enum exact_level, plus unprivileged loading):
NOT_EXACT = 0  # an imprecise scalar covers any scalar, precise ones by range and tnum inclusion
RANGE_WITHIN = 1  # every scalar by range (unprivileged programs, loop states still being explored)
EXACT = 2  # everything identical (infinite loop detection)


def reg_safe(old: Reg, cur: Reg, ids: IdMap, exact: int) -> bool:
    """Is every behaviour possible from `cur` already covered by `old` (regsafe())?"""
    if exact == EXACT:
        return _reg_exact(old, cur, ids)
    if old.type == NOT_INIT:
        return True
    if cur.type != old.type or cur.null != old.null or cur.flags != old.flags:
        return False
    if old.type == SCALAR:
        if not old.precise and exact == NOT_EXACT:
            return True  # nothing this path checks depends on the value
        if old.id and not ids.same(old.id, cur.id):
            return False
        return cur.b.within(old.b)
    if old.off != cur.off or old.map is not cur.map or old.mem_size != cur.mem_size:
        return False
    if old.type == STACK and old.frameno != cur.frameno:
        return False
    if old.is_pkt and (cur.range < old.range or (old.range < 0) != (cur.range < 0)):
        return False
    if not ids.same(old.id, cur.id) or not ids.same(old.ref_obj_id, cur.ref_obj_id):
        return False
    return cur.b.within(old.b)


def _reg_exact(old: Reg, cur: Reg, ids: IdMap) -> bool:
    if old.type != cur.type:
        return False
    if old.type == NOT_INIT:
        return True
    return (old.null == cur.null and old.flags == cur.flags and old.off == cur.off and old.map is cur.map
            and old.range == cur.range and old.mem_size == cur.mem_size and old.frameno == cur.frameno
            and old.b.same_as(cur.b) and ids.same(old.id, cur.id) and ids.same(old.ref_obj_id, cur.ref_obj_id))


def stack_safe(old: Frame, cur: Frame, ids: IdMap, exact: int, live: int = ALL_SLOTS) -> bool:
    """stacksafe(): does every slot of `old` in `live` (stack_liveness.py) cover `cur`'s?"""
    for i, slot in enumerate(old.stack):
        if not live >> i & 1:
            continue
        other = cur.stack[i] if i < len(cur.stack) else Slot()
        if exact == EXACT:
            if slot.types != other.types:
                return False
            if slot.is_spill and not _reg_exact(slot.spilled, other.spilled, ids):
                return False
            continue
        if slot.is_spill:
            if other.is_spill:
                if slot.types != other.types or not reg_safe(slot.spilled, other.spilled, ids, exact):
                    return False
                continue
            if slot.spilled.type == SCALAR and all(t in (SPILL, MISC, ZERO) for t in other.types):
                zero = all(t == ZERO for t in other.types)
                probe = Reg(SCALAR)
                if zero:
                    probe.b.set_const(0)
                if reg_safe(slot.spilled, probe, ids, exact) and slot.types == [SPILL] * 8:
                    continue
            return False
        for k, t in enumerate(slot.types):
            c = other.types[k]
            if t == INVALID:
                continue
            if t == MISC and c in (MISC, ZERO, SPILL):
                if c == SPILL and other.spilled.type != SCALAR:
                    return False
                continue
            if t == ZERO and (c == ZERO or (c == SPILL and other.spilled.is_const(0))):
                continue
            if t != c:
                return False
    return True


def widen_scalars(old: State, cur: State) -> None:
    """widen_imprecise_scalars(): scalars that changed since the previous iteration become unknown, so that
    iterations of a may_goto loop converge.  The kernel keeps precise scalars; without precision marks this
    keeps the scalars that decided a branch (`Reg.decided`: the loop counter a bound check ends the loop on,
    which the kernel's backtracking would mark precise) and widens every other changed scalar.  Widening
    only loses knowledge, so whichever scalars it picks the walk stays sound."""
    if len(old.frames) != len(cur.frames):
        return
    for fo, fc in zip(old.frames, cur.frames):
        pairs = list(zip(fo.regs, fc.regs))
        pairs += [(so.spilled, sc.spilled) for so, sc in zip(fo.stack, fc.stack) if so.is_spill and sc.is_spill]
        for ro, rc in pairs:
            if (ro.type == SCALAR and rc.type == SCALAR and not (ro.decided or rc.decided)
                    and not _reg_exact(ro, rc, IdMap())):
                rc.set_unknown()


def states_equal(old: State, cur: State, exact: int = NOT_EXACT, live: list[int] | None = None,
                 stack_live: list[int] | None = None) -> bool:
    """Does `old` cover `cur`?  `live` is each frame's live-register mask (the innermost frame's at the
    instruction, a caller's at its call site): the other registers are never read again and do not count.
    `stack_live` is each frame's mask of stack slots that may be read again (only for a finished `old`)."""
    if len(old.frames) != len(cur.frames):
        return False
    ids = IdMap()
    if len(old.refs) != len(cur.refs):
        return False
    for (a, _), (b, _) in zip(old.refs, cur.refs):
        if not ids.same(a, b):
            return False
    for fi, (fo, fc) in enumerate(zip(old.frames, cur.frames)):
        if fo.callsite != fc.callsite:
            return False
        mask = live[fi] if live is not None else ALL_LIVE
        for i, (ro, rc) in enumerate(zip(fo.regs, fc.regs)):
            if mask >> i & 1 and not reg_safe(ro, rc, ids, exact):
                return False
        if not stack_safe(fo, fc, ids, exact, stack_live[fi] if stack_live is not None else ALL_SLOTS):
            return False
        if exact == EXACT and len(fo.stack) != len(fc.stack):
            if any(any(t != INVALID for t in s.types) for s in (fc.stack[len(fo.stack):])):
                return False
    return True

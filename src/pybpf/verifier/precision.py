"""Precision tracking: which scalars' values a verdict depended on (mark_chain_precision).

Scalars start imprecise: state pruning lets any scalar cover an imprecise
one, so that paths which differ only in values nobody checked meet again.
When a check relies on a scalar's value (a pointer offset, a helper's size
argument, a branch decided by known bounds, a return value in range, ...)
the register is marked precise, and its value is traced back along the
path: through the instructions since the last checkpoint, then into that
checkpoint's state (where the register or stack slot that produced it is
marked precise), and on through the checkpoint's own history, as the
kernel's `__mark_chain_precision()` / `backtrack_insn()` do.

The path history is `State.hist`: one entry per instruction processed since
the state's checkpoint, `(pc, frame depth, stack slot, linked registers)`,
where the stack slot is `(frameno, slot index)` for a spill or a fill of a
register and the linked registers are those a conditional jump refined
together (sync_linked_regs).  Backtracking across a call or a return
(another frame depth) is not modelled: it falls back to marking every
scalar of every checkpoint on the path precise, as the kernel does for what
it cannot backtrack (`mark_all_scalars_precise()`).  Both stay sound; the
fallback only prunes less.

Unprivileged programs compare every scalar by range (the kernel makes
their scalars precise from the start), so nothing is marked for them.
"""

from __future__ import annotations

from ..isa.opcodes import (BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_END, BPF_EXIT,
                           BPF_FETCH, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX,
                           BPF_LOAD_ACQ, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP, BPF_SRC, BPF_ST, BPF_STX, BPF_X)
from .program import LDDW
from .regs import SCALAR
from .state import frame_str


class NotSupported(Exception):
    """backtrack_insn() returned -ENOTSUPP: fall back to marking everything precise."""


class Backtrack:
    """struct backtrack_state: the registers (per frame) and stack slots still to be traced."""

    def __init__(self, depth: int) -> None:
        self.depth = depth  # frames in the state being walked back; the innermost is depth - 1
        self.cur: set[int] = set()  # the innermost frame's registers
        self.regs: dict[int, set[int]] = {depth - 1: self.cur}
        self.stack: set[tuple[int, int]] = set()

    def frame_regs(self, frame: int) -> set[int]:
        return self.regs.setdefault(frame, set())

    def empty(self) -> bool:
        return not self.stack and not any(self.regs.values())

    def covered_by(self, memo: tuple) -> bool:
        """Is what is left to trace part of what the walk recorded in `memo` (State.traced) traced?"""
        _, depth, regs, stack = memo
        return (depth == self.depth and self.cur <= regs and self.stack <= stack
                and not any(r for f, r in self.regs.items() if f != depth - 1))

    def mask_text(self, frame: int) -> tuple[str, str]:
        regs = ",".join(f"r{r}" for r in sorted(self.regs.get(frame, ())))
        stack = ",".join(str(-(spi + 1) * 8) for fr, spi in sorted(self.stack) if fr == frame)
        return regs, stack


# -- entry points ----------------------------------------------------------------------
def mark_reg(v, regno: int) -> None:
    """mark_chain_precision(regno): the current instruction relies on this scalar's value."""
    if not v.capable or v.cur.regs[regno].type != SCALAR:
        return
    bt = Backtrack(len(v.cur.frames))
    bt.cur.add(regno)
    _mark_chain(v, bt)


def mark_stack(v, frameno: int, spi: int) -> None:
    """The same for a scalar spilled to a stack slot (a constant map key, a zero read back)."""
    if not v.capable:
        return
    bt = Backtrack(len(v.cur.frames))
    bt.stack.add((frameno, spi))
    _mark_chain(v, bt)


def propagate(v, old, pc: int, every_scalar: bool = False) -> None:
    """propagate_precision(): the current state was found covered by checkpoint state `old`, so the scalars
    `old` needs precise are needed precise on this path too.  `every_scalar` for a checkpoint still being
    explored (a may_goto loop), whose precision marks are not final: all its live scalars count."""
    if not v.capable:
        return
    bt = Backtrack(len(v.cur.frames))
    text = []
    for fi, frame in enumerate(old.frames):
        live = v.live_mask(v.cur, fi, pc)
        names = []
        for i, reg in enumerate(frame.regs[:10]):
            if reg.type == SCALAR and (reg.precise or every_scalar) and live >> i & 1:
                bt.frame_regs(fi).add(i)
                names.append(f"r{i}")
        for spi, slot in enumerate(frame.stack):
            if slot.is_spilled_scalar and (slot.spilled.precise or every_scalar):
                bt.stack.add((fi, spi))
                names.append(f"fp{-(spi + 1) * 8}")
        if names and v.log.level >= 2:
            text.append(f"frame {fi}: propagating {','.join(names)}")
    if bt.empty():
        return
    for line in text:
        v.log(line)
    _mark_chain(v, bt)


def mark_all(v) -> None:
    """mark_all_scalars_precise(): every scalar of every checkpoint on the current path."""
    cp = v.cur_cp
    while cp is not None:
        for reg in cp.state.all_regs():
            if reg.type == SCALAR:
                reg.precise = True
        cp = cp.parent


# -- the walk back ---------------------------------------------------------------------
def _mark_chain(v, bt: Backtrack) -> None:
    log = v.log if v.log.level >= 2 else None
    state, cp = v.cur, v.cur_cp
    last_idx, first_idx, subseq = v.pc, state.first_idx, -1
    hist = state.hist
    # Earlier walks back from this stretch of path (State.traced): arriving where one started with no more
    # to trace than it had, everything from there on is already marked (marks are only ever added, and a walk
    # marks for a set of registers what it marks for each of them).  Not at log level 2, whose mark_precise
    # lines show each walk whole, as the kernel's do.
    traced = None if log else state.traced
    start = len(hist)
    wanted = (bt.depth, frozenset(bt.cur), frozenset(bt.stack))
    try:
        while True:
            if log:
                log(f"mark_precise: frame{bt.depth - 1}: last_idx {last_idx} first_idx {first_idx} "
                    f"subseq_idx {subseq} ")
            for i in range(len(hist) - 1, -1, -1):
                entry = hist[i]
                if traced:
                    memo = traced.get(i + 1)
                    if memo is not None and memo[0] is entry and bt.covered_by(memo):
                        return
                pc = entry[0]
                if entry[1] != bt.depth:
                    raise NotSupported
                if log:
                    regs, stack = bt.mask_text(bt.depth - 1)
                    log(f"mark_precise: frame{bt.depth - 1}: regs={regs} stack={stack} before "
                        f"{pc}: {_insn_text(v, pc)}")
                backtrack_insn(v, pc, entry, bt)
                if not bt.cur and not bt.stack and bt.empty():
                    return
                subseq = pc
            if cp is None:
                break
            _mark_parent(v, cp.state, bt)
            if bt.empty():
                return
            # The checkpoint's state keeps the record of the walks made while its stretch was the current one.
            traced = None if log else cp.state.traced
            subseq, last_idx, first_idx = first_idx, cp.last_idx, cp.state.first_idx
            hist = cp.state.hist
            cp = cp.parent
    except NotSupported:
        mark_all(v)
        return
    finally:
        if not log and start:
            _remember(state, start, wanted)
    if not bt.empty():  # registers read before any write (a callback's or subprogram's arguments)
        mark_all(v)


def _remember(state, start: int, wanted: tuple) -> None:
    """Record in State.traced that a walk back from hist[start - 1] traced `wanted` (depth, registers,
    stack slots); one there before with the same entry and depth widens to the union of both."""
    entry = state.hist[start - 1]
    depth, regs, stack = wanted
    old = state.traced.get(start)
    if old is not None and old[0] is entry and old[1] == depth:
        regs, stack = regs | old[2], stack | old[3]
    state.traced[start] = (entry, depth, regs, stack)


def _mark_parent(v, state, bt: Backtrack) -> None:
    if len(state.frames) != bt.depth:
        raise NotSupported
    for fi in range(bt.depth - 1, -1, -1):
        frame = state.frames[fi]
        regs = bt.frame_regs(fi)
        for r in list(regs):
            reg = frame.regs[r]
            if reg.type != SCALAR or reg.precise:
                regs.discard(r)
            else:
                reg.precise = True
        for key in [k for k in bt.stack if k[0] == fi]:
            spi = key[1]
            slot = frame.stack[spi] if spi < len(frame.stack) else None
            if slot is None or not slot.is_spilled_scalar or slot.spilled.precise:
                bt.stack.discard(key)
            else:
                slot.spilled.precise = True
        if v.log.level >= 2:
            regs_text, stack_text = bt.mask_text(fi)
            v.log(f"mark_precise: frame{fi}: parent state regs={regs_text} stack={stack_text}:  "
                  f"{frame_str(frame)}")


def _insn_text(v, pc: int) -> str:
    from .insns import insn_text
    return insn_text(v, pc)


# What backtracking does at an instruction, decoded once per program (`effects()`): (kind, a, b).
NONE = 0
ADD_SRC = 1  # a needed: b is needed too (dst op= src)
MOVE = 2  # a needed: a is not, b is (b < 0: a constant or the frame pointer)
FILL = 3  # a needed: a is not, the stack slot it was filled from is (if it was a fill)
SPILL = 4  # the stack slot spilled to needed: it is not, b is (b < 0: an immediate store)
CLOBBER = 5  # a call or LD_ABS: R0-R5 are written
BOTH = 6  # a conditional jump between a and b: each refined the other


def _effect(s) -> tuple[int, int, int]:
    cls = s.cls
    x = BPF_SRC(s.code) == BPF_X
    if cls in (BPF_ALU, BPF_ALU64):
        op = BPF_OP(s.code)
        if op in (BPF_NEG, BPF_END):
            return NONE, 0, 0
        if op == BPF_MOV:
            return MOVE, s.dst, s.src if x and s.src != 10 else -1
        return (ADD_SRC, s.dst, s.src) if x and s.src != 10 else (NONE, 0, 0)
    if cls == BPF_LDX:
        return FILL, s.dst, 0
    if cls == BPF_STX and BPF_MODE(s.code) == BPF_ATOMIC:
        loaded = s.dst if s.imm == BPF_LOAD_ACQ else 0 if s.imm == BPF_CMPXCHG else \
            s.src if s.imm & BPF_FETCH else -1
        return (FILL, loaded, 0) if loaded >= 0 else (NONE, 0, 0)
    if cls in (BPF_STX, BPF_ST):
        return SPILL, 0, s.src if cls == BPF_STX else -1
    if cls in (BPF_JMP, BPF_JMP32):
        op = BPF_OP(s.code)
        if op == BPF_CALL:
            return CLOBBER, 0, 0
        if op in (BPF_EXIT, BPF_JA, BPF_JCOND) or not x:
            return NONE, 0, 0
        return BOTH, s.dst, s.src
    if cls == BPF_LD:
        if s.code == LDDW:
            return MOVE, s.dst, -1
        if BPF_MODE(s.code) in (BPF_ABS, BPF_IND):
            return CLOBBER, 0, 0
    return NONE, 0, 0


def effects(v) -> list[tuple[int, int, int]]:
    if v.bt_effects is None:
        v.bt_effects = [_effect(s) for s in v.slots]
    return v.bt_effects


def backtrack_insn(v, pc: int, entry: tuple, bt: Backtrack) -> None:
    """backtrack_insn(): from the registers needed after instruction pc, the ones needed before it."""
    kind, a, b = effects(v)[pc]
    regs = bt.cur
    linked = entry[3]
    if linked:
        _sync_linked(bt, linked)
    if kind == NONE:
        pass
    elif kind == ADD_SRC:
        if a in regs:
            regs.add(b)
    elif kind == MOVE:
        if a in regs:
            regs.discard(a)
            if b >= 0:
                regs.add(b)
    elif kind == FILL:
        if a in regs:
            regs.discard(a)
            if entry[2] is not None:  # a fill: the value came from the spilled register
                bt.stack.add(entry[2])
    elif kind == SPILL:
        if entry[2] is not None and entry[2] in bt.stack:  # a spill into a slot we trace
            bt.stack.discard(entry[2])
            if b >= 0:
                regs.add(b)
    elif kind == CLOBBER:
        regs.difference_update(range(6))  # R0 is the helper's result; R1-R5 were clobbered
    elif a in regs or b in regs:  # BOTH
        regs.update((a, b))
    if linked:
        _sync_linked(bt, linked)


def _sync_linked(bt: Backtrack, linked: tuple) -> None:
    """bt_sync_linked_regs(): a comparison refined all copies of a scalar, so if one is traced, all are."""
    def traced(item) -> bool:
        kind, frame, index = item
        return index in bt.regs.get(frame, ()) if kind == "r" else (frame, index) in bt.stack

    if not any(traced(item) for item in linked):
        return
    for kind, frame, index in linked:
        if kind == "r":
            if frame != bt.depth - 1:
                raise NotSupported
            bt.frame_regs(frame).add(index)
        else:
            bt.stack.add((frame, index))

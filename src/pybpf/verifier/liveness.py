"""Which registers each instruction may read before writing them (compute_live_registers).

Linux 6.15+ computes, before the path walk, the registers live before each
instruction: read on some path from it before being written.  State pruning
then ignores the others (`func_states_equal()`): a register nobody reads
again cannot make a covered state unsafe, whatever it holds.  The analysis
is per function: a call reads R1-R5 and writes R0-R5, an exit reads R0, and
a subprogram's own body is analysed from its own instructions.

Each register set is a bitmask (bit i for Ri); R10 is always live.
"""

from __future__ import annotations

from ..isa.opcodes import (BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_END,
                           BPF_EXIT, BPF_FETCH, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_LD,
                           BPF_LDX, BPF_LOAD_ACQ, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP, BPF_SRC, BPF_ST,
                           BPF_STORE_REL, BPF_STX, BPF_X)
from .program import LDDW, Slot, jump_target

ALL_REGS = (1 << 11) - 1
FP = 1 << 10
ARGS = 0b111110  # R1-R5
CALLER_SAVED = 0b111111  # R0-R5


def _bit(regno: int) -> int:
    return 1 << regno if regno <= 10 else ALL_REGS


def use_def(s: Slot) -> tuple[int, int]:
    """The registers an instruction reads and the ones it writes (insn_use_def())."""
    cls, dst, src = s.cls, _bit(s.dst), _bit(s.src)
    if cls in (BPF_ALU, BPF_ALU64):
        op = BPF_OP(s.code)
        if op in (BPF_NEG, BPF_END):
            return dst, dst
        if op == BPF_MOV:
            return (src if BPF_SRC(s.code) == BPF_X else 0), dst
        return dst | (src if BPF_SRC(s.code) == BPF_X else 0), dst
    if cls == BPF_LDX:
        return src, dst
    if cls == BPF_ST:
        return dst, 0
    if cls == BPF_STX:
        if BPF_MODE(s.code) != BPF_ATOMIC:
            return dst | src, 0
        if s.imm == BPF_LOAD_ACQ:
            return src, dst
        if s.imm == BPF_STORE_REL:
            return dst | src, 0
        if s.imm == BPF_CMPXCHG:
            return dst | src | 1, 1
        return dst | src, (src if s.imm & BPF_FETCH else 0)
    if cls == BPF_LD:
        if s.code == LDDW:
            return 0, dst
        if BPF_MODE(s.code) in (BPF_ABS, BPF_IND):  # r0 = *(skb + off): reads the ctx in R6
            return (1 << 6) | (src if BPF_MODE(s.code) == BPF_IND else 0), CALLER_SAVED
        return ALL_REGS, 0
    if cls in (BPF_JMP, BPF_JMP32):
        op = BPF_OP(s.code)
        if op in (BPF_JA, BPF_JCOND):
            return 0, 0
        if op == BPF_CALL:
            return ARGS, CALLER_SAVED
        if op == BPF_EXIT:
            return 1, 0
        return dst | (src if BPF_SRC(s.code) == BPF_X else 0), 0
    return ALL_REGS, 0


def successors(pc: int, s: Slot) -> tuple[int, ...]:
    """Where control goes after pc within its function: a call returns to pc + 1, an exit leaves."""
    if s.code == LDDW:
        return (pc + 2,)
    if s.cls not in (BPF_JMP, BPF_JMP32):
        return (pc + 1,)
    op = BPF_OP(s.code)
    if op == BPF_EXIT:
        return ()
    if op == BPF_CALL:
        return (pc + 1,)
    if op == BPF_JA:
        return (jump_target(pc, s),)
    return (pc + 1, jump_target(pc, s))


def live_registers(slots: list[Slot]) -> list[int]:
    """live_regs_before for every instruction: a backward data flow to its fixed point."""
    n = len(slots)
    facts = [use_def(s) for s in slots]
    succs = [tuple(t for t in successors(pc, s) if 0 <= t < n) for pc, s in enumerate(slots)]
    live = [0] * n
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            out = 0
            for t in succs[pc]:
                out |= live[t]
            use, defs = facts[pc]
            new = use | (out & ~defs) | FP
            if new != live[pc]:
                live[pc] = new
                changed = True
    return live

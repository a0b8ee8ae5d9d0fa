"""The structural check a program passes before any engine runs it.

The virtual kernel runs the verifier first; this stays the engines' own
precondition, and the only check `vm.run` makes before it runs unverified
bytecode with bounds checks: every instruction is a valid encoding, jumps
and calls land inside the program and not in the middle of a lddw, no path falls off
the end, r10 is never written, and no register is read before it is written
on every path to the read (a forward must-be-initialised dataflow per
subprogram, like the kernel's `R0 !read_ok`; a subprogram's exit need not
have set R0, as on Linux).  Errors name the pc.
"""

from __future__ import annotations

from ..errors import PybpfError
from ..helpers import REGISTRY
from ..isa.insn import Insn, by_pc, check
from ..isa.opcodes import Spec

ALL = (1 << 11) - 1
CALLER_SAVED = 0b111110  # r1..r5
R0, R10 = 1 << 0, 1 << 10


class ProgramError(PybpfError):
    """A program the engines refuse to run, with the pc of the problem."""

    def __init__(self, pc: int, message: str):
        self.pc = pc
        super().__init__(f"pc {pc}: {message}")


def _bit(reg: int) -> int:
    return 1 << reg


def reads_writes(insn: Insn, spec: Spec, helper_args: dict[int, int]) -> tuple[int, int]:
    """Register bitmasks (read, written) of one instruction."""
    kind, d, s = spec.kind, _bit(insn.dst), _bit(insn.src)
    has_src = "src" in spec.operands
    if kind == "alu":
        reads = (0 if spec.op == "mov" else d) | (s if has_src else 0)
        return reads, d
    if kind in ("neg", "end"):
        return d, d
    if kind in ("movsx", "ldx", "ldxs", "load_acq"):
        return s, d
    if kind == "st":
        return d, 0
    if kind in ("stx", "store_rel"):
        return d | s, 0
    if kind == "atomic":
        if spec.op == "cmpxchg":
            return d | s | R0, R0
        return d | s, s if spec.op.startswith("fetch") or spec.op == "xchg" else 0
    if kind == "lddw":
        return 0, d
    if kind in ("ldabs", "ldind"):
        return (s if kind == "ldind" else 0), R0
    if kind == "jcond":
        return d | (s if has_src else 0), 0
    if kind == "call":
        nargs = helper_args.get(insn.imm, 0) if spec.op == "helper" else 0
        return (((1 << nargs) - 1) << 1), R0
    if kind == "callx":
        return d, R0
    if kind == "exit":
        return R0, 0
    return 0, 0


def successors(pc: int, insn: Insn, spec: Spec) -> list[int]:
    kind = spec.kind
    if kind == "exit":
        return []
    if kind == "ja":
        return [pc + 1 + (insn.imm if spec.op == "gotol" else insn.off)]
    if kind in ("jcond", "may_goto"):
        return [pc + 1, pc + 1 + insn.off]
    return [pc + insn.size]


def subprogram_entries(slots: list[Insn | None]) -> set[int]:
    entries = {0}
    for pc, insn in enumerate(slots):
        if insn is not None and insn.spec.kind in ("call", "lddw") and insn.spec.op in ("local", "func"):
            entries.add(pc + 1 + insn.imm)
    return entries


def check_program(insns: list[Insn], *, entry_regs: int = 0b10000000110,
                  helper_args: dict[int, int] | None = None) -> list[Insn | None]:
    """Check `insns`; return them indexed by pc (None in a lddw's second slot).

    entry_regs: the registers defined when the program starts (default r1, r2, r10).
    helper_args: helper id -> number of arguments it reads (default: the helper
    registry's; an id it lacks reads none here and faults when called).
    """
    if not insns:
        raise ProgramError(0, "the program is empty")
    slots = by_pc(insns)
    n = len(slots)
    if helper_args is None:
        helper_args = {i: len(h.args) for i, h in REGISTRY.items()}
    for pc, insn in enumerate(slots):
        if insn is None:
            continue
        spec = check(insn, pc)
        _, writes = reads_writes(insn, spec, helper_args)
        if writes & R10 and spec.kind != "call":
            raise ProgramError(pc, "frame pointer r10 is read only")
        targets = successors(pc, insn, spec)
        if spec.kind in ("call", "lddw") and spec.op in ("local", "func"):
            targets = targets + [pc + 1 + insn.imm]
        for target in targets:
            if target == n and target == pc + insn.size:
                raise ProgramError(pc, "the last instruction falls through past the end of the program")
            if not 0 <= target < n:
                raise ProgramError(pc, f"jump out of range to {target} (program has {n} slots)")
            if slots[target] is None:
                raise ProgramError(pc, f"jump into the middle of lddw at {target - 1}")
    callbacks = {pc + 1 + insn.imm for pc, insn in enumerate(slots)
                 if insn is not None and insn.spec.kind == "lddw" and insn.spec.op == "func"}
    for entry in sorted(subprogram_entries(slots)):
        _check_init(slots, entry, entry_regs if entry == 0 else (CALLER_SAVED | R10), helper_args,
                    returns_r0=entry == 0 or entry in callbacks)
    return slots


def _check_init(slots, entry: int, regs: int, helper_args, returns_r0: bool = True) -> None:
    defined: dict[int, int] = {entry: regs}
    work = [entry]
    while work:
        pc = work.pop()
        state = defined[pc]
        insn = slots[pc]
        spec = insn.spec
        reads, writes = reads_writes(insn, spec, helper_args)
        if not returns_r0 and spec.kind == "exit":
            reads &= ~R0  # a called subprogram may return with R0 unset, as on Linux (its caller may not read it)
        missing = reads & ~state
        if missing:
            reg = (missing & -missing).bit_length() - 1
            raise ProgramError(pc, f"R{reg} !read_ok (read before it is written)")
        if spec.kind in ("call", "callx", "ldabs", "ldind"):
            state &= ~CALLER_SAVED
        state |= writes
        for nxt in successors(pc, insn, spec):
            old = defined.get(nxt)
            new = state if old is None else old & state
            if new != old:
                defined[nxt] = new
                work.append(nxt)

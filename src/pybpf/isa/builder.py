"""Writing programs in Python: one method per mnemonic of the opcode table.

    b = Builder()
    b.mov(R0, 0)
    b.label("loop")
    b.add(R0, 1)
    b.jlt(R0, 10, "loop")
    b.call("bpf_ktime_get_ns")      # or b.call(5)
    b.exit()
    insns = b.finish()

Methods are the ubpf mnemonics (`add32`, `ldxw`, `stxdw`, `be16`, `movsx832`,
`jsgt32`, ...) with spaces as underscores (`lock_fetch_add32`,
`call_local`).  Operands follow the ubpf order: a register (`R0`..`R10`) or
an immediate where the instruction takes either, memory as (base, offset),
jump targets as labels or signed offsets.  `finish()` resolves the labels.
"""

from __future__ import annotations

from typing import Callable

from .asm_text import Line, Pending, resolve
from .insn import Insn, lddw, s32
from .opcodes import LDDW_KIND_BY_OP, SPECS, Spec


class Reg(int):
    """A register operand, told apart from an immediate by its type."""

    def __repr__(self) -> str:
        return f"R{int(self)}"

    __str__ = int.__repr__  # formats as the plain number inside instruction text


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = (Reg(i) for i in range(11))

_BY_METHOD: dict[str, list[Spec]] = {}
for _spec in SPECS:
    _BY_METHOD.setdefault(_spec.name.replace(" ", "_"), []).append(_spec)
del _spec


class BuilderError(ValueError):
    """A method called with operands its instruction does not take."""


class Builder:
    def __init__(self, helper_id: Callable[[str], int | None] | None = None):
        self._pending: list[Pending] = []
        self._labels: dict[str, int] = {}
        self._pc = 0
        self._helper_id = helper_id

    # -- structure ---------------------------------------------------------
    def label(self, name: str) -> "Builder":
        if name in self._labels:
            raise BuilderError(f"duplicate label {name!r}")
        self._labels[name] = self._pc
        return self

    def emit(self, insn: Insn, label: str | None = None, field: str = "off") -> "Builder":
        line = Line(len(self._pending) + 1, f"instruction {len(self._pending)}", "")
        insn = insn.replace(dst=int(insn.dst), src=int(insn.src))
        self._pending.append(Pending(insn, line, label, field))
        self._pc += insn.size
        return self

    def finish(self) -> list[Insn]:
        return resolve(self._pending, self._labels)

    # -- forms that are not one mnemonic of the table -----------------------
    def lddw(self, dst: int, value: int) -> "Builder":
        return self.emit(lddw(dst, value))

    def ld_map_fd(self, dst: int, fd: int) -> "Builder":
        return self.emit(Insn(0x18, dst, LDDW_KIND_BY_OP["map_fd"], 0, fd, 0))

    def ld_map_value(self, dst: int, fd: int, offset: int = 0) -> "Builder":
        return self.emit(Insn(0x18, dst, LDDW_KIND_BY_OP["map_value"], 0, fd, offset))

    def call(self, helper: int | str) -> "Builder":
        if isinstance(helper, str):
            number = self._helper_id(helper) if self._helper_id else None
            if number is None:
                from ..helpers import helper_id  # a name needs the registry's table
                number = helper_id(helper)
            if number is None:
                raise BuilderError(f"unknown helper {helper!r}")
            helper = number
        return self.emit(Insn(0x85, 0, 0, 0, helper))

    def call_local(self, target: str | int) -> "Builder":
        return self._jump(Insn(0x85, 0, 1), target, "imm")

    def callx(self, reg: int) -> "Builder":
        return self.emit(Insn(0x8D, reg))

    # -- everything else, from the table -------------------------------------
    def __getattr__(self, name: str):
        specs = _BY_METHOD.get(name)
        if specs is None:
            raise AttributeError(f"no instruction {name!r}")
        return lambda *operands: self._from_table(name, specs, operands)

    def _jump(self, insn: Insn, target, field: str = "off") -> "Builder":
        if isinstance(target, str):
            return self.emit(insn, target, field)
        return self.emit(insn.replace(**{field: target}))

    def _from_table(self, name: str, specs: list[Spec], ops: tuple) -> "Builder":
        kind = specs[0].kind
        reg_source = len(ops) > 1 and isinstance(ops[1], Reg)
        spec = next((s for s in specs if ("src" in s.operands) == reg_source), specs[0]) if len(specs) > 1 else specs[0]
        fixed = dict(spec.fixed)
        try:
            if kind in ("alu", "movsx", "jcond"):
                dst, other = ops[0], ops[1]
                src, imm = (other, 0) if reg_source else (0, s32(other))
                insn = Insn(spec.code, dst, src, fixed.get("off", 0), imm)
                return self._jump(insn, ops[2]) if kind == "jcond" else self.emit(insn)
            if kind in ("neg", "end"):
                (dst,) = ops
                return self.emit(Insn(spec.code, dst, 0, 0, fixed.get("imm", 0)))
            if kind in ("ldx", "ldxs", "load_acq"):
                dst, src, off = (ops + (0,))[:3]
                return self.emit(Insn(spec.code, dst, src, off, fixed.get("imm", 0)))
            if kind == "st":
                dst, off, imm = ops
                return self.emit(Insn(spec.code, dst, 0, off, s32(imm)))
            if kind in ("stx", "atomic", "store_rel"):
                dst, off, src = ops
                return self.emit(Insn(spec.code, dst, src, off, fixed.get("imm", 0)))
            if kind == "ldabs":
                return self.emit(Insn(spec.code, 0, 0, 0, ops[0]))
            if kind == "ldind":
                return self.emit(Insn(spec.code, 0, ops[0], 0, ops[1]))
            if kind in ("ja", "may_goto"):
                return self._jump(Insn(spec.code), ops[0], "imm" if spec.op == "gotol" else "off")
            if kind == "exit" and not ops:
                return self.emit(Insn(spec.code))
        except (ValueError, IndexError, TypeError):
            pass
        raise BuilderError(f"{name}{ops!r}: wrong operands for {spec.name} ({spec.doc})")

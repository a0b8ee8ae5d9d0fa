"""Writing programs in Python: one method per mnemonic of the opcode table.

    b = Builder()
    b.mov64(R0, 0)                  # or b.mov(R0, 0)
    b.label("loop")
    b.add(R0, 1)                    # an int is an immediate ...
    b.add(R0, R1)                   # ... a register (R0-R10) selects the register form
    b.jlt(R0, 10, "loop")           # targets: a label, or a signed offset
    b.stxdw(R10, -8, R0)            # memory: (base, offset) where ubpf writes [base+offset]
    b.ldx(BPF_W, R1, R10, -8)       # or b.ldxw(R1, R10, -8)
    b.call(5)                       # or b.call("bpf_ktime_get_ns") with Builder(helper_id=...)
    b.exit()
    insns = b.finish()              # labels resolved

Methods are the ubpf mnemonics of the opcode table (`add32`, `ldxw`, `stxdw`,
`be16`, `movsx832`, `jsgt32`, `ja32`, `lock_fetch_add32`, `call_local`,
`call_runtime`, `callx`), plus `mov64`-style names for the 64-bit ALU.  Each
takes its operands in the order the ubpf syntax writes them, and each is made
from the table by `_method()`, with the row's semantics as its docstring
(`help(Builder.stxdw)`).  64-bit loads: `lddw(dst, value)` and one `ld_*`
method per pseudo source (`ld_map_fd(dst, imm)`, `ld_map_value(dst, imm, imm2)`,
`ld_func(dst, target)`, ...).  Sized forms take a BPF_B/H/W/DW size:
`ldx`, `ldxs`, `st`, `stx`.
"""

from __future__ import annotations

import inspect
from typing import Callable

from ..errors import PybpfError
from .asm_text import Line, Pending, find_spec, make, resolve, target_field
from .insn import Insn, s32
from .opcodes import MAX_REG, SIZE_BYTES, SPECS, Spec
from .syntax_ubpf import SYNTAX as UBPF


class Reg(int):
    """A register operand, told apart from an immediate by its type."""

    def __repr__(self) -> str:
        return f"R{int(self)}"


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = (Reg(i) for i in range(MAX_REG + 1))


class BuilderError(PybpfError, ValueError):
    """A method called with operands its instruction does not take, or an unknown label."""


class _Site(Line):
    """Where an instruction came from, for label errors at finish()."""

    def error(self, message: str, token: str | None = None, at: int | None = None) -> BuilderError:
        return BuilderError(f"instruction {self.number} ({self.text}): {message}")


def _params(spec: Spec) -> tuple[list[str], int]:
    """The spec's operand fields in the order its ubpf spelling writes them (imm64 stays one),
    and how many are required: those its first (preferred) spelling leaves out default to 0."""
    spellings = [[s.field for s in t.slots if not s.repeat] for t in UBPF.templates[spec]]
    return max(spellings, key=len), len(spellings[0])


def _check(field: str, value, spec: Spec):
    if field in ("dst", "src"):
        if not (isinstance(value, int) and 0 <= value <= MAX_REG):
            raise BuilderError(f"{spec.name}: {field} must be a register R0-R{MAX_REG}, not {value!r}")
        return int(value)
    if isinstance(value, str) and field == target_field(spec):
        return value
    if not isinstance(value, int) or isinstance(value, Reg):
        raise BuilderError(f"{spec.name}: {field} must be an integer, not {value!r}")
    bits = {"off": 16, "imm64": 64}.get(field, 32)
    high = 1 << (bits - 1 if field == "off" else bits)  # imm may be given as an unsigned bit pattern
    if not -(1 << (bits - 1)) <= value < high:
        raise BuilderError(f"{spec.name}: {field} {value} is out of {bits}-bit range")
    return value


class Builder:
    """A program under construction; see the module docstring."""

    def __init__(self, helper_id: Callable[[str], int | None] | None = None):
        self._pending: list[Pending] = []
        self._labels: dict[str, int] = {}
        self._pc = 0
        self._helper_id = helper_id

    @property
    def pc(self) -> int:
        """The pc the next instruction will have."""
        return self._pc

    def label(self, name: str) -> "Builder":
        """Name the pc of the next instruction."""
        if name in self._labels:
            raise BuilderError(f"duplicate label {name!r}")
        self._labels[name] = self._pc
        return self

    def emit(self, insn: Insn, label: str | None = None, field: str = "off") -> "Builder":
        """Append an instruction; with `label`, `field` gets that label's offset at finish()."""
        site = _Site(len(self._pending), str(insn) if label is None else f"to {label!r}", "")
        self._pending.append(Pending(insn, site, label, field))
        self._pc += insn.size
        return self

    def finish(self) -> list[Insn]:
        """The instructions, with every label resolved."""
        return resolve(self._pending, self._labels, self._helper_id)

    def _build(self, spec: Spec, args: dict) -> "Builder":
        label = None
        fields = {}
        for field, value in args.items():
            value = _check(field, value, spec)
            if isinstance(value, str):
                label = value
            elif field == "imm64":
                fields["imm"], fields["imm2"] = s32(value), s32(value >> 32)
            else:
                fields[field] = s32(value) if field in ("imm", "imm2") else value
        return self.emit(make(spec, **fields), label, target_field(spec) or "off")

    # -- forms that are not one row of the table --------------------------------
    def call(self, helper: int | str) -> "Builder":
        """Call a helper by id, or by name through the `helper_id` callback given to the Builder."""
        if isinstance(helper, str):
            number = self._helper_id(helper) if self._helper_id else None
            if number is None:
                raise BuilderError(f"unknown helper {helper!r}" + ("" if self._helper_id else
                                                                  " (pass helper_id= to name helpers)"))
            helper = number
        return self._build(find_spec("call", "helper"), {"imm": helper})

    def ldx(self, size: int, dst: int, src: int, off: int = 0) -> "Builder":
        """dst = *(u{size} *)(src + off), size one of BPF_B, BPF_H, BPF_W, BPF_DW."""
        return self._sized("ldx", size, dst=dst, src=src, off=off)

    def ldxs(self, size: int, dst: int, src: int, off: int = 0) -> "Builder":
        """dst = *(s{size} *)(src + off), sign-extended (cpu v4)."""
        return self._sized("ldxs", size, dst=dst, src=src, off=off)

    def st(self, size: int, dst: int, off: int, imm: int) -> "Builder":
        """*(u{size} *)(dst + off) = imm."""
        return self._sized("st", size, dst=dst, off=off, imm=imm)

    def stx(self, size: int, dst: int, off: int, src: int) -> "Builder":
        """*(u{size} *)(dst + off) = src."""
        return self._sized("stx", size, dst=dst, off=off, src=src)

    def _sized(self, kind: str, size: int, **args) -> "Builder":
        if size not in SIZE_BYTES:
            raise BuilderError(f"{kind}: size must be BPF_B, BPF_H, BPF_W or BPF_DW, not {size!r}")
        try:
            spec = find_spec(kind, kind, SIZE_BYTES[size] * 8)
        except KeyError:
            raise BuilderError(f"no {kind} of {SIZE_BYTES[size]} bytes") from None
        return self._build(spec, args)


def _method(name: str, specs: list[Spec]) -> Callable:
    """The Builder method for one mnemonic: picks the register or immediate variant by operand type."""
    shapes = [(spec, *_params(spec)) for spec in specs]

    def method(self: Builder, *args) -> Builder:
        for spec, params, required in shapes:
            if required <= len(args) <= len(params) and all(
                    isinstance(a, Reg) == (p == "src") for a, p in zip(args, params) if p in ("src", "imm")):
                return self._build(spec, dict(zip(params, args)))
        wanted = " or ".join(f"({', '.join(p)})" for _, p, _ in shapes)
        raise BuilderError(f"{name}{tuple(args)!r}: wrong operands for {specs[0].name}, expected {wanted}")

    _, params, required = shapes[-1]
    positional = inspect.Parameter.POSITIONAL_ONLY
    method.__name__ = method.__qualname__ = name
    method.__signature__ = inspect.Signature(
        [inspect.Parameter("self", positional)]
        + [inspect.Parameter("src" if p == "imm" and len(shapes) > 1 else p, positional,
                             default=inspect.Parameter.empty if i < required else 0)
           for i, p in enumerate(params)])
    variants = "; ".join(spec.doc for spec in specs if spec.doc)
    method.__doc__ = f"{specs[0].name} (cpu v{specs[0].version}): {variants}"
    return method


def _method_names() -> dict[str, list[Spec]]:
    names: dict[str, list[Spec]] = {}
    for spec in SPECS:
        if spec.kind == "call" and spec.op == "helper":
            continue  # Builder.call, which also takes helper names
        if spec.kind == "lddw":
            name = "lddw" if spec.op == "imm64" else f"ld_{spec.op}"
        else:
            name = spec.name.replace(" ", "_")
        names.setdefault(name, []).append(spec)
        if spec.kind in ("alu", "neg") and spec.width == 64:
            names.setdefault(name + "64", []).append(spec)
    return names


for _name, _specs in _method_names().items():
    setattr(Builder, _name, _method(_name, _specs))
del _name, _specs

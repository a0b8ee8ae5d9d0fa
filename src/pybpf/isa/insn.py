"""Instructions as values: `Insn`, and lossless encode/decode of bytecode.

An encoded instruction is 8 bytes, little-endian (RFC 9669 section 3):
opcode (u8), dst_reg (low nibble) and src_reg (high nibble), offset (s16),
imm (s32).  A 64-bit immediate load (`lddw`) takes two such slots; the second
slot carries only imm2.  Program counters count slots, as the kernel does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..errors import PybpfError
from .opcodes import BPF_LD, BPF_DW, BPF_IMM, MAX_REG, Spec, lookup

INSN_SIZE = 8
_LDDW = BPF_LD | BPF_IMM | BPF_DW
_SLOT = struct.Struct("<BBhi")


class EncodingError(PybpfError, ValueError):
    """An invalid instruction encoding, reported with its pc."""

    def __init__(self, pc: int, message: str, raw: bytes = b""):
        self.pc = pc
        self.raw = raw
        self.reason = message
        shown = f" ({raw.hex(' ')})" if raw else ""
        super().__init__(f"pc {pc}: {message}{shown}")


@dataclass(frozen=True, slots=True)
class Insn:
    """One BPF instruction.  `imm2` is the second slot's imm of a lddw, else None.

    Fields hold their natural values: registers 0-15, off as a signed 16-bit
    integer, imm (and imm2) as signed 32-bit integers.
    """

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    imm2: int | None = None
    spec: Spec | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.spec is None:
            object.__setattr__(self, "spec", lookup(self.code, self.dst, self.src, self.off, self.imm))

    @property
    def size(self) -> int:
        """Number of 8-byte slots this instruction occupies."""
        return 2 if self.code == _LDDW else 1

    @property
    def imm64(self) -> int:
        """The unsigned 64-bit immediate of a lddw (imm | imm2 << 32)."""
        return (self.imm & 0xFFFFFFFF) | (((self.imm2 or 0) & 0xFFFFFFFF) << 32)

    def encode(self) -> bytes:
        first = _SLOT.pack(self.code, (self.src << 4) | self.dst, self.off, self.imm)
        if self.code == _LDDW:
            return first + _SLOT.pack(0, 0, 0, self.imm2 or 0)
        return first

    def replace(self, **changes: int) -> "Insn":
        values = {f: getattr(self, f) for f in ("code", "dst", "src", "off", "imm", "imm2")}
        values.update(changes)
        return Insn(**values)


def s32(value: int) -> int:
    """Wrap an integer to a signed 32-bit value."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def lddw(dst: int, value: int, pseudo: int = 0) -> Insn:
    """A 64-bit immediate load of `value` (unsigned or signed) into `dst`."""
    value &= 0xFFFFFFFFFFFFFFFF
    return Insn(_LDDW, dst, pseudo, 0, s32(value), s32(value >> 32))


def check(insn: Insn, pc: int = 0) -> Spec:
    """The instruction's spec, or EncodingError if it is not a valid encoding."""
    spec = insn.spec
    raw = insn.encode()
    if spec is None:
        raise EncodingError(pc, f"unknown opcode {insn.code:#04x}", raw)
    for name in ("dst", "src"):
        reg = getattr(insn, name)
        if reg > MAX_REG and name in spec.operands:
            raise EncodingError(pc, f"invalid register r{reg} in {name}_reg", raw)
    for name in spec.reserved:
        if getattr(insn, name):
            raise EncodingError(pc, f"reserved field {name} must be zero for {spec.name}", raw)
    if spec.kind == "lddw" and "imm2" not in spec.operands and insn.imm2:
        raise EncodingError(pc, f"second slot imm must be zero for lddw {spec.op}", raw)
    return spec


def iter_decode(data: bytes, *, strict: bool = True) -> Iterator[tuple[int, Insn]]:
    """Yield (pc, Insn) for each instruction in `data`.

    With strict=True (the default) every instruction is checked: unknown
    opcodes, bad registers, non-zero reserved fields and broken lddw pairs
    raise EncodingError naming the pc.
    """
    if len(data) % INSN_SIZE:
        raise EncodingError(len(data) // INSN_SIZE,
                            f"bytecode length {len(data)} is not a multiple of {INSN_SIZE}")
    count = len(data) // INSN_SIZE
    pc = 0
    while pc < count:
        code, regs, off, imm = _SLOT.unpack_from(data, pc * INSN_SIZE)
        imm2 = None
        if code == _LDDW:
            if pc + 1 >= count:
                raise EncodingError(pc, "lddw is missing its second slot",
                                    data[pc * INSN_SIZE:(pc + 1) * INSN_SIZE])
            code2, regs2, off2, imm2 = _SLOT.unpack_from(data, (pc + 1) * INSN_SIZE)
            if code2 or regs2 or off2:
                raise EncodingError(pc + 1, "second slot of lddw must have zero opcode, registers and offset",
                                    data[(pc + 1) * INSN_SIZE:(pc + 2) * INSN_SIZE])
        insn = Insn(code, regs & 0xF, regs >> 4, off, imm, imm2)
        if strict:
            check(insn, pc)
        yield pc, insn
        pc += insn.size


def decode(data: bytes, *, strict: bool = True) -> list[Insn]:
    """Decode bytecode into a list of instructions (one entry per lddw, not per slot)."""
    return [insn for _, insn in iter_decode(data, strict=strict)]


def encode(insns: Iterable[Insn]) -> bytes:
    """Encode instructions into bytecode."""
    return b"".join(insn.encode() for insn in insns)


def pcs(insns: Iterable[Insn]) -> list[int]:
    """The slot index (pc) of each instruction in a decoded list."""
    out, pc = [], 0
    for insn in insns:
        out.append(pc)
        pc += insn.size
    return out


def by_pc(insns: Iterable[Insn]) -> list[Insn | None]:
    """A list indexed by pc; the second slot of a lddw holds None."""
    out: list[Insn | None] = []
    for insn in insns:
        out.append(insn)
        if insn.size == 2:
            out.append(None)
    return out

"""What every assembler shares: source lines, errors with positions, numbers, labels.

An assembler turns each source line into zero or one `Pending` instruction:
an `Insn` whose jump or call target may still be a label name.  `resolve()`
turns labels into pc-relative offsets once every line is read.

Numbers follow bpf_conformance's rules (lib/src/bpf_assembler.cc), which
refuse to truncate: a 32-bit immediate written in hex must fit in u32 (it is
taken as a bit pattern), one written in decimal must fit in s32; offsets
likewise in u16 and s16; a 64-bit immediate must fit in u64 or s64.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import PybpfError
from .insn import Insn, s32
from .opcodes import MAX_REG, SPECS, Spec


class UnknownSyntax(PybpfError, ValueError):
    """A syntax name that is none of the assembler's or disassembler's (a ValueError too, as it was)."""

    def __init__(self, syntax: str, known):
        super().__init__(f"unknown syntax {syntax!r}; choose one of {', '.join(known)}")


class AsmError(PybpfError):
    """An assembly error at LINE:COL (both from 1), with the source line kept for display."""

    def __init__(self, line: int, col: int, message: str, source: str = ""):
        self.line, self.col, self.reason, self.source = line, col, message, source
        super().__init__(f"{line}:{col}: {message}")

    def render(self) -> str:
        """The message, the source line and a caret under the column."""
        if not self.source:
            return str(self)
        return f"{self}\n{self.source}\n{' ' * (self.col - 1)}^"


@dataclass
class Line:
    """One source line: its number, its full text, and the statement in it.

    `code` is the statement with labels, pc prefixes and comments removed;
    it starts at index `start` of `text`, so that a position in `code` maps
    back to a column of the line.
    """

    number: int
    text: str
    code: str
    start: int = 0

    def error(self, message: str, token: str | None = None, at: int | None = None) -> AsmError:
        """An AsmError at index `at` of `code`, else where `token` appears in it, else at the statement."""
        if at is None and token:
            at = self.code.find(token)
        col = self.start + (at if at is not None and at >= 0 else 0) + 1
        return AsmError(self.number, col, message, self.text)

    def rest(self, consumed: int) -> "Line":
        """The same line with the first `consumed` characters of `code` taken off (and spaces after)."""
        tail = self.code[consumed:]
        stripped = tail.lstrip()
        return Line(self.number, self.text, stripped, self.start + consumed + len(tail) - len(stripped))


@dataclass
class Pending:
    """An instruction whose `field` ("off" or "imm") still waits for `label` - pc - 1."""

    insn: Insn
    line: Line
    label: str | None = None
    field: str = "off"
    label_at: int | None = None  # index of the label in line.code, for errors


# `#` starts a comment only at the start of a line or after white space, so
# that the verifier log's `call bpf_map_lookup_elem#1` reads as one token.
_COMMENT = re.compile(r"(^|\s)#.*$|//.*$|;.*$")


def split_lines(text: str) -> list[Line]:
    """Every line of `text`, with comments removed and surrounding space trimmed."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        code = _COMMENT.sub("", raw)
        stripped = code.lstrip()
        lines.append(Line(number, raw, stripped.rstrip(), len(code) - len(stripped)))
    return lines


# -- numbers ------------------------------------------------------------------

NUMBER = r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|\d+)"
LABEL = r"[A-Za-z_.$][\w.$]*"


def parse_int(token: str, line: Line, what: str, at: int | None = None) -> int:
    """Decimal, hex (0x), octal (0o) or binary (0b), with an optional sign (`- 8` is -8)."""
    try:
        return int(_compact(token), 0)
    except ValueError:
        raise line.error(f"invalid {what} '{token}'", token, at) from None


def _compact(token: str) -> str:
    return "".join(token.split())


def _is_hex(token: str) -> bool:
    return token.lstrip("+- \t").lower().startswith("0x")


def imm32(token: str, line: Line, at: int | None = None) -> int:
    """A 32-bit immediate: hex must fit u32 (taken as its bit pattern), decimal s32."""
    value = parse_int(token, line, "immediate", at)
    high = (1 << 32) - 1 if _is_hex(token) else (1 << 31) - 1
    if not -(1 << 31) <= value <= high:
        raise line.error(f"immediate {_compact(token)} is out of 32-bit range", token, at)
    return s32(value)


def imm64(token: str, line: Line, at: int | None = None) -> int:
    """A 64-bit immediate, as an unsigned value: u64 or s64 range."""
    value = parse_int(token, line, "immediate", at)
    if not -(1 << 63) <= value < (1 << 64):
        raise line.error(f"immediate {_compact(token)} is out of 64-bit range", token, at)
    return value & 0xFFFFFFFFFFFFFFFF


def off16(token: str, line: Line, at: int | None = None) -> int:
    """A 16-bit offset: hex must fit u16 (taken as its bit pattern), decimal s16."""
    value = parse_int(token, line, "offset", at)
    if _is_hex(token) and 0 <= value <= 0xFFFF:
        return value - 0x10000 if value & 0x8000 else value
    if not -(1 << 15) <= value < (1 << 15):
        raise line.error(f"offset {_compact(token)} is out of 16-bit range", token, at)
    return value


def register(number: str, token: str, line: Line, at: int | None = None) -> int:
    """A register number 0-10; `token` is how it was written (`r11`, `%r50`)."""
    n = int(number)
    if n > MAX_REG:
        raise line.error(f"invalid register '{token}'", token, at)
    return n


# -- the table, by shape ----------------------------------------------------------


def find_spec(kind: str, op: str | None = None, width: int | None = None) -> Spec:
    """The first row of the opcode table with this kind (and op, and width)."""
    for spec in SPECS:
        if spec.kind == kind and op in (None, spec.op) and width in (None, spec.width):
            return spec
    raise KeyError((kind, op, width))


def make(spec: Spec, **operands: int) -> Insn:
    """The instruction of `spec` with these operand fields; selector fields come from the row."""
    fields = {"dst": 0, "src": 0, "off": 0, "imm": 0}
    fields.update(spec.fixed)
    fields.update(operands)
    imm2 = fields.pop("imm2", 0) if spec.kind == "lddw" else None
    fields.pop("imm2", None)
    return Insn(spec.code, imm2=imm2, **fields)


def target_field(spec: Spec) -> str | None:
    """Which field holds a pc-relative target: `off` for jumps, `imm` for gotol, local calls and lddw func."""
    if spec.kind in ("jcond", "may_goto") or (spec.kind == "ja" and spec.op == "ja"):
        return "off"
    if (spec.kind, spec.op) in (("ja", "gotol"), ("call", "local"), ("lddw", "func")):
        return "imm"
    return None


# -- labels -----------------------------------------------------------------------


def resolve(pending: list[Pending], labels: dict[str, int],
            helper_id: Callable[[str], int | None] | None = None) -> list[Insn]:
    """Replace label targets with pc-relative offsets; every label must exist.

    A local call to a name that is not a label (`call bpf_trace_printk`)
    becomes a helper call when `helper_id` knows the name.
    """
    out, pc = [], 0
    for item in pending:
        insn, spec = item.insn, item.insn.spec
        if item.label is not None:
            if item.label not in labels and spec.kind == "call":
                number = helper_id(item.label) if helper_id else None
                if number is None:
                    raise item.line.error(f"unknown label or helper '{item.label}'", item.label, item.label_at)
                insn = make(find_spec("call", "helper"), imm=number)
            elif item.label not in labels:
                raise item.line.error(f"unknown label '{item.label}'", item.label, item.label_at)
            else:
                delta = labels[item.label] - pc - 1
                if item.field == "off" and not -(1 << 15) <= delta < (1 << 15):
                    raise item.line.error(f"jump to '{item.label}' is out of 16-bit range",
                                          item.label, item.label_at)
                insn = insn.replace(**{item.field: delta})
        out.append(insn)
        pc += insn.size
    return out

"""What both assemblers share: source positions, errors, numbers, labels.

An assembler turns each source line into zero or one `Pending` instruction:
an `Insn` whose jump or call target may still be a label name.  `resolve()`
turns labels into pc-relative offsets once every line is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import PybpfError
from .insn import Insn, s32


class AsmError(PybpfError):
    """An assembly error at LINE:COL, with the source line kept for display."""

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
    """One source line: its number, full text, and the code part (comment removed)."""

    number: int
    text: str
    code: str

    def error(self, message: str, token: str | None = None) -> AsmError:
        """An AsmError at the first place `token` (or, failing that, its unsigned part) appears."""
        col = len(self.text) - len(self.text.lstrip()) + 1
        for candidate in (token, token.lstrip("+-") if token else None):
            if candidate and candidate in self.text:
                col = self.text.find(candidate) + 1
                break
        return AsmError(self.number, col, message, self.text)


@dataclass
class Pending:
    """An instruction with an unresolved target: `field` ("off" or "imm") gets label - pc - 1."""

    insn: Insn
    line: Line
    label: str | None = None
    field: str = "off"
    call: bool = False  # a `call NAME`: a label, or else a helper name


# `#` starts a comment only at the start of a line or after white space, so
# that the verifier log's `call bpf_map_lookup_elem#1` reads as one token.
_COMMENT = re.compile(r"(^|\s)#.*$|//.*$|;.*$")


def split_lines(text: str) -> list[Line]:
    return [Line(number, raw, _COMMENT.sub("", raw).strip())
            for number, raw in enumerate(text.splitlines(), 1)]


def parse_int(token: str, line: Line, what: str = "number") -> int:
    """Decimal, hex (0x), octal (0o) or binary (0b), with an optional sign."""
    text = token.strip()
    try:
        return int(text, 0)
    except ValueError:
        raise line.error(f"invalid {what} '{token}'", token) from None


def imm32(token: str, line: Line) -> int:
    """A 32-bit immediate: hex must fit u32 (taken as its bit pattern), decimal s32."""
    value = parse_int(token, line, "immediate")
    is_hex = token.strip().lstrip("+-").lower().startswith("0x")
    low, high = (-(1 << 31), (1 << 32) - 1) if is_hex else (-(1 << 31), (1 << 31) - 1)
    if not low <= value <= high:
        raise line.error(f"immediate {token} is out of 32-bit range", token)
    return s32(value)


def imm64(token: str, line: Line) -> int:
    value = parse_int(token, line, "immediate")
    if not -(1 << 63) <= value < (1 << 64):
        raise line.error(f"immediate {token} is out of 64-bit range", token)
    return value & 0xFFFFFFFFFFFFFFFF


def off16(token: str, line: Line) -> int:
    """A 16-bit offset: hex must fit u16 (taken as its bit pattern), decimal s16."""
    value = parse_int(token, line, "offset")
    is_hex = token.strip().lstrip("+-").lower().startswith("0x")
    if is_hex and 0 <= value <= 0xFFFF:
        return value - 0x10000 if value & 0x8000 else value
    if not -(1 << 15) <= value < (1 << 15):
        raise line.error(f"offset {token} is out of 16-bit range", token)
    return value


def resolve(pending: list[Pending], labels: dict[str, int],
            helper_id: Callable[[str], int | None] | None = None) -> list[Insn]:
    """Replace label targets with pc-relative offsets; every label must exist.

    `call NAME` is a local call when NAME is a label, else a helper call
    when `helper_id` knows the name.
    """
    out, pc = [], 0
    for item in pending:
        insn = item.insn
        if item.call and item.label not in labels:
            number = helper_id(item.label) if helper_id else None
            if number is None:
                raise item.line.error(f"unknown label or helper '{item.label}'", item.label)
            item = Pending(Insn(insn.code, 0, 0, 0, number), item.line)
            insn = item.insn
        if item.label is not None:
            if item.label not in labels:
                raise item.line.error(f"unknown label '{item.label}'", item.label)
            delta = labels[item.label] - pc - 1
            if item.field == "off" and not -(1 << 15) <= delta < (1 << 15):
                raise item.line.error(f"jump to '{item.label}' is out of 16-bit range", item.label)
            insn = insn.replace(**{item.field: delta})
        out.append(insn)
        pc += insn.size
    return out

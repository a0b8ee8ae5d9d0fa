"""Instruction text as templates: one description per syntax renders and parses.

A syntax is a list of rows `(pattern, templates)`.  `pattern` is a glob (or
several, separated by `|`) over "KIND OP WIDTH" of an opcode-table row
(`"alu"`, `"atomic fetch_*"`, `"atomic add 32"`); each table row takes the
templates of the first pattern that matches it.  A template is text with
placeholders:

  static, from the table row, filled in once:
    {W} width   {R} `w` when the width is under 64, else `r`   {SYM} operator
    ({ALU_OPS}/{JMP_OPS} symbol)   {OP} the row's op   {NAME} its ubpf mnemonic
    {BITS} movsx source width   {S64} `64` or ``   {X32} `32` or ``
  dynamic, the instruction's fields:
    {dst} {src}   register numbers (the template spells the `r`/`w`/`%r`)
    {off} {imm} {imm2}   signed decimal;  {imm:x} u32 hex (`0xffffffff`)
    {imm64}   imm | imm2 << 32, signed decimal;  {imm64:x} unsigned hex
    {off:mem}  `+ 4` / `- 8`   {off:+d} {imm:+d}  `+4`   {off:pc} {imm:pc}  `pc+4`
    {helper}  the helper's name for imm (rendered by a callback; parsed and ignored)

Rendering uses the first template of a row whose unmentioned operand fields
are zero, so a row lists its short form first (`skb[r1]` before
`skb[r1 + 4]`) and its parse-only spellings last.  Parsing tries every
template of every row, in row order; a jump, gotol, local call or lddw func
target also reads as a label.  A `Lossy(reason, text)` template renders but
never parses: the syntax has no way to say that instruction exactly.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass
from typing import Callable

from .asm_text import LABEL, NUMBER, Line, Pending, imm32, imm64, make, off16, register, target_field
from .insn import Insn, s32
from .opcodes import ALU_BY_NAME, JMP_BY_NAME, SPECS, Spec

HelperNamer = Callable[[int], "str | None"]


@dataclass(frozen=True)
class Lossy:
    """A rendering that cannot be read back, and why."""

    reason: str
    text: str


_UNSIGNED = r"(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|\d+)"
_SIGNED = rf"[+-]\s*{_UNSIGNED}"
_HEX = r"[+-]?0[xX][0-9a-fA-F]+"
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^}]*))?\}")
_STATIC = re.compile(r"\{([A-Z0-9]+)\}")
_REG_PREFIX = re.compile(r"%?[rw]$")
_NUMERIC_TARGET = re.compile(r"^(?:pc)?\s*[+-]?\s*" + _UNSIGNED + "$")


def static_values(spec: Spec) -> dict[str, str]:
    """What the upper-case placeholders of a template say for this row."""
    symbol = ""
    if spec.kind in ("alu", "atomic") and spec.op in ALU_BY_NAME:
        symbol = ALU_BY_NAME[spec.op].symbol
    elif spec.kind == "jcond":
        symbol = JMP_BY_NAME[spec.op].symbol
    return {"W": str(spec.width), "R": "w" if spec.width < 64 else "r", "SYM": symbol, "OP": spec.op,
            "NAME": spec.name, "BITS": str(spec.fixed_value("off")),
            "S64": "64" if spec.width == 64 else "", "X32": "32" if spec.width == 32 else ""}


@dataclass(frozen=True)
class Slot:
    """One dynamic placeholder of a template."""

    field: str  # dst, src, off, imm, imm2, imm64, helper
    style: str
    group: str  # name of its regex group
    prefix: str  # the register spelling before it (`r`, `%r`), for messages
    target: bool  # also reads as a label
    repeat: bool  # a second mention of the same field: must say the same


def _slot_regex(slot: Slot) -> str:
    if slot.repeat:
        return f"(?P={slot.group})"
    if slot.field in ("dst", "src"):
        body = r"\d+"
    elif slot.field == "helper":
        body = r"[A-Za-z_]\w*"
    elif slot.style == "x":
        body = _HEX
    elif slot.style in ("mem", "+d"):
        body = _SIGNED
    elif slot.style == "pc":
        body = rf"(?:pc\s*)?{_SIGNED}"
    else:
        body = NUMBER
    if slot.target:
        body = f"{body}|{LABEL}"
    return f"(?P<{slot.group}>{body})"


def _render_slot(slot: Slot, insn: Insn, helper_name: HelperNamer | None) -> str:
    if slot.field == "helper":
        return (helper_name(insn.imm) if helper_name else None) or "unknown"
    if slot.field == "imm64":
        value = insn.imm64
        return f"{value:#x}" if slot.style == "x" else str(value - (1 << 64) if value >> 63 else value)
    value = getattr(insn, slot.field) or 0
    if slot.style == "x":
        return f"{value & 0xFFFFFFFF:#x}"
    if slot.style == "mem":
        return f"+ {value}" if value >= 0 else f"- {-value}"
    if slot.style == "+d":
        return f"{value:+d}"
    if slot.style == "pc":
        return f"pc{value:+d}"
    return str(value)


class Template:
    """One template instantiated for one row of the opcode table."""

    def __init__(self, spec: Spec, source: str | Lossy, tag: str):
        self.spec = spec
        self.lossy = source.reason if isinstance(source, Lossy) else None
        text = source.text if isinstance(source, Lossy) else source
        values = static_values(spec)
        self.text = _STATIC.sub(lambda m: values[m.group(1)], text)
        self.parts: list[str | Slot] = []
        seen: dict[str, str] = {}
        pos = 0
        for m in _PLACEHOLDER.finditer(self.text):
            literal = self.text[pos:m.start()]
            if literal:
                self.parts.append(literal)
            field, style = m.group(1), m.group(2) or ""
            prefix = _REG_PREFIX.search(literal)
            repeat = field in seen
            group = seen.setdefault(field, f"{tag}_{len(seen)}")  # tag is t{spec}_{template}
            self.parts.append(Slot(field, style, group, prefix.group(0) if prefix else "",
                                   field == target_field(spec), repeat))
            pos = m.end()
        if pos < len(self.text):
            self.parts.append(self.text[pos:])
        covered = set()
        for slot in self.slots:
            if slot.field != "helper":
                covered |= {"imm", "imm2"} if slot.field == "imm64" else {slot.field}
        self.fits = self.lossy is not None or covered <= spec.operands  # one row serves K and X alike
        self.omitted = tuple(f for f in spec.operands if f not in covered)
        self.tag = tag
        self.regex = f"(?P<{tag}>{self._regex()})"

    @property
    def slots(self) -> list[Slot]:
        return [p for p in self.parts if isinstance(p, Slot)]

    def applies(self, insn: Insn) -> bool:
        """Whether this template says everything about `insn` (fields it omits are zero)."""
        return self.lossy is not None or not any(getattr(insn, f) for f in self.omitted)

    def render(self, insn: Insn, helper_name: HelperNamer | None = None) -> str:
        return "".join(p if isinstance(p, str) else _render_slot(p, insn, helper_name) for p in self.parts)

    def _regex(self) -> str:
        out = []
        for i, part in enumerate(self.parts):
            if isinstance(part, Slot):
                out.append(_slot_regex(part))
                continue
            for j, ch in enumerate(part):
                if ch != " ":
                    out.append(re.escape(ch))
                    continue
                before = part[j - 1] if j else self._edge(i - 1, last=True)
                after = part[j + 1] if j + 1 < len(part) else self._edge(i + 1, last=False)
                out.append(r"\s+" if _wordy(before) and _wordy(after) else r"\s*")
        return "".join(out)

    def _edge(self, index: int, last: bool) -> str:
        """The character next to a literal space, with a placeholder standing for a word character."""
        if not 0 <= index < len(self.parts):
            return ""
        part = self.parts[index]
        if isinstance(part, Slot):
            return "0" if last or part.target or part.style not in ("mem", "+d") else "+"
        return part[-1] if last else part[0]

    def pending(self, m: re.Match, line: Line) -> Pending:
        """The instruction a match of this template's regex says."""
        fields: dict[str, int] = {}
        label = label_at = None
        for slot in self.slots:
            if slot.repeat or slot.field == "helper":
                continue
            token, at = m.group(slot.group), m.start(slot.group)
            if slot.field in ("dst", "src"):
                fields[slot.field] = register(token, slot.prefix + token, line, at - len(slot.prefix))
            elif slot.target and not _NUMERIC_TARGET.match(token):
                label, label_at = token, at
            elif slot.field == "imm64":
                value = imm64(token, line, at)
                fields["imm"], fields["imm2"] = s32(value), s32(value >> 32)
            else:
                number = token[2:] if token.startswith("pc") else token
                fields[slot.field] = off16(number, line, at) if slot.field == "off" else imm32(number, line, at)
        return Pending(make(self.spec, **fields), line, label, target_field(self.spec) or "off", label_at)


def _wordy(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class Syntax:
    """A syntax: the templates of every row of the opcode table, for rendering and parsing."""

    def __init__(self, name: str, rows: list[tuple[str, list[str | Lossy]]]):
        self.name, self._rows = name, rows

    @functools.cached_property
    def templates(self) -> dict[Spec, list[Template]]:
        """Each spec's templates, in the rows' order; built at the first use, not at import (a run that
        renders and parses nothing, pybpftrace's, never pays for the 960 templates of three syntaxes)."""
        templates: dict[Spec, list[Template]] = {}
        for pattern, sources in self._rows:
            globs = [(g.split() + ["*", "*"])[:3] for g in pattern.split("|")]
            for spec in SPECS:
                key = (spec.kind, spec.op, str(spec.width))
                if spec in templates or not any(all(fnmatch.fnmatchcase(k, g) for k, g in zip(key, glob))
                                                for glob in globs):
                    continue
                made = [Template(spec, source, f"t{len(templates)}_{i}") for i, source in enumerate(sources)]
                made = [t for t in made if t.fits]
                assert made, f"{self.name} syntax: no template of {pattern!r} fits {spec.name}"
                templates[spec] = made
        missing = [s.name for s in SPECS if s not in templates]
        assert not missing, f"{self.name} syntax has no template for {missing}"
        return templates

    @functools.cached_property
    def _parsers(self) -> dict[str, Template]:
        return {t.tag: t for made in self.templates.values() for t in made if t.lossy is None}

    @functools.cached_property
    def _regex(self) -> re.Pattern:
        """Every parsing template in one pattern, compiled at the first parse: compiling it is most of
        the cost of importing a syntax, and a program that only renders (pybpftrace) never needs it."""
        return re.compile("|".join(t.regex for t in self._parsers.values()))

    def render(self, insn: Insn, helper_name: HelperNamer | None = None) -> str:
        return self.template_for(insn).render(insn, helper_name)

    def template_for(self, insn: Insn) -> Template:
        for template in self.templates[insn.spec]:
            if template.applies(insn):
                return template
        raise AssertionError(f"{self.name} syntax cannot render {insn}")

    def lossy(self, insn: Insn) -> str | None:
        """Why this syntax cannot say `insn` exactly, or None when it can."""
        return self.template_for(insn).lossy

    def parse(self, line: Line) -> Pending | None:
        """The instruction `line.code` says, or None when no template matches it."""
        m = self._regex.fullmatch(line.code)
        if m is None:
            return None
        tag = "_".join(m.lastgroup.split("_")[:2])  # the template's own group, t{spec}_{template}
        return self._parsers[tag].pending(m, line)

"""The ubpf / bpf_conformance syntax: `ldxw %r0, [%r1+2]`, as templates.

Mnemonics are the `name` column of the opcode table (`add32`, `ldxw`,
`stxdw`, `be16`, `bswap64`, `movsx832`, `sdiv32`, `jne32`, `ja32`,
`lock fetch add32`).  Rules follow bpf_conformance's assembler
(lib/src/bpf_assembler.cc): `call N` is a helper call, `call local L` a
local call, `call runtime N` a kfunc call and `call %rN` a callx (opcode
0x8d, the register in dst); `lock [fetch] OP[32] [%rD+OFF], %rS` spells the
atomics; `swapN` is read as `bswapN`; jump targets are labels or signed
offsets (`ja +3`, `jeq %r1, 5, label`).  Beyond it: `add64`-style names for
the 64-bit ALU, `ldabsw 4`, `ldindh %r1, 4`, `may_goto +3`,
`call runtime N, OFF`, and 64-bit loads with a pseudo source, which it has no
spelling for: `lddw %r1, map_fd(5)`, `map_value(5, 8)`, `map_idx(3)`,
`map_idx_value(3, 8)`, `btf_id(7, 0)`, `func(+5)` (or `func(label)`).
"""

from __future__ import annotations

import functools
import re

from .asm_text import AsmError, Line
from .opcodes import SPECS
from .template import Syntax

_LOAD = ["{NAME} %r{dst}, [%r{src}{off:+d}]", "{NAME} %r{dst}, [%r{src}]"]
_STORE_REG = ["{NAME} [%r{dst}{off:+d}], %r{src}", "{NAME} [%r{dst}], %r{src}"]

ROWS = [
    ("alu", ["{NAME} %r{dst}, %r{src}", "{NAME} %r{dst}, {imm}"]),
    ("neg|end", ["{NAME} %r{dst}"]),
    ("movsx", ["{NAME} %r{dst}, %r{src}"]),
    ("ldx|ldxs|load_acq", _LOAD),
    ("st", ["{NAME} [%r{dst}{off:+d}], {imm}", "{NAME} [%r{dst}], {imm}"]),
    ("stx|atomic|store_rel", _STORE_REG),
    ("lddw imm64", ["lddw %r{dst}, {imm64:x}", "lddw %r{dst}, {imm64}"]),
    ("lddw map_fd", ["lddw %r{dst}, map_fd({imm})"]),
    ("lddw map_value", ["lddw %r{dst}, map_value({imm}, {imm2})"]),
    ("lddw map_idx", ["lddw %r{dst}, map_idx({imm})"]),
    ("lddw map_idx_value", ["lddw %r{dst}, map_idx_value({imm}, {imm2})"]),
    ("lddw btf_id", ["lddw %r{dst}, btf_id({imm}, {imm2})"]),
    ("lddw func", ["lddw %r{dst}, func({imm:+d})"]),
    ("ldabs", ["{NAME} {imm}"]),
    ("ldind", ["{NAME} %r{src}, {imm}"]),
    ("ja ja", ["ja {off:+d}"]),
    ("ja gotol", ["ja32 {imm:+d}"]),
    ("jcond", ["{NAME} %r{dst}, %r{src}, {off:+d}", "{NAME} %r{dst}, {imm}, {off:+d}"]),
    ("call helper", ["call {imm}", "call helper {imm}"]),
    ("call local", ["call local {imm:+d}"]),
    ("call kfunc", ["call runtime {imm}", "call runtime {imm}, {off}"]),
    ("callx", ["call %r{dst}", "call helper %r{dst}", "callx %r{dst}"]),
    ("exit", ["exit"]),
    ("may_goto", ["may_goto {off:+d}"]),
]

SYNTAX = Syntax("ubpf", ROWS)

# -- reading what bpf_conformance reads, and saying what is wrong with the rest -----

_SHAPES = {  # operand shape -> (coarse pattern, how to ask for it)
    "reg": (r"%\w+", "a register like %r1"),
    "mem": (r"\[.*\]", "a memory operand like [%r1+8]"),
    "pseudo": (r"\w+\(.*\)", "a pseudo source like map_fd(3)"),
    "number": (r"[^\[\]%(),]+", "a number"),
}


def _shape(operand_template: str) -> str:
    if operand_template.startswith("%r"):
        return "reg"
    if operand_template.startswith("["):
        return "mem"
    return "pseudo" if "(" in operand_template else "number"


@functools.cache
def _forms() -> dict[str, list[list[str]]]:
    """Mnemonic (`lock fetch add32`, `call local`) -> the operand shapes of each of its templates."""
    forms: dict[str, list[list[str]]] = {}
    for templates in SYNTAX.templates.values():
        for t in templates:
            head = re.match(r"[^%\[{]*", t.text).group(0)
            mnemonic, rest = head.strip(), t.text[len(head):]
            operands = [_shape(op) for op in _split(rest)] if rest else []
            if operands not in forms.setdefault(mnemonic, []):
                forms[mnemonic].append(operands)
    return forms


def _split(text: str) -> list[str]:
    """Operands separated by commas outside brackets and parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return parts + [current.strip()] if current.strip() else parts


_NAMES = {s.name for s in SPECS}  # every spec has a template in every syntax (Syntax.templates checks)


def normalize_word(word: str) -> str:
    """bpf_conformance's `swap16` is `bswap16`; ubpf's `add64` is `add`."""
    if word.startswith("swap") and "b" + word in _NAMES:
        return "b" + word
    if word.endswith("64") and word not in _NAMES and word[:-2] in _NAMES:
        return word[:-2]
    return word


def normalize(line: Line) -> Line:
    """The statement with its mnemonic's alias replaced, columns kept right for the operands."""
    word = line.code.split(maxsplit=1)[0] if line.code else ""
    name = normalize_word(word)
    if name == word:
        return line
    return Line(line.number, line.text, name + line.code[len(word):], line.start + len(word) - len(name))


def diagnose(line: Line) -> AsmError:
    """Why a statement matches no template: unknown mnemonic, operand count, or an operand's shape."""
    code = line.code
    mnemonic = max((m for m in _forms() if code == m or code.startswith(m + " ") or code.startswith(m + "\t")),
                   key=len, default=None)
    if mnemonic is None:
        words = code.split()
        family = any(m.startswith(words[0] + " ") for m in _forms())  # `lock` needs [fetch] OP
        if family and (len(words) == 1 or words[1][0] in "[%"):
            return line.error(f"invalid number of operands for {words[0]}", None, 0)
        name = " ".join(words[:2]) if family else words[0]
        return line.error(f"unknown mnemonic '{name}'", None, 0)
    rest = code[len(mnemonic):]
    operands = _split(rest)
    shapes = [s for s in _forms()[mnemonic] if len(s) == len(operands)]
    if not shapes:
        counts = " or ".join(str(n) for n in sorted({len(s) for s in _forms()[mnemonic]}))
        return line.error(f"invalid number of operands for {mnemonic}: expected {counts}, got {len(operands)}",
                          mnemonic, 0)
    at = len(mnemonic)
    for i, operand in enumerate(operands):
        at = code.index(operand, at)
        wanted = {s[i] for s in shapes}
        if not any(re.fullmatch(_SHAPES[w][0], operand) for w in wanted):
            asks = " or ".join(_SHAPES[w][1] for w in sorted(wanted))
            return line.error(f"expected {asks}, got '{operand}'", operand, at)
        at += len(operand)
    return line.error(f"cannot parse '{code}'", None, 0)

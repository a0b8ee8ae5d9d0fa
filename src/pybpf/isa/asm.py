"""Assemble text into instructions, in the LLVM, kernel or ubpf syntax.

`assemble(text, syntax="auto")` reads one statement per line, labels
(`name:` alone or before a statement), comments (`#` at the start of a line
or after a space, `//`, `;`) and blank lines, and returns the instructions
with every label resolved.  Each syntax is a table of templates
(syntax_llvm, syntax_kernel, syntax_ubpf) that the disassembler renders
with, so that whatever `disasm` prints, `asm` reads back.

Also read, so that listings can be fed back: a leading pc (`12: r0 = 1`,
as `disassemble()` and the verifier log print it), the verifier log's
opcode (`(bf) r1 = r10`), llvm-objdump's address and bytes
(`0:\\tb7 00 00 00 01 00 00 00\\tr0 = 1`), its target annotations
(`goto +2 <.text+0x20>`) and its symbol lines (`0000000000000000 <func>:`).

Errors are `AsmError`s naming line and column (`2:7: invalid register 'r12'`),
with the source line and a caret from `render()`.  "auto" takes the ubpf
syntax when the text has `%r` registers or `[` memory operands, or starts a
statement with a mnemonic only ubpf has, and the LLVM syntax otherwise.
"""

from __future__ import annotations

import re
from typing import Callable

from . import syntax_kernel, syntax_llvm, syntax_ubpf
from .asm_text import AsmError, Line, Pending, UnknownSyntax, resolve, split_lines
from .insn import Insn, encode
from .opcodes import SPECS

SYNTAXES = ("auto", "llvm", "kernel", "ubpf")
HelperIds = Callable[[str], "int | None"]

_TABLES = {"llvm": syntax_llvm.SYNTAX, "kernel": syntax_kernel.SYNTAX, "ubpf": syntax_ubpf.SYNTAX}
_PC = re.compile(r"\d+:\s*")
_OPCODE = re.compile(r"\([0-9a-fA-F]{2}\)\s+")
_BYTES = re.compile(r"(?:[0-9a-f]{2} ){7}(?:(?:[0-9a-f]{2} ){8})?[0-9a-f]{2}\s+")
_ANNOTATION = re.compile(r"\s*<[\w.$]+(?:\+0x[0-9a-f]+)?>$")
_SYMBOL = re.compile(r"(?:[0-9a-f]+\s+)?<([\w.$]+)>:$")
_LABEL = re.compile(r"([A-Za-z_.$][\w.$]*)\s*:(?!:)\s*")
_UBPF_WORDS = {s.name.split()[0] for s in SPECS} - {"exit", "call", "callx", "lock", "may_goto"}
_UBPF_MARK = re.compile(r"%r\d|(?<![\w\]])\[|^call\s+(?:local|runtime|helper)\s")  # not skb[4], map[fd:5][0]
_KERNEL_MARK = re.compile(r"goto pc[+-]|(?<!kfunc)#\d|\(r\d+ [+-]\d|^\([0-9a-fA-F]{2}\)\s")


def detect_syntax(text: str) -> str:
    """The syntax of `text`: ubpf at its first `%r`, `[` or ubpf-only mnemonic, kernel at its
    first `pc+N` jump, `name#id` call, `(r1 +4)` operand or `(bf)` opcode, else llvm."""
    for line in split_lines(text):
        code = _PC.sub("", line.code, count=1)
        word = code.split(maxsplit=1)[0] if code else ""
        if _UBPF_MARK.search(code) or ("=" not in code and syntax_ubpf.normalize_word(word) in _UBPF_WORDS):
            return "ubpf"
        if _KERNEL_MARK.search(code):
            return "kernel"
    return "llvm"


def _strip_prefixes(line: Line) -> tuple[Line, str | None]:
    """The statement without listing prefixes, and the label a symbol line (`<func>:`) defines."""
    for prefix in (_PC, _OPCODE, _BYTES):
        m = prefix.match(line.code)
        if m:
            line = line.rest(m.end())
    m = _SYMBOL.fullmatch(line.code)
    if m:
        return Line(line.number, line.text, "", line.start), m.group(1)
    m = _ANNOTATION.search(line.code)
    if m:
        line = Line(line.number, line.text, line.code[:m.start()], line.start)
    return line, None


def assemble(text: str, syntax: str = "auto", *, helper_id: HelperIds | None = None) -> list[Insn]:
    """Instructions for `text`.  `helper_id` maps a helper name (`call bpf_trace_printk`) to its id."""
    if syntax not in SYNTAXES:
        raise UnknownSyntax(syntax, SYNTAXES)
    if syntax == "auto":
        syntax = detect_syntax(text)
    table = _TABLES[syntax]
    pending: list[Pending] = []
    labels: dict[str, int] = {}
    pc = 0
    for line in split_lines(text):
        line, symbol = _strip_prefixes(line)
        defined = [(symbol, line.start + 1)] if symbol else []
        while m := _LABEL.match(line.code):
            defined.append((m.group(1), line.start + 1))
            line = line.rest(m.end())
        for name, col in defined:
            if name in labels:
                raise AsmError(line.number, col, f"duplicate label '{name}'", line.text)
            labels[name] = pc
        if not line.code:
            continue
        if syntax == "ubpf":
            line = syntax_ubpf.normalize(line)
        item = table.parse(line)
        if item is None:
            raise syntax_ubpf.diagnose(line) if syntax == "ubpf" else line.error(f"cannot parse '{line.code}'", None, 0)
        if syntax == "ubpf" and item.insn.spec.kind == "exit":
            labels.setdefault("exit", pc)  # bpf_conformance: the first exit is the label `exit`
        pending.append(item)
        pc += item.insn.size
    return resolve(pending, labels, helper_id)


def assemble_bytes(text: str, syntax: str = "auto", **kwargs) -> bytes:
    """Bytecode for `text`."""
    return encode(assemble(text, syntax, **kwargs))


__all__ = ["AsmError", "SYNTAXES", "assemble", "assemble_bytes", "detect_syntax"]

"""Assemble text into instructions, in the LLVM/kernel or the ubpf syntax.

`assemble(text, syntax="auto")` reads labels (`name:` alone or before a
statement), comments (`#`, `//`, `;`), blank lines and one statement per
line, and returns the instructions with every label resolved.  Errors are
`AsmError`s naming line and column.  "auto" takes the ubpf syntax when the
text uses `%r` registers and the LLVM syntax otherwise.
"""

from __future__ import annotations

import re
from typing import Callable

from . import asm_llvm, asm_ubpf
from .asm_text import AsmError, Line, Pending, resolve, split_lines
from .insn import Insn, encode

SYNTAXES = ("auto", "llvm", "kernel", "ubpf")
_LABEL = re.compile(r"^([A-Za-z_.$][\w.$]*)\s*:\s*(.*)$")
_KERNEL_PC = re.compile(r"^\d+:\s*(?=\()")  # "12: (bf) r1 = r10" in a verifier log


def detect_syntax(text: str) -> str:
    return "ubpf" if "%r" in text else "llvm"


def assemble(text: str, syntax: str = "auto", *,
             helper_id: Callable[[str], int | None] | None = None) -> list[Insn]:
    """Instructions for `text`.  `helper_id` maps a helper name (`call bpf_trace_printk`) to its id."""
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}; choose one of {', '.join(SYNTAXES)}")
    if syntax == "auto":
        syntax = detect_syntax(text)
    pending: list[Pending] = []
    labels: dict[str, int] = {}
    pc = 0
    for line in split_lines(text):
        code = _KERNEL_PC.sub("", line.code) if syntax == "kernel" else line.code
        m = _LABEL.match(code)
        if m and not code.startswith(("if ", "lock ")):
            name = m.group(1)
            if name in labels:
                raise line.error(f"duplicate label '{name}'", name)
            labels[name] = pc
            code = m.group(2).strip()
        line = Line(line.number, line.text, code)
        if syntax == "ubpf":
            item = asm_ubpf.parse_line(line)
        else:
            item = asm_llvm.parse_line(line, kernel=syntax == "kernel")
        if item is None:
            continue
        if syntax == "ubpf" and item.insn.code == 0x95 and "exit" not in labels:
            labels["exit"] = pc  # bpf_conformance: the first exit is the label `exit`
        pending.append(item)
        pc += item.insn.size
    return resolve(pending, labels, helper_id)


def assemble_bytes(text: str, syntax: str = "auto", **kwargs) -> bytes:
    return encode(assemble(text, syntax, **kwargs))


__all__ = ["AsmError", "SYNTAXES", "assemble", "assemble_bytes", "detect_syntax"]

"""Reading bpf_conformance `.data` files, as its lib/src/bpf_test_parser.cc does.

Line by line: a trailing CR and everything from `#` on are dropped; a line
holding `--` switches section by the first of these words it contains:
`asm`, `result`, `mem`, `raw`, `no register offset` (ignored), ` c`
(ignored), `error`; any other directive makes bpf_conformance skip the file
(here: BadTestFile).  Empty lines are skipped.  `asm` lines are the program
text, `mem` and `raw` lines are concatenated, `result` and `error` keep
their last line.  A result with `0x` is hex, else decimal.  A `raw` token
with `0x` is one 64-bit instruction slot in hex, else in decimal; the one
deviation: a raw section made only of two-digit hex tokens (the negative/
`unused-*` files) is read as bytes, which is how those files are written.
A file with neither a result nor an error is skipped by bpf_conformance
(here: BadTestFile); `error_section` records an `-- error` line even when
no text follows it.  `sections` keeps each section's text verbatim (by the
name after `-- `), for tests that point at its lines.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from pybpf.isa.asm import assemble
from pybpf.isa.insn import Insn, decode

# The words a `--` line is matched against, in the parser's order.
DIRECTIVES = (("asm", "asm"), ("result", "result"), ("mem", "mem"), ("raw", "raw"),
              ("no register offset", None), (" c", None), ("error", "error"))
_BYTE = re.compile(r"[0-9a-fA-F]{2}")
_SECTION = re.compile(r"^-- (.*)$", re.M)


class BadTestFile(Exception):
    """The file is not a valid conformance test (bpf_conformance skips it)."""


@dataclass
class ConformanceTest:
    path: Path
    asm: str = ""
    raw: list[str] = field(default_factory=list)
    mem: list[str] = field(default_factory=list)
    result_text: str = ""
    error: str = ""
    error_section: bool = False
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def expects_error(self) -> bool:
        return self.error_section

    @property
    def memory(self) -> bytes:
        """`-- mem`: hex bytes (the parser reads each token with std::hex into a byte)."""
        return bytes(int(token, 16) & 0xFF for token in self.mem)

    @property
    def result(self) -> int | None:
        text = self.result_text.strip()
        if not text:
            return None
        return int(text, 16) if "0x" in text else int(text)

    def program(self) -> list[Insn]:
        """The instructions: `-- raw` when present (as the parser prefers it), else `-- asm` assembled."""
        if self.raw:
            return decode(self.raw_bytes())
        if self.asm.strip():
            return assemble(self.asm, "ubpf")
        raise BadTestFile(f"{self.path.name}: no instructions")

    def raw_bytes(self) -> bytes:
        if all(_BYTE.fullmatch(token) for token in self.raw):
            return bytes(int(token, 16) for token in self.raw)
        slots = [int(token, 16) if token.startswith("0x") else int(token) for token in self.raw]
        return b"".join(struct.pack("<Q", slot & (1 << 64) - 1) for slot in slots)


def parse(path: Path) -> ConformanceTest:
    text = path.read_text()
    parts = _SECTION.split(text)
    test = ConformanceTest(path, sections={name.strip(): body for name, body in zip(parts[1::2], parts[2::2])})
    section = None
    asm_lines: list[str] = []
    for line in text.splitlines():
        line = line.removesuffix("\r").split("#", 1)[0]
        if "--" in line:
            for word, name in DIRECTIVES:
                if word in line:
                    section = name
                    test.error_section |= name == "error"
                    break
            else:
                raise BadTestFile(f"{path.name}: unknown directive {line.strip()!r}")
            continue
        if not line:
            continue
        if section == "asm":
            asm_lines.append(line)
        elif section == "result":
            test.result_text = line
        elif section == "mem":
            test.mem += line.split()
        elif section == "raw":
            test.raw += line.split()
        elif section == "error":
            test.error = line
    test.asm = "\n".join(asm_lines)
    if not test.error_section and not test.result_text:
        raise BadTestFile(f"{path.name}: no result or error")
    return test

"""Reading bpf_conformance `.data` files (the format of its bpf_test_parser.cc)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pybpf.isa.asm import assemble
from pybpf.isa.insn import Insn, decode

KNOWN_SECTIONS = {"asm", "raw", "mem", "result", "error", "c", "no register offset"}
_SECTION = re.compile(r"^-- (.*)$", re.M)


class BadTestFile(Exception):
    """The file is not a valid conformance test (bpf_conformance skips or fails it)."""


@dataclass
class ConformanceTest:
    path: Path
    sections: dict[str, str]

    @property
    def expects_error(self) -> bool:
        return "error" in self.sections

    @property
    def memory(self) -> bytes:
        return bytes.fromhex(" ".join(self.sections.get("mem", "").split()))

    @property
    def result(self) -> int | None:
        text = self.sections.get("result", "").strip()
        return int(text, 16) if text else None

    def program(self) -> list[Insn]:
        if "asm" in self.sections:
            return assemble(self.sections["asm"], "ubpf")
        if "raw" in self.sections:
            return decode(bytes.fromhex(" ".join(self.sections["raw"].split())))
        raise BadTestFile(f"{self.path.name}: no asm or raw section")


def parse(path: Path) -> ConformanceTest:
    text = path.read_text()
    sections: dict[str, str] = {}
    parts = _SECTION.split(text)
    for name, body in zip(parts[1::2], parts[2::2]):
        name = name.strip()
        if name not in KNOWN_SECTIONS:
            raise BadTestFile(f"{path.name}: unknown directive '-- {name}'")
        sections[name] = body
    return ConformanceTest(path, sections)

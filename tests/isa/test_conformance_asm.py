"""Every bpf_conformance program assembles, and survives every syntax unchanged."""

import pytest

from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import disassemble
from support.conformance_data import parse
from support.paths import CORPUS

FILES = [p for p in sorted((CORPUS / "bpf_conformance" / "tests").glob("*.data")) if "-- asm" in p.read_text()]


@pytest.mark.skipif(not FILES, reason="bpf_conformance corpus not found")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_assembles_and_round_trips(path):
    insns = parse(path).program()
    assert insns
    for syntax in ("ubpf", "llvm", "kernel"):
        text = "\n".join(disassemble(insns, syntax, with_pc=False))
        assert encode(assemble(text, syntax)) == encode(insns), syntax

"""bpf_conformance's negative files: assembly errors fail to assemble, unused fields fail to decode.

Each negative file whose `-- asm` section is wrong must fail with an
AsmError that names the line and says what is wrong (for files with an
`-- error` section, in bpf_conformance's own words).  The `-- raw` sections
of the unused-*.data files set a field their instruction does not use:
that is the decoder's to refuse, naming the pc.
"""

import re

import pytest

from pybpf.isa import EncodingError, decode
from pybpf.isa.asm import AsmError, assemble
from support.paths import CORPUS

NEGATIVE = CORPUS / "bpf_conformance" / "negative"

# file -> the message our assembler gives for its `-- asm` section
ASM_ERRORS = {
    "invalid_imm32_dec_range": "2:12: immediate 2147483648 is out of 32-bit range",
    "invalid_imm32_hex_range": "2:12: immediate 0x100000000 is out of 32-bit range",
    "invalid_label": "1:4: unknown label 'NOT_A_LABEL'",
    "invalid_lock": "1:1: invalid number of operands for lock or: expected 2, got 1",
    "invalid_lock2": "1:1: invalid number of operands for lock",
    "invalid_mnemonic": "2:1: unknown mnemonic 'ldxq'",
    "invalid_offset": "1:11: expected a memory operand like [%r1+8], got '%r1'",
    "invalid_offset_range": "2:15: offset +0x10000 is out of 16-bit range",
    "invalid_operand_count": "1:1: invalid number of operands for lddw: expected 2, got 1",
    "invalid_register": "1:9: invalid register '%r50'",
}
UNUSED = sorted(NEGATIVE.glob("unused-*.data"))


def section(path, name: str) -> str | None:
    """The text of a `-- name` section, lines numbered from 1 at its first line."""
    m = re.search(rf"^-- {name}\n(.*?)(?=^-- |\Z)", path.read_text(), re.M | re.S)
    return m.group(1) if m else None


def _asm_files():
    if not NEGATIVE.is_dir():
        return []
    return sorted(p for p in NEGATIVE.glob("*.data") if section(p, "asm") is not None
                  and "-- Unknown directive" not in p.read_text())  # a test-file error, not an assembly one


@pytest.mark.skipif(not NEGATIVE.is_dir(), reason="bpf_conformance negative corpus not found")
@pytest.mark.parametrize("name,message", sorted(ASM_ERRORS.items()))
def test_assembly_errors(name, message):
    path = NEGATIVE / f"{name}.data"
    with pytest.raises(AsmError) as err:
        assemble(section(path, "asm"), "ubpf")
    assert str(err.value) == message
    expected = (section(path, "error") or "").strip()  # bpf_conformance's words, where it has them
    assert expected.lower() in str(err.value).lower()


@pytest.mark.skipif(not NEGATIVE.is_dir(), reason="bpf_conformance negative corpus not found")
def test_every_other_negative_asm_file_assembles():
    # Their errors are at run time (a wrong result, a refused program), not in the text.
    others = [p for p in _asm_files() if p.stem not in ASM_ERRORS]
    assert others
    for path in others:
        assert assemble(section(path, "asm"), "ubpf"), path.name


@pytest.mark.skipif(not UNUSED, reason="bpf_conformance negative corpus not found")
@pytest.mark.parametrize("path", UNUSED, ids=lambda p: p.stem)
def test_unused_fields_are_refused_by_the_decoder(path):
    raw = bytes.fromhex(" ".join(section(path, "raw").split()))
    with pytest.raises(EncodingError) as err:
        decode(raw)
    assert err.value.pc == 0 and str(err.value).startswith("pc 0: ")

"""The syntax tables themselves: complete, unambiguous, and derived from the opcode table."""

import pytest

from pybpf.isa import Insn
from pybpf.isa import syntax_kernel, syntax_llvm, syntax_ubpf
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import format_insn
from pybpf.isa.opcodes import SPECS
from support.samples import samples

TABLES = {"llvm": syntax_llvm.SYNTAX, "kernel": syntax_kernel.SYNTAX, "ubpf": syntax_ubpf.SYNTAX}


@pytest.mark.parametrize("syntax", TABLES)
def test_every_row_has_a_template(syntax):
    assert set(TABLES[syntax].templates) == set(SPECS)


@pytest.mark.parametrize("syntax", TABLES)
def test_no_two_instructions_print_alike(syntax):
    seen = {}
    for insn in samples(per_spec=3, small=True, seed=1):
        if TABLES[syntax].lossy(insn):
            continue
        text = format_insn(insn, syntax)
        assert seen.setdefault(text, insn) == insn, text


@pytest.mark.parametrize("syntax,alias,canonical", [
    ("llvm", "w0 = *(u32 *)(r1 + 4)", "r0 = *(u32 *)(r1 + 4)"),
    ("llvm", "*(u32 *)(r10 - 8) = w1", "*(u32 *)(r10 - 8) = r1"),
    ("llvm", "lock *(u32 *)(r10 - 8) += w1", "lock *(u32 *)(r10 - 8) += r1"),
    ("llvm", "r0 = *(u16 *)skb[r1 + 0]", "r0 = *(u16 *)skb[r1]"),
    ("llvm", "r1 = btf_id(7, 0) ll", "r1 = btf_id(7) ll"),
    ("llvm", "call kfunc#3, 0", "call kfunc#3"),
    ("llvm", "r0 = *(u32 *)(r1 +4)", "r0 = *(u32 *)(r1 + 4)"),
    ("kernel", "if r1 == 5 goto pc+3", "if r1 == 0x5 goto pc+3"),
    ("kernel", "goto +3", "goto pc+3"),
    ("kernel", "r0 = *(u16 *)skb[r1]", "r0 = *(u16 *)skb[r1 + 0]"),
    ("ubpf", "ldxw %r0, [%r1]", "ldxw %r0, [%r1+0]"),
    ("ubpf", "stw [%r1], 5", "stw [%r1+0], 5"),
    ("ubpf", "lddw %r0, 5", "lddw %r0, 0x5"),
    ("ubpf", "call helper 5", "call 5"),
    ("ubpf", "call helper %r2", "call %r2"),
    ("ubpf", "callx %r2", "call %r2"),
    ("ubpf", "swap16 %r0", "bswap16 %r0"),
    ("ubpf", "add64 %r0, 1", "add %r0, 1"),
    ("ubpf", "neg64 %r0", "neg %r0"),
    ("ubpf", "call runtime 7, 0", "call runtime 7"),
])
def test_alternative_spellings_read_as_the_canonical_one(syntax, alias, canonical):
    insns = assemble(alias, syntax)
    assert format_insn(insns[0], syntax) == canonical


def test_invalid_encodings_print_as_unknown():
    assert format_insn(Insn(0xFF), "llvm") == "<unknown>"

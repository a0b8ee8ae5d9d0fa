"""The Python builder: one method per mnemonic, labels resolved at finish()."""

import pytest

from pybpf import vm
from pybpf.isa.asm import assemble
from pybpf.isa.builder import R0, R1, R2, R6, R10, Builder, BuilderError


def test_builder_equals_the_assembler():
    b = Builder()
    b.mov(R0, 0).mov(R2, 0).label("loop")
    b.add(R0, R2).add(R2, 1).jlt(R2, 10, "loop")
    b.stxdw(R10, -8, R0).lock_fetch_add32(R10, -8, R2).ldxw(R1, R10, -8)
    b.mov(R6, R0).call_local("f").add(R6, R0).call("bpf_ktime_get_ns").mov(R0, R6).exit()
    b.label("f").mov32(R0, 0x1234).be16(R0).exit()
    text = """
        r0 = 0
        r2 = 0
    loop:
        r0 += r2
        r2 += 1
        if r2 < 10 goto loop
        *(u64 *)(r10 - 8) = r0
        w2 = atomic_fetch_add((u32 *)(r10 - 8), w2)
        r1 = *(u32 *)(r10 - 8)
        r6 = r0
        call f
        r6 += r0
        call 5
        r0 = r6
        exit
    f:
        w0 = 4660
        r0 = be16 r0
        exit
    """
    insns = b.finish()
    assert insns == assemble(text)
    assert vm.run(insns).r0 == 45 + 0x3412


def test_wrong_operands_are_an_error():
    with pytest.raises(BuilderError, match="wrong operands for add"):
        Builder().add(R0)
    with pytest.raises(AttributeError, match="no instruction 'frob'"):
        Builder().frob(R0)
    with pytest.raises(BuilderError, match="unknown helper"):
        Builder().call("bpf_nope")


def test_lddw_and_map_forms():
    insns = Builder().lddw(R1, -1).ld_map_fd(R2, 7).ld_map_value(R3 := 3, 7, 16).exit().finish()
    assert insns[0].imm64 == (1 << 64) - 1
    assert (insns[1].src, insns[1].imm) == (1, 7)
    assert (insns[2].dst, insns[2].src, insns[2].imm, insns[2].imm2) == (R3, 2, 7, 16)

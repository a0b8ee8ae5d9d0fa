"""The ubpf syntax follows bpf_conformance's assembler (lib/src/bpf_assembler.cc)."""

import pytest

from pybpf.isa import decode, encode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import format_insn

# (text, bytes) as bpf_conformance's assembler encodes them; the text is also what we print.
GOLDEN = [
    ("mov %r0, 5", "b700000005000000"),
    ("add32 %r1, %r2", "0c21000000000000"),
    ("ldxw %r0, [%r1+2]", "6110020000000000"),
    ("stw [%r10-8], 5", "620af8ff05000000"),
    ("stxdw [%r10-8], %r1", "7b1af8ff00000000"),
    ("lock add [%r10-8], %r1", "db1af8ff00000000"),
    ("lock fetch add32 [%r10-8], %r1", "c31af8ff01000000"),
    ("lock xchg [%r10-8], %r1", "db1af8ffe1000000"),
    ("lock cmpxchg32 [%r10-8], %r1", "c31af8fff1000000"),
    ("lddw %r0, 0x123456789", "1800000089674523" "0000000001000000"),
    ("be16 %r0", "dc00000010000000"),
    ("le32 %r0", "d400000020000000"),
    ("bswap64 %r0", "d700000040000000"),
    ("movsx832 %r2, %r1", "bc12080000000000"),
    ("sdiv32 %r0, 3", "3400010003000000"),
    ("smod %r0, %r1", "9f10010000000000"),
    ("neg %r0", "8700000000000000"),
    ("neg32 %r0", "8400000000000000"),
    ("ja +3", "0500030000000000"),
    ("ja32 -2", "06000000feffffff"),
    ("jeq %r1, 5, +1", "1501010005000000"),
    ("jne32 %r1, %r2, +3", "5e21030000000000"),
    ("call 5", "8500000005000000"),
    ("call local +2", "8510000002000000"),
    ("call runtime 7", "8520000007000000"),
    ("call %r2", "8d02000000000000"),
    ("exit", "9500000000000000"),
    ("ldabsw 4", "2000000004000000"),
    ("ldindh %r1, 4", "4810000004000000"),
    ("may_goto +3", "e500030000000000"),
    ("lddw %r1, map_fd(5)", "1811000005000000" "0000000000000000"),
    ("lddw %r1, map_value(5, 8)", "1821000005000000" "0000000008000000"),
    ("lddw %r1, func(+5)", "1841000005000000" "0000000000000000"),
]


@pytest.mark.parametrize("text,hexcode", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_ubpf(text, hexcode):
    assert encode(assemble(text, "ubpf")).hex() == hexcode
    assert format_insn(decode(bytes.fromhex(hexcode))[0], "ubpf") == text


def test_the_first_exit_is_the_label_exit():
    insns = assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit", "ubpf")
    assert insns[0].off == 1


def test_labels_and_comments():
    text = """
    # a comment line
    mov %r0, 0          # a trailing comment
    L1: add %r0, 1
    jlt %r0, 3, L1
    ja32 L2
    mov %r0, 9
    L2:
    call local func1
    exit
    func1:
    exit
    """
    insns = assemble(text, "ubpf")
    assert [i.off for i in insns[:3]] == [0, 0, -2]
    assert insns[3].imm == 1 and insns[5].imm == 1


@pytest.mark.parametrize("text,hexcode", [
    ("swap16 %r0", "d700000010000000"),       # bpf_conformance's spelling of bswap16
    ("add64 %r0, 1", "0700000001000000"),     # ubpf's
    ("ldxb %r0, [%r1]", "7110000000000000"),
    ("ldxb %r8, [%r0+0x1]", "7108010000000000"),
    ("ldxh %r0, [%r1+0xffff]", "6910ffff00000000"),  # hex offsets are u16 bit patterns
    ("mov32 %r0, 0xffffffff", "b4000000ffffffff"),   # hex immediates are u32 bit patterns
    ("mov32 %r0, -2147483648", "b400000000000080"),
    ("lddw %r0, -1", "18000000ffffffff" "00000000ffffffff"),
    ("lddw %r0, 18446744073709551615", "18000000ffffffff" "00000000ffffffff"),
])
def test_numbers_and_aliases(text, hexcode):
    assert encode(assemble(text, "ubpf")).hex() == hexcode

"""The kernel syntax is the verifier log's (kernel/bpf/disasm.c of Linux 6.18), line for line."""

import pytest

from pybpf.isa import decode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import format_insn, kernel_log_line

NAMES = {1: "bpf_map_lookup_elem", 6: "bpf_trace_printk"}.get

# (bytes, the verifier log line print_bpf_insn() writes for them)
GOLDEN = [
    ("bfa1000000000000", "(bf) r1 = r10"),
    ("b700000005000000", "(b7) r0 = 5"),
    ("07010000f8ffffff", "(07) r1 += -8"),
    ("b4000000ffffffff", "(b4) w0 = -1"),
    ("3c10010000000000", "(3c) w0 s/= w1"),
    ("9f10010000000000", "(9f) r0 s%= r1"),
    ("8700000000000000", "(87) r0 = -r0"),
    ("8400000000000000", "(84) w0 = -w0"),
    ("bf10080000000000", "(bf) r0 = (s8)r1"),
    ("bc10100000000000", "(bc) w0 = (s16)w1"),
    ("dc01000010000000", "(dc) r1 = be16 r1"),
    ("d401000020000000", "(d4) r1 = le32 r1"),
    ("d701000010000000", "(d7) r1 = bswap16 r1"),
    ("6110040000000000", "(61) r0 = *(u32 *)(r1 +4)"),
    ("9110000000000000", "(91) r0 = *(s8 *)(r1 +0)"),
    ("7b1af8ff00000000", "(7b) *(u64 *)(r10 -8) = r1"),
    ("620af8ff05000000", "(62) *(u32 *)(r10 -8) = 5"),
    ("c31af8ff00000000", "(c3) lock *(u32 *)(r10 -8) += r1"),
    ("db1af8ffa0000000", "(db) lock *(u64 *)(r10 -8) ^= r1"),
    ("db1af8ff01000000", "(db) r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)"),
    ("c31af8ff01000000", "(c3) r1 = atomic_fetch_add((u32 *)(r10 -8), r1)"),
    ("db1af8ffe1000000", "(db) r1 = atomic64_xchg((u64 *)(r10 -8), r1)"),
    ("c31af8ffe1000000", "(c3) r1 = atomic_xchg((u32 *)(r10 -8), r1)"),
    ("db1af8fff1000000", "(db) r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)"),
    ("d310000000010000", "(d3) r0 = load_acquire((u8 *)(r1 +0))"),
    ("db21000010010000", "(db) store_release((u64 *)(r1 +0), r2)"),
    ("3000000004000000", "(30) r0 = *(u8 *)skb[4]"),
    ("4810000004000000", "(48) r0 = *(u16 *)skb[r1 + 4]"),
    ("1801000023010000" "0000000000000000", "(18) r1 = 0x123"),
    ("18010000ffffffff" "00000000ffffffff", "(18) r1 = 0xffffffffffffffff"),
    ("1811000005000000" "0000000000000000", "(18) r1 = map[id:5]"),
    ("1821000005000000" "0000000008000000", "(18) r1 = map[id:5][0]+8"),
    ("1861000003000000" "0000000008000000", "(18) r1 = map[idx:3]+8"),
    ("1841000005000000" "0000000000000000", "(18) r1 = subprog[+5]"),
    ("1501030005000000", "(15) if r1 == 0x5 goto pc+3"),
    ("15010300ffffffff", "(15) if r1 == 0xffffffff goto pc+3"),
    ("6d21ffff00000000", "(6d) if r1 s> r2 goto pc-1"),
    ("4601020007000000", "(46) if w1 & 0x7 goto pc+2"),
    ("0500ffff00000000", "(05) goto pc-1"),
    ("0600000003000000", "(06) gotol pc+3"),
    ("e500030000000000", "(e5) may_goto pc+3"),
    ("8500000001000000", "(85) call bpf_map_lookup_elem#1"),
    ("8500000099999999", "(85) call unknown#-1717986919"),
    ("8510000002000000", "(85) call pc+2"),
    ("8520000007000000", "(85) call kernel-function#7"),
    ("9500000000000000", "(95) exit"),
]


@pytest.mark.parametrize("hexcode,line", GOLDEN, ids=[g[1] for g in GOLDEN])
def test_verifier_log_line(hexcode, line):
    insn = decode(bytes.fromhex(hexcode))[0]
    assert kernel_log_line(insn, NAMES) == line
    assert assemble(line, "kernel") == [insn]


def test_helper_names_come_from_the_callback():
    insn = decode(bytes.fromhex("8500000006000000"))[0]
    assert format_insn(insn, "kernel") == "call unknown#6"
    assert format_insn(insn, "kernel", NAMES) == "call bpf_trace_printk#6"


def test_imm_name_replaces_a_64_bit_value_as_the_kernels_cb_imm_does():
    insn = decode(bytes.fromhex("1811000005000000" "0000000000000000"))[0]
    assert format_insn(insn, "kernel", imm_name=lambda i: "0x0") == "r1 = 0x0"
    assert format_insn(insn, "kernel", imm_name=lambda i: None) == "r1 = map[id:5]"


def test_lossy_forms_print_what_the_kernel_prints():
    btf_id = decode(bytes.fromhex("1831000007000000" "0000000001000000"))[0]
    assert format_insn(btf_id, "kernel") == "r1 = 0x100000007"
    kfunc = decode(bytes.fromhex("8520020007000000"))[0]
    assert format_insn(kfunc, "kernel") == "call kernel-function#7"


def test_a_verifier_log_assembles():
    log = """
    0: (b7) r0 = 0
    1: (85) call bpf_ktime_get_ns#5
    2: (18) r1 = 0x1122334455667788
    4: (15) if r0 == 0x0 goto pc+1
    5: (05) goto pc-6
    6: (95) exit
    """
    insns = assemble(log, "kernel")
    assert [i.code for i in insns] == [0xB7, 0x85, 0x18, 0x15, 0x05, 0x95]
    assert insns[1].imm == 5 and insns[2].imm64 == 0x1122334455667788 and insns[4].off == -6

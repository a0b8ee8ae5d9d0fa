"""Assembler errors name line and column, and render the line with a caret."""

import pytest

from pybpf.isa.asm import AsmError, assemble

CASES = [
    ("ubpf", "mov %r0, 1\nor %r0, %r50\nexit", "2:9: invalid register '%r50'"),
    ("ubpf", "ldxq %r0, [%r1]", "1:1: unknown mnemonic 'ldxq'"),
    ("ubpf", "mov32 %r0, 2147483648", "1:12: immediate 2147483648 is out of 32-bit range"),
    ("ubpf", "mov32 %r0, 0x100000000", "1:12: immediate 0x100000000 is out of 32-bit range"),
    ("ubpf", "ldxb %r0, [%r1+0x10000]", "1:15: offset +0x10000 is out of 16-bit range"),
    ("ubpf", "ldxb %r0, %r1", "1:11: expected a memory operand like [%r1+8], got '%r1'"),
    ("ubpf", "lddw %r0", "1:1: 'lddw' takes 2 operand(s), got 1"),
    ("ubpf", "lock or [%r10-8]", "1:1: Invalid number of operands for lock"),
    ("ubpf", "ja NOT_A_LABEL\nexit", "1:4: unknown label 'NOT_A_LABEL'"),
    ("ubpf", "x:\nx:\nexit", "2:1: duplicate label 'x'"),
    ("llvm", "r0 = 1\nr11 = 2\nexit", "2:1: invalid register 'r11'"),
    ("llvm", "r0 = *(u32 *)(r1 + 70000)", "1:20: offset +70000 is out of 16-bit range"),
    ("llvm", "r0 = 1\nfrobnicate r0\nexit", "2:1: cannot parse 'frobnicate r0'"),
    ("llvm", "call no_such_helper\nexit", "1:6: unknown label or helper 'no_such_helper'"),
    ("llvm", "if r1 == 0 goto nowhere\nexit", "1:17: unknown label 'nowhere'"),
    ("llvm", "r1 <=> r2", "1:1: cannot parse 'r1 <=> r2'"),
]


@pytest.mark.parametrize("syntax,text,message", CASES, ids=[c[2] for c in CASES])
def test_error_message(syntax, text, message):
    with pytest.raises(AsmError) as err:
        assemble(text, syntax)
    assert str(err.value) == message


def test_render_shows_the_line_and_a_caret():
    with pytest.raises(AsmError) as err:
        assemble("mov %r0, 1\nor %r0, %r50\nexit", "ubpf")
    assert err.value.render() == "2:9: invalid register '%r50'\nor %r0, %r50\n        ^"


def test_helper_names_resolve_through_the_callback():
    insns = assemble("call bpf_trace_printk\nexit", helper_id={"bpf_trace_printk": 6}.get)
    assert insns[0].imm == 6 and insns[0].src == 0


def test_labels_comments_and_numeric_forms():
    text = """
    # a comment
    start: r0 = 0x10      // hex
        r0 += -3          ; negative
        r1 = 0b101
        if r0 > r1 goto start
        exit
    """
    insns = assemble(text)
    assert [i.imm for i in insns[:3]] == [16, -3, 5]
    assert insns[3].off == -4


def test_verifier_log_lines_assemble():
    log = "0: (b7) r0 = 0\n1: (85) call bpf_ktime_get_ns#5\n2: (18) r1 = 0x1122334455667788\n4: (95) exit"
    insns = assemble(log, "kernel")
    assert [i.code for i in insns] == [0xB7, 0x85, 0x18, 0x95]
    assert insns[1].imm == 5 and insns[2].imm64 == 0x1122334455667788

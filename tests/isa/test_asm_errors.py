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
    ("ubpf", "stxb [%r1], 5", "1:13: expected a register like %r1, got '5'"),
    ("ubpf", "lddw %r0", "1:1: invalid number of operands for lddw: expected 2, got 1"),
    ("ubpf", "lddw %r0, 0x10000000000000000", "1:11: immediate 0x10000000000000000 is out of 64-bit range"),
    ("ubpf", "lock or [%r10-8]", "1:1: invalid number of operands for lock or: expected 2, got 1"),
    ("ubpf", "lock", "1:1: invalid number of operands for lock"),
    ("ubpf", "lock nand [%r10-8], %r1", "1:1: unknown mnemonic 'lock nand'"),
    ("ubpf", "ja NOT_A_LABEL\nexit", "1:4: unknown label 'NOT_A_LABEL'"),
    ("ubpf", "jeq %r1, 0, +40000", "1:13: offset +40000 is out of 16-bit range"),
    ("ubpf", "x:\nx:\nexit", "2:1: duplicate label 'x'"),
    ("ubpf", "  exit\n  ja exit\nexit:", "3:1: duplicate label 'exit'"),
    ("llvm", "r0 = 1\nr11 = 2\nexit", "2:1: invalid register 'r11'"),
    ("llvm", "r0 = 1\n  r0 += r12 // twelve\nexit", "2:9: invalid register 'r12'"),
    ("llvm", "r0 = *(u32 *)(r1 + 70000)", "1:18: offset +70000 is out of 16-bit range"),
    ("llvm", "r0 = 4294967296", "1:6: immediate 4294967296 is out of 32-bit range"),
    ("llvm", "r0 = 1\nfrobnicate r0\nexit", "2:1: cannot parse 'frobnicate r0'"),
    ("llvm", "call no_such_helper\nexit", "1:6: unknown label or helper 'no_such_helper'"),
    ("llvm", "if r1 == 0 goto nowhere\nexit", "1:17: unknown label 'nowhere'"),
    ("llvm", "r1 <=> r2", "1:1: cannot parse 'r1 <=> r2'"),
    ("llvm", "r1 = -r2", "1:1: cannot parse 'r1 = -r2'"),
    ("kernel", "(bf) r1 = r11", "1:11: invalid register 'r11'"),
    ("kernel", "if r1 == 0x100000000 goto pc+1", "1:10: immediate 0x100000000 is out of 32-bit range"),
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
    assert (err.value.line, err.value.col, err.value.reason) == (2, 9, "invalid register '%r50'")


def test_helper_names_resolve_through_the_callback():
    insns = assemble("call bpf_trace_printk\nexit", helper_id={"bpf_trace_printk": 6}.get)
    assert insns[0].imm == 6 and insns[0].src == 0


def test_a_call_to_a_label_is_a_local_call():
    insns = assemble("call f\nexit\nf:\nexit", helper_id={"f": 6}.get)
    assert (insns[0].src, insns[0].imm) == (1, 1)


def test_labels_comments_and_numeric_forms():
    text = """
    # a comment
    start: r0 = 0x10      // hex
        r0 += -3          ; negative
        r1 = 0b101
        r2 = 0o17
        if r0 > r1 goto start
        exit
    """
    insns = assemble(text)
    assert [i.imm for i in insns[:4]] == [16, -3, 5, 15]
    assert insns[4].off == -5


def test_unknown_syntax_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown syntax"):
        assemble("exit", "intel")

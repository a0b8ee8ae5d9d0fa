"""`--syntax auto`: ubpf by its `%r` registers, `[` operands or mnemonics; kernel by its log forms."""

import pytest

from pybpf.isa.asm import assemble, detect_syntax


@pytest.mark.parametrize("text,syntax", [
    ("mov %r0, 1\nexit", "ubpf"),
    ("# comment\nstw [%r10-8], 5\nexit", "ubpf"),
    ("ldabsw 4\nexit", "ubpf"),
    ("ja +1\nexit\nexit", "ubpf"),
    ("swap16 %r0", "ubpf"),
    ("call local f\nexit\nf:\nexit", "ubpf"),
    ("exit", "llvm"),
    ("r0 = 1\nexit", "llvm"),
    ("r0 = *(u8 *)skb[4]\nexit", "llvm"),
    ("r1 = map[fd:5][0]+8 ll\nexit", "llvm"),
    ("r0 = 0 // not [%r0]\nexit", "llvm"),
    ("call kfunc#5\nexit", "llvm"),
    ("0: (b7) r0 = 0\n1: (95) exit", "kernel"),
    ("r0 = *(u32 *)(r1 +4)\nexit", "kernel"),
    ("if r0 == 0x0 goto pc+1\nexit\nexit", "kernel"),
    ("call bpf_ktime_get_ns#5\nexit", "kernel"),
])
def test_detect(text, syntax):
    assert detect_syntax(text) == syntax
    assert assemble(text) == assemble(text, syntax)

"""The structural check before any engine runs a program."""

import pytest

from pybpf.isa import Insn, lddw
from pybpf.isa.asm import assemble
from pybpf.vm import ProgramError, check_program


@pytest.mark.parametrize("text,message", [
    ("r0 = r3\nexit", "pc 0: R3 !read_ok"),
    ("or %r0, %r10\nexit", "pc 0: R0 !read_ok"),
    ("r0 = 1\nif r1 > 5 goto +1\nr3 = 1\nr0 = r3\nexit", "pc 3: R3 !read_ok"),
    ("r0 = 0\ncall 5\nr0 = r1\nexit", "pc 2: R1 !read_ok"),
    ("exit", "pc 0: R0 !read_ok"),
    ("r10 = 1\nr0 = 0\nexit", "pc 0: frame pointer r10 is read only"),
    ("r0 = 0", "falls through past the end"),
    ("r0 = 0\ngoto +5\nexit", "jump out of range to 7"),
    ("r0 = 0\nif r0 == 0 goto -3\nexit", "jump out of range to -1"),
])
def test_rejections(text, message):
    with pytest.raises(ProgramError, match=message.replace("(", r"\(")):
        check_program(assemble(text, "ubpf" if "%r" in text else "llvm"))


def test_jump_into_the_middle_of_lddw():
    insns = [Insn(0x05, off=1), lddw(0, 1), Insn(0x95)]
    with pytest.raises(ProgramError, match="jump into the middle of lddw at 1"):
        check_program(insns)


def test_empty_program():
    with pytest.raises(ProgramError, match="empty"):
        check_program([])


def test_registers_defined_on_every_path_are_readable():
    check_program(assemble("if r1 > 5 goto +2\nr0 = 1\ngoto +1\nr0 = 2\nexit"))


@pytest.mark.parametrize("text,message", [
    ("r0 = 0\ncall f\nexit\nf: r0 = r6\nexit", "pc 3: R6 !read_ok"),  # r6-r9 are not the callee's
    ("r0 = 0\ncall f\nr0 = r2\nexit\nf: r0 = 0\nexit", "pc 2: R2 !read_ok"),  # r1-r5 die at a call
])
def test_subprograms_have_their_own_entry_state(text, message):
    with pytest.raises(ProgramError, match=message):
        check_program(assemble(text))


def test_subprogram_entry_defines_r1_to_r5_and_a_call_defines_r0():
    check_program(assemble("r0 = 0\ncall f\nexit\nf: r0 = r1\nr0 += r5\nexit"))


def test_a_called_subprogram_may_return_with_r0_unset_as_on_linux():
    assert check_program(assemble("r0 = 0\ncall f\nexit\nf: exit"))


def test_lddw_func_targets_are_checked_as_subprograms():
    with pytest.raises(ProgramError, match="pc 4: R0 !read_ok"):
        check_program(assemble("r2 = func(pc+3) ll\ncallx r2\nexit\nexit"))

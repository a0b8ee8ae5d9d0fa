"""Per-run limits: the instruction count, the may_goto budget, and what `steps` counts."""

import pytest

from pybpf import vm
from pybpf.errors import PybpfError
from pybpf.isa.asm import assemble


def run(text: str, memory: bytes = b"", **kw):
    return vm.run(assemble(text), memory, **kw)


def test_instruction_limit_stops_an_endless_loop():
    with pytest.raises(vm.VMFault, match="instruction limit of 1000 reached"):
        run("r0 = 0\nloop: r0 += 1\ngoto loop", max_steps=1000)


def test_a_program_may_use_exactly_the_limit():
    assert run("r0 = 1\nr0 += 1\nexit", max_steps=3).steps == 3
    with pytest.raises(vm.VMFault, match="instruction limit of 2 reached"):
        run("r0 = 1\nr0 += 1\nexit", max_steps=2)


def test_steps_count_executed_instructions():
    assert run("r0 = 0\nr1 = 5\nloop: r0 += 1\nr1 -= 1\nif r1 != 0 goto loop\nexit").steps == 2 + 5 * 3 + 1


def test_steps_include_subprograms_and_callbacks():
    assert run("r0 = 0\ncall f\nexit\nf: r0 = 1\nexit").steps == 5
    loop = "r1 = 3\nr2 = func(pc+5) ll\nr3 = 0\nr4 = 0\ncall 181\nexit\nr0 = 0\nexit"
    assert run(loop).steps == 6 + 3 * 2


def test_callbacks_share_the_limit_of_the_run():
    spin = "r1 = 100\nr2 = func(pc+5) ll\nr3 = 0\nr4 = 0\ncall 181\nexit\nr0 = 0\nl: goto l"
    with pytest.raises(vm.VMFault, match="instruction limit of 5000 reached"):
        run(spin, max_steps=5000)


def test_may_goto_falls_through_until_the_budget_is_spent():
    result = run("r0 = 0\nloop: may_goto +2\nr0 += 1\ngoto loop\nexit", max_steps=100_000_000)
    assert result.r0 == 8 * 1024 * 1024  # BPF_MAX_LOOPS


def test_max_steps_must_be_positive():
    with pytest.raises(PybpfError, match="max_steps must be at least 1, not 0"):
        run("r0 = 0\nexit", max_steps=0)

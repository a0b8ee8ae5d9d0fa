"""Local calls, callx and callbacks: frames, callee-saved registers, the depth limit."""

import pytest

from pybpf import vm
from pybpf.isa.asm import assemble


def run(text: str, memory: bytes = b"", **kw):
    return vm.run(assemble(text), memory, **kw)


def test_r6_to_r9_survive_calls_and_each_frame_has_its_own_stack():
    text = """
        r6 = 6
        r7 = 7
        r8 = 8
        r9 = 9
        *(u64 *)(r10 - 8) = r6
        call f
        r0 = *(u64 *)(r10 - 8)
        r0 += r6
        r0 += r7
        r0 += r8
        r0 += r9
        exit
    f:
        r6 = 100
        r7 = 100
        r8 = 100
        r9 = 100
        *(u64 *)(r10 - 8) = r6
        r0 = 0
        exit
    """
    assert run(text).r0 == 6 + 6 + 7 + 8 + 9


def test_arguments_and_result_pass_in_r1_to_r5_and_r0():
    text = """
        r1 = 1
        r2 = 2
        r3 = 3
        r4 = 4
        r5 = 5
        call f
        exit
    f:
        r0 = r1
        r0 += r2
        r0 += r3
        r0 += r4
        r0 += r5
        exit
    """
    assert run(text).r0 == 15


def test_a_callee_frame_starts_zeroed_and_r10_moves_back():
    text = """
        r0 = 0
        call f
        call g
        r1 = r10
        exit
    f:
        r1 = -1
        *(u64 *)(r10 - 8) = r1
        r0 = 0
        exit
    g:
        r0 = *(u64 *)(r10 - 8)
        exit
    """
    assert run(text).r0 == 0


def _nested_calls(depth: int) -> str:
    lines = ["call f1", "exit"]
    for i in range(1, depth):
        lines += [f"f{i}:", f"call f{i + 1}", "exit"]
    lines += [f"f{depth}:", "r0 = 42", "exit"]
    return "r0 = 0\n" + "\n".join(lines)


def test_call_depth_limit_is_eight_frames():
    assert run(_nested_calls(7)).r0 == 42  # main + 7 = 8 frames, Linux's MAX_CALL_FRAMES
    with pytest.raises(vm.VMFault, match="call depth exceeds 8 frames") as err:
        run(_nested_calls(8))
    assert err.value.pc == 2 * 7 + 1  # the call that would open the ninth frame


def test_unbounded_recursion_hits_the_depth_limit():
    with pytest.raises(vm.VMFault, match="call depth exceeds 8 frames"):
        run("r0 = 0\ncall f\nexit\nf: call f\nexit")


def test_callx_to_a_subprogram_address():
    text = """
        r2 = func(pc+3) ll
        callx r2
        exit
        r0 = 0
        r0 = 77
        exit
    """
    assert run(text).r0 == 77


def test_callx_with_a_helper_id():
    assert run("r2 = 8\ncallx r2\nexit").r0 == 0  # bpf_get_smp_processor_id


def test_callx_into_the_middle_of_an_instruction_faults():
    text = "r2 = func(pc+4) ll\nr2 += 4\ncallx r2\nexit\nr0 = 0\nexit"
    with pytest.raises(vm.VMFault, match="is not an instruction boundary"):
        run(text)


def test_a_helper_calls_back_into_the_program():
    text = """
        r1 = 5
        r2 = func(pc+5) ll
        r3 = 0
        r4 = 0
        call 181
        exit
        r0 = 0
        exit
    """
    assert run(text).r0 == 5  # bpf_loop: five iterations of a callback returning 0

"""The reference interpreter: faults, frames, limits, and coverage of the whole table."""

import pytest

from pybpf import vm
from pybpf.isa.asm import assemble
from pybpf.isa.opcodes import SPECS
from pybpf.vm.interp import _COMPILERS, SEMANTICS


def run(text: str, memory: bytes = b"", **kw):
    return vm.run(assemble(text), memory, **kw)


def test_every_row_of_the_table_has_an_implementation():
    for spec in SPECS:
        assert spec.kind in _COMPILERS, spec
        if spec.kind in SEMANTICS:
            assert spec.op in SEMANTICS[spec.kind], spec


def test_out_of_bounds_load_faults_with_pc_insn_and_address():
    with pytest.raises(vm.VMFault) as err:
        run("r0 = *(u64 *)(r1 + 4)\nexit", b"12345678")
    fault = err.value
    assert fault.pc == 0 and fault.addr is not None
    assert "pc 0 (r0 = *(u64 *)(r1 + 4)): invalid read of 8 byte(s)" in str(fault)
    assert "runs past the end of memory" in str(fault)


def test_stack_is_512_bytes_below_r10():
    assert run("*(u64 *)(r10 - 512) = 7\nr0 = *(u64 *)(r10 - 512)\nexit").r0 == 7
    with pytest.raises(vm.VMFault, match="invalid write"):
        run("*(u64 *)(r10 - 520) = 7\nr0 = 0\nexit")
    with pytest.raises(vm.VMFault, match="invalid write"):
        run("*(u8 *)(r10 + 0) = 7\nr0 = 0\nexit")


def test_writing_through_a_scalar_faults():
    with pytest.raises(vm.VMFault, match="not in any VM region"):
        run("r1 = 4096\n*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit")


def test_misaligned_atomics_fault():
    with pytest.raises(vm.VMFault, match="misaligned 8-byte atomic"):
        run("r1 = 1\n*(u64 *)(r10 - 16) = r1\nlock *(u64 *)(r10 - 12) += r1\nr0 = 0\nexit")


def test_callee_saved_registers_survive_calls_and_frames_are_separate():
    text = """
        r6 = 6
        r7 = 7
        *(u64 *)(r10 - 8) = r6
        call f
        r0 = *(u64 *)(r10 - 8)
        r0 += r6
        r0 += r7
        exit
    f:
        r6 = 100
        r7 = 100
        *(u64 *)(r10 - 8) = r6
        r0 = 0
        exit
    """
    assert run(text).r0 == 6 + 6 + 7


def _nested_calls(depth: int) -> str:
    lines = ["call f1", "exit"]
    for i in range(1, depth):
        lines += [f"f{i}:", f"call f{i + 1}", "exit"]
    lines += [f"f{depth}:", "r0 = 42", "exit"]
    return "r0 = 0\n" + "\n".join(lines)


def test_call_depth_limit_is_eight_frames():
    assert run(_nested_calls(7)).r0 == 42  # main + 7 = 8 frames
    with pytest.raises(vm.VMFault, match="call depth exceeds 8 frames"):
        run(_nested_calls(8))


def test_instruction_limit():
    with pytest.raises(vm.VMFault, match="instruction limit of 1000 reached"):
        run("r0 = 0\nloop: r0 += 1\ngoto loop", max_steps=1000)


def test_steps_are_counted():
    assert run("r0 = 0\nr1 = 5\nloop: r0 += 1\nr1 -= 1\nif r1 != 0 goto loop\nexit").steps == 2 + 5 * 3 + 1


def test_unknown_helper_faults_at_the_call():
    with pytest.raises(vm.VMFault, match="unknown helper function 999"):
        run("call 999\nexit")


def test_helpers_from_the_registry():
    assert run("call bpf_get_smp_processor_id\nexit".replace("bpf_get_smp_processor_id", "8")).r0 == 0
    assert run("call 5\nexit").r0 > 0


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


def test_ld_abs_reads_big_endian_and_ends_the_program_out_of_bounds():
    insns = assemble("r6 = r1\nr0 = *(u16 *)skb[2]\nexit")
    interp = vm.Interpreter(insns)
    interp.map_packet(b"\x00\x01\x02\x03")
    assert interp.run() == 0x0203
    insns = assemble("r6 = r1\nr0 = *(u32 *)skb[2]\nr0 = 5\nexit")
    interp = vm.Interpreter(insns)
    interp.map_packet(b"\x00\x01\x02\x03")
    assert interp.run() == 0


def test_may_goto_falls_through_until_the_budget_is_spent():
    result = run("r0 = 0\nloop: may_goto +2\nr0 += 1\ngoto loop\nexit", max_steps=100_000_000)
    assert result.r0 == 8 * 1024 * 1024


def test_input_memory_is_a_copy_and_comes_back():
    data = b"\x01\x02\x03\x04"
    result = run("*(u8 *)(r1 + 0) = 9\nr0 = 0\nexit", data)
    assert result.memory == b"\x09\x02\x03\x04" and data == b"\x01\x02\x03\x04"

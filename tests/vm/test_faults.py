"""Memory faults stop the program with the pc, the instruction, the address and the reason."""

import pytest

from pybpf import vm
from pybpf.isa import Insn
from pybpf.isa.asm import assemble


def run(text: str, memory: bytes = b"", **kw):
    return vm.run(assemble(text), memory, **kw)


def test_out_of_bounds_load_names_pc_insn_address_and_reason():
    with pytest.raises(vm.VMFault) as err:
        run("r0 = *(u64 *)(r1 + 4)\nexit", b"12345678")
    fault = err.value
    assert fault.pc == 0 and fault.insn is not None and fault.addr is not None
    assert str(fault).startswith("pc 0 (r0 = *(u64 *)(r1 + 4)): invalid read of 8 byte(s) at 0x")
    assert "runs past the end of memory (offset 4, size 8)" in str(fault)


@pytest.mark.parametrize("text", [
    "*(u64 *)(r10 - 520) = 7\nr0 = 0\nexit",  # below the frame
    "*(u8 *)(r10 + 0) = 7\nr0 = 0\nexit",  # at r10 itself: the frame ends there
    "r0 = *(u32 *)(r10 - 514)\nexit",  # straddles the bottom of the frame
])
def test_stack_is_exactly_512_bytes_below_r10(text):
    assert run("*(u64 *)(r10 - 512) = 7\nr0 = *(u64 *)(r10 - 512)\nexit").r0 == 7
    with pytest.raises(vm.VMFault, match="invalid (read|write)"):
        run(text)


def test_input_memory_bounds():
    assert run("r0 = *(u8 *)(r1 + 3)\nexit", b"\x01\x02\x03\x04").r0 == 4
    with pytest.raises(vm.VMFault, match=r"not in any VM region \(0 byte\(s\) past the end of memory, size 4\)"):
        run("r0 = *(u8 *)(r1 + 4)\nexit", b"\x01\x02\x03\x04")
    with pytest.raises(vm.VMFault, match=r"not in any VM region \(1 byte\(s\) before memory\)"):
        run("r0 = *(u8 *)(r1 - 1)\nexit", b"\x01\x02\x03\x04")


def test_no_memory_means_r1_is_null():
    with pytest.raises(vm.VMFault, match=r"invalid read of 4 byte\(s\) at 0x0: not in any VM region"):
        run("r0 = *(u32 *)(r1 + 0)\nexit")


def test_writing_through_a_scalar_faults():
    with pytest.raises(vm.VMFault, match="at 0x1000: not in any VM region"):
        run("r1 = 4096\n*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit")


def test_code_is_readable_but_not_writable():
    # lddw func yields a real address inside the read-only code region.
    text = "r2 = func(pc+4) ll\nr0 = *(u8 *)(r2 + 0)\n*(u8 *)(r2 + 0) = r0\nexit\nr0 = 0\nexit\n"
    with pytest.raises(vm.VMFault, match="code is read-only") as err:
        run(text + "r0 = 1\nexit")
    assert err.value.pc == 3


def test_division_by_zero_is_not_a_fault():
    assert run("r0 = 7\nr1 = 0\nr0 /= r1\nexit").r0 == 0
    assert run("r0 = 7\nr1 = 0\nr0 %= r1\nexit").r0 == 7


def test_the_fault_shows_raw_bytes_when_the_disassembler_cannot_render():
    fault = vm.VMFault(3, Insn(0x95, imm=1), "why")  # exit with a reserved field set
    assert str(fault).startswith("pc 3 (") and str(fault).endswith("): why")

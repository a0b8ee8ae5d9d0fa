"""Legacy packet loads (LD_ABS, LD_IND): big-endian reads; out of range ends the frame with r0 = 0."""

import pytest

from pybpf import vm
from pybpf.isa.asm import assemble

PACKET = bytes([0x00, 0x01, 0x02, 0x03, 0x04, 0x05])


def run(text: str, packet: bytes | None = PACKET):
    return vm.run(assemble(text), packet=packet)


@pytest.mark.parametrize("text,r0", [
    ("r0 = *(u8 *)skb[1]", 0x01),
    ("r0 = *(u16 *)skb[2]", 0x0203),
    ("r0 = *(u32 *)skb[2]", 0x02030405),
    ("r7 = 1\nr0 = *(u16 *)skb[r7 + 3]", 0x0405),
])
def test_loads_are_big_endian(text, r0):
    assert run("r6 = r1\n" + text + "\nexit").r0 == r0


@pytest.mark.parametrize("load", ["r0 = *(u32 *)skb[3]", "r7 = -1\nr0 = *(u8 *)skb[r7 + 0]"])
def test_out_of_range_ends_the_program_with_r0_zero(load):
    assert run(f"r6 = r1\n{load}\nr0 = 5\nexit").r0 == 0


def test_out_of_range_in_a_subprogram_returns_zero_from_that_frame():
    # bpf_gen_ld_abs: the failure path is `r0 = 0; exit` in the current function.
    text = "r6 = r1\ncall f\nr0 += 100\nexit\nf: r0 = *(u32 *)skb[60]\nr0 = 5\nexit"
    assert run(text).r0 == 100


def test_without_a_packet_it_faults():
    with pytest.raises(vm.VMFault, match="without a packet"):
        run("r6 = r1\nr0 = *(u8 *)skb[0]\nexit", packet=None)

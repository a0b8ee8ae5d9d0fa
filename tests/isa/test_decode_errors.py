"""Invalid encodings are reported with their pc."""

import pytest

from pybpf.isa import EncodingError, decode

EXIT = "9500000000000000"


@pytest.mark.parametrize("hexcode,pc,message", [
    ("ff00000000000000", 0, "unknown opcode 0xff"),
    ("b700000000000000" "0711000000000000" + EXIT, 1, "reserved field src must be zero for add"),
    ("b700000000000000" "bf0b000000000000" + EXIT, 1, "invalid register r11 in dst_reg"),
    ("bfc1000000000000" + EXIT, 0, "invalid register r12 in src_reg"),
    ("9500000001000000", 0, "reserved field imm must be zero for exit"),
    ("3f00020000000000" + EXIT, 0, "unknown opcode"),  # div with off=2: neither div nor sdiv
    ("b700000000000000" "1800000001000000", 1, "lddw is missing its second slot"),
    ("1800000001000000" "0700000000000000" + EXIT, 1, "second slot of lddw must have zero opcode"),
    ("1811000001000000" "0000000005000000" + EXIT, 0, "second slot imm must be zero for lddw map_fd"),
    ("b70000000000", 0, "not a multiple of 8"),
])
def test_decoding_errors_name_the_pc(hexcode, pc, message):
    with pytest.raises(EncodingError) as err:
        decode(bytes.fromhex(hexcode))
    assert err.value.pc == pc
    assert message in str(err.value)
    assert str(err.value).startswith(f"pc {pc}: ")


def test_lenient_decoding_keeps_unknown_instructions():
    insns = decode(bytes.fromhex("ff00000000000000" + EXIT), strict=False)
    assert insns[0].spec is None and insns[1].spec.name == "exit"

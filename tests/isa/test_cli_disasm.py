"""`pybpf disasm`: raw or hex bytecode in, one line per instruction with its pc out."""

import pytest

from pybpf.cli.main import main

CODE = bytes.fromhex("bfa1000000000000" "07010000f8ffffff" "8500000001000000"
                     "1801000023010000" "0000000000000000" "95000000" "00000000")


@pytest.fixture
def raw(tmp_path):
    path = tmp_path / "p.bin"
    path.write_bytes(CODE)
    return path


@pytest.fixture
def hexfile(tmp_path):
    path = tmp_path / "p.hex"
    path.write_text(CODE.hex(" ") + "\n")
    return path


LLVM = """\
   0: r1 = r10
   1: r1 += -8
   2: call 1
   3: r1 = 291 ll
   5: exit
"""
KERNEL = """\
0: (bf) r1 = r10
1: (07) r1 += -8
2: (85) call bpf_map_lookup_elem#1
3: (18) r1 = 0x123
5: (95) exit
"""
UBPF = """\
mov %r1, %r10
add %r1, -8
call 1
lddw %r1, 0x123
exit
"""


def test_llvm_from_raw_bytes(raw, capsys):
    assert main(["disasm", str(raw)]) == 0
    assert capsys.readouterr().out == LLVM


def test_kernel_from_hex_text(hexfile, capsys):
    assert main(["disasm", "--syntax", "kernel", str(hexfile)]) == 0
    assert capsys.readouterr().out == KERNEL


def test_ubpf_without_pcs(hexfile, capsys):
    assert main(["disasm", "--syntax", "ubpf", "--no-pc", str(hexfile)]) == 0
    assert capsys.readouterr().out == UBPF


def test_forced_input_forms(raw, hexfile, capsys):
    assert main(["disasm", "--hex", str(hexfile)]) == 0
    assert capsys.readouterr().out == LLVM
    assert main(["disasm", "--raw", str(raw)]) == 0
    assert capsys.readouterr().out == LLVM
    assert main(["disasm", "--hex", str(raw)]) == 1
    assert "not hex text" in capsys.readouterr().err


def test_output_assembles_back(raw, tmp_path, capsys):
    for syntax in ("llvm", "kernel", "ubpf"):
        assert main(["disasm", "--syntax", syntax, str(raw)]) == 0
        listing = tmp_path / f"p.{syntax}"
        listing.write_text(capsys.readouterr().out)
        out = tmp_path / f"p.{syntax}.bin"
        assert main(["asm", "--syntax", syntax, str(listing), "-o", str(out)]) == 0
        assert out.read_bytes() == CODE


@pytest.mark.parametrize("hexcode,message", [
    ("b700000000000000 ff00000000000000", "pc 1: unknown opcode 0xff"),
    ("b700000000000000 0711000000000000", "pc 1: reserved field src must be zero for add"),
    ("bf0b000000000000", "pc 0: invalid register r11 in dst_reg"),
    ("b700000000000000 1800000001000000", "pc 1: lddw is missing its second slot"),
    ("b7000000000000", "pc 0: bytecode length 7 is not a multiple of 8"),
])
def test_encoding_errors_name_the_pc(hexcode, message, tmp_path, capsys):
    path = tmp_path / "bad.hex"
    path.write_text(hexcode)
    assert main(["disasm", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pybpf disasm: error: {path}: {message}")
    assert err.count("\n") == 1

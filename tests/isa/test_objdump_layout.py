"""objdump_lines() lays instructions out byte for byte as `llvm-objdump-14 -d` does."""

import re
import shutil
import subprocess

import pytest

from pybpf.isa import decode, encode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import objdump_lines
from support.elfwrap import wrap

PROGRAM = """
start:
    r0 = 0
    r1 = 4886718345 ll
loop:
    if r0 > 10 goto out
    r0 += 1
    if w0 s< w1 goto loop
    goto loop
out:
    *(u64 *)(r10 - 8) = r0
    goto start
    goto -100
    exit
"""

# llvm-objdump-14 -d on PROGRAM wrapped in an ELF object with no symbols.
EXPECTED = """\
       0:\tb7 00 00 00 00 00 00 00\tr0 = 0
       1:\t18 01 00 00 89 67 45 23 00 00 00 00 01 00 00 00\tr1 = 4886718345 ll
       3:\t25 00 03 00 0a 00 00 00\tif r0 > 10 goto +3 <.text+0x38>
       4:\t07 00 00 00 01 00 00 00\tr0 += 1
       5:\tce 10 fd ff 00 00 00 00\tif w0 s< w1 goto -3 <.text+0x18>
       6:\t05 00 fc ff 00 00 00 00\tgoto -4 <.text+0x18>
       7:\t7b 0a f8 ff 00 00 00 00\t*(u64 *)(r10 - 8) = r0
       8:\t05 00 f7 ff 00 00 00 00\tgoto -9 <.text>
       9:\t05 00 9c ff 00 00 00 00\tgoto -100 <.text+0xfffffffffffffd30>
      10:\t95 00 00 00 00 00 00 00\texit"""

# Section xdp of tests/data/elf/calls.o and what llvm-objdump-14 -d prints for it,
# but for the two local calls, which it prints as `call 2` and `call -1`.
XDP = ("611204000000000061110000000000008510000002000000bf01000000000000b700000002000000"
       "b7020000080000002d12020000000000b70100000200000085100000ffffffff9500000000000000")
XDP_EXPECTED = """\
       0:\t61 12 04 00 00 00 00 00\tr2 = *(u32 *)(r1 + 4)
       1:\t61 11 00 00 00 00 00 00\tr1 = *(u32 *)(r1 + 0)
       2:\t85 10 00 00 02 00 00 00\tcall pc+2
       3:\tbf 01 00 00 00 00 00 00\tr1 = r0
       4:\tb7 00 00 00 02 00 00 00\tr0 = 2
       5:\tb7 02 00 00 08 00 00 00\tr2 = 8
       6:\t2d 12 02 00 00 00 00 00\tif r2 > r1 goto +2 <LBB1_2>
       7:\tb7 01 00 00 02 00 00 00\tr1 = 2
       8:\t85 10 00 00 ff ff ff ff\tcall pc-1
       9:\t95 00 00 00 00 00 00 00\texit"""


def test_golden_layout():
    assert "\n".join(objdump_lines(assemble(PROGRAM, "llvm"))) == EXPECTED


def test_targets_name_the_nearest_symbol_at_or_before_them():
    insns = decode(bytes.fromhex(XDP))
    lines = objdump_lines(insns, {0: "nested_calls", 0x48: "LBB1_2"})
    assert "\n".join(lines) == XDP_EXPECTED


def test_start_pc_counts_from_the_section_start():
    insns = assemble("goto +1\nexit\nexit", "llvm")
    lines = objdump_lines(insns, {0: "f", 0x20: "g"}, start_pc=4)
    assert lines[0] == "       4:\t05 00 01 00 00 00 00 00\tgoto +1 <g+0x10>"


LLVM_OBJDUMP = shutil.which("llvm-objdump-14")


@pytest.mark.skipif(LLVM_OBJDUMP is None, reason="llvm-objdump-14 is not installed (apt install llvm-14)")
def test_matches_llvm_objdump_live(tmp_path):
    insns = assemble(PROGRAM, "llvm")
    path = tmp_path / "p.o"
    path.write_bytes(wrap(encode(insns)))
    out = subprocess.run([LLVM_OBJDUMP, "-d", str(path)], capture_output=True, text=True, check=True).stdout
    assert [line for line in out.splitlines() if re.match(r"\s+\d+:\t", line)] == objdump_lines(insns)

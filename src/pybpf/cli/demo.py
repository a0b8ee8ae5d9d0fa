"""`pybpf demo`: the tools of the foundation, end to end, on one small program.

Assembles a program in the LLVM syntax, shows it in the three syntaxes, runs
it on the reference interpreter over a buffer, and prints what it computed.
"""

from __future__ import annotations

from ..helpers import helper_id, helper_name
from ..isa.asm import assemble
from ..isa.disasm import disassemble
from ..isa.insn import encode
from .. import vm

# Sum the bytes of the buffer at r1 (length r2) in a bounded loop, calling a
# subprogram that folds each byte into a checksum.
SOURCE = """\
    r6 = r1                     // buffer
    r7 = r2                     // length
    r8 = 0                      // index
    r9 = 0                      // checksum
loop:
    if r8 >= r7 goto done
    r3 = r6
    r3 += r8
    r1 = *(u8 *)(r3 + 0)
    r2 = r9
    call fold
    r9 = r0
    r8 += 1
    goto loop
done:
    r0 = r9
    exit
fold:                           // r0 = (r2 << 5) - r2 + r1, 32-bit
    w0 = w2
    w0 <<= 5
    w0 -= w2
    w0 += w1
    exit
"""


def add_arguments(parser) -> None:
    parser.add_argument("text", nargs="?", default="hello, BPF", help="the bytes to checksum")


def run(args) -> int:
    insns = assemble(SOURCE, "llvm", helper_id=helper_id)
    print(f"assembled {len(insns)} instructions, {len(encode(insns))} bytes of bytecode\n")
    for syntax in ("llvm", "kernel", "ubpf"):
        print(f"--- {syntax} syntax")
        for line in disassemble(insns, syntax, helper_name):
            print(line)
        print()
    data = args.text.encode()
    result = vm.run(insns, data)
    expected = 0
    for byte in data:
        expected = (expected * 31 + byte) & 0xFFFFFFFF
    print(f"run on {data!r}: r0 = {result.r0:#x} after {result.steps} instructions "
          f"({'matches' if result.r0 == expected else 'DIFFERS FROM'} Python's {expected:#x})")
    return 0 if result.r0 == expected else 1

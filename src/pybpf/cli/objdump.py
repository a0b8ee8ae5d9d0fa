"""`pybpf objdump`: describe a BPF ELF object, or disassemble it as llvm-objdump -d does."""

from __future__ import annotations

from ..elf import load
from ..elf.describe import llvm_objdump_lines, summary_lines
from ..helpers import helper_name


def add_arguments(parser) -> None:
    parser.add_argument("file", help="a BPF ELF object (clang -target bpf, or pybpf's tracer)")
    parser.add_argument("-d", "--disassemble", action="store_true",
                        help="only disassemble, in llvm-objdump -d's layout")


def run(args) -> int:
    obj = load(args.file)
    lines = llvm_objdump_lines(obj, args.file) if args.disassemble else summary_lines(obj, helper_name)
    print("\n".join(lines))
    return 0

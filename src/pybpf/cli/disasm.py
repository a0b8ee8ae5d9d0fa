"""`pybpf disasm`: bytecode (raw or hex text) to text in one of three syntaxes."""

from __future__ import annotations

from ..helpers import helper_name
from ..isa.disasm import SYNTAXES, disassemble, kernel_log_line
from ..isa.insn import decode, pcs
from .io import bytecode, read_input


def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", help="bytecode, raw or hex text (default: standard input)")
    parser.add_argument("--syntax", choices=SYNTAXES, default="llvm", help="output syntax (default: llvm)")
    parser.add_argument("--no-pc", action="store_true", help="omit the pc column")


def run(args) -> int:
    origin = args.file or "<stdin>"
    insns = decode(bytecode(read_input(args.file), origin))
    if args.syntax == "kernel" and not args.no_pc:
        for pc, insn in zip(pcs(insns), insns):
            print(f"{pc}: {kernel_log_line(insn, helper_name)}")
        return 0
    for line in disassemble(insns, args.syntax, helper_name, with_pc=not args.no_pc):
        print(line)
    return 0

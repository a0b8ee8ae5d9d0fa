"""`pybpf asm`: assemble text (LLVM/kernel or ubpf syntax) into bytecode."""

from __future__ import annotations

import sys

from ..helpers import helper_id
from ..isa.asm import SYNTAXES, AsmError, assemble
from ..isa.insn import encode
from .io import read_input, text


def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", help="assembly source (default: standard input)")
    parser.add_argument("--syntax", choices=SYNTAXES, default="auto", help="input syntax (default: auto)")
    parser.add_argument("-o", "--output", help="write raw bytecode here (default: hex on standard output)")
    parser.add_argument("--hex", action="store_true", help="write hex text even with -o")


def run(args) -> int:
    origin = args.file or "<stdin>"
    source = text(read_input(args.file), origin)
    try:
        code = encode(assemble(source, args.syntax, helper_id=helper_id))
    except AsmError as err:
        print(f"{origin}:{err.render()}", file=sys.stderr)
        return 1
    if args.output and not args.hex:
        with open(args.output, "wb") as out:
            out.write(code)
    else:
        lines = "\n".join(code[i:i + 8].hex(" ") for i in range(0, len(code), 8)) + "\n"
        if args.output:
            with open(args.output, "w") as out:
                out.write(lines)
        else:
            sys.stdout.write(lines)
    return 0

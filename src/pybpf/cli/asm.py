"""`pybpf asm`: assemble text (LLVM, kernel or ubpf syntax) into bytecode.

Raw bytecode goes to `-o FILE` (`-o -` for standard output); without `-o`,
or with `--hex`, the bytecode is written as hex text, one instruction slot
per line, which `pybpf disasm` and `pybpf run` read back.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..helpers import helper_id
from ..isa.asm import SYNTAXES, AsmError, assemble
from ..isa.insn import encode
from .io import InputError, read_input, text


def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", help="assembly source (default or '-': standard input)")
    parser.add_argument("--syntax", choices=SYNTAXES, default="auto",
                        help="input syntax (default: auto, which tells ubpf from llvm/kernel text)")
    parser.add_argument("-o", "--output", help="write raw bytecode to this file ('-': standard output)")
    parser.add_argument("--hex", action="store_true", help="write hex text, also with -o")


def hex_lines(code: bytes) -> str:
    """Bytecode as hex text, one 8-byte slot per line."""
    return "".join(code[i:i + 8].hex(" ") + "\n" for i in range(0, len(code), 8))


def run(args) -> int:
    origin = args.file if args.file not in (None, "-") else "<stdin>"
    source = text(read_input(args.file), origin)
    try:
        code = encode(assemble(source, args.syntax, helper_id=helper_id))
    except AsmError as err:
        print(f"{origin}:{err.render()}", file=sys.stderr)
        return 1
    as_hex = args.hex or not args.output
    if args.output not in (None, "-"):
        try:
            Path(args.output).write_bytes(hex_lines(code).encode() if as_hex else code)
        except OSError as err:
            raise InputError(f"-o {args.output}: {err.strerror}") from None
    elif as_hex:
        sys.stdout.write(hex_lines(code))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(code)
    return 0

"""`pybpf disasm`: bytecode (raw or hex text) to text in one of three syntaxes.

The input is hex text when it holds only hex digits and white space, raw
bytecode otherwise (`--hex` / `--raw` decide instead).  Each line is one
instruction with its pc; the kernel syntax prints verifier-log lines
(`3: (bf) r1 = r10`).  An invalid encoding is an error naming its pc.
"""

from __future__ import annotations

from ..helpers import helper_name
from ..isa.disasm import SYNTAXES, disassemble, kernel_log_line
from ..isa.insn import EncodingError, decode, pcs
from .io import InputError, bytecode, read_input


def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", help="bytecode, raw or hex text (default or '-': standard input)")
    parser.add_argument("--syntax", choices=SYNTAXES, default="llvm", help="output syntax (default: llvm)")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--hex", action="store_true", help="the input is hex text")
    form.add_argument("--raw", action="store_true", help="the input is raw bytecode")
    parser.add_argument("--no-pc", action="store_true", help="omit the pc column")


def _read(args, origin: str) -> bytes:
    data = read_input(args.file)
    if args.raw:
        return data
    if args.hex:
        try:
            return bytes.fromhex(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as err:
            raise InputError(f"{origin}: not hex text ({err})") from None
    return bytecode(data, origin)


def run(args) -> int:
    origin = args.file if args.file not in (None, "-") else "<stdin>"
    try:
        insns = decode(_read(args, origin))
    except EncodingError as err:
        raise InputError(f"{origin}: {err}") from None
    if args.syntax == "kernel" and not args.no_pc:
        for pc, insn in zip(pcs(insns), insns):
            print(f"{pc}: {kernel_log_line(insn, helper_name)}")
        return 0
    for line in disassemble(insns, args.syntax, helper_name, with_pc=not args.no_pc):
        print(line)
    return 0

"""`pybpf run`: run a program on a memory buffer with the reference interpreter.

Also a bpf_conformance plugin: program as hex bytes on standard input, the
memory as hex in the first argument, r0 printed in hex on standard output;
an error prints its text on standard error and exits non-zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..helpers import helper_id
from ..isa.asm import SYNTAXES, assemble
from ..isa.insn import decode
from .. import vm
from .io import InputError, bytecode, read_input, text


def add_arguments(parser) -> None:
    parser.add_argument("memory", nargs="?", default="",
                        help="memory for r1 as hex bytes (r2 = its length); or an ELF object FILE.o to load, "
                             "attach by section name and run on the virtual kernel")
    parser.add_argument("--seconds", type=float, default=None, help="with an object: run this long (default: "
                        "until the Python program ends, or Ctrl-C)")
    parser.add_argument("--python", nargs=argparse.REMAINDER, metavar="SCRIPT",
                        help="with an object: run this Python script (and its arguments) in-process under the probes")
    parser.add_argument("-f", "--file", help="program: raw or hex bytecode, or assembly with --asm "
                        "(default: hex bytecode on standard input)")
    parser.add_argument("--asm", action="store_true", help="the program is assembly text")
    parser.add_argument("--syntax", choices=SYNTAXES, default="auto", help="assembly syntax (with --asm)")
    parser.add_argument("--steps", action="store_true", help="also print the number of executed instructions")


def run(args) -> int:
    origin = args.file or "<stdin>"
    if args.memory.endswith(".o") or (args.file and Path(args.file).suffix == ".o"):
        from .run_object import run_object
        return run_object(args.memory if args.memory.endswith(".o") else args.file, args.seconds, args.python)
    data = read_input(args.file)
    if args.asm:
        insns = assemble(text(data, origin), args.syntax, helper_id=helper_id)
    else:
        insns = decode(bytecode(data, origin))
    try:
        memory = bytes.fromhex(args.memory)
    except ValueError:
        raise InputError(f"memory argument is not hex bytes: {args.memory[:40]!r}") from None
    result = vm.run(insns, memory)
    print(f"{result.r0:x}")
    if args.steps:
        print(f"steps {result.steps}")
    return 0

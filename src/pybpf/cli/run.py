"""`pybpf run`: run a program on a memory buffer with the reference interpreter and print r0.

    pybpf run [MEMHEX] < prog.hex          bpf_conformance plugin protocol
    pybpf run PROGRAM [MEMHEX]             bytecode file (raw or hex), or assembly with --asm
    pybpf run --asm prog.s [MEMHEX]        (also: -f FILE, --syntax)
    pybpf run FILE.o ...                   an object on the virtual kernel (run_object.py)

As a bpf_conformance plugin (lib/src/bpf_conformance.cc, libbpf_plugin):
the program is hex bytes on standard input (or `--program HEX`), an ELF
object in hex with `--elf`; the memory is hex in the first argument; r0 is
printed in hex without 0x (the runner reads it with stoull(..., 16)); an
error prints one line on standard error and exits non-zero.
bpf_trace_printk output goes to standard error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..helpers import helper_id
from ..isa.asm import SYNTAXES, assemble
from ..isa.insn import EncodingError, decode
from .. import vm
from .io import InputError, bytecode, read_input, text

_HEX = re.compile(r"[0-9a-fA-F\s]*")


def count(value: str) -> int:
    """--max-steps: a whole number of instructions, at least 1 (argparse names the option on error)."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def duration(value: str) -> float:
    """--seconds: a finite time, zero or more."""
    seconds = float(value)
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {value}")
    return seconds


def add_arguments(parser) -> None:
    parser.add_argument("program", nargs="?", metavar="PROGRAM",
                        help="a file holding the program: bytecode (raw or hex), assembly with --asm, or an ELF "
                             "object FILE.o to load, attach by section name and run on the virtual kernel "
                             "(default: hex bytecode on standard input)")
    parser.add_argument("memory", nargs="?", metavar="MEMHEX",
                        help="memory for r1 as hex bytes (r2 = its length); alone, it is the memory")
    parser.add_argument("-f", "--file", help="the program file (same as PROGRAM)")
    parser.add_argument("--program", dest="program_hex", metavar="HEX",
                        help="the program as hex bytes (bpf_conformance plugin option)")
    parser.add_argument("--asm", action="store_true", help="the program is assembly text")
    parser.add_argument("--syntax", choices=SYNTAXES, default="auto", help="assembly syntax (with --asm)")
    parser.add_argument("--elf", action="store_true",
                        help="the program is an ELF object (raw or hex): run its first program on the memory "
                             "(bpf_conformance plugin option)")
    parser.add_argument("--steps", action="store_true", help="also print the number of executed instructions")
    parser.add_argument("--max-steps", type=count, default=vm.MAX_STEPS, help="instruction limit (default %(default)s)")
    parser.add_argument("--seconds", type=duration, default=None, help="with an object: run this long (default: "
                        "until the Python program ends, or Ctrl-C)")
    parser.add_argument("--python", nargs=argparse.REMAINDER, metavar="SCRIPT",
                        help="with an object: run this Python script (and its arguments) in-process under the probes")


def _is_memory(arg: str) -> bool:
    """A lone positional argument is the memory when it is hex and not the name of a file.

    (With --program or -f it is always the memory.)  Positionals go together,
    after or before the options: argparse does not take them intermixed.
    """
    return bool(_HEX.fullmatch(arg)) and not Path(arg).exists()


def run(args) -> int:
    program, memory_hex = args.program, args.memory
    if program is not None and memory_hex is None and (
            args.program_hex is not None or args.file is not None or _is_memory(program)):
        program, memory_hex = None, program
    if program is not None and args.file is not None:
        raise InputError(f"two programs: {program} and -f {args.file}")
    program = program if program is not None else args.file
    if program is not None and Path(program).suffix == ".o" and not args.elf:
        if args.python == []:
            raise InputError("--python needs a script: pybpf run FILE.o --python SCRIPT [ARG...]")
        from .run_object import run_object
        return run_object(program, args.seconds, args.python)
    try:
        memory = bytes.fromhex(memory_hex or "")
    except ValueError:
        raise InputError(f"memory argument is not hex bytes: {memory_hex[:40]!r}") from None
    insns = _program(args, program)
    result = vm.run(insns, memory, max_steps=args.max_steps, trace=_to_stderr)
    print(f"{result.r0:x}")
    if args.steps:
        print(f"steps {result.steps}")
    return 0


def _program(args, path: str | None):
    if args.program_hex is not None:
        origin, data = "--program", args.program_hex.encode()
        if not _HEX.fullmatch(args.program_hex):
            raise InputError(f"--program: not hex text: {args.program_hex[:40]!r}")
    else:
        origin, data = path if path not in (None, "-") else "<stdin>", read_input(path)
    if args.asm:
        return assemble(text(data, origin), args.syntax, helper_id=helper_id)
    if args.elf:
        from ..elf import load
        obj = load(bytecode(data, origin), name=origin)
        if not obj.programs:
            raise InputError(f"{origin}: the object has no programs")
        return obj.programs[0].insns
    try:
        return decode(bytecode(data, origin))
    except EncodingError as err:
        raise InputError(f"{origin}: {err}") from None


def _to_stderr(message: bytes) -> None:
    sys.stderr.write(message.decode("latin-1"))
    sys.stderr.flush()

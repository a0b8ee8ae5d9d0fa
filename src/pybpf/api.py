"""The Python facade: what the command line does, one call each.

    from pybpf import api
    insns = api.assemble("r0 = *(u8 *)(r1 + 0)\\nexit")
    api.run(insns, b"\\x2a").r0            # 42
    print("\\n".join(api.disassemble(insns, "kernel")))
    obj = api.load_object("prog.o")        # programs, maps, relocations, BTF
"""

from __future__ import annotations

from pathlib import Path

from . import vm
from .elf import BpfObject, load
from .helpers import helper_id, helper_name
from .isa import Insn, decode, encode
from .isa.asm import assemble as _assemble
from .isa.disasm import disassemble as _disassemble


def assemble(text: str, syntax: str = "auto") -> list[Insn]:
    """Instructions from assembly text ("llvm", "kernel", "ubpf" or "auto"); helper names resolve."""
    return _assemble(text, syntax, helper_id=helper_id)


def disassemble(program: list[Insn] | bytes, syntax: str = "llvm", *, with_pc: bool = True) -> list[str]:
    """Text lines for instructions or bytecode, in "llvm", "kernel" or "ubpf" syntax."""
    insns = decode(program) if isinstance(program, (bytes, bytearray)) else program
    return _disassemble(insns, syntax, helper_name, with_pc=with_pc)


def run(program: list[Insn] | bytes, memory: bytes = b"", **options) -> vm.RunResult:
    """Run on the reference interpreter: r1 = a copy of memory, r2 = its length."""
    insns = decode(program) if isinstance(program, (bytes, bytearray)) else program
    return vm.run(insns, memory, **options)


def load_object(path: str | Path | bytes) -> BpfObject:
    """Read a BPF ELF object (clang -target bpf, or llvmlite)."""
    return load(path)


__all__ = ["assemble", "decode", "disassemble", "encode", "load_object", "run"]

"""The Python facade: what the command line does, one call each.

    from pybpf import api
    insns = api.assemble("r0 = *(u8 *)(r1 + 0)\\nexit")
    api.run(insns, b"\\x2a").r0            # 42
    print("\\n".join(api.disassemble(insns, "kernel")))
    obj = api.load_object("prog.o")        # programs, maps, relocations, BTF
    print(api.objdump("prog.o", disassemble=True))   # llvm-objdump -d's text
    api.run_object("prog.o", script=["app.py"])      # pybpf run prog.o --python app.py
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


def objdump(path: str | Path, *, disassemble: bool = False, relocations: bool = False, btf: bool = False) -> str:
    """What `pybpf objdump` prints: the summary, llvm-objdump -d[r]'s text, or bpftool's BTF listing."""
    from .cli.objdump import objdump_lines
    return "\n".join(objdump_lines(str(path), disassemble=disassemble, relocations=relocations, btf=btf))


def run_object(path: str | Path, *, seconds: float | None = None, script: list[str] | None = None, out=None) -> int:
    """`pybpf run FILE.o`: load into a virtual kernel, attach by section, run `script` (argv) under the
    probes or wait `seconds`, write trace pipe and ring buffer output and the maps to `out` (stdout)."""
    from .cli.run_object import run_object as _run_object
    return _run_object(str(path), seconds, script, out)


def trace(script: str, **options):
    """pybpftrace as a context manager: `with api.trace(script, capture=True) as t: ...; t.output`."""
    from .trace import Tracing
    return Tracing(script, **options)


__all__ = ["trace", "assemble", "decode", "disassemble", "encode", "load_object", "objdump", "run", "run_object"]

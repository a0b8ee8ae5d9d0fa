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
from .errors import PybpfError
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


PROG_TYPE_ALIASES = {"tc": "sched_cls", "socket": "socket_filter", "raw_tp": "raw_tracepoint",
                     "tp": "tracepoint", "perf": "perf_event", "classifier": "sched_cls", "action": "sched_act"}


class UnknownProgType(PybpfError, ValueError):
    """A program type name that is not one of Linux's (a ValueError too, as it was before it was a PybpfError)."""


def prog_type_of(name: str) -> int:
    """Program type number of a libbpf-style name: `xdp`, `tc`, `socket_filter`, `kprobe`, ..."""
    from .uapi import ProgType
    key = PROG_TYPE_ALIASES.get(name.lower(), name.lower())
    try:
        return ProgType["BPF_PROG_TYPE_" + key.upper()]
    except KeyError:
        known = ", ".join(sorted(t.name.removeprefix("BPF_PROG_TYPE_").lower() for t in ProgType))
        raise UnknownProgType(f"unknown program type '{name}' (known: {known})") from None


def verify(program: list[Insn] | bytes, prog_type: int | str = "socket_filter", **options):
    """Verify raw instructions as the Linux verifier would load them; see `pybpf.verifier.verify`."""
    from . import verifier
    from .uapi import ProgType
    ptype = prog_type_of(prog_type) if isinstance(prog_type, str) else prog_type
    if ptype not in ProgType._value2member_map_:  # what bpf(BPF_PROG_LOAD) answers with EINVAL
        raise UnknownProgType(f"unknown program type {ptype}")
    return verifier.verify(program, ptype, **options)


def verify_object(path: str | Path | bytes, *, name: str | None = None, **options) -> dict[str, object]:
    """Verify every program of a BPF ELF object; {program name: verifier Result}.  `name` names bytes in
    errors (a file is named by its path)."""
    from . import verifier
    from .isa.opcodes import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE
    obj = load(path, name=name)
    infos = {}
    for n, m in enumerate(obj.maps):
        rdonly = m.section.startswith(".rodata") or m.section == ".kconfig"
        infos[m.name] = verifier.MapInfo(m.type, m.key_size, m.value_size, m.max_entries,
                                         m.flags | ((1 << 7) if rdonly else 0), name=m.name[:15],
                                         frozen=rdonly, values=m.data if rdonly else None, fd=3 + n)
        if m.inner is not None:
            inner = m.inner
            infos[m.name].inner = verifier.MapInfo(inner.type, inner.key_size, inner.value_size, inner.max_entries,
                                                   inner.flags)
    results = {}
    for prog in obj.programs:
        insns = list(prog.insns)
        maps = {}
        pcs, pc = {}, 0
        for i, insn in enumerate(insns):
            pcs[pc] = i
            pc += insn.size
        for reloc in prog.relocations:
            if reloc.kind not in ("map", "map_value"):
                continue
            i = pcs[reloc.pc]
            info = infos[reloc.target]
            if reloc.kind == "map":
                insns[i] = insns[i].replace(src=BPF_PSEUDO_MAP_FD, imm=info.fd)
            else:
                insns[i] = insns[i].replace(src=BPF_PSEUDO_MAP_VALUE, imm=info.fd, imm2=reloc.offset)
            maps[reloc.pc] = info
        opts = dict(options)
        opts.setdefault("expected_attach_type", prog.expected_attach_type)
        results[prog.name] = verifier.verify(insns, prog.prog_type or 1, maps=maps, **opts)
    return results


# -- the running kernel, as bpftool shows it (pybpf prog / map / btf) ------------------------------

def _linux_objects(kind: str, object_id: int | None):
    """(fd, id) of every live `kind` object of the running kernel, or of the one with `object_id`."""
    from .kernel.linux import syscall
    ids = [object_id] if object_id is not None else []
    if object_id is None:
        next_id = syscall.get_next_id(kind, 0)
        while next_id is not None:
            ids.append(next_id)
            next_id = syscall.get_next_id(kind, next_id)
    for i in ids:
        try:
            fd = syscall.get_fd_by_id(kind, i)
        except syscall.KernelError as err:
            if object_id is None and err.errno == 2:  # gone since listed
                continue
            from .kernel.linux.errno_hints import advice
            from .kernel.errors import BpfError
            raise BpfError(f"BPF_{kind.upper()}_GET_FD_BY_ID", err.errno, advice(
                f"BPF_{kind.upper()}_GET_FD_BY_ID", err.errno, f"{kind} id {i}")) from None
        try:
            yield fd
        finally:
            import os
            os.close(fd)


def prog_show(prog_id: int | None = None) -> str:
    """`bpftool prog show [id ID]`: every loaded program (or one), in bpftool's text."""
    from .kernel.linux import inspect
    return "".join("\n".join(inspect.prog_show(fd)) + "\n" for fd in _linux_objects("prog", prog_id))


def prog_dump_xlated(prog_id: int) -> str:
    """`bpftool prog dump xlated id ID`: the program as the kernel's verifier rewrote it."""
    from .kernel.linux import inspect
    return "".join("\n".join(inspect.prog_dump_xlated(fd)) + "\n" for fd in _linux_objects("prog", prog_id))


def prog_sizes(prog_id: int | None = None) -> str:
    """`pybpf prog sizes [id ID]`: xlated and jited instruction counts of every loaded program (or one)."""
    from .kernel.linux import inspect
    return "".join(inspect.prog_sizes(fd) + "\n" for fd in _linux_objects("prog", prog_id))


def map_show(map_id: int | None = None) -> str:
    """`bpftool map show [id ID]`."""
    from .kernel.linux import inspect
    return "".join("\n".join(inspect.map_show(fd)) + "\n" for fd in _linux_objects("map", map_id))


def map_dump(map_id: int) -> str:
    """`bpftool map dump id ID`: every key and value, in hex."""
    from .kernel.linux import LinuxKernel, inspect
    kernel = LinuxKernel()
    return "".join("\n".join(inspect.map_dump(kernel, fd)) + "\n" for fd in _linux_objects("map", map_id))


def btf_dump(source: str | int) -> str:
    """`bpftool btf dump file PATH` (or `id ID` for an int): every type in bpftool's raw format."""
    from .elf import ElfError
    from .kernel.linux import inspect
    if isinstance(source, int):
        return "\n".join(inspect.btf_dump(source)) + "\n"
    try:
        lines = inspect.btf_dump(source)
    except PybpfError as err:
        if isinstance(err, ElfError) and not str(err).startswith(f"{source}: "):
            raise ElfError(f"{source}: {err}") from None  # raw BTF: its checks name the place, not the file
        raise
    except OSError as err:
        raise PybpfError(f"{source}: {err.strerror}") from None
    return "\n".join(lines) + "\n"

"""The native engine's code for AArch64: target-neutral IR, compiled to AArch64 objects and disassembled.

This host is x86-64, so AArch64 code is checked as far as building it goes:
every conformance program's module names no target and uses nothing
host-specific (no inline asm, no x86 intrinsics, no CPU attributes); the
programs that cover every opcode row the conformance suite uses, the bench
programs as prog_load builds them (inline array maps, native ring buffer
helpers) and the libc helpers compile (O2, the JIT's large code model) to
ELF objects for aarch64-unknown-linux-gnu that llvm-objdump-14 decodes
whole, whose only undefined symbols are the two callbacks into Python and
the libc functions, each reached through a relocation.  Running the code is
tests/vm/test_jit_aarch64_run.py's (under qemu-aarch64; docs/jit.md).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm import jit
from pybpf.vm.jit.native_helpers import native_ids
from support.aarch64 import CONFORMANCE, OBJDUMP, TRIPLE, covering, missing_target
from support.conformance_data import parse
from support.paths import CORPUS, REPO

# The callbacks into Python (codegen.HELPER_SYMBOL, CHECK_SYMBOL), libc for native_helpers and memory intrinsics.
EXTERNALS = {"pybpf_jit_helper", "pybpf_jit_check", "clock_gettime", "getpid", "gettid", "memcpy", "memset"}
HOST_SPECIFIC = re.compile(r"\basm\b|llvm\.x86|x86_|target-cpu|target-features")


def neutral(module) -> str:
    """What in an llvmlite module is host-specific ('' when nothing): the target is compile.target's to set."""
    if module.triple not in ("", "unknown-unknown-unknown") or module.data_layout:
        return f"target {module.triple} {module.data_layout}"
    found = HOST_SPECIFIC.search(str(module))
    return found.group() if found else ""


MISSING = missing_target() or ("" if OBJDUMP else "llvm-objdump is not installed")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "-")


def conformance_engine(name: str):
    """The native engine of a conformance program, checked, as jit.run builds it for unverified code."""
    return jit.NativeEngine(parse(CORPUS / "bpf_conformance" / "tests" / f"{name}.data").program(), checked=True)


def loaded_engine(source: str, monkeypatch):
    """The native engine prog_load builds (unchecked, maps inline) for an XDP body of bench/engines_programs.

    The bench's loops take our verifier seconds (tests/verifier/test_bench_loops.py proves them);
    only their code matters here, so the verifier is passed over.
    """
    sys.path.insert(0, str(REPO / "bench"))
    from engines_programs import program

    kernel = VirtualKernel(ncpus=1)
    monkeypatch.setattr(kernel, "_verify", lambda *args: ("", 0))
    counts = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 8)
    hashes = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 8)
    fd = kernel.prog_load(ProgType.BPF_PROG_TYPE_XDP, program(source, counts, hashes), engine="native").fd
    return kernel.prog(fd).interp


def disassemble(engine, folder) -> tuple[str, str]:
    """(disassembly with relocations, symbol table) of the engine's module compiled for AArch64."""
    from pybpf.vm.jit.compile import emit_object

    module = engine.module()
    assert not neutral(module)
    obj = emit_object(module, TRIPLE)
    path = folder / "prog.o"
    path.write_bytes(obj)
    code = subprocess.run([OBJDUMP, "-d", "-r", path], capture_output=True, text=True, check=True).stdout
    symbols = subprocess.run([OBJDUMP, "-t", path], capture_output=True, text=True, check=True).stdout
    return code, symbols


def check_object(code: str, symbols: str) -> set[str]:
    """Assert the object is whole AArch64 code calling out only through relocations; the externals it uses."""
    assert "file format elf64-littleaarch64" in code
    assert "<unknown>" not in code  # every word decodes as an AArch64 instruction
    undefined = {line.split()[-1] for line in symbols.splitlines() if "*UND*" in line and line.split()[-1] != "*UND*"}
    assert undefined <= EXTERNALS, undefined - EXTERNALS
    defined = {line.split()[-1] for line in symbols.splitlines() if " F .text" in line}
    assert {"prog", "loop"} <= defined
    relocated = set(re.findall(r"R_AARCH64_\w+\s+(\w+)", code))
    assert undefined <= relocated  # each call out is a relocation, no host address is baked in
    return undefined


def calls_python(engine) -> bool:
    """Whether the program has an instruction the code hands to the helper callback (helpers but the libc ones,
    callx, LD_ABS)."""
    libc = native_ids(engine.helpers)
    return any(i is not None and (i.spec.kind in ("callx", "ldabs", "ldind")
                                  or (i.spec.kind == "call" and i.spec.op == "helper" and i.imm not in libc))
               for i in engine.slots)


@pytest.mark.skipif(not CONFORMANCE, reason=f"bpf_conformance corpus not found under {CORPUS}")
def test_every_conformance_program_builds_target_neutral_ir():
    for path in CONFORMANCE:
        assert not neutral(jit.NativeEngine(parse(path).program(), checked=True).module()), path.name


@pytest.mark.parametrize("name", covering(CONFORMANCE) if CONFORMANCE else [])
def test_conformance_programs_compile_for_aarch64(name, tmp_path):
    engine = conformance_engine(name)
    undefined = check_object(*disassemble(engine, tmp_path))
    assert ("pybpf_jit_helper" in undefined) == calls_python(engine)


def _bench_programs():
    sys.path.insert(0, str(REPO / "bench"))
    from engines_programs import PROGRAMS
    return PROGRAMS


@pytest.mark.parametrize("name", sorted(_bench_programs()))
def test_bench_programs_compile_for_aarch64(name, monkeypatch, tmp_path):
    source, _ = _bench_programs()[name]
    engine = loaded_engine(source, monkeypatch)
    undefined = check_object(*disassemble(engine, tmp_path))
    assert "pybpf_jit_check" not in undefined  # verified: unchecked
    # the array map's lookups are inline (no callback left once its handle is known); the hash map's call Python
    assert ("pybpf_jit_helper" in undefined) == (name == "hash map counting loop")


def test_ring_buffer_and_libc_helpers_compile_for_aarch64(tmp_path):
    kernel = VirtualKernel(ncpus=1)
    ring = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    insns = assemble(f"""
        call bpf_ktime_get_ns
        r6 = r0
        call bpf_get_current_pid_tgid
        r6 += r0
        r1 = map[fd:{ring}] ll
        r2 = 13
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        *(u64 *)(r0 + 0) = r6
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
    out:
        r0 = 0
        exit
    """, helper_id=helper_id)
    engine = kernel.prog(kernel.prog_load(ProgType.BPF_PROG_TYPE_XDP, insns, engine="native").fd).interp
    code, symbols = disassemble(engine, tmp_path)
    undefined = check_object(code, symbols)
    assert {"clock_gettime", "getpid", "gettid", "memcpy"} <= undefined  # memcpy: a wrapped record's tail
    assert "pybpf_jit_helper" in undefined  # the ring's fallbacks (a Python reserve under way, a waiter)

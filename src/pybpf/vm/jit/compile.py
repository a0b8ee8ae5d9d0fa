"""LLVM IR -> host machine code through llvmlite's MCJIT, once per program (cached by digest).

The IR the codegen builds names no target: `target` gives a module the
triple and data layout of the machine that compiles it (the host for the
JIT), so one module serves x86-64 and AArch64.  `emit_object` compiles a
module for any triple LLVM knows to an ELF object: how AArch64 code is
built and disassembled on an x86-64 host (tests/vm/test_jit_aarch64.py).
"""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache

_CACHE: dict[str, tuple[object, dict[str, int], float]] = {}  # key -> (execution engine, entry addresses, seconds)


@lru_cache(maxsize=1)
def _target():
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.Target.from_triple(llvm.get_process_triple())


def _machine():
    """A new target machine for the host: each execution engine owns (and frees) its own."""
    return _target().create_target_machine(cpu=_host_cpu(), features=_host_features(), opt=3,
                                           codemodel="jitdefault", jit=True)


@lru_cache(maxsize=1)
def _host_cpu() -> str:
    import llvmlite.binding as llvm
    return llvm.get_host_cpu_name()


@lru_cache(maxsize=1)
def _host_features() -> str:
    import llvmlite.binding as llvm
    return llvm.get_host_cpu_features().flatten()


def target(module, machine):
    """`module` (an llvmlite ir.Module) given the triple and data layout of `machine` (a TargetMachine)."""
    module.triple = machine.triple
    module.data_layout = str(machine.target_data)
    return module


def emit_object(module, triple: str, names: dict[str, str] | None = None) -> bytes:
    """An ELF object of `module` for `triple` (e.g. aarch64-unknown-linux-gnu), optimised as the JIT does (O2).

    External calls (the callbacks into Python, libc) are left as relocations.  `names` renames
    functions (prog -> prog_7), so that several programs' objects link into one executable.
    """
    import llvmlite.binding as llvm

    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    machine = llvm.Target.from_triple(triple).create_target_machine(opt=3, reloc="static", codemodel="large")
    parsed = llvm.parse_assembly(str(target(module, machine)))
    for old, new in (names or {}).items():
        parsed.get_function(old).name = new
    parsed.verify()
    builder = llvm.create_pass_builder(machine, llvm.PipelineTuningOptions(speed_level=2))
    builder.getModulePassManager().run(parsed, builder)
    return machine.emit_object(parsed)


def digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode() if not isinstance(part, bytes) else part)
        h.update(b"\0")
    return h.hexdigest()


def compiled(key: str, build, symbols: dict[str, int], entries: tuple[str, ...]) -> tuple[dict[str, int], float]:
    """({entry name: address}, compile seconds) for `key`, compiling `build()` (an llvmlite ir.Module) the first time.

    symbols: name -> address of the external functions the module calls.
    """
    hit = _CACHE.get(key)
    if hit is None:
        import llvmlite.binding as llvm

        started = time.perf_counter()
        machine = _machine()
        for name, address in symbols.items():
            llvm.add_symbol(name, address)
        module = llvm.parse_assembly(str(target(build(), machine)))
        module.verify()
        builder = llvm.create_pass_builder(machine, llvm.PipelineTuningOptions(speed_level=2))
        builder.getModulePassManager().run(module, builder)
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        hit = _CACHE[key] = (engine, {name: engine.get_function_address(name) for name in entries},
                             time.perf_counter() - started)
    return hit[1], hit[2]


def clear_cache() -> None:
    """Forget every compiled program (a benchmark measuring compile time starts from here)."""
    _CACHE.clear()

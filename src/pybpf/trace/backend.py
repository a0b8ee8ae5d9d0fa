"""LLVM IR text to a BPF ELF object through llvmlite: the O2 pipeline, then the BPF target."""

from __future__ import annotations

from functools import lru_cache

import llvmlite.binding as llvm

TRIPLE = "bpfel-unknown-none"


@lru_cache(maxsize=1)
def _machine():
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    return llvm.Target.from_triple(TRIPLE).create_target_machine(opt=2)


def optimise(ir_text: str):
    machine = _machine()
    module = llvm.parse_assembly(ir_text)
    module.verify()
    options = llvm.PipelineTuningOptions(speed_level=2)
    options.loop_unrolling = False  # unrolled loops branch 2^n ways for the verifier; it bounds loops itself
    builder = llvm.create_pass_builder(machine, options)
    builder.getModulePassManager().run(module, builder)
    return module


def emit_object(ir_text: str) -> bytes:
    return _machine().emit_object(optimise(ir_text))


def emit_assembly(ir_text: str) -> str:
    return _machine().emit_assembly(optimise(ir_text))

"""What the AArch64 tests of the native engine share: the triple, the tools, the programs they build.

tests/vm/test_jit_aarch64.py compiles and disassembles (llvmlite's AArch64
target, llvm-objdump); tests/vm/test_jit_aarch64_run.py also links and runs
under qemu-aarch64 (clang for the freestanding harness, ld.lld).
"""

from __future__ import annotations

import shutil
from functools import lru_cache

from pybpf.vm import jit
from support.conformance_data import parse
from support.paths import CORPUS

TRIPLE = "aarch64-unknown-linux-gnu"
CONFORMANCE = sorted((CORPUS / "bpf_conformance" / "tests").glob("*.data"))


def tool(*names: str) -> str | None:
    """The first of these commands on PATH."""
    return next((path for path in map(shutil.which, names) if path), None)


OBJDUMP = tool("llvm-objdump-14", "llvm-objdump")
CLANG = tool("clang-14", "clang")
LLD = tool("ld.lld-14", "ld.lld")
QEMU = tool("qemu-aarch64", "qemu-aarch64-static")


@lru_cache(maxsize=1)
def missing_target() -> str:
    """Why AArch64 objects cannot be built here, or ''."""
    if not jit.available():
        return jit.available().reason
    import llvmlite.binding as llvm
    llvm.initialize_all_targets()
    try:
        llvm.Target.from_triple(TRIPLE)
    except RuntimeError as err:
        return f"this llvmlite has no AArch64 target ({err})"
    return ""


def covering(paths) -> list[str]:
    """Conformance programs that together use every (kind, op, width) row any of them uses, greedily."""
    rows = {p.stem: {(i.spec.kind, i.spec.op, i.spec.width) for i in parse(p).program() if i is not None}
            for p in paths}
    left, chosen = set().union(*rows.values()) if rows else set(), []
    while left:
        best = max(sorted(rows), key=lambda name: len(rows[name] & left))
        chosen.append(best)
        left -= rows[best]
    return chosen

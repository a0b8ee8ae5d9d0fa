"""The native engine: BPF -> LLVM IR -> host machine code, run in-process (docs/jit.md).

`NativeEngine` is an `Interpreter` whose programs run as machine code on the
same memory (pointers are the real addresses of the VM's regions), so the
virtual kernel and `vm.run` can use either.  `available()` says whether this
host can run it; `run` is `pybpf.vm.run` on the native engine.
"""

from __future__ import annotations

import platform
import sys


class Availability:
    """Truthy when the native engine can run here; `reason` says why not."""

    def __init__(self, reason: str = ""):
        self.reason = reason

    def __bool__(self) -> bool:
        return not self.reason

    def __repr__(self) -> str:
        return f"Availability({self.reason!r})"


def available() -> Availability:
    """Whether llvmlite and a supported host (x86-64, AArch64, little-endian) are present, with why not."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64", "aarch64", "arm64"):
        return Availability(f"the native engine supports x86-64 and AArch64 hosts, not {machine}")
    if sys.byteorder != "little":
        return Availability("the native engine needs a little-endian host (BPF here is bpfel)")
    try:
        import llvmlite.binding  # noqa: F401
    except ImportError as err:
        return Availability(f"the native engine needs llvmlite ({err})")
    return Availability()


from .engine import NativeEngine, run  # noqa: E402

__all__ = ["Availability", "NativeEngine", "available", "run"]

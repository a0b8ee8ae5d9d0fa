"""The execution engines by name, and the policy that picks one per program.

Every engine is a subclass of `Interpreter` with its constructor and
attributes, so the virtual kernel and `vm.run` use any of them
interchangeably.  A new engine joins with one entry in `ENGINES` (the
benchmark and the engine-parametrized tests iterate it).

Policy (`choose`): an explicit request wins (the prog_load option `engine=`,
else the environment variable PYBPF_ENGINE); otherwise "native" when it is
registered (llvmlite importable) and the program is large, else "compiled".
"""

from __future__ import annotations

import os

from ..errors import PybpfError
from .compiled import CompiledEngine
from .interp import Interpreter

ENGINES: dict[str, type[Interpreter]] = {"interp": Interpreter, "compiled": CompiledEngine}
DEFAULT = "compiled"
NATIVE_MIN_INSNS = 64  # a program at least this long is worth a native compile, when one is available


class UnknownEngine(PybpfError):
    def __init__(self, name: str):
        super().__init__(f"unknown engine {name!r} (choose one of {', '.join(sorted(ENGINES))})")


def engine_class(name: str) -> type[Interpreter]:
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngine(name) from None


def choose(n_insns: int, requested: str | None = None) -> str:
    """The engine name for a program of n_insns slots, honouring a request or PYBPF_ENGINE."""
    name = requested or os.environ.get("PYBPF_ENGINE") or None
    if name is not None:
        engine_class(name)
        return name
    if "native" in ENGINES and n_insns >= NATIVE_MIN_INSNS:
        return "native"
    return DEFAULT


def engine_name(engine: Interpreter) -> str:
    """The ENGINES name of an engine instance."""
    for name, cls in ENGINES.items():
        if type(engine) is cls:
            return name
    return type(engine).__name__

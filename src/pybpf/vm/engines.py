"""The execution engines by name, and the policy that picks one per program.

Every engine is a subclass of `Interpreter` with its constructor and
attributes, so the virtual kernel and `vm.run` use any of them
interchangeably.  A new engine joins with one entry in `ENGINES` (the
benchmark and the engine-parametrized tests iterate it).

Policy (`choose`): an explicit request wins (the prog_load option `engine=`,
else the environment variable PYBPF_ENGINE); otherwise "native" for a large
program the verifier has proven safe, when the engine is registered
(llvmlite importable, a supported host), else "compiled".  The native engine
runs without bounds checks, so an unverified program never reaches it
unasked.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping

from ..errors import PybpfError
from .compiled import CompiledEngine
from .interp import Interpreter



class EngineTable(Mapping):
    """Engine classes by name; "native" is imported on first use, so that asking for another never loads llvmlite."""

    def __init__(self, eager: dict[str, type[Interpreter]], lazy: dict[str, Callable[[], type[Interpreter]]]):
        self.loaded, self._lazy = dict(eager), dict(lazy)

    def __getitem__(self, name: str) -> type[Interpreter]:
        if name not in self.loaded:
            self.loaded[name] = self._lazy[name]()
        return self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.loaded
        yield from (name for name in self._lazy if name not in self.loaded)

    def __len__(self) -> int:
        return len(self.loaded.keys() | self._lazy.keys())


def _native() -> type[Interpreter]:
    from .jit import NativeEngine
    return NativeEngine


def _native_possible() -> bool:
    """llvmlite installed and a host the native engine supports, found without importing llvmlite."""
    import platform
    return (importlib.util.find_spec("llvmlite") is not None and sys.byteorder == "little"
            and platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"))


ENGINES = EngineTable({"interp": Interpreter, "compiled": CompiledEngine},
                      {"native": _native} if _native_possible() else {})
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


def choose(n_insns: int, requested: str | None = None, *, verified: bool = False) -> str:
    """The engine name for a program of n_insns slots, honouring a request or PYBPF_ENGINE."""
    name = requested or os.environ.get("PYBPF_ENGINE") or None
    if name is not None:
        engine_class(name)
        return name
    if verified and "native" in ENGINES and n_insns >= NATIVE_MIN_INSNS:
        return "native"
    return DEFAULT


def engine_name(engine: Interpreter) -> str:
    """The ENGINES name of an engine instance."""
    for name, cls in ENGINES.loaded.items():
        if type(engine) is cls:
            return name
    return type(engine).__name__

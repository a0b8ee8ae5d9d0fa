"""The execution engines by name, and the policy that picks one per program.

Every engine is a subclass of `Interpreter` with its constructor and
attributes, so the virtual kernel and `vm.run` use any of them
interchangeably.  A new engine joins with one entry in `ENGINES` (the
benchmark and the engine-parametrized tests iterate it).

Policy (`choose`), the issue's: an explicit request wins (the prog_load option
`engine=`, else the environment variable PYBPF_ENGINE); otherwise "tiered" for
a program the verifier has proven safe, when the native engine is registered
(llvmlite importable, a supported host): native code at once when the program
is large, after HOT_RUNS runs when it is not, compiled Python until then
(`pybpf.vm.tiered`); else "compiled".  The reference interpreter runs on
request.  Native code runs without bounds checks only for verified programs
(`options`): an unverified program never reaches it unchecked.
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


def _tiered() -> type[Interpreter]:
    from .tiered import TieredEngine
    return TieredEngine


def _native_possible() -> bool:
    """llvmlite installed and a host the native engine supports, found without importing llvmlite."""
    import platform
    return (importlib.util.find_spec("llvmlite") is not None and sys.byteorder == "little"
            and platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"))


ENGINES = EngineTable({"interp": Interpreter, "compiled": CompiledEngine},
                      {"native": _native, "tiered": _tiered} if _native_possible() else {})
DEFAULT = "compiled"
NATIVE = ("native", "tiered")  # the engines that run native code: unchecked only for verified programs


class UnknownEngine(PybpfError):
    def __init__(self, name: str):
        super().__init__(f"unknown engine {name!r} (choose one of {', '.join(sorted(ENGINES))})")


def engine_class(name: str) -> type[Interpreter]:
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngine(name) from None


def choose(n_insns: int, requested: str | None = None, *, verified: bool = False) -> str:
    """The engine name for a program of n_insns slots, honouring a request or PYBPF_ENGINE.

    n_insns is kept for the callers; the tiered engine itself decides when a program is large.
    """
    name = requested or os.environ.get("PYBPF_ENGINE") or None
    if name is not None:
        engine_class(name)
        return name
    if verified and "tiered" in ENGINES:
        return "tiered"
    return DEFAULT


def options(name: str, *, verified: bool) -> dict:
    """The constructor options of engine `name` for a program: bounds checks on native code unless verified."""
    return {"checked": not verified} if name in NATIVE else {}


def rebuild(engine: Interpreter, name: str, *, verified: bool) -> Interpreter:
    """The program of `engine` on engine `name`, as a loader builds it for the verifier's verdict.

    Same address space, helpers, resolver, limits, kernel and program type; the
    old engine's code and stack regions are unmapped (it must not run again).
    Benchmarks and tests use it to run a loaded program as if prog_load had verified it.
    """
    new = engine_class(name)(engine.insns, mem=engine.mem, helpers=engine.helpers, resolver=engine.resolver,
                             max_steps=engine.max_steps, entry_regs=engine.entry_regs,
                             **options(name, verified=verified))
    new.kernel = engine.kernel
    if hasattr(engine, "prog_type"):  # set by the virtual kernel
        new.prog_type = engine.prog_type
    for region in (engine.code, *engine.stacks):
        engine.mem.unmap(region)
    return new


def clear_caches() -> None:
    """Forget every engine's translations (compiled Python, native code): the next load compiles afresh."""
    from . import compiled
    compiled.clear_cache()
    if "pybpf.vm.jit.compile" in sys.modules:
        sys.modules["pybpf.vm.jit.compile"].clear_cache()


def engine_name(engine: Interpreter) -> str:
    """The name of the engine (for the tiered engine: of the tier) that runs a program now."""
    return engine.engine

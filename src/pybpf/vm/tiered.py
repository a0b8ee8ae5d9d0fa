"""The tiered engine: compiled-Python while a program is cold, native code once it is hot or from the start when large.

The issue's policy, as one engine the kernel builds like any other
(`engines.choose` names it for verified programs when the native engine is
available): a program of at least NATIVE_MIN_INSNS slots starts native (the
compile pays for itself at once); a smaller one runs as compiled Python
(a cached translation, about a millisecond to build) and moves to native code
on the run that makes it HOT_RUNS runs (a test_run's repeat count counts
whole).  Both tiers run on the same object, hence the same stacks, code
region, attributes and helpers: nothing a program can observe changes at the
switch.  `engine` names the tier that runs now (prog info's "engine").

Unchecked native code is for verified programs only: `checked` defaults to
True (the native tier keeps its bounds checks and step count) and the kernel
passes checked=False for a program its verifier accepted.
"""

from __future__ import annotations

from .compiled import CompiledEngine
from .interp import Interpreter
from .jit import NativeEngine

NATIVE_MIN_INSNS = 64  # a program at least this long is worth a native compile before its first run
HOT_RUNS = 1000  # runs after which a smaller program is compiled to native code


class TieredEngine(NativeEngine, CompiledEngine):
    """CompiledEngine until hot or large, then NativeEngine (the MRO gives it both on one set of regions)."""

    def __init__(self, insns, *, checked: bool = True, **options):
        super().__init__(insns, checked=checked, **options)
        self.runs = 0
        self.native = len(self.slots) >= NATIVE_MIN_INSNS

    @property
    def engine(self) -> str:
        return "native" if self.native else "compiled"

    def _count(self, runs: int) -> bool:
        """Count runs; whether they go native (promoting the program when they make it hot)."""
        if not self.native:
            self.runs += runs
            self.native = self.runs >= HOT_RUNS
        return self.native

    def run(self, r1: int = 0, r2: int = 0, r3: int = 0, r4: int = 0, r5: int = 0) -> int:
        if self._count(1):
            return NativeEngine.run(self, r1, r2, r3, r4, r5)
        return Interpreter.run(self, r1, r2, r3, r4, r5)

    def run_repeat(self, r1: int, repeat: int) -> int:
        if self._count(max(repeat, 1)):
            return NativeEngine.run_repeat(self, r1, repeat)
        for _ in range(max(repeat, 1) - 1):
            Interpreter.run(self, r1)
        return Interpreter.run(self, r1)

    def _run(self, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        tier = NativeEngine if self.native else CompiledEngine
        return tier._run(self, r1, r2, r3, r4, r5)

    def call(self, address: int, *args: int) -> int:
        tier = NativeEngine if self.native else CompiledEngine
        return tier.call(self, address, *args)

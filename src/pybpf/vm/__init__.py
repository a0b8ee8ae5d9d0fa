"""Execution engines and the memory model they share.

`run(insns, memory)` is the bpf_conformance calling convention: r1 holds the
address of a copy of `memory` (0 when it is empty), r2 its length; the
result carries r0, the memory after the run and the number of executed
instructions.  The virtual kernel drives `Interpreter` directly with its own
regions, context and helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

from .check import ProgramError, check_program
from .interp import MAX_CALL_DEPTH, MAX_STEPS, STACK_SIZE, Interpreter, VMFault
from .memory import AddressSpace, MemoryFault, Region


@dataclass(frozen=True)
class RunResult:
    r0: int  # unsigned 64-bit
    memory: bytes  # the input memory after the run
    steps: int  # instructions executed


def run(insns, memory: bytes = b"", *, max_steps: int = MAX_STEPS, helpers=None) -> RunResult:
    """Check and run `insns` on a copy of `memory` with the reference interpreter."""
    vm = Interpreter(list(insns), helpers=helpers, max_steps=max_steps)
    region = vm.mem.map("memory", memory) if memory else None
    r0 = vm.run(region.start if region else 0, len(memory))
    return RunResult(r0, region.read() if region else b"", vm.steps)


__all__ = ["AddressSpace", "Interpreter", "MAX_CALL_DEPTH", "MemoryFault", "ProgramError", "Region",
           "RunResult", "STACK_SIZE", "VMFault", "check_program", "run"]

"""Execution engines and the memory model they share.

`run(insns, memory)` is the bpf_conformance calling convention: r1 holds the
address of a copy of `memory` (0 when it is empty), r2 its length, r10 the
top of a 512-byte stack; the result carries r0, the memory after the run
and the number of executed instructions.  The virtual kernel drives
`Interpreter` directly with its own regions, context and helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

from .check import ProgramError, check_program
from .fault import VMFault
from .interp import MAX_CALL_DEPTH, MAX_STEPS, STACK_SIZE, Interpreter, Resolver
from .memory import AddressSpace, MemoryFault, Region
from .standalone import TraceSink


@dataclass(frozen=True)
class RunResult:
    r0: int  # unsigned 64-bit
    memory: bytes  # the input memory after the run
    steps: int  # instructions executed


def run(insns, memory: bytes = b"", *, max_steps: int = MAX_STEPS, helpers=None, packet: bytes | None = None,
        resolver: Resolver | None = None, trace: TraceSink | None = None, engine: str = "interp") -> RunResult:
    """Check and run `insns` on a copy of `memory` with an engine (default: the reference interpreter).

    max_steps: instruction limit (a VMFault when reached); helpers: id ->
    HelperSpec (default: the registry); packet: the bytes LD_ABS/LD_IND read;
    resolver: (insn, pc) -> value of each pseudo lddw (map_fd, map_value ...);
    trace: called with each bpf_trace_printk message (default: dropped);
    engine: a name of `pybpf.vm.engines.ENGINES` ("interp", "compiled", ...).
    Raises ProgramError (refused before running) or VMFault (stopped while running).
    """
    from .engines import engine_class, options
    vm = engine_class(engine)(list(insns), helpers=helpers, max_steps=max_steps, resolver=resolver, trace=trace,
                              **options(engine, verified=False))  # unverified bytecode: keep the bounds checks
    region = vm.mem.map("memory", memory) if memory else None
    if packet is not None:
        vm.map_packet(packet)
    r0 = vm.run(region.start if region else 0, len(memory))
    return RunResult(r0, region.read() if region else b"", vm.steps)


__all__ = ["AddressSpace", "Interpreter", "MAX_CALL_DEPTH", "MAX_STEPS", "MemoryFault", "ProgramError", "Region",
           "RunResult", "STACK_SIZE", "VMFault", "check_program", "run"]

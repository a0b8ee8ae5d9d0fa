"""The reference interpreter: the oracle every faster engine is held to.

A program is checked once (`check.check_program`: valid encodings, jumps in
range, no falling off the end, no register read before it is written) and
compiled once into one closure per instruction (`dispatch.COMPILERS`, by the
`kind` of the opcode table, with the value semantics of
`pybpf.isa.semantics`).  Running is the loop `pc = code[pc](regs)`.  Every
memory access goes through the `AddressSpace`, which faults on anything
outside the VM's regions; a fault stops the program with a `VMFault` naming
the pc, the instruction and the address.

Calling convention (RFC 9669 section 4.3, Linux): r1-r5 arguments, r0 the
result, r6-r9 callee-saved, r10 the read-only frame pointer of a 512-byte
stack frame; local calls nest up to MAX_CALL_DEPTH frames (the program's
own included, as Linux's MAX_CALL_FRAMES).

Limits: one run executes at most `max_steps` instructions, callbacks and
tail-called programs included (they draw on one shared counter); may_goto
falls through BPF_MAX_LOOPS times per run, then jumps.
"""

from __future__ import annotations

import ctypes
from operator import length_hint
from typing import Callable

from ..errors import PybpfError
from ..helpers import REGISTRY, HelperSpec, helper_name
from ..isa.insn import Insn
from .check import check_program
from .dispatch import COMPILERS
from .fault import VMFault
from .memory import AddressSpace, MemoryFault, Region
from .standalone import NeedsKernel, NoKernel, TraceSink

STACK_SIZE = 512  # MAX_BPF_STACK
MAX_CALL_DEPTH = 8  # MAX_CALL_FRAMES
MAX_STEPS = 10_000_000
MAY_GOTO_BUDGET = 8 * 1024 * 1024  # BPF_MAX_LOOPS
MAX_TAIL_CALL_CNT = 33
ENTRY_REGS = 0b10000000110  # r1, r2 and r10 are defined at entry (the bpf_conformance convention)
M64 = (1 << 64) - 1
DONE = -1  # the pc that ends an activation

# (insn, pc) -> the 64-bit value of a pseudo lddw (map_fd, map_value, btf_id, map_idx, map_idx_value).
Resolver = Callable[[Insn, int], int]


class TailCall(Exception):
    """Raised by bpf_tail_call: the running program is replaced by `target`, with the same context."""

    def __init__(self, target: "Interpreter"):
        self.target = target


class Interpreter:
    """Runs one program.  Regions, helpers and pseudo-lddw resolution come from the caller.

    mem: the address space to allocate the code and stack regions in (the
    virtual kernel passes its own, holding maps and contexts).
    helpers: helper id -> HelperSpec (default: the registry).
    resolver: value of each pseudo lddw; without one such a program is refused.
    entry_regs: bitmask of the registers defined at entry, for the static check.
    trace: where bpf_trace_printk messages go when no kernel is attached.
    The virtual kernel sets `kernel`, `cpu`, `packet` (`map_packet`) and `func_ip`.
    `engine` is the name of the engine that runs the program (prog info's "engine").
    """

    engine = "interp"

    def __init__(self, insns: list[Insn], *, mem: AddressSpace | None = None,
                 helpers: dict[int, HelperSpec] | None = None, resolver: Resolver | None = None,
                 max_steps: int = MAX_STEPS, entry_regs: int = ENTRY_REGS, trace: TraceSink | None = None):
        if max_steps < 1:
            raise PybpfError(f"max_steps must be at least 1, not {max_steps}")
        self.helpers = REGISTRY if helpers is None else helpers
        self.slots = check_program(insns, entry_regs=entry_regs,
                                   helper_args={i: len(h.args) for i, h in self.helpers.items()})
        self.insns = insns
        self.entry_regs = entry_regs
        self.mem = AddressSpace() if mem is None else mem
        self.resolver = resolver
        self.max_steps = max_steps
        self.kernel = NoKernel(trace)
        self.cpu = 0
        self.packet: Region | None = None
        self.code = self.mem.map("code", b"".join(i.encode() if i else b"" for i in self.slots), writable=False)
        self.stacks = [self.mem.map(f"stack frame {depth}", STACK_SIZE) for depth in range(MAX_CALL_DEPTH)]
        self.frames: list[tuple[int, list[int]]] = []  # (return pc, the caller's r6-r10) per active call
        self.steps = 0
        self.tail_calls = 0
        self.may_goto_budget = MAY_GOTO_BUDGET
        self._ticks = iter(range(max_steps))
        self.compiled = [COMPILERS[insn.spec.kind](self, pc, insn, insn.spec) if insn else None
                         for pc, insn in enumerate(self.slots)]

    # -- running ---------------------------------------------------------
    def run(self, r1: int = 0, r2: int = 0, r3: int = 0, r4: int = 0, r5: int = 0) -> int:
        """Run from pc 0 with r1..r5 as given; return r0.  Tail calls continue in their target.

        Afterwards (also after a fault) `steps` holds the instructions executed.
        """
        ticks = iter(range(self.max_steps))
        interp = self
        try:
            for tail_calls in range(MAX_TAIL_CALL_CNT + 1):
                interp.tail_calls, interp._ticks = tail_calls, ticks
                try:
                    return interp._run(r1, r2, r3, r4, r5)
                except TailCall as call:
                    interp, r2, r3, r4, r5 = call.target, 0, 0, 0, 0
            raise AssertionError("bpf_tail_call refuses the 34th call")  # pragma: no cover
        finally:
            self.steps = self.max_steps - length_hint(ticks)

    def run_repeat(self, r1: int, repeat: int) -> int:
        """`repeat` runs with r1 as the context, as BPF_PROG_TEST_RUN's repeat loop; the last run's r0."""
        run = self.run
        for _ in range(max(repeat, 1) - 1):
            run(r1)
        return run(r1)

    def _run(self, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        regs = [0, r1 & M64, r2 & M64, r3 & M64, r4 & M64, r5 & M64, 0, 0, 0, 0, self.stacks[0].end]
        ctypes.memset(self.stacks[0].start, 0, STACK_SIZE)
        self.frames = []
        self.may_goto_budget = MAY_GOTO_BUDGET
        self._execute(0, regs)
        return regs[0]

    def _execute(self, pc: int, regs: list[int]) -> None:
        """Run from pc until the activation's outermost frame exits, one tick per instruction."""
        code = self.compiled
        try:
            for _ in self._ticks:
                pc = code[pc](regs)  # on an exception pc still names the faulting instruction
                if pc < 0:
                    return
        except MemoryFault as fault:
            raise VMFault(pc, self.slots[pc], str(fault), fault.addr) from None
        raise VMFault(pc, self.slots[pc], f"instruction limit of {self.max_steps} reached")

    def call(self, address: int, *args: int) -> int:
        """Call the subprogram at a code address (a callback of bpf_loop, for_each_map_elem...); its r0."""
        offset = address - self.code.start
        if not 0 <= offset < self.code.size or offset % 8 or self.slots[offset // 8] is None:
            raise VMFault(-1, None, f"callback {address:#x} is not an instruction of this program", address)
        target = offset // 8
        depth = len(self.frames) + 1
        if depth >= MAX_CALL_DEPTH:
            raise VMFault(target, self.slots[target], f"call depth exceeds {MAX_CALL_DEPTH} frames")
        regs = [0] * 11
        for i, value in enumerate(args[:5], 1):
            regs[i] = value & M64
        self.frames.append((DONE, [0] * 5))
        frame = self.stacks[depth]
        ctypes.memset(frame.start, 0, STACK_SIZE)
        regs[10] = frame.end
        self._execute(target, regs)
        return regs[0]

    def map_packet(self, data: bytes) -> Region:
        """The packet LD_ABS/LD_IND read (socket filter semantics), read-only."""
        if self.packet is not None:
            self.mem.unmap(self.packet)
        self.packet = self.mem.map("packet", data, writable=False)
        return self.packet

    # -- what the closures of `dispatch` call --------------------------------
    def call_local(self, pc: int, target: int, regs: list[int]) -> int:
        depth = len(self.frames) + 1
        if depth >= MAX_CALL_DEPTH:
            raise VMFault(pc, self.slots[pc], f"call depth exceeds {MAX_CALL_DEPTH} frames")
        self.frames.append((pc + 1, regs[6:11]))
        frame = self.stacks[depth]
        ctypes.memset(frame.start, 0, STACK_SIZE)
        regs[10] = frame.end
        return target

    def call_helper(self, pc: int, helper_id: int, regs: list[int]) -> int:
        regs[0] = self.helper_call(pc, helper_id, regs[1], regs[2], regs[3], regs[4], regs[5])
        return pc + 1

    def helper_call(self, pc: int, helper_id: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        """r0 of helper `helper_id` called at pc with r1-r5: the one way every engine calls a helper."""
        helper = self.helpers.get(helper_id)
        if helper is None or helper.impl is None:
            name = helper_name(helper_id)
            raise VMFault(pc, self.slots[pc], f"helper {name}#{helper_id} is not implemented" if name
                          else f"unknown helper function {helper_id}")
        try:
            return helper.impl(self, r1, r2, r3, r4, r5) & M64
        except NeedsKernel:
            raise self.needs_kernel(pc) from None

    def needs_kernel(self, pc: int) -> VMFault:
        """The fault of the helper call at pc when the helper needs a kernel service a bare run lacks."""
        helper = self.helpers[self.slots[pc].imm]
        return VMFault(pc, self.slots[pc], f"helper {helper.full_name}#{helper.id} needs a kernel "
                       "(load the program into the virtual kernel)")

    def exit_frame(self, regs: list[int]) -> int:
        """Return from the current frame: the caller's pc, or DONE from the outermost one."""
        if not self.frames:
            return DONE
        ret, saved = self.frames.pop()
        regs[6:11] = saved
        return ret

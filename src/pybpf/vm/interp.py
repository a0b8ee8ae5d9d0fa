"""The reference interpreter: the oracle every faster engine is held to.

The program is compiled once into one closure per instruction, built from
the opcode table by `kind` (see `_COMPILERS`) with the value semantics of
`pybpf.isa.semantics`; running is a loop `pc = code[pc](regs)`.  Every
memory access goes through the `AddressSpace`, which faults on anything
outside the VM's regions.  A fault stops the program with a `VMFault` naming
the pc, the instruction and the address.

Calling convention (RFC 9669 section 4.3, Linux): r1-r5 arguments, r0 the
result, r6-r9 callee-saved, r10 the read-only frame pointer of a 512-byte
stack frame; local calls nest up to MAX_CALL_DEPTH frames.
"""

from __future__ import annotations

import ctypes
from typing import Callable

from ..errors import PybpfError
from ..helpers import REGISTRY, HelperSpec
from ..isa.insn import Insn
from ..isa.semantics import ALU, ATOMIC_UPDATE, END, JMP, MASK, sign_extend
from .check import check_program
from .memory import AddressSpace, MemoryFault, Region

STACK_SIZE = 512
MAX_CALL_DEPTH = 8
MAX_STEPS = 10_000_000
MAY_GOTO_BUDGET = 8 * 1024 * 1024  # BPF_MAX_LOOPS
M64, M32 = MASK[64], MASK[32]
DONE = -1


class VMFault(PybpfError):
    """A program stopped at run time: what happened, at which pc, on which instruction."""

    def __init__(self, pc: int, insn: Insn | None, reason: str, addr: int | None = None):
        self.pc, self.insn, self.reason, self.addr = pc, insn, reason, addr
        text = ""
        if insn is not None:
            from ..isa.disasm import format_insn
            text = f" ({format_insn(insn)})"
        super().__init__(f"pc {pc}{text}: {reason}")


class _Exit(Exception):
    """Raised by LD_ABS/LD_IND out of bounds: the program ends with r0 = 0, as on Linux."""


class TailCall(Exception):
    """Raised by bpf_tail_call: the running program is replaced by `target`, with the same context."""

    def __init__(self, target: "Interpreter"):
        self.target = target


MAX_TAIL_CALL_CNT = 33


Resolver = Callable[[Insn, int], int]


class Interpreter:
    """Runs one program.  Regions, helpers and pseudo-lddw resolution come from the caller."""

    def __init__(self, insns: list[Insn], *, mem: AddressSpace | None = None,
                 helpers: dict[int, HelperSpec] | None = None, resolver: Resolver | None = None,
                 max_steps: int = MAX_STEPS, entry_regs: int = 0b10000000110):
        self.helpers = REGISTRY if helpers is None else helpers
        self.slots = check_program(insns, entry_regs=entry_regs,
                                   helper_args={i: len(h.args) for i, h in self.helpers.items()})
        self.insns = insns
        self.mem = mem or AddressSpace()
        self.resolver = resolver
        self.max_steps = max_steps
        self.cpu = 0
        self.packet: Region | None = None
        self.code = self.mem.map("code", b"".join(i.encode() if i else b"" for i in self.slots), writable=False)
        self.stacks = [self.mem.map(f"stack frame {depth}", STACK_SIZE) for depth in range(MAX_CALL_DEPTH)]
        self.frames: list[tuple[int, list[int]]] = []
        self.steps = 0
        self.tail_calls = 0
        self._budget = MAY_GOTO_BUDGET
        self.compiled = [self._compile(pc, insn) if insn else None for pc, insn in enumerate(self.slots)]

    # -- running ---------------------------------------------------------
    def run(self, r1: int = 0, r2: int = 0, r3: int = 0, r4: int = 0, r5: int = 0) -> int:
        """Run from pc 0 with r1..r5 as given; return r0.  Tail calls continue in their target."""
        interp, ctx = self, r1
        self.steps = 0
        for tail_calls in range(MAX_TAIL_CALL_CNT + 1):
            interp.tail_calls = tail_calls
            try:
                return interp._run(ctx, r2, r3, r4, r5)
            except TailCall as call:
                interp, r2 = call.target, 0
        raise AssertionError("bpf_tail_call refuses the 34th call")  # pragma: no cover

    def call(self, address: int, *args: int) -> int:
        """Call the subprogram at a code address (a callback of bpf_loop, for_each_map_elem...)."""
        offset = address - self.code.start
        target = offset // 8
        if not (0 <= offset < self.code.size) or offset % 8 or self.slots[target] is None:
            raise VMFault(-1, None, f"callback {address:#x} is not an instruction of this program", address)
        depth = len(self.frames) + 1
        if depth >= MAX_CALL_DEPTH:
            raise VMFault(target, self.slots[target], f"call depth exceeds {MAX_CALL_DEPTH} frames")
        regs = [0] * 11
        for i, value in enumerate(args[:5], 1):
            regs[i] = value & M64
        self.frames.append((DONE, [0] * 5))
        frame = self.stacks[depth]
        frame.write(bytes(STACK_SIZE))
        regs[10] = frame.end
        code, pc = self.compiled, target
        try:
            while pc >= 0:
                cur = pc
                pc = code[pc](regs)
                self.steps += 1
        except MemoryFault as fault:
            raise VMFault(cur, self.slots[cur], str(fault), fault.addr) from None
        return regs[0]

    def _run(self, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        regs = [0, r1 & M64, r2 & M64, r3 & M64, r4 & M64, r5 & M64, 0, 0, 0, 0, self.stacks[0].end]
        ctypes.memset(self.stacks[0].start, 0, STACK_SIZE)
        self.frames = []
        self._budget = MAY_GOTO_BUDGET
        code, limit = self.compiled, self.max_steps
        pc = steps = 0
        try:
            while pc >= 0:
                cur = pc
                pc = code[pc](regs)
                steps += 1
                if steps >= limit:
                    raise VMFault(cur, self.slots[cur], f"instruction limit of {limit} reached")
        except _Exit:
            regs[0] = 0
        except MemoryFault as fault:
            raise VMFault(cur, self.slots[cur], str(fault), fault.addr) from None
        except RecursionError:  # pragma: no cover - defensive
            raise VMFault(cur, self.slots[cur], "host recursion limit") from None
        finally:
            self.steps += steps
        return regs[0]

    def map_packet(self, data: bytes) -> Region:
        """The packet LD_ABS/LD_IND read (socket filter semantics)."""
        if self.packet is not None:
            self.mem.unmap(self.packet)
        self.packet = self.mem.map("packet", data, writable=False)
        return self.packet

    # -- compiling ---------------------------------------------------------
    def _compile(self, pc: int, insn: Insn):
        spec = insn.spec
        return _COMPILERS[spec.kind](self, pc, insn, spec)

    def _call_local(self, pc: int, target: int, regs: list[int]) -> int:
        depth = len(self.frames) + 1
        if depth >= MAX_CALL_DEPTH:
            raise VMFault(pc, self.slots[pc], f"call depth exceeds {MAX_CALL_DEPTH} frames")
        self.frames.append((pc + 1, regs[6:11]))
        frame = self.stacks[depth]
        ctypes.memset(frame.start, 0, STACK_SIZE)
        regs[10] = frame.end
        return target

    def _call_helper(self, pc: int, helper_id: int, regs: list[int]) -> int:
        helper = self.helpers.get(helper_id)
        if helper is None:
            raise VMFault(pc, self.slots[pc], f"unknown helper function {helper_id}")
        regs[0] = helper.impl(self, regs[1], regs[2], regs[3], regs[4], regs[5]) & M64
        return pc + 1

    def _exit(self, regs: list[int]) -> int:
        if not self.frames:
            return DONE
        ret, saved = self.frames.pop()
        regs[6:11] = saved
        return ret


def _alu(vm, pc, insn, spec):
    d, s, w, nxt = insn.dst, insn.src, spec.width, pc + 1
    fn = ALU[spec.op]
    if "src" in spec.operands:
        if w == 64:
            def alu64x(r):
                r[d] = fn(r[d], r[s], 64)
                return nxt
            return alu64x

        def alu32x(r):
            r[d] = fn(r[d] & M32, r[s] & M32, 32)
            return nxt
        return alu32x
    imm = insn.imm & MASK[w]
    if w == 64:
        def alu64k(r):
            r[d] = fn(r[d], imm, 64)
            return nxt
        return alu64k

    def alu32k(r):
        r[d] = fn(r[d] & M32, imm, 32)
        return nxt
    return alu32k


def _neg(vm, pc, insn, spec):
    d, m, nxt = insn.dst, MASK[spec.width], pc + 1

    def neg(r):
        r[d] = -r[d] & m
        return nxt
    return neg


def _movsx(vm, pc, insn, spec):
    d, s, bits, w, nxt = insn.dst, insn.src, insn.off, spec.width, pc + 1

    def movsx(r):
        r[d] = sign_extend(r[s], bits, w)
        return nxt
    return movsx


def _end(vm, pc, insn, spec):
    d, fn, bits, nxt = insn.dst, END[spec.op], spec.width, pc + 1

    def end(r):
        r[d] = fn(r[d], bits)
        return nxt
    return end


def _ldx(vm, pc, insn, spec):
    d, s, off, size, nxt, load = insn.dst, insn.src, insn.off, spec.width // 8, pc + 1, vm.mem.load
    if spec.kind == "ldxs":
        bits = spec.width

        def ldxs(r):
            r[d] = sign_extend(load((r[s] + off) & M64, size), bits)
            return nxt
        return ldxs

    def ldx(r):
        r[d] = load((r[s] + off) & M64, size)
        return nxt
    return ldx


def _st(vm, pc, insn, spec):
    d, off, size, nxt, store = insn.dst, insn.off, spec.width // 8, pc + 1, vm.mem.store
    imm = insn.imm & M64

    def st(r):
        store((r[d] + off) & M64, size, imm)
        return nxt
    return st


def _stx(vm, pc, insn, spec):
    d, s, off, size, nxt, store = insn.dst, insn.src, insn.off, spec.width // 8, pc + 1, vm.mem.store

    def stx(r):
        store((r[d] + off) & M64, size, r[s])
        return nxt
    return stx


def _aligned(vm, pc, insn, addr: int, size: int) -> int:
    if addr % size:
        raise VMFault(pc, insn, f"misaligned {size}-byte atomic access at {addr:#x}", addr)
    return addr


def _atomic(vm, pc, insn, spec):
    d, s, off, w, nxt, mem = insn.dst, insn.src, insn.off, spec.width, pc + 1, vm.mem
    size, op = w // 8, spec.op
    if op == "cmpxchg":
        mask = MASK[w]

        def cmpxchg(r):
            addr = _aligned(vm, pc, insn, (r[d] + off) & M64, size)
            old = mem.load(addr, size)
            if old == r[0] & mask:
                mem.store(addr, size, r[s])
            r[0] = old
            return nxt
        return cmpxchg
    update = ATOMIC_UPDATE[op]
    fetch = op.startswith("fetch") or op == "xchg"

    def atomic(r):
        addr = _aligned(vm, pc, insn, (r[d] + off) & M64, size)
        old = mem.load(addr, size)
        mem.store(addr, size, update(old, r[s] & MASK[w], w))
        if fetch:
            r[s] = old
        return nxt
    return atomic


def _load_acq(vm, pc, insn, spec):
    d, s, off, size, nxt, load = insn.dst, insn.src, insn.off, spec.width // 8, pc + 1, vm.mem.load

    def load_acquire(r):
        r[d] = load(_aligned(vm, pc, insn, (r[s] + off) & M64, size), size)
        return nxt
    return load_acquire


def _store_rel(vm, pc, insn, spec):
    d, s, off, size, nxt, store = insn.dst, insn.src, insn.off, spec.width // 8, pc + 1, vm.mem.store

    def store_release(r):
        store(_aligned(vm, pc, insn, (r[d] + off) & M64, size), size, r[s])
        return nxt
    return store_release


def _lddw(vm, pc, insn, spec):
    d, nxt = insn.dst, pc + 2
    if spec.op == "imm64":
        value = insn.imm64
    elif spec.op == "func":
        value = vm.code.start + (pc + 1 + insn.imm) * 8
    elif vm.resolver is not None:
        value = vm.resolver(insn, pc) & M64
    else:
        raise VMFault(pc, insn, f"lddw {spec.op} needs a kernel to resolve it")

    def lddw(r):
        r[d] = value
        return nxt
    return lddw


def _ld_packet(vm, pc, insn, spec):
    s, size, nxt, imm = insn.src, spec.width // 8, pc + 1, insn.imm
    indirect = spec.kind == "ldind"

    def ld_packet(r):
        packet = vm.packet
        if packet is None:
            raise VMFault(pc, insn, "LD_ABS/LD_IND without a packet")
        offset = ((r[s] if indirect else 0) + imm) & M32
        if offset + size > packet.size:
            raise _Exit()
        r[0] = int.from_bytes(packet.read(offset, size), "big")
        return nxt
    return ld_packet


def _ja(vm, pc, insn, spec):
    target = pc + 1 + (insn.imm if spec.op == "gotol" else insn.off)
    return lambda r: target


def _jcond(vm, pc, insn, spec):
    d, s, w, nxt, target = insn.dst, insn.src, spec.width, pc + 1, pc + 1 + insn.off
    cond = JMP[spec.op]
    if "src" in spec.operands:
        if w == 64:
            return lambda r: target if cond(r[d], r[s], 64) else nxt
        return lambda r: target if cond(r[d] & M32, r[s] & M32, 32) else nxt
    imm = insn.imm & MASK[w]
    if w == 64:
        return lambda r: target if cond(r[d], imm, 64) else nxt
    return lambda r: target if cond(r[d] & M32, imm, 32) else nxt


def _call(vm, pc, insn, spec):
    if spec.op == "local":
        target = pc + 1 + insn.imm
        return lambda r: vm._call_local(pc, target, r)
    if spec.op == "kfunc":
        raise VMFault(pc, insn, "kfunc calls need a kernel that provides the function")
    helper_id = insn.imm
    return lambda r: vm._call_helper(pc, helper_id, r)


def _callx(vm, pc, insn, spec):
    d = insn.dst

    def callx(r):
        value = r[d]
        if value in vm.code:
            offset = value - vm.code.start
            target = offset // 8
            if offset % 8 or target >= len(vm.slots) or vm.slots[target] is None:
                raise VMFault(pc, insn, f"callx to {value:#x} is not an instruction boundary", value)
            return vm._call_local(pc, target, r)
        return vm._call_helper(pc, value, r)
    return callx


def _exit(vm, pc, insn, spec):
    return vm._exit


def _may_goto(vm, pc, insn, spec):
    nxt, target = pc + 1, pc + 1 + insn.off

    def may_goto(r):
        if vm._budget <= 0:
            return target
        vm._budget -= 1
        return nxt
    return may_goto


# kind of the opcode table -> compiler of one instruction into a closure.
_COMPILERS = {
    "alu": _alu, "neg": _neg, "movsx": _movsx, "end": _end,
    "ldx": _ldx, "ldxs": _ldx, "st": _st, "stx": _stx, "atomic": _atomic,
    "load_acq": _load_acq, "store_rel": _store_rel, "lddw": _lddw,
    "ldabs": _ld_packet, "ldind": _ld_packet,
    "ja": _ja, "jcond": _jcond, "call": _call, "callx": _callx, "exit": _exit, "may_goto": _may_goto,
}

# Which (kind, op) pairs each compiler handles: used by the test that holds
# every engine to every row of the table.
SEMANTICS = {
    "alu": set(ALU), "jcond": set(JMP), "end": set(END), "atomic": set(ATOMIC_UPDATE) | {"cmpxchg"},
}

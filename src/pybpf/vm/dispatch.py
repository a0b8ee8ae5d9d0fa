"""Instruction -> closure: the reference interpreter's dispatch, derived from the opcode table.

`COMPILERS` maps each `kind` of `pybpf.isa.opcodes.SPECS` to a function that
turns one decoded instruction into a closure `step(regs) -> next pc` (a
negative pc ends the activation).  Everything that can be decided before the
run (register numbers, the immediate at the right width, the jump target,
the semantic function of `spec.op` from `pybpf.isa.semantics`) is bound into
the closure once, so the hot loop does no attribute or dict lookups of its
own.  `SEMANTICS` lists the ops each kind implements: the test holding every
engine to every row of the table reads it.
"""

from __future__ import annotations

from ..isa.semantics import ALU, ATOMIC_UPDATE, END, JMP, MASK, sign_extend
from .fault import VMFault

M64, M32 = MASK[64], MASK[32]


def _alu(vm, pc, insn, spec):
    d, s, w, nxt, fn = insn.dst, insn.src, spec.width, pc + 1, ALU[spec.op]
    if "src" in spec.operands:
        if w == 64:
            def alu64_reg(r):
                r[d] = fn(r[d], r[s], 64)
                return nxt
            return alu64_reg

        def alu32_reg(r):
            r[d] = fn(r[d] & M32, r[s] & M32, 32)
            return nxt
        return alu32_reg
    imm = insn.imm & MASK[w]  # ALU64 sign-extends imm to 64 bits; ALU uses its 32 bits
    if w == 64:
        def alu64_imm(r):
            r[d] = fn(r[d], imm, 64)
            return nxt
        return alu64_imm

    def alu32_imm(r):
        r[d] = fn(r[d] & M32, imm, 32)
        return nxt
    return alu32_imm


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
    imm = insn.imm & M64  # sign-extended, then truncated to the access size by the store

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


def _aligned(pc, insn, addr: int, size: int) -> int:
    """Atomic and ordered accesses must be naturally aligned (x86 and arm64 JITs assume it)."""
    if addr % size:
        raise VMFault(pc, insn, f"misaligned {size}-byte atomic access at {addr:#x}", addr)
    return addr


def _atomic(vm, pc, insn, spec):
    d, s, off, w, nxt, load, store = insn.dst, insn.src, insn.off, spec.width, pc + 1, vm.mem.load, vm.mem.store
    size, op, mask = w // 8, spec.op, MASK[w]
    if op == "cmpxchg":
        def cmpxchg(r):
            addr = _aligned(pc, insn, (r[d] + off) & M64, size)
            old = load(addr, size)
            if old == r[0] & mask:
                store(addr, size, r[s])
            r[0] = old  # zero-extended for the 32-bit form
            return nxt
        return cmpxchg
    update = ATOMIC_UPDATE[op]
    fetch = op.startswith("fetch") or op == "xchg"

    def atomic(r):
        addr = _aligned(pc, insn, (r[d] + off) & M64, size)
        old = load(addr, size)
        store(addr, size, update(old, r[s] & mask, w))
        if fetch:
            r[s] = old
        return nxt
    return atomic


def _load_acq(vm, pc, insn, spec):
    d, s, off, size, nxt, load = insn.dst, insn.src, insn.off, spec.width // 8, pc + 1, vm.mem.load

    def load_acquire(r):
        r[d] = load(_aligned(pc, insn, (r[s] + off) & M64, size), size)
        return nxt
    return load_acquire


def _store_rel(vm, pc, insn, spec):
    d, s, off, size, nxt, store = insn.dst, insn.src, insn.off, spec.width // 8, pc + 1, vm.mem.store

    def store_release(r):
        store(_aligned(pc, insn, (r[d] + off) & M64, size), size, r[s])
        return nxt
    return store_release


def _lddw(vm, pc, insn, spec):
    d, nxt = insn.dst, pc + 2
    if spec.op == "imm64":
        value = insn.imm64
    elif spec.op == "func":
        value = vm.code.start + (pc + 1 + insn.imm) * 8  # a real address inside the read-only code region
    elif vm.resolver is not None:  # map_fd, map_value, btf_id, map_idx, map_idx_value: the kernel's business
        value = vm.resolver(insn, pc) & M64
    else:
        raise VMFault(pc, insn, f"lddw {spec.op} needs a kernel to resolve it")

    def lddw(r):
        r[d] = value
        return nxt
    return lddw


def _ld_packet(vm, pc, insn, spec):
    s, size, nxt, imm, leave = insn.src, spec.width // 8, pc + 1, insn.imm, vm.exit_frame
    indirect = spec.kind == "ldind"

    def ld_packet(r):
        packet = vm.packet
        if packet is None:
            raise VMFault(pc, insn, "LD_ABS/LD_IND without a packet (socket filter programs only)")
        offset = ((r[s] if indirect else 0) + imm) & M32
        if offset + size > packet.size:
            # Linux (bpf_gen_ld_abs in net/core/filter.c) emits `r0 = 0; exit` for this case.
            r[0] = 0
            return leave(r)
        r[0] = int.from_bytes(packet.read(offset, size), "big")
        return nxt
    return ld_packet


def _ja(vm, pc, insn, spec):
    target = pc + 1 + (insn.imm if spec.op == "gotol" else insn.off)
    return lambda r: target


def _jcond(vm, pc, insn, spec):
    d, s, w, nxt, target, cond = insn.dst, insn.src, spec.width, pc + 1, pc + 1 + insn.off, JMP[spec.op]
    if "src" in spec.operands:
        if w == 64:
            return lambda r: target if cond(r[d], r[s], 64) else nxt
        return lambda r: target if cond(r[d] & M32, r[s] & M32, 32) else nxt
    imm = insn.imm & MASK[w]  # JMP: imm sign-extended to 64 bits; JMP32: its 32 bits
    if w == 64:
        return lambda r: target if cond(r[d], imm, 64) else nxt
    return lambda r: target if cond(r[d] & M32, imm, 32) else nxt


def _call(vm, pc, insn, spec):
    if spec.op == "local":
        target, call_local = pc + 1 + insn.imm, vm.call_local
        return lambda r: call_local(pc, target, r)
    if spec.op == "kfunc":
        raise VMFault(pc, insn, f"kfunc calls (BTF id {insn.imm}) need a kernel that provides the function")
    assert spec.op == "helper", spec
    helper_id, call_helper = insn.imm, vm.call_helper
    return lambda r: call_helper(pc, helper_id, r)


def _callx(vm, pc, insn, spec):
    d, code, call_local, call_helper = insn.dst, vm.code, vm.call_local, vm.call_helper

    def callx(r):
        value = r[d]
        if code.start <= value < code.end:  # a subprogram address from lddw func
            offset = value - code.start
            target = offset // 8
            if offset % 8 or vm.slots[target] is None:
                raise VMFault(pc, insn, f"callx to {value:#x} is not an instruction boundary", value)
            return call_local(pc, target, r)
        return call_helper(pc, value, r)  # a helper id (bpf_conformance's callx.data)
    return callx


def _exit(vm, pc, insn, spec):
    return vm.exit_frame


def _may_goto(vm, pc, insn, spec):
    nxt, target = pc + 1, pc + 1 + insn.off

    def may_goto(r):
        if vm.may_goto_budget <= 0:
            return target
        vm.may_goto_budget -= 1
        return nxt
    return may_goto


# kind of the opcode table -> compiler of one instruction into a closure.
COMPILERS = {
    "alu": _alu, "neg": _neg, "movsx": _movsx, "end": _end,
    "ldx": _ldx, "ldxs": _ldx, "st": _st, "stx": _stx, "atomic": _atomic,
    "load_acq": _load_acq, "store_rel": _store_rel, "lddw": _lddw,
    "ldabs": _ld_packet, "ldind": _ld_packet,
    "ja": _ja, "jcond": _jcond, "call": _call, "callx": _callx, "exit": _exit, "may_goto": _may_goto,
}

# kind -> the ops its compiler implements, for the kinds whose op picks a semantic function.
SEMANTICS = {
    "alu": set(ALU), "jcond": set(JMP), "end": set(END), "atomic": set(ATOMIC_UPDATE) | {"cmpxchg"},
}

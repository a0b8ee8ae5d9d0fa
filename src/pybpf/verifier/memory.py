"""Loads, stores and helper memory arguments: check_mem_access() and friends.

Every access is checked against the region its pointer register points
into: the stack (slot types, spills and fills), map keys and values
(bounds with the pointer's variable offset), packets (the range proven by
comparisons with the end pointer), context fields (per program type, in
`ctx.py`), ring buffer and helper memory.
"""

from __future__ import annotations

import errno

from . import precision, tnum
from .bounds import S64_MIN
from .ctx import READ, WRITE, ctx_access, sock_access
from .errors import VerifierError
from .regs import (BTF_ID, CTX, NOT_INIT, FLOW_KEYS, MAP_KEY, MAP_VALUE, MEM, PACKET, PACKET_END, PACKET_META,
                   SCALAR, SOCK_TYPES, STACK, TP_BUFFER, Reg)
from .stack_liveness import slot_mask, whole_slots
from .state import INVALID, MAX_BPF_STACK, MISC, SPILL, ZERO

BPF_MAX_VAR_OFF = 1 << 29
HELPER = "helper"


def fail(message: str, code: int = errno.EACCES) -> VerifierError:
    return VerifierError(message, None, code)


# -- alignment ----------------------------------------------------------------------
def check_alignment(v, reg: Reg, off: int, size: int, strict_once: bool = False) -> None:
    """check_ptr_alignment(): the stack is always strict; others with BPF_F_STRICT_ALIGNMENT."""
    strict = v.opts.strict_alignment or strict_once or reg.type == STACK
    if not strict or size == 1:
        return
    if reg.is_pkt:
        # Packet data starts 2 bytes off alignment (NET_IP_ALIGN), so that the IP header is aligned.
        if not tnum.is_aligned(tnum.add(reg.b.var_off, tnum.const(2 + reg.off + off)), size):
            raise fail(f"misaligned packet access off 2+{reg.b.var_off}+{reg.off}+{off} size {size}")
        return
    desc = "sock " if reg.type in SOCK_TYPES else ALIGN_DESC.get(reg.type, "")
    if not tnum.is_aligned(tnum.add(reg.b.var_off, tnum.const(reg.off + off)), size):
        raise fail(f"misaligned {desc}access off {reg.b.var_off}+{reg.off}+{off} size {size}")


ALIGN_DESC = {MAP_VALUE: "value ", MAP_KEY: "key ", CTX: "context ", STACK: "stack ", FLOW_KEYS: "flow keys "}


# -- regions with bounds ---------------------------------------------------------------
def _region_message(reg: Reg, regno: int, off: int, size: int, mem_size: int) -> str:
    if reg.type == MAP_KEY:
        return f"invalid access to map key, key_size={mem_size} off={off} size={size}"
    if reg.type == MAP_VALUE:
        return f"invalid access to map value, value_size={mem_size} off={off} size={size}"
    if reg.type in (PACKET, PACKET_META, PACKET_END):
        return f"invalid access to packet, off={off} size={size}, R{regno}(id={reg.id},off={off},r={mem_size})"
    return f"invalid access to memory, mem_size={mem_size} off={off} size={size}"


def _within(off: int, size: int, mem_size: int, zero_ok: bool) -> bool:
    return (size > 0 or (size == 0 and zero_ok)) and off >= 0 and size <= mem_size and off <= mem_size - size


def check_region(v, regno: int, reg: Reg, off: int, size: int, mem_size: int, zero_ok: bool = False) -> None:
    """check_mem_region_access(): off is the fixed offset; the variable part comes from the bounds."""
    b = reg.b
    if b.smin < 0 and (b.smin == S64_MIN or not -(1 << 31) <= off + b.smin < (1 << 31) or b.smin + off < 0):
        raise fail(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    if not _within(b.smin + off, size, mem_size, zero_ok):
        raise fail(f"{_region_message(reg, regno, b.smin + off, size, mem_size)}\n"
                   f"R{regno} min value is outside of the allowed memory range")
    if b.umax >= BPF_MAX_VAR_OFF:
        raise fail(f"R{regno} unbounded memory access, make sure to bounds check any such access")
    if not _within(b.umax + off, size, mem_size, zero_ok):
        raise fail(f"{_region_message(reg, regno, b.umax + off, size, mem_size)}\n"
                   f"R{regno} max value is outside of the allowed memory range")


def check_packet(v, regno: int, reg: Reg, off: int, size: int, zero_ok: bool = False) -> None:
    if reg.b.smin < 0:
        raise fail(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    if reg.range < 0 or not _within(off, size, reg.range, zero_ok):
        raise fail(f"invalid access to packet, off={off} size={size}, R{regno}(id={reg.id},off={reg.off},"
                   f"r={reg.range})\nR{regno} offset is outside of the packet")


def check_ptr_off(reg: Reg, regno: int, fixed_ok: bool = False) -> None:
    """__check_ptr_off_reg()."""
    if reg.off < 0:
        raise fail(f"negative offset {reg.type_str()} ptr R{regno} off={reg.off} disallowed")
    if not fixed_ok and reg.off:
        raise fail(f"dereference of modified {reg.type_str()} ptr R{regno} off={reg.off} disallowed")
    if not reg.b.is_const:
        raise fail(f"variable {reg.type_str()} access var_off={reg.b.var_off} disallowed")


# -- the stack -------------------------------------------------------------------------
def stack_bounds(v, regno: int, reg: Reg, off: int, size: int, kind: str) -> tuple[int, int]:
    """check_stack_access_within_bounds(): the [min, max) byte range the access may touch."""
    extra = {HELPER: " indirect access to", READ: " read from"}.get(kind, " write to")
    b = reg.b
    if b.is_const:
        lo = s64(b.value) + off
        hi = lo + size
    else:
        if b.smax >= BPF_MAX_VAR_OFF or b.smin <= -BPF_MAX_VAR_OFF:
            raise fail(f"invalid unbounded variable-offset{extra} stack R{regno}")
        lo = b.smin + off
        hi = b.smax + off + size
    frame = v.cur.frames[reg.frameno]
    min_valid = -MAX_BPF_STACK if kind == WRITE or v.capable else -frame.allocated
    bad = lo < min_valid or lo > -1 or hi > 0 or size < 0
    if kind == HELPER and lo < -MAX_BPF_STACK:
        bad = True
    if bad:
        if b.is_const:
            raise fail(f"invalid{extra} stack R{regno} off={lo} size={size}")
        raise fail(f"invalid variable-offset{extra} stack R{regno} var_off={b.var_off} off={off} size={size}")
    frame.grow(-lo)
    subprog = v.subprogs[frame.subprog]
    subprog.stack_depth = max(subprog.stack_depth, -lo)
    _record_access(v, reg.frameno, lo, hi, kind == WRITE and b.is_const)
    return lo, hi


def _record_access(v, frameno: int, lo: int, hi: int, overwrite: bool) -> None:
    """Tell stack liveness what this instruction touched of the stack.  A constant-offset write to its own
    frame overwrites the slots it covers whole; every other byte touched is read (a partial write keeps the
    slot's other bytes and checks what was spilled there).  An access to a caller's frame is recorded at
    that frame's call site, and never as an overwrite."""
    liveness = v.stack_live
    frames = v.cur.frames
    touched = slot_mask(lo, hi)
    whole = whole_slots(lo, hi) if overwrite else 0
    if frameno == len(frames) - 1:
        liveness.writes |= whole
        liveness.read(v.insn_pc, touched & ~whole)
    else:
        liveness.read(frames[frameno + 1].callsite, touched)


def s64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


def stack_write(v, regno: int, reg: Reg, off: int, size: int, value_regno: int, imm: int | None) -> None:
    lo, hi = stack_bounds(v, regno, reg, off, size, WRITE)
    frame = v.cur.frames[reg.frameno]
    value = v.cur.regs[value_regno] if value_regno >= 0 else None
    if not reg.b.is_const:
        if value is not None and value.is_const(0):
            precision.mark_reg(v, value_regno)  # zero bytes stay STACK_ZERO: the value must stay zero
        for addr in range(lo, hi):
            slot, k = frame.slot(addr)
            if slot.is_spill:
                slot.forget_spill()
            if slot.types[k] != ZERO or not (value is not None and value.is_const(0)):
                slot.types[k] = MISC
        return
    slot, k = frame.slot(lo)
    if not v.allow_ptr_leaks and slot.is_spill and slot.spilled.type != SCALAR and size != 8:
        raise fail("attempt to corrupt spilled pointer on stack")
    aligned = lo % 8 == 0
    spi = (-lo - 1) // 8
    if value is not None and aligned and value.type == SCALAR and v.capable:
        v.stack_rec = (reg.frameno, spi)
        _save_spill(slot, value, size)
        if size * 8 < 64 and not _fits(value, size):
            slot.spilled.id = 0
        return
    if value is None and aligned and imm is not None and v.capable:
        fake = Reg(SCALAR)
        fake.b.set_const(imm)
        v.stack_rec = (reg.frameno, spi)
        _save_spill(slot, fake, size)
        return
    if value is not None and value.is_pointer:
        if size != 8:
            raise fail("invalid size of register spill")
        if reg.frameno != v.cur.frame.frameno and value.type == STACK:
            raise fail("cannot spill pointers to stack into stack frame of the caller", errno.EINVAL)
        v.stack_rec = (reg.frameno, spi)
        _save_spill(slot, value, size)
        return
    new_type = ZERO if (value is not None and value.is_const(0)) or (value is None and imm == 0) else MISC
    if new_type == ZERO and value is not None:
        precision.mark_reg(v, value_regno)  # STACK_ZERO, not a spill: later states trust the bytes are zero
    for i in range(size):
        s2, k2 = frame.slot(lo + i)
        if SPILL in s2.types or s2.spilled.type != NOT_INIT:
            s2.forget_spill()
        s2.types[k2] = new_type


def _fits(reg: Reg, size: int) -> bool:
    return reg.b.umax < (1 << (size * 8)) and reg.b.smin >= 0


def _save_spill(slot, reg: Reg, size: int) -> None:
    slot.spilled = reg.copy()
    for i in range(8, 8 - size, -1):
        slot.types[i - 1] = SPILL
    for i in range(8 - size):
        if slot.types[i] != ZERO:
            slot.types[i] = MISC


def stack_read(v, regno: int, reg: Reg, off: int, size: int, dst_regno: int, sign_extend: bool = False) -> None:
    lo, hi = stack_bounds(v, regno, reg, off, size, READ)
    frame = v.cur.frames[reg.frameno]
    dst = v.cur.regs[dst_regno] if dst_regno >= 0 else None
    if not reg.b.is_const:
        zero = True
        zero_spills = set()
        for addr in range(lo, hi):
            slot, k = frame.slot(addr)
            t = slot.types[k]
            if t == INVALID and not v.capable:
                raise fail(f"invalid variable-offset read from stack R{regno} var_off={reg.b.var_off} off={off} "
                           f"size={size}")
            zero = zero and (t == ZERO or (t == SPILL and slot.spilled.is_const(0)))
            if t == SPILL:
                zero_spills.add((-addr - 1) // 8)
        if dst is not None:
            dst.set_known(0) if zero else dst.set_unknown()
            if zero:
                for spi in sorted(zero_spills):
                    precision.mark_stack(v, reg.frameno, spi)
        return
    slot, k = frame.slot(lo)
    if slot.is_spill:
        spill_size = 1
        i = 7
        while i > 0 and slot.types[i - 1] == SPILL:
            spill_size += 1
            i -= 1
        spilled = slot.spilled
        if size != 8 or spill_size != 8:
            if spilled.type != SCALAR:
                raise fail("invalid size of register fill")
            if dst is None:
                return
            if size <= spill_size and lo % 8 == 0:
                v.stack_rec = (reg.frameno, (-lo - 1) // 8)
                dst.assign(spilled)
                if spill_size * 8 > size * 8 and spilled.b.umax >= (1 << (size * 8)):
                    dst.id = 0
            else:
                spill_cnt = zero_cnt = 0
                for i in range(size):
                    s2, k2 = frame.slot(lo + i)
                    t = s2.types[k2]
                    if t == SPILL:
                        spill_cnt += 1
                    elif t == ZERO:
                        zero_cnt += 1
                    elif t == INVALID and not v.capable:
                        raise fail(f"invalid read from stack off {lo}+{i} size {size}")
                if (spill_cnt == size and spilled.is_const(0)) or zero_cnt == size:
                    if zero_cnt != size:
                        precision.mark_stack(v, reg.frameno, (-lo - 1) // 8)
                    dst.set_known(0)
                else:
                    dst.set_unknown()
        elif dst is not None:
            v.stack_rec = (reg.frameno, (-lo - 1) // 8)
            dst.assign(spilled)
            return
        elif not v.allow_ptr_leaks and spilled.is_pointer:
            raise fail(f"leaking pointer from stack off {lo}")
        else:
            return
    else:
        zero = True
        zero_spills = set()
        for i in range(size):
            s2, k2 = frame.slot(lo + i)
            t = s2.types[k2]
            if t == MISC:
                zero = False
                continue
            if t == ZERO:
                continue
            if t == INVALID and v.capable:
                zero = False
                continue
            if t == SPILL:
                zero = zero and s2.spilled.is_const(0)
                zero_spills.add((-(lo + i) - 1) // 8)
                continue
            raise fail(f"invalid read from stack off {lo}+{i} size {size}")
        if dst is not None:
            dst.set_known(0) if zero else dst.set_unknown()
            if zero:
                for spi in sorted(zero_spills):
                    precision.mark_stack(v, reg.frameno, spi)
    if dst is not None and dst.type == SCALAR and size < 8:
        dst.b.sext(size) if sign_extend else dst.b.truncate(size)


# -- the access ------------------------------------------------------------------------
def check_mem_access(v, pc: int, regno: int, off: int, size: int, kind: str, value_regno: int, *,
                     imm: int | None = None, sign_extend: bool = False, strict_once: bool = False) -> None:
    regs = v.cur.regs
    reg = regs[regno]
    check_alignment(v, reg, off, size, strict_once)
    off += reg.off
    value = regs[value_regno] if value_regno >= 0 else None
    leak = kind == WRITE and value is not None and value.is_pointer and not v.allow_ptr_leaks
    read_into = value_regno if kind == READ else -1
    if reg.type == MAP_KEY:
        if kind == WRITE:
            raise fail(f"write to change key R{regno} not allowed")
        check_region(v, regno, reg, off, size, reg.map.key_size)
        if read_into >= 0:
            regs[read_into].set_unknown()
    elif reg.type == MAP_VALUE and not reg.null:
        if leak:
            raise fail(f"R{value_regno} leaks addr into map")
        _map_access_type(reg, off, size, kind)
        check_region(v, regno, reg, off, size, reg.map.value_size)
        if reg.map.kptrs and _kptr_access(v, pc, regno, reg, off, size, kind, value_regno, imm):
            if read_into >= 0:
                regs[read_into].set_unknown()  # (an untrusted kernel pointer here: a scalar, never dereferenced)
        elif read_into >= 0:
            dst = regs[read_into]
            info = reg.map
            if reg.b.is_const and info.frozen and info.values is not None:
                start = off + reg.b.value
                data = info.values[start:start + size]
                dst.set_known(int.from_bytes(data, "little", signed=sign_extend))
            else:
                dst.set_unknown()
    elif reg.type == MEM and not reg.null:
        rdonly = "rdonly" in reg.flags
        if kind == WRITE and rdonly:
            raise fail(f"R{regno} cannot write into {reg.type_str()}")
        if leak:
            raise fail(f"R{value_regno} leaks addr into mem")
        check_region(v, regno, reg, off, size, reg.mem_size)
        if read_into >= 0:
            regs[read_into].set_unknown()
    elif reg.type == CTX:
        if leak:
            raise fail(f"R{value_regno} leaks addr into ctx")
        check_ptr_off(reg, regno)
        ok, pointer = ctx_access(v.opts.prog_type, off, size, kind, v.opts.expected_attach_type, v.capable)
        if not ok or (sign_extend and pointer is not None):
            raise fail(f"invalid bpf_context access off={off} size={size}")
        if read_into >= 0:
            dst = regs[read_into]
            if pointer is None:
                dst.set_unknown()
            else:
                null = pointer.endswith("?")
                dst.set_pointer(pointer.rstrip("?"), null=null)
                if null:
                    dst.id = v.new_id()
                return
    elif reg.type == STACK:
        if kind == READ:
            stack_read(v, regno, reg, off, size, value_regno, sign_extend)
            return
        stack_write(v, regno, reg, off, size, value_regno, imm)
        return
    elif reg.type in (PACKET, PACKET_META):
        if kind == WRITE and not _may_write_packet(v):
            raise fail("cannot write into packet")
        if leak:
            raise fail(f"R{value_regno} leaks addr into packet")
        check_packet(v, regno, reg, off, size)
        if read_into >= 0:
            regs[read_into].set_unknown()
    elif reg.type in SOCK_TYPES and not reg.null:
        if kind == WRITE:
            raise fail(f"R{regno} cannot write into {reg.type_str()}")
        if reg.off or not reg.b.is_const or not sock_access(reg.type, off, size):
            raise fail(f"R{regno} invalid {reg.type} access off={off} size={size}")
        if read_into >= 0:
            regs[read_into].set_unknown()
    elif reg.type == TP_BUFFER:
        check_ptr_off(reg, regno, True)
        if off < 0:
            raise fail(f"R{regno} invalid tracepoint buffer access: off={off}, size={size}")
        if read_into >= 0:
            regs[read_into].set_unknown()
    elif reg.type == FLOW_KEYS:
        if leak:
            raise fail(f"R{value_regno} leaks addr into flow keys")
        if off < 0 or off + size > 56:
            raise fail(f"invalid access to flow keys off={off} size={size}")
        if read_into >= 0:
            regs[read_into].set_unknown()
    else:
        raise fail(f"R{regno} invalid mem access '{reg.type_str()}'")
    if read_into >= 0 and size < 8 and regs[read_into].type == SCALAR:
        b = regs[read_into].b
        b.sext(size) if sign_extend else b.truncate(size)


def _kptr_access(v, pc: int, regno: int, reg: Reg, off: int, size: int, kind: str, value_regno: int,
                 imm: int | None) -> bool:
    """check_map_access()'s special fields and check_map_kptr_access(): a kptr is read or written whole,
    by a plain load or store, never by a helper; a referenced kptr is never stored to.  True when the
    access is to a kptr field."""
    start, end = reg.b.smin + off, reg.b.umax + off + size
    field = None
    for at in sorted(reg.map.kptrs):
        if start < at + 8 and at < end:
            if kind == HELPER:
                raise fail("kptr cannot be accessed indirectly by helper")
            if not reg.b.is_const:
                raise fail("kptr access cannot have variable offset")
            if at != off + reg.b.value:
                raise fail(f"kptr access misaligned expected={at} off={off + reg.b.value}")
            if size != 8:
                raise fail("kptr access size must be BPF_DW")
            field = at
    if field is None:
        return False
    how, struct = reg.map.kptrs[field]
    s = v.slots[pc]
    cls, mode = s.code & 0x07, s.code & 0xE0
    if mode != 0x60:  # BPF_MEM
        raise fail("kptr in map can only be accessed using BPF_MEM instruction mode")
    if cls != 0x01 and how == "kptr":  # not BPF_LDX
        raise fail("store to referenced kptr disallowed")
    if cls == 0x02 and imm:  # BPF_ST
        raise fail(f"BPF_ST imm must be 0 when storing to kptr at off={field}")
    if cls == 0x03:  # BPF_STX: only a NULL, or a pointer of the kptr's type (none here without kernel BTF)
        value = v.cur.regs[value_regno]
        if not value.is_const(0):
            raise fail(f"invalid kptr access, R{value_regno} type={value.type_str()} expected=ptr_{struct}")
        precision.mark_reg(v, value_regno)
    return True


def _map_access_type(reg: Reg, off: int, size: int, kind: str) -> None:
    flags = reg.map.flags
    if kind == WRITE and flags & (1 << 7):
        raise fail(f"write into map forbidden, value_size={reg.map.value_size} off={off + reg.b.value} size={size}")
    if kind == READ and flags & (1 << 8):
        raise fail(f"read from map forbidden, value_size={reg.map.value_size} off={off + reg.b.value} size={size}")


PACKET_WRITERS = {3, 4, 6, 12, 13, 14, 16}  # tc, xdp, lwt_xmit, sock_ops, sk_skb, sk_msg (may_access_direct_pkt_data)


def _may_write_packet(v) -> bool:
    return v.opts.prog_type in PACKET_WRITERS


# -- atomics -----------------------------------------------------------------------
ATOMIC_IMMS = {0x00, 0x40, 0x50, 0xA0, 0x01, 0x41, 0x51, 0xA1, 0xE1, 0xF1}


def check_atomic(v, pc: int, s) -> None:
    from .insns import read_reg, write_reg
    if s.imm in (0x100, 0x110):
        size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[s.code & 0x18]
        if s.imm == 0x100:
            read_reg(v, s.src)
            write_reg(v, s.dst)
            check_mem_access(v, pc, s.src, s.off, size, READ, s.dst)
        else:
            read_reg(v, s.src)
            read_reg(v, s.dst)
            check_mem_access(v, pc, s.dst, s.off, size, WRITE, s.src)
        return
    if s.imm not in ATOMIC_IMMS:
        raise fail(f"BPF_ATOMIC uses invalid atomic opcode {s.imm:02x}", errno.EINVAL)
    if s.code & 0x18 not in (0x00, 0x18):
        raise fail("invalid atomic operand size", errno.EINVAL)
    size = 8 if s.code & 0x18 == 0x18 else 4
    src = read_reg(v, s.src)
    dst = read_reg(v, s.dst)
    if s.imm == 0xF1:
        r0 = read_reg(v, 0)
        if r0.is_pointer and not v.allow_ptr_leaks:
            raise fail("R0 leaks addr into mem")
    if src.is_pointer and not v.allow_ptr_leaks:
        raise fail(f"R{s.src} leaks addr into mem")
    if dst.type in (CTX, PACKET, PACKET_META, FLOW_KEYS) or dst.type in SOCK_TYPES:
        raise fail(f"BPF_ATOMIC stores into R{s.dst} {dst.type_str()} is not allowed")
    load_reg = -1
    if s.imm & 1:
        load_reg = 0 if s.imm == 0xF1 else s.src
        write_reg(v, load_reg)
    check_mem_access(v, pc, s.dst, s.off, size, READ, -1, strict_once=True)
    if load_reg >= 0:
        check_mem_access(v, pc, s.dst, s.off, size, READ, load_reg, strict_once=True)
        if v.cur.regs[load_reg].is_pointer:
            if not v.allow_ptr_leaks:
                raise fail(f"R{load_reg} leaks addr into mem")
            v.cur.regs[load_reg].set_unknown()
    check_mem_access(v, pc, s.dst, s.off, size, WRITE, -1, strict_once=True)


# -- helper memory arguments ----------------------------------------------------------
def check_helper_mem(v, regno: int, size: int, kind: str, zero_ok: bool, uninit_ok: bool = False) -> None:
    """check_helper_mem_access(): [reg, reg+size) is memory the helper may read or write."""
    reg = v.cur.regs[regno]
    t = reg.type
    if t in (PACKET, PACKET_META):
        check_packet(v, regno, reg, reg.off, size, zero_ok)
        if kind == WRITE and not _may_write_packet(v):
            raise fail("cannot write into packet")
    elif t == MAP_KEY:
        if kind == WRITE:
            raise fail(f"R{regno} cannot write into {reg.type_str()}")
        check_region(v, regno, reg, reg.off, size, reg.map.key_size, zero_ok)
    elif t == MAP_VALUE:
        _map_access_type(reg, reg.off, size, kind if kind != HELPER else READ)
        check_region(v, regno, reg, reg.off, size, reg.map.value_size, zero_ok)
        if reg.map.kptrs:
            _kptr_access(v, -1, regno, reg, reg.off, size, HELPER, -1, None)
    elif t == MEM:
        if kind == WRITE and "rdonly" in reg.flags:
            raise fail(f"R{regno} cannot write into {reg.type_str()}")
        check_region(v, regno, reg, reg.off, size, reg.mem_size, zero_ok)
    elif t == STACK:
        if size == 0 and zero_ok:  # nothing is read, but the offsets must still lie inside the stack
            stack_bounds(v, regno, reg, reg.off, 0, HELPER)
            return
        _check_stack_range(v, regno, reg, size, uninit_ok)
    elif t == CTX and kind != WRITE:
        check_ptr_off(reg, regno)
        if not ctx_access(v.opts.prog_type, 0, size, READ, v.opts.expected_attach_type, v.capable)[0]:
            raise fail(f"invalid bpf_context access off=0 size={size}")
    elif t == BTF_ID:
        return
    elif reg.is_const(0) and zero_ok:
        precision.mark_reg(v, regno)
        return
    else:
        raise fail(f"R{regno} type={reg.type_str()} expected=fp, pkt, pkt_meta, map_key, map_value, mem, "
                   f"ringbuf_mem, buf, trusted_ptr_")


def _check_stack_range(v, regno: int, reg: Reg, size: int, uninit_ok: bool) -> None:
    """check_stack_range_initialized(): a helper reads initialised bytes, or (uninit_ok) writes any."""
    lo, hi = stack_bounds(v, regno, reg, reg.off, size, HELPER)
    frame = v.cur.frames[reg.frameno]
    if not reg.b.is_const and not (uninit_ok or v.capable):
        raise fail(f"R{regno} variable offset stack access prohibited for !root, var_off={reg.b.var_off}")
    for addr in range(lo, hi):
        slot, k = frame.slot(addr)
        t = slot.types[k]
        if uninit_ok:
            if slot.is_spill and slot.spilled.type != SCALAR and not v.allow_ptr_leaks:
                raise fail(f"R{regno} leaks addr into helper")
            continue
        if t in (MISC, ZERO) or (t == INVALID and v.capable):
            continue
        if t == SPILL and (slot.spilled.type == SCALAR or v.allow_ptr_leaks):
            continue
        raise fail(f"invalid read from stack R{regno} off {lo}+{addr - lo} size {size}")
    if uninit_ok:
        for addr in range(lo, hi):
            slot, k = frame.slot(addr)
            if slot.is_spill:
                slot.forget_spill()
            slot.types[k] = MISC


def check_unpriv_ptr_arith(v, regno: int, reg: Reg) -> None:
    """sanitize_check_bounds(): unprivileged pointer arithmetic must stay inside its object."""
    if reg.type == STACK:
        if not reg.b.is_const:
            raise fail(f"R{regno} variable stack access prohibited for !root, var_off={reg.b.var_off} off={reg.off}")
        off = reg.off + s64(reg.b.value)
        if off >= 0 or off < -MAX_BPF_STACK:
            raise fail(f"R{regno} stack pointer arithmetic goes out of range, prohibited for !root, off={off}")
    elif reg.type == MAP_VALUE:
        b = reg.b
        if b.smin + reg.off < 0 or b.umax + reg.off + 1 > reg.map.value_size:  # a 1-byte access must fit
            raise fail(f"R{regno} pointer arithmetic of map value goes out of range, prohibited for !root")

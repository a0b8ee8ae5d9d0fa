"""Checking one instruction against the current state (the body of do_check()).

`step()` dispatches on the instruction class; each check either updates the
state or raises `VerifierError` with the kernel's message.  Memory checks
are in `memory.py`, calls and exits in `calls.py`.
"""

from __future__ import annotations

import errno

from ..helpers import helper_name
from ..isa.disasm import kernel_log_line
from ..isa.insn import Insn
from ..isa.opcodes import (ALU_OPS, BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_END, BPF_EXIT,
                           BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM,
                           BPF_MEMSX, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC,
                           BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, BPF_SIZE,
                           BPF_SRC, BPF_ST, BPF_STX, BPF_X, JMP_OPS, SIZE_BYTES)
from . import branches, memory, precision, sanitize, scalar_alu, tnum
from .bounds import S64_MIN
from .errors import VerifierError
from .program import LDDW, Slot
from .regs import (BTF_ID, BUF, CTX, FLOW_KEYS, FUNC, MAP_KEY, MAP_PTR, MAP_VALUE, MEM, NOT_INIT, PACKET,
                   PACKET_END, PACKET_META, SCALAR, STACK, TP_BUFFER, Reg)

ALU_NAME = {(op.code, op.off): op.name for op in ALU_OPS}
JMP_NAME = {op.code: op.name for op in JMP_OPS}
# The kernel's bpf_alu_string[], as its messages spell each operation.
ALU_STRING = {op.code: op.symbol for op in ALU_OPS if not op.off} | {BPF_NEG: "neg", BPF_END: "endian"}
# Pointer types that arithmetic may move (adjust_ptr_min_max_vals).
MOVABLE_POINTERS = (CTX, MAP_VALUE, MAP_KEY, STACK, PACKET_META, PACKET, TP_BUFFER, BTF_ID, MEM, BUF, FUNC)
BPF_MAX_VAR_OFF = 1 << 29


def fail(message: str, code: int = errno.EACCES) -> VerifierError:
    return VerifierError(message, None, code)


# -- registers ------------------------------------------------------------------------
def read_reg(v, regno: int) -> Reg:
    """check_reg_arg(SRC_OP)."""
    if regno > 10:
        raise fail(f"R{regno} is invalid", errno.EINVAL)
    reg = v.cur.regs[regno]
    if reg.type == NOT_INIT:
        raise fail(f"R{regno} !read_ok")
    return reg


def write_reg(v, regno: int) -> Reg:
    """check_reg_arg(DST_OP): the register about to be written."""
    if regno > 10:
        raise fail(f"R{regno} is invalid", errno.EINVAL)
    if regno == 10:
        raise fail("frame pointer is read only")
    return v.cur.regs[regno]


def is_pointer_value(v, reg: Reg) -> bool:
    return not v.allow_ptr_leaks and reg.is_pointer


# -- dispatch -------------------------------------------------------------------------
def step(v, pc: int, s: Slot) -> bool:
    """Check the instruction at pc and move on; True when the path has ended."""
    cls = s.cls
    if v.log.level:
        _log_insn(v, pc, s)
    if cls in (BPF_ALU, BPF_ALU64):
        check_alu(v, pc, s)
    elif cls == BPF_LDX:
        src = read_reg(v, s.src)
        write_reg(v, s.dst)
        _same_pointer_kind(v, pc, src)
        memory.check_mem_access(v, pc, s.src, s.off, SIZE_BYTES[BPF_SIZE(s.code)], memory.READ, s.dst,
                                sign_extend=BPF_MODE(s.code) == BPF_MEMSX)
    elif cls == BPF_STX:
        if BPF_MODE(s.code) == BPF_ATOMIC:
            memory.check_atomic(v, pc, s)
        else:
            if BPF_MODE(s.code) != BPF_MEM or s.imm:
                raise fail("BPF_STX uses reserved fields", errno.EINVAL)
            read_reg(v, s.src)
            dst = read_reg(v, s.dst)
            _same_pointer_kind(v, pc, dst)
            memory.check_mem_access(v, pc, s.dst, s.off, SIZE_BYTES[BPF_SIZE(s.code)], memory.WRITE, s.src)
    elif cls == BPF_ST:
        if BPF_MODE(s.code) != BPF_MEM or s.src:
            raise fail("BPF_ST uses reserved fields", errno.EINVAL)
        dst = read_reg(v, s.dst)
        if dst.type == CTX:
            raise fail(f"BPF_ST stores into R{s.dst} {dst.type_str()} is not allowed")
        _same_pointer_kind(v, pc, dst)
        memory.check_mem_access(v, pc, s.dst, s.off, SIZE_BYTES[BPF_SIZE(s.code)], memory.WRITE, -1, imm=s.imm)
    elif cls in (BPF_JMP, BPF_JMP32):
        return check_jmp(v, pc, s)
    elif cls == BPF_LD:
        mode = BPF_MODE(s.code)
        if mode in (BPF_ABS, BPF_IND):
            from .calls import check_ld_abs
            exited = check_ld_abs(v, pc, s)
            if exited is not None:
                return exited
        else:
            check_ld_imm(v, pc, s)
            v.pc = pc + 2
            return False
    else:
        raise fail(f"unknown insn class {cls}", errno.EINVAL)
    v.pc = pc + 1
    return False


def _log_insn(v, pc: int, s: Slot) -> None:
    v.log(f"{pc}: {insn_text(v, pc)}")


def insn_text(v, pc: int) -> str:
    """The instruction at pc as the kernel's log prints it ("(bf) r1 = r10")."""
    s = v.slots[pc]
    second = v.slots[pc + 1].imm if s.code == LDDW else None
    return kernel_log_line(Insn(s.code, s.dst & 0xF, s.src & 0xF, s.off, s.imm, second),
                           lambda i: helper_name(i) or "unknown")


def _same_pointer_kind(v, pc: int, reg: Reg) -> None:
    """save_aux_ptr_type(): one load or store may not serve ctx and other pointers."""
    is_ctx = reg.type == CTX
    seen = v.ctx_insns.get(pc)
    if seen is None:
        v.ctx_insns[pc] = is_ctx
    elif seen != is_ctx:
        raise fail("same insn cannot be used with different pointers", errno.EINVAL)


# -- ALU ------------------------------------------------------------------------------
def check_alu(v, pc: int, s: Slot) -> None:
    op = BPF_OP(s.code)
    is64 = s.cls == BPF_ALU64
    bits = 64 if is64 else 32
    if op in (BPF_NEG, BPF_END):
        if op == BPF_NEG:
            if BPF_SRC(s.code) != BPF_K or s.src or s.off or s.imm:
                raise fail("BPF_NEG uses reserved fields", errno.EINVAL)
        elif s.src or s.off or s.imm not in (16, 32, 64) or (is64 and BPF_SRC(s.code) != BPF_K):
            raise fail("BPF_END uses reserved fields", errno.EINVAL)
        dst = read_reg(v, s.dst)
        if is_pointer_value(v, dst):
            raise fail(f"R{s.dst} pointer arithmetic prohibited")
        write_reg(v, s.dst)
        if dst.type != SCALAR:
            dst.set_unknown()
        elif op == BPF_NEG:
            scalar_alu.alu("neg", dst.b, dst.b, bits)
            dst.id = 0
        else:
            _byte_swap(dst, s)
        return
    if op == BPF_MOV:
        _check_mov(v, s, is64)
        return
    if op not in ALU_STRING:
        raise fail(f"invalid BPF_ALU opcode {op:x}", errno.EINVAL)
    if BPF_SRC(s.code) == BPF_X:
        if s.imm or s.off not in (0, 1) or (s.off == 1 and op not in (0x30, 0x90)):
            raise fail("BPF_ALU uses reserved fields", errno.EINVAL)
        read_reg(v, s.src)
    elif s.src or s.off not in (0, 1) or (s.off == 1 and op not in (0x30, 0x90)):
        raise fail("BPF_ALU uses reserved fields", errno.EINVAL)
    read_reg(v, s.dst)
    if op in (0x30, 0x90) and BPF_SRC(s.code) == BPF_K and s.imm == 0:
        raise fail("div by zero", errno.EINVAL)
    if op in (0x60, 0x70, 0xC0) and BPF_SRC(s.code) == BPF_K and not 0 <= s.imm < bits:
        raise fail(f"invalid shift {s.imm}", errno.EINVAL)
    write_reg(v, s.dst)
    adjust_reg(v, s, op, bits)


def _byte_swap(dst: Reg, s: Slot) -> None:
    b = dst.b
    if b.is_const:
        value = b.value
        size = s.imm // 8
        if (s.code & 0x08) or s.cls == BPF_ALU64:  # to big endian or bswap: the host is little endian
            value = int.from_bytes((value & ((1 << s.imm) - 1)).to_bytes(size, "little"), "big")
        else:
            value &= (1 << s.imm) - 1
        dst.set_known(value)
        return
    if not (s.code & 0x08) and s.cls != BPF_ALU64:
        b.truncate(s.imm // 8)
    else:
        dst.set_unknown()
        if s.imm < 64:
            dst.b.truncate(s.imm // 8)
    dst.id = 0


def _check_mov(v, s: Slot, is64: bool) -> None:
    if BPF_SRC(s.code) == BPF_X:
        allowed = (0, 8, 16, 32) if is64 else (0, 8, 16)
        if s.off not in allowed or s.imm:
            raise fail("BPF_MOV uses reserved fields", errno.EINVAL)
        src = read_reg(v, s.src)
        dst = write_reg(v, s.dst)
        if is64:
            if s.off == 0:
                _assign_id_before_mov(v, src)
                dst.assign(src)
                return
            if is_pointer_value(v, src):
                raise fail(f"R{s.src} sign-extension part of pointer")
            if src.type != SCALAR:
                dst.set_unknown()
                return
            dst.assign(src)
            dst.id = 0
            dst.b.sext(s.off // 8)
            return
        if is_pointer_value(v, src):
            raise fail(f"R{s.src} partial copy of pointer")
        if src.type == SCALAR:
            dst.assign(src)
            dst.id = 0
        else:
            dst.set_unknown()
        if s.off:
            dst.b.sext(s.off // 8)
        dst.b.truncate(4)
        return
    if s.src or s.off:
        raise fail("BPF_MOV uses reserved fields", errno.EINVAL)
    dst = write_reg(v, s.dst)
    dst.set_known(s.imm if is64 else s.imm & 0xFFFFFFFF)


def _assign_id_before_mov(v, src: Reg) -> None:
    if src.type == SCALAR and not src.id and not src.b.is_const:
        src.id = v.new_id()


def adjust_reg(v, s: Slot, op: int, bits: int) -> None:
    """adjust_reg_min_max_vals(): scalar arithmetic, or pointer arithmetic by the kernel's rules."""
    regs = v.cur.regs
    dst = regs[s.dst]
    name = ALU_NAME.get((op, s.off)) or ALU_NAME[(op, 0)]
    if BPF_SRC(s.code) == BPF_X:
        src = regs[s.src]
        if src.type != SCALAR:
            if dst.type != SCALAR:
                if op == 0x10 and v.allow_ptr_leaks:
                    dst.set_unknown()
                    return
                raise fail(f"R{s.dst} pointer {ALU_STRING[op]} pointer prohibited")
            precision.mark_reg(v, s.dst)  # scalar += pointer: the scalar's bounds become the offset's
            return pointer_alu(v, s, op, bits, ptr=src, off_reg=dst, dst_is_scalar=True)
    else:
        src = Reg(SCALAR)
        src.b.set_const(s.imm if bits == 64 else s.imm & 0xFFFFFFFF)
    if dst.type != SCALAR:
        if BPF_SRC(s.code) == BPF_X:
            precision.mark_reg(v, s.src)
        return pointer_alu(v, s, op, bits, ptr=dst, off_reg=src, dst_is_scalar=False)
    if op in (0x00, 0x10) and not v.capable and BPF_SRC(s.code) == BPF_X:
        try:
            sanitize.scalar(v.alu_masks, v.pc)
        except sanitize.Refused as why:
            raise sanitize.error(why, op == 0x00, s.dst, s.src, off_is_dst=False)
    scalar_alu.alu(name, dst.b, src.b, bits)
    dst.id = 0


def pointer_alu(v, s: Slot, op: int, bits: int, *, ptr: Reg, off_reg: Reg, dst_is_scalar: bool) -> None:
    """adjust_ptr_min_max_vals()."""
    dst = v.cur.regs[s.dst]
    if bits == 32:
        if op == 0x10 and v.allow_ptr_leaks:
            dst.set_unknown()
            return
        raise fail(f"R{s.dst} 32-bit pointer arithmetic prohibited")
    if ptr.null:
        raise fail(f"R{s.dst} pointer arithmetic on {ptr.type_str()} prohibited, null-check it first")
    known = off_reg.b.is_const
    if ptr.type not in MOVABLE_POINTERS:
        if not (ptr.type == MAP_PTR and known and off_reg.b.smin == 0 and op == 0x00) and \
                not (ptr.type == FLOW_KEYS and known):
            raise fail(f"R{s.dst} pointer arithmetic on {ptr.type_str()} prohibited")
    _sane_offset(off_reg, ptr.type_str())
    _sane_offset(ptr, ptr.type_str())
    window = None
    masked = op in (0x00, 0x10) and not v.capable and BPF_SRC(s.code) == BPF_X
    if masked:
        try:
            window = sanitize.begin(op == 0x00, ptr, off_reg, ptr_is_dst=not dst_is_scalar)
        except sanitize.Refused as why:
            raise sanitize.error(why, op == 0x00, s.dst, s.src, off_is_dst=dst_is_scalar)
    result = ptr.copy()
    pb, ob = ptr.b, off_reg.b
    if op == 0x00:
        if known and -(1 << 31) <= ptr.off + ob.smin < (1 << 31):
            result.off = ptr.off + ob.smin
        else:
            result.b.var_off = tnum.add(pb.var_off, ob.var_off)
            _ptr_bounds(result, pb.smin + ob.smin, pb.smax + ob.smax, pb.umin + ob.umin, pb.umax + ob.umax)
            if ptr.is_pkt:
                result.id = v.new_id()
                result.range = 0
    elif op == 0x10:
        if dst_is_scalar:
            raise fail(f"R{s.dst} tried to subtract pointer from scalar")
        if ptr.type == STACK:
            raise fail(f"R{s.dst} subtraction from stack pointer prohibited")
        if known and -(1 << 31) <= ptr.off - ob.smin < (1 << 31):
            result.off = ptr.off - ob.smin
        else:
            result.b.var_off = tnum.sub(pb.var_off, ob.var_off)
            umin = pb.umin - ob.umax
            _ptr_bounds(result, pb.smin - ob.smax, pb.smax - ob.smin, umin if umin >= 0 else 0,
                        pb.umax - ob.umin if umin >= 0 else (1 << 64) - 1)
            if ptr.is_pkt:
                result.id = v.new_id()
                if ob.smin < 0:
                    result.range = 0
    elif op in (0x40, 0x50, 0xA0):
        raise fail(f"R{s.dst} bitwise operator {ALU_STRING[op]} on pointer prohibited")
    else:
        raise fail(f"R{s.dst} pointer arithmetic with {ALU_STRING[op]} operator prohibited")
    result.b.s32_min, result.b.s32_max, result.b.u32_min, result.b.u32_max = -(1 << 31), (1 << 31) - 1, 0, 0xFFFFFFFF
    result.b.sync()
    _sane_offset(result, ptr.type_str())
    if not v.allow_ptr_leaks:
        memory.check_unpriv_ptr_arith(v, s.dst, result)
    if window is not None:
        try:
            sanitize.commit(v.alu_masks, v.pc, window, result)
        except sanitize.Refused as why:
            raise sanitize.error(why, op == 0x00, s.dst, s.src, off_is_dst=dst_is_scalar)
    dst.assign(result)


def _ptr_bounds(reg: Reg, smin: int, smax: int, umin: int, umax: int) -> None:
    b = reg.b
    if smin < -(1 << 63) or smax >= (1 << 63):
        smin, smax = -(1 << 63), (1 << 63) - 1
    if umin < 0 or umax >= (1 << 64):
        umin, umax = 0, (1 << 64) - 1
    b.smin, b.smax, b.umin, b.umax = smin, smax, umin, umax


def _sane_offset(reg: Reg, type_name: str) -> None:
    """check_reg_sane_offset()."""
    b = reg.b
    if b.is_const:
        val = b.smin if b.smin == b.smax else b.value
        if val >= BPF_MAX_VAR_OFF or val <= -BPF_MAX_VAR_OFF:
            raise fail(f"math between {type_name} pointer and {val} is not allowed")
    if reg.off >= BPF_MAX_VAR_OFF or reg.off <= -BPF_MAX_VAR_OFF:
        raise fail(f"{type_name} pointer offset {reg.off} is not allowed")
    if b.smin == S64_MIN:
        raise fail(f"math between {type_name} pointer and register with unbounded min value is not allowed")
    if b.smin >= BPF_MAX_VAR_OFF or b.smin <= -BPF_MAX_VAR_OFF:
        raise fail(f"value {b.smin} makes {type_name} pointer be out of bounds")


# -- 64-bit immediates --------------------------------------------------------------
def check_ld_imm(v, pc: int, s: Slot) -> None:
    if BPF_SIZE(s.code) != 0x18:
        raise fail("invalid BPF_LD_IMM insn", errno.EINVAL)
    if s.off:
        raise fail("BPF_LD_IMM64 uses reserved fields", errno.EINVAL)
    dst = write_reg(v, s.dst)
    second = v.slots[pc + 1]
    if s.src == 0:
        dst.set_known((s.imm & 0xFFFFFFFF) | ((second.imm & 0xFFFFFFFF) << 32))
        return
    if s.src == BPF_PSEUDO_FUNC:
        target = pc + s.imm + 1
        dst.set_pointer(FUNC, subprog=v.subprog_of(target))
        return
    info = v.opts.maps[pc]
    if s.src in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
        dst.set_pointer(MAP_VALUE, map=info, off=second.imm & 0xFFFFFFFF)
    else:
        dst.set_pointer(MAP_PTR, map=info)


# -- jumps ----------------------------------------------------------------------------
def check_jmp(v, pc: int, s: Slot) -> bool:
    op = BPF_OP(s.code)
    is32 = s.cls == BPF_JMP32
    if op == BPF_CALL:
        if BPF_SRC(s.code) != BPF_K or (s.src != BPF_PSEUDO_KFUNC_CALL and s.off) or \
                s.src not in (0, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL) or s.dst or is32:
            raise fail("BPF_CALL uses reserved fields", errno.EINVAL)
        from .calls import check_call
        return check_call(v, pc, s)
    if op == BPF_JA:
        if BPF_SRC(s.code) != BPF_K or s.src or s.dst or (not is32 and s.imm) or (is32 and s.off):
            raise fail("BPF_JA uses reserved fields", errno.EINVAL)
        v.pc = pc + 1 + (s.imm if is32 else s.off)
        return False
    if op == BPF_EXIT:
        if BPF_SRC(s.code) != BPF_K or s.imm or s.src or s.dst or is32:
            raise fail("BPF_EXIT uses reserved fields", errno.EINVAL)
        from .calls import check_exit
        return check_exit(v, pc)
    if op == BPF_JCOND:
        if s.code != (BPF_JMP | BPF_JCOND) or s.src or s.dst or s.imm:
            raise fail(f"invalid may_goto imm {s.imm}", errno.EINVAL)
        # check_cond_jmp_op(): this path takes the jump (the count ran out); the loop body is explored
        # later, one may_goto deeper and widened against the previous iteration.
        body = v.cur.copy()
        body.may_goto_depth += 1
        prev = v.previous_iteration(pc)
        if prev is not None:
            from .state import widen_scalars
            widen_scalars(prev, body)
        v.push(body, pc + 1, pc)
        v.pc = pc + 1 + s.off
        return False
    if op not in JMP_NAME:
        raise fail(f"invalid BPF_JMP/JMP32 opcode {op:x}", errno.EINVAL)
    name = JMP_NAME[op]
    regs = v.cur.regs
    if BPF_SRC(s.code) == BPF_X:
        if s.imm:
            raise fail("BPF_JMP/JMP32 uses reserved fields", errno.EINVAL)
        src = read_reg(v, s.src)
        if is_pointer_value(v, src):
            raise fail(f"R{s.src} pointer comparison prohibited")
    else:
        if s.src:
            raise fail("BPF_JMP/JMP32 uses reserved fields", errno.EINVAL)
        src = Reg(SCALAR)
        src.b.set_const(s.imm)
    dst = read_reg(v, s.dst)
    bits = 32 if is32 else 64
    target = pc + 1 + s.off
    taken = _branch_taken(dst, src, name, bits)
    if taken in (0, 1):
        # The other edge is dead because of what the operands hold: their values matter (check_cond_jmp_op).
        for reg, regno in ((dst, s.dst), (src, s.src if BPF_SRC(s.code) == BPF_X else -1)):
            if reg.type == SCALAR:
                reg.decided = True
                if regno >= 0:
                    precision.mark_reg(v, regno)
    if taken == 1:
        v.pc = target
        return False
    if taken == 0:
        v.pc = pc + 1
        return False
    other = v.cur.copy()
    o_regs = other.regs
    o_dst = o_regs[s.dst]
    o_src = o_regs[s.src] if BPF_SRC(s.code) == BPF_X else src.copy()
    if (not is32 and BPF_SRC(s.code) == BPF_X and name in ("jeq", "jne") and dst.is_pointer and src.is_pointer
            and dst.null != src.null and BTF_ID not in (dst.type, src.type)):
        # `if (p_or_null == p)`: p_or_null is not NULL where they are equal (only that register).
        equal = other if name == "jeq" else v.cur
        _mark_not_null(equal.regs[s.src] if src.null else equal.regs[s.dst])
    if dst.type == SCALAR and src.type == SCALAR:
        v.linked_rec = _linked_regs(v.cur, dst, src if BPF_SRC(s.code) == BPF_X else None)
        this_src = src if BPF_SRC(s.code) == BPF_X else src.copy()
        branches.refine(o_dst.b, o_src.b, name, bits)
        branches.refine(dst.b, this_src.b, branches.NEGATE[name], bits)
        if not (o_dst.b.is_sane() and o_src.b.is_sane() and dst.b.is_sane() and this_src.b.is_sane()):
            # One edge is impossible for the values the operands hold: they decided it.
            precision.mark_reg(v, s.dst)
            if BPF_SRC(s.code) == BPF_X:
                precision.mark_reg(v, s.src)
        if not o_dst.b.is_sane() or not o_src.b.is_sane():
            v.pc = pc + 1
            _sync_linked(v.cur, dst, this_src if BPF_SRC(s.code) == BPF_X else None)
            return False
        if not dst.b.is_sane() or not this_src.b.is_sane():
            v.cur = other
            _sync_linked(other, o_dst, o_src if BPF_SRC(s.code) == BPF_X else None)
            v.pc = target
            return False
        _sync_linked(other, o_dst, o_src if BPF_SRC(s.code) == BPF_X else None)
        _sync_linked(v.cur, dst, this_src if BPF_SRC(s.code) == BPF_X else None)
    elif (not is32 and BPF_SRC(s.code) == BPF_K and s.imm == 0 and name in ("jeq", "jne") and dst.null):
        _mark_ptr_or_null(v, other, dst.id, is_null=name == "jeq")
        _mark_ptr_or_null(v, v.cur, dst.id, is_null=name == "jne")
    elif not is32 and _match_pkt_pointers(v, name, dst, regs[s.src] if BPF_SRC(s.code) == BPF_X else src,
                                          v.cur, other, s):
        pass
    elif is_pointer_value(v, dst):
        raise fail(f"R{s.dst} pointer comparison prohibited")
    v.push(other, target, pc)
    v.pc = pc + 1
    return False


def _branch_taken(dst: Reg, src: Reg, name: str, bits: int) -> int:
    if dst.type == SCALAR and src.type == SCALAR:
        return branches.branch_taken(dst.b, src.b, name, bits)
    if dst.is_pointer and src.is_pointer:
        return -1
    ptr, other = (dst, src) if dst.is_pointer else (src, dst)
    if other.type != SCALAR or not (other.b.is_const if bits == 64 else other.b.is_const32):
        return -1
    if not ptr.not_null() or (other.b.value & ((1 << bits) - 1)):
        return -1
    return {"jeq": 0, "jne": 1}.get(name, -1)


def _linked_regs(state, dst: Reg, src: Reg | None) -> tuple:
    """collect_linked_regs(): the scalars sharing an id with an operand, which the comparison refines
    together; precision backtracking marks them all when it needs one (`("r"|"s", frame, index)`)."""
    ids = {r.id for r in (dst, src) if r is not None and r.type == SCALAR and r.id}
    if not ids:
        return ()
    found = []
    for fi, frame in enumerate(state.frames):
        found += [("r", fi, i) for i, r in enumerate(frame.regs) if r.type == SCALAR and r.id in ids]
        found += [("s", fi, spi) for spi, slot in enumerate(frame.stack)
                  if slot.is_spilled_scalar and slot.spilled.id in ids]
    return tuple(found) if len(found) > 1 else ()


def _sync_linked(state, reg: Reg, src: Reg | None) -> None:
    """sync_linked_regs(): scalars that were copies share what a comparison learned."""
    for r in (reg, src):
        if r is None or r.type != SCALAR or not r.id:
            continue
        for other in state.all_regs():
            if other is not r and other.type == SCALAR and other.id == r.id:
                other.b.copy_from(r.b)


def _mark_not_null(reg: Reg) -> None:
    """mark_ptr_not_null_reg()."""
    if reg.type == MAP_VALUE and reg.map is not None and reg.map.inner is not None:
        reg.set_pointer(MAP_PTR, map=reg.map.inner)
    else:
        reg.null = False


def _mark_ptr_or_null(v, state, ptr_id: int, is_null: bool) -> None:
    """mark_ptr_or_null_regs(): after `if (p == NULL)`, every copy of p is NULL or valid."""
    if not ptr_id:
        return
    for reg in state.all_regs():
        if reg.null and reg.id == ptr_id:
            if is_null:
                reg.set_known(0)
            elif reg.type == MAP_VALUE and reg.map is not None and reg.map.inner is not None:
                reg.set_pointer(MAP_PTR, map=reg.map.inner)
            else:
                reg.null = False
                if not reg.ref_obj_id:
                    reg.id = 0
    if is_null:
        state.forget_reference(ptr_id)


def _match_pkt_pointers(v, name: str, dst: Reg, src: Reg, this, other, s: Slot) -> bool:
    """try_match_pkt_pointers(): `if (pkt + N > pkt_end)` proves N bytes of pkt readable on one edge."""
    def is_init_pkt(r: Reg, t: str) -> bool:
        return r.type == t and r.off == 0 and r.b.is_const and r.b.value == 0

    dst_first = (dst.type == PACKET and src.type == PACKET_END) or (dst.type == PACKET_META and is_init_pkt(src, PACKET))
    src_first = (dst.type == PACKET_END and src.type == PACKET) or (is_init_pkt(dst, PACKET) and src.type == PACKET_META)
    if not (dst_first or src_first) or name not in ("jgt", "jlt", "jge", "jle"):
        return False
    # Which edge proves the packet pointer is within the end, and whether strictly.
    # `v.cur` continues on the fall-through edge, `other` was pushed for the jump.
    proves = {
        ("jgt", True): (v.cur, False),   # pkt > end fails: pkt <= end
        ("jge", True): (v.cur, True),    # pkt >= end fails: pkt < end
        ("jlt", True): (other, True),    # pkt < end
        ("jle", True): (other, False),   # pkt <= end
        ("jgt", False): (other, True),   # end > pkt
        ("jge", False): (other, False),  # end >= pkt
        ("jlt", False): (v.cur, False),  # end < pkt fails: end >= pkt
        ("jle", False): (v.cur, True),   # end <= pkt fails: end > pkt
    }
    state, strict = proves[(name, dst_first)]
    _find_good_pkt_pointers(state, state.regs[s.dst if dst_first else s.src], strict)
    return True


def _find_good_pkt_pointers(state, reg: Reg, strict: bool) -> None:
    """Every copy of the compared packet pointer may read up to its offset (one more if strict)."""
    if reg.off < 0 or (reg.off == 0 and strict):
        return
    if reg.b.umax > 0xFFFF or reg.b.umax + reg.off > 0xFFFF:
        return
    new_range = reg.off + 1 if strict else reg.off
    for other in state.all_regs():
        if other.type == reg.type and other.id == reg.id:
            other.range = max(other.range, new_range)

"""Spectre v1 sanitation of unprivileged pointer arithmetic.

Without CAP_PERFMON the kernel masks every `ptr += reg` / `ptr -= reg` at run
time so that a mispredicted branch cannot move the pointer outside its object
(sanitize_ptr_alu(), retrieve_ptr_limit(), update_alu_sanitation_state() and
sanitize_err() in kernel/bpf/verifier.c).  The mask is one per instruction, so
every path through that instruction must agree on it; a pointer the kernel
cannot bound (anything but stack and map value) cannot be masked at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import VerifierError, reject
from .regs import MAP_VALUE, STACK, Reg

MAX_BPF_STACK = 512
ALU_SANITIZE_SRC, ALU_SANITIZE_DST, ALU_NEG_VALUE, ALU_IMMEDIATE = 1, 2, 4, 8
ALU_SANITIZE = ALU_SANITIZE_SRC | ALU_SANITIZE_DST
ALU_NON_POINTER = 16
WHY = "pointer arithmetic with it prohibited for !root"


class Refused(Exception):
    """One of the kernel's REASON_* codes; sanitize_err() words it."""


class Bounds(Refused): pass
class Type(Refused): pass
class Paths(Refused): pass
class Limit(Refused): pass


@dataclass
class Window:
    """bpf_sanitize_info: what the first look at the operands decided."""
    alu_state: int
    alu_limit: int
    mask_to_left: bool


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


def _ptr_limit(ptr: Reg, mask_to_left: bool) -> int:
    """retrieve_ptr_limit(): how far the pointer may move in the masked direction."""
    if ptr.type == STACK:
        limit, top = _u32(-(ptr.b.var_off.value + ptr.off)), MAX_BPF_STACK + mask_to_left
    elif ptr.type == MAP_VALUE:
        limit = _u32((ptr.b.smin if mask_to_left else ptr.b.umax) + ptr.off)
        top = ptr.map.value_size
    else:
        raise Type()
    if limit >= top:
        raise Limit()
    return limit


def _record(aux: dict, pc: int, alu_state: int, alu_limit: int) -> None:
    """update_alu_sanitation_state(): all paths through `pc` share one mask."""
    seen = aux.get(pc)
    if seen is not None and seen != (alu_state, alu_limit):
        raise Paths()
    aux[pc] = (alu_state, alu_limit)


def begin(op_is_add: bool, ptr: Reg, off_reg: Reg, ptr_is_dst: bool) -> Window:
    """sanitize_ptr_alu(commit_window=false), before the arithmetic."""
    off = off_reg.b
    off_is_imm = off.is_const
    off_is_neg = off.smin < 0
    if not off_is_imm and (off.smin < 0) != (off.smax < 0):
        raise Bounds()
    mask_to_left = (op_is_add and off_is_neg) or (not op_is_add and not off_is_neg)
    limit = _ptr_limit(ptr, mask_to_left)
    state = (ALU_NEG_VALUE if off_is_neg else 0) | (ALU_IMMEDIATE if off_is_imm else 0) | \
        (ALU_SANITIZE_SRC if ptr_is_dst else ALU_SANITIZE_DST)
    return Window(state | ALU_SANITIZE, limit, mask_to_left)


def commit(aux: dict, pc: int, window: Window, result: Reg) -> None:
    """sanitize_ptr_alu(commit_window=true): the mask narrowed to the move observed."""
    after = _ptr_limit(result, window.mask_to_left)
    moved = _u32(window.alu_limit - after)
    moved = abs(moved - (1 << 32) if moved >= 1 << 31 else moved)
    _record(aux, pc, window.alu_state, moved)


def scalar(aux: dict, pc: int) -> None:
    """sanitize_val_alu(): scalar arithmetic where another path moved a pointer cannot share its mask."""
    _record(aux, pc, ALU_NON_POINTER, 0)


def error(refused: Refused, op_is_add: bool, dst: int, src: int, off_is_dst: bool) -> VerifierError:
    """sanitize_err(): the kernel's words for each reason."""
    op = "add" if op_is_add else "sub"
    if isinstance(refused, Bounds):
        text = f"R{dst if off_is_dst else src} has unknown scalar with mixed signed bounds, {WHY}"
    elif isinstance(refused, Type):
        text = f"R{src if off_is_dst else dst} has pointer with unsupported alu operation, {WHY}"
    elif isinstance(refused, Paths):
        text = f"R{dst} tried to {op} from different maps, paths or scalars, {WHY}"
    else:
        text = f"R{dst} tried to {op} beyond pointer bounds, {WHY}"
    return reject(text)

"""The program as the verifier sees it, and the checks made before any path is walked.

Instructions are raw 8-byte slots (a lddw is two), as in the kernel, so
that bad encodings are reported in the kernel's words.  The passes here
follow bpf_check(): subprogram discovery and jump ranges (check_subprogs),
opcode and lddw validity (resolve_pseudo_ldimm64), then the control flow
graph (check_cfg): every instruction reachable, no jump into a lddw, back
edges only for privileged programs.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field

from ..isa.opcodes import (BPF_ABS, BPF_CALL, BPF_CLASS, BPF_EXIT, BPF_IND, BPF_JA, BPF_JCOND,
                           BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MODE, BPF_OP,
                           BPF_PSEUDO_BTF_ID, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL,
                           BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
                           BPF_PSEUDO_MAP_VALUE, BY_CODE)
from ..uapi import AttachType, ProgType
from .errors import VerifierError

LDDW = 0x18
# The kernel's opcode table (bpf_opcode_in_insntable): ours without callx.
KERNEL_OPCODES = frozenset(code for code in BY_CODE if code != (BPF_JMP | BPF_CALL | 0x08))
_SLOT = struct.Struct("<BBhi")


@dataclass(frozen=True, slots=True)
class Slot:
    """One 8-byte instruction slot, fields as the kernel reads them."""

    code: int
    dst: int
    src: int
    off: int
    imm: int
    cls: int = field(init=False, compare=False, repr=False)  # BPF_CLASS(code), read for every insn walked

    def __post_init__(self) -> None:
        object.__setattr__(self, "cls", BPF_CLASS(self.code))


@dataclass
class Subprog:
    start: int
    end: int = 0
    stack_depth: int = 0
    has_tail_call: bool = False
    has_ld_abs: bool = False
    linkage: int = 0  # from the program's BTF: 0 static, 1 global
    callees: list[int] = field(default_factory=list)  # subprograms its text calls, dead code included


def slots_of(program) -> list[Slot]:
    """Raw slots from bytes or from a list of `Insn` (a lddw gives two slots)."""
    if isinstance(program, (bytes, bytearray, memoryview)):
        data = bytes(program)
        if len(data) % 8:
            raise VerifierError(f"program size {len(data)} is not a multiple of 8", None, errno.EINVAL)
        out = []
        for i in range(0, len(data), 8):
            code, regs, off, imm = _SLOT.unpack_from(data, i)
            out.append(Slot(code, regs & 0xF, regs >> 4, off, imm))
        return out
    out = []
    for insn in program:
        out.append(Slot(insn.code, insn.dst, insn.src, insn.off, insn.imm))
        if insn.code == LDDW:
            out.append(Slot(0, 0, 0, 0, insn.imm2 or 0))
    return out


def jump_target(pc: int, s: Slot) -> int:
    return pc + 1 + (s.imm if s.code == (BPF_JMP32 | BPF_JA) else s.off)


def is_pseudo_call(s: Slot) -> bool:
    """A bpf-to-bpf call."""
    return s.code == (BPF_JMP | BPF_CALL) and s.src == BPF_PSEUDO_CALL


def calls_subprog(s: Slot) -> bool:
    """A bpf-to-bpf call, or a lddw of a subprogram's address (a callback)."""
    return is_pseudo_call(s) or (s.code == LDDW and s.src == BPF_PSEUDO_FUNC)


def is_jump(s: Slot) -> bool:
    return s.cls in (BPF_JMP, BPF_JMP32) and BPF_OP(s.code) not in (BPF_CALL, BPF_EXIT)


def find_subprogs(slots: list[Slot], capable: bool) -> list[Subprog]:
    """add_subprog_and_kfunc() and check_subprogs()."""
    starts = {0}
    n = len(slots)
    for pc, s in enumerate(slots):
        if s.code == (BPF_JMP | BPF_CALL) and s.src == BPF_PSEUDO_KFUNC_CALL and not capable:
            raise VerifierError("loading/calling other bpf or kernel functions are allowed for CAP_BPF and "
                                "CAP_SYS_ADMIN", pc, errno.EPERM)
        if calls_subprog(s):
            if not capable:
                raise VerifierError("loading/calling other bpf or kernel functions are allowed for CAP_BPF and "
                                    "CAP_SYS_ADMIN", pc, errno.EPERM)
            target = pc + s.imm + 1
            if not 0 <= target < n:
                raise VerifierError("call to invalid destination", pc, errno.EINVAL)
            starts.add(target)
    subprogs = [Subprog(start) for start in sorted(starts)]
    for i, sp in enumerate(subprogs):
        sp.end = subprogs[i + 1].start if i + 1 < len(subprogs) else n
    index = {sp.start: i for i, sp in enumerate(subprogs)}
    for sp in subprogs:
        for pc in range(sp.start, sp.end):
            s = slots[pc]
            if is_pseudo_call(s):
                sp.callees.append(index[pc + s.imm + 1])
            if s.code == (BPF_JMP | BPF_CALL) and s.src == 0 and s.imm == 12:
                sp.has_tail_call = True
            if s.cls == BPF_LD and BPF_MODE(s.code) in (BPF_ABS, BPF_IND):
                sp.has_ld_abs = True
            if is_jump(s):
                target = jump_target(pc, s)
                if not sp.start <= target < sp.end:
                    raise VerifierError(f"jump out of range from insn {pc} to {target}", pc, errno.EINVAL)
            if pc == sp.end - 1 and s.code not in (BPF_JMP | BPF_EXIT, BPF_JMP32 | BPF_JA, BPF_JMP | BPF_JA):
                raise VerifierError("last insn is not an exit or jmp", pc, errno.EINVAL)
    return subprogs


def can_be_sleepable(prog_type: int, attach: int) -> bool:
    """can_be_sleepable(): fentry/fexit/fmod_ret/iter tracing, LSM, uprobes and struct_ops (and syscall
    programs, which check_attach_btf_id() wants sleepable)."""
    if prog_type == ProgType.BPF_PROG_TYPE_SYSCALL:
        return True
    if prog_type == ProgType.BPF_PROG_TYPE_TRACING:
        return attach in (AttachType.BPF_TRACE_FENTRY, AttachType.BPF_TRACE_FEXIT, AttachType.BPF_MODIFY_RETURN,
                          AttachType.BPF_TRACE_ITER)
    return prog_type in (ProgType.BPF_PROG_TYPE_LSM, ProgType.BPF_PROG_TYPE_KPROBE, ProgType.BPF_PROG_TYPE_STRUCT_OPS)


def check_btf_func(subprogs: list[Subprog], btf, func_info) -> None:
    """check_btf_func(): one FUNC per subprogram, at its first instruction; a subprogram with LD_ABS or a
    tail call must return a scalar (an int or an enum), since either may leave it early with r0 = 0."""
    if len(func_info) != len(subprogs):
        raise VerifierError("number of funcs in func_info doesn't match number of subprogs", None, errno.EINVAL)
    for i, ((insn, type_id), sp) in enumerate(zip(func_info, subprogs)):
        if sp.start != insn:
            raise VerifierError("func_info BTF section doesn't match subprog layout in BPF program", None,
                                errno.EINVAL)
        func = btf[type_id] if 0 < type_id <= len(btf) else None
        if func is None or func.kind != "FUNC" or btf[func.type].kind != "FUNC_PROTO":
            raise VerifierError(f"invalid type id {type_id} in func info", None, errno.EINVAL)
        sp.linkage = func.linkage
        ret = btf.resolve(btf[func.type].type) if btf[func.type].type else None
        scalar = ret is not None and ((ret.kind == "INT" and ret.size_or_type <= 8) or ret.kind in ("ENUM", "ENUM64"))
        if i and not scalar and sp.has_ld_abs:
            raise VerifierError("LD_ABS is only allowed in functions that return 'int'.", None, errno.EINVAL)
        if i and not scalar and sp.has_tail_call:
            raise VerifierError("tail_call is only allowed in functions that return 'int'.", None, errno.EINVAL)


def check_encodings(slots: list[Slot], maps: dict, map_fd_ok) -> None:
    """resolve_pseudo_ldimm64(): reserved LDX fields, lddw shape and sources, known opcodes."""
    n = len(slots)
    pc = 0
    while pc < n:
        s = slots[pc]
        if s.cls == BPF_LDX and (BPF_MODE(s.code) not in (BPF_MEM, BPF_MEMSX) or s.imm):
            raise VerifierError("BPF_LDX uses reserved fields", pc, errno.EINVAL)
        if s.code == LDDW:
            second = slots[pc + 1] if pc + 1 < n else None
            if second is None or second.code or second.dst or second.src or second.off:
                raise VerifierError("invalid bpf_ld_imm64 insn", pc, errno.EINVAL)
            if s.src in (0, BPF_PSEUDO_FUNC, BPF_PSEUDO_BTF_ID):
                if s.src == BPF_PSEUDO_BTF_ID:
                    raise VerifierError("kernel variables (BPF_PSEUDO_BTF_ID) need the kernel's BTF", pc,
                                        errno.EINVAL)
                pc += 2
                continue
            if s.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX) and second.imm:
                raise VerifierError("unrecognized bpf_ld_imm64 insn", pc, errno.EINVAL)
            if s.src not in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
                raise VerifierError("unrecognized bpf_ld_imm64 insn", pc, errno.EINVAL)
            map_fd_ok(pc, s, second)
            pc += 2
            continue
        if s.code not in KERNEL_OPCODES:
            raise VerifierError(f"unknown opcode {s.code:02x}", pc, errno.EINVAL)
        pc += 1


def check_cfg(slots: list[Slot], capable: bool) -> set[int]:
    """Depth-first walk of the control flow graph; returns the prune points (jump targets)."""
    n = len(slots)
    DISCOVERED, EXPLORED = 1, 2
    state = [0] * n
    prune = set()
    stack = [0]
    state[0] = DISCOVERED
    edges: dict[int, list[int]] = {}

    def successors(pc: int) -> list[int]:
        s = slots[pc]
        if s.code == LDDW:
            return [pc + 2]
        if s.cls not in (BPF_JMP, BPF_JMP32):
            return [pc + 1]
        op = BPF_OP(s.code)
        if op == BPF_EXIT:
            return []
        if op == BPF_CALL:
            if s.src == BPF_PSEUDO_CALL:
                prune.add(pc + 1)
            return [pc + 1]
        if op == BPF_JA:
            target = jump_target(pc, s)
            prune.add(target)
            return [target]
        if op == BPF_JCOND:  # may_goto: its own checkpoint, where loop iterations meet
            prune.add(pc)
        target = jump_target(pc, s)
        prune.update((pc + 1, target))
        return [pc + 1, target]

    while stack:
        pc = stack[-1]
        if pc not in edges:
            edges[pc] = successors(pc)
            s = slots[pc]
            if calls_subprog(s):
                edges[pc].append(pc + s.imm + 1)
        pending = edges[pc]
        while pending:
            w = pending.pop(0)
            if not 0 <= w < n:
                raise VerifierError(f"jump out of range from insn {pc} to {w}", pc, errno.EINVAL)
            if state[w] == 0:
                state[w] = DISCOVERED
                stack.append(w)
                break
            if state[w] == DISCOVERED:
                if not capable:
                    raise VerifierError(f"back-edge from insn {pc} to {w}", pc, errno.EINVAL)
                prune.add(w)
        else:
            state[pc] = EXPLORED
            stack.pop()
    pc = 0
    while pc < n:
        if state[pc] != EXPLORED:
            raise VerifierError(f"unreachable insn {pc}", pc, errno.EINVAL)
        if slots[pc].code == LDDW:
            if pc + 1 < n and state[pc + 1]:
                raise VerifierError(f"jump into the middle of ldimm64 insn {pc}", pc, errno.EINVAL)
            pc += 2
            continue
        pc += 1
    return prune

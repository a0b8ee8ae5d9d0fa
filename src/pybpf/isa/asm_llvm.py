"""The C-like assembly syntax of LLVM and of the kernel's verifier log.

Reads what `disasm` writes in the "llvm" and "kernel" syntaxes, plus the
usual variations (`pc+3` or `+3` targets, `(r10 - 8)` or `(r10 -8)`,
labels as targets, `w` or `r` registers in 32-bit atomics).  Each statement
form is one row of `_FORMS`: a regular expression and the function that
builds the instruction from its groups.
"""

from __future__ import annotations

import re
from typing import Callable

from .asm_text import Line, Pending, imm32, imm64, off16
from .insn import Insn, s32
from .opcodes import (ALU_OPS, ATOMIC_OPS, BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_K, BPF_X, JMP_OPS,
                      LDDW_KIND_BY_OP, MAX_REG, SPECS)

_SIZE = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "s8": 8, "s16": 16, "s32": 32}
_R = r"([rw]\d+)"
_NUM = r"([+-]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|\d+))"
_TARGET = r"(?:pc)?([+-]\d+|[A-Za-z_.$][\w.$]*)"
_MEMREF = r"\(\s*r(\d+)\s*([+-])\s*(\w+)\s*\)"
_SZ = r"\(\s*([us]\d+)\s*\*\s*\)"

_ALU_BY_SYMBOL = {op.symbol: op for op in ALU_OPS}
_JMP_BY_SYMBOL = {op.symbol: op for op in JMP_OPS}
_ATOMIC_BY_SYMBOL = {"+=": "add", "|=": "or", "&=": "and", "^=": "xor"}
_ATOMIC_IMM = {op: value for value, op, _ in ATOMIC_OPS}


def _spec_code(kind: str, op: str, width: int) -> tuple[int, dict[str, int]]:
    for spec in SPECS:
        if spec.kind == kind and spec.op == op and spec.width == width:
            return spec.code, dict(spec.fixed)
    raise KeyError((kind, op, width))


def _reg(token: str, line: Line) -> tuple[int, int]:
    """(number, width) of an r/w register."""
    n = int(token[1:])
    if n > MAX_REG:
        raise line.error(f"invalid register '{token}'", token)
    return n, 32 if token[0] == "w" else 64


def _off(sign: str, value: str, line: Line) -> int:
    return off16(sign + value, line)


def _target(token: str, line: Line, insn: Insn, field: str = "off") -> Pending:
    if token[0] in "+-":
        value = off16(token, line) if field == "off" else imm32(token, line)
        return Pending(insn.replace(**{field: value}), line)
    return Pending(insn, line, token, field)


def _alu(m: re.Match, line: Line) -> Pending:
    (dst, width), sym, rhs = _reg(m[1], line), m[2], m[3]
    alu = _ALU_BY_SYMBOL.get(sym)
    if alu is None:
        raise line.error(f"unknown operator '{sym}'", sym)
    cls = BPF_ALU64 if width == 64 else BPF_ALU
    if rhs[0] in "rw" and rhs[1:].isdigit():
        src, src_width = _reg(rhs, line)
        if src_width != width:
            raise line.error("mixed r and w registers", rhs)
        return Pending(Insn(cls | alu.code | BPF_X, dst, src, alu.off, 0), line)
    return Pending(Insn(cls | alu.code | BPF_K, dst, 0, alu.off, imm32(rhs, line)), line)


def _neg(m, line):
    dst, width = _reg(m[1], line)
    return Pending(Insn((BPF_ALU64 if width == 64 else BPF_ALU) | 0x80, dst), line)


def _movsx(m, line):
    (dst, width), bits, (src, _) = _reg(m[1], line), int(m[2]), _reg(m[3], line)
    return Pending(Insn((BPF_ALU64 if width == 64 else BPF_ALU) | 0xB0 | BPF_X, dst, src, bits), line)


def _end(m, line):
    dst, _ = _reg(m[1], line)
    code, _fixed = _spec_code("end", m[2], int(m[3]))
    return Pending(Insn(code, dst, 0, 0, int(m[3])), line)


def _ldx(m, line):
    dst, _ = _reg(m[1], line)
    kind = "ldxs" if m[2][0] == "s" else "ldx"
    code, _ = _spec_code(kind, kind, _SIZE[m[2]])
    return Pending(Insn(code, dst, int(m[3]), _off(m[4], m[5], line)), line)


def _store(m, line):
    width, dst, off, rhs = _SIZE[m[1]], int(m[2]), _off(m[3], m[4], line), m[5]
    if rhs[0] in "rw" and rhs[1:].isdigit():
        code, _ = _spec_code("stx", "stx", width)
        return Pending(Insn(code, dst, _reg(rhs, line)[0], off), line)
    code, _ = _spec_code("st", "st", width)
    return Pending(Insn(code, dst, 0, off, imm32(rhs, line)), line)


def _lock(m, line):
    width, dst, off = _SIZE[m[1]], int(m[2]), _off(m[3], m[4], line)
    op = _ATOMIC_BY_SYMBOL.get(m[5])
    if op is None:
        raise line.error(f"unknown atomic operator '{m[5]}'", m[5])
    code, _ = _spec_code("atomic", op, width)
    return Pending(Insn(code, dst, _reg(m[6], line)[0], off, _ATOMIC_IMM[op]), line)


def _fetch(m, line):
    op = "fetch_" + m[3]
    width, dst, off, src = _SIZE[m[4]], int(m[5]), _off(m[6], m[7], line), _reg(m[8], line)[0]
    code, _ = _spec_code("atomic", op, width)
    return Pending(Insn(code, dst, src, off, _ATOMIC_IMM[op]), line)


def _xchg(m, line):
    width = 64 if m[2] in ("xchg_64", "atomic64_xchg") else 32
    dst, off, src = int(m[3]), _off(m[4], m[5], line), _reg(m[6], line)[0]
    code, _ = _spec_code("atomic", "xchg", width)
    return Pending(Insn(code, dst, src, off, _ATOMIC_IMM["xchg"]), line)


def _cmpxchg(m, line):
    width = 64 if m[2] in ("cmpxchg_64", "atomic64_cmpxchg") else 32
    dst, off, src = int(m[3]), _off(m[4], m[5], line), _reg(m[7], line)[0]
    code, _ = _spec_code("atomic", "cmpxchg", width)
    return Pending(Insn(code, dst, src, off, _ATOMIC_IMM["cmpxchg"]), line)


def _load_acq(m, line):
    code, fixed = _spec_code("load_acq", "load_acq", _SIZE[m[2]])
    return Pending(Insn(code, _reg(m[1], line)[0], int(m[3]), _off(m[4], m[5], line), fixed["imm"]), line)


def _store_rel(m, line):
    code, fixed = _spec_code("store_rel", "store_rel", _SIZE[m[1]])
    return Pending(Insn(code, int(m[2]), _reg(m[5], line)[0], _off(m[3], m[4], line), fixed["imm"]), line)


def _lddw(m, line):
    dst, _ = _reg(m[1], line)
    value = imm64(m[2], line)
    return Pending(Insn(0x18, dst, 0, 0, s32(value), s32(value >> 32)), line)


def _lddw_map(m, line):
    dst, _ = _reg(m[1], line)
    kind = {"fd": "map_fd", "idx": "map_idx"}[m[2]]
    if m[4] is not None:
        kind = kind.replace("map_fd", "map_value").replace("map_idx", "map_idx_value")
    imm2 = imm32(m[4], line) if m[4] is not None else 0
    return Pending(Insn(0x18, dst, LDDW_KIND_BY_OP[kind], 0, imm32(m[3], line), imm2), line)


def _lddw_btf(m, line):
    dst, _ = _reg(m[1], line)
    imm2 = imm32(m[3], line) if m[3] is not None else 0
    return Pending(Insn(0x18, dst, LDDW_KIND_BY_OP["btf_id"], 0, imm32(m[2], line), imm2), line)


def _lddw_func(m, line):
    dst, _ = _reg(m[1], line)
    return _target(m[2], line, Insn(0x18, dst, LDDW_KIND_BY_OP["func"], 0, 0, 0), "imm")


def _ldabs(m, line):
    code, _ = _spec_code("ldabs", "ldabs", _SIZE[m[1]])
    return Pending(Insn(code, 0, 0, 0, imm32(m[2], line)), line)


def _ldind(m, line):
    code, _ = _spec_code("ldind", "ldind", _SIZE[m[1]])
    return Pending(Insn(code, 0, int(m[2]), 0, imm32(m[3] or "0", line)), line)


def _jcond(m, line):
    (dst, width), sym, rhs = _reg(m[1], line), m[2], m[3]
    j = _JMP_BY_SYMBOL.get(sym)
    if j is None:
        raise line.error(f"unknown comparison '{sym}'", sym)
    cls = BPF_JMP if width == 64 else BPF_JMP32
    if rhs[0] in "rw" and rhs[1:].isdigit():
        insn = Insn(cls | j.code | BPF_X, dst, _reg(rhs, line)[0])
    else:
        insn = Insn(cls | j.code | BPF_K, dst, 0, 0, imm32(rhs, line))
    return _target(m[4], line, insn)


def _goto(m, line):
    if m[1] == "gotol":
        return _target(m[2], line, Insn(BPF_JMP32), "imm")
    if m[1] == "may_goto":
        return _target(m[2], line, Insn(BPF_JMP | 0xE0))
    return _target(m[2], line, Insn(BPF_JMP))


def _call(m, line):
    target = m[1]
    if target.startswith("pc"):
        return _target(target[2:], line, Insn(0x85, 0, 1), "imm")
    if re.fullmatch(r"[+-]?\d+|0x[0-9a-fA-F]+", target):
        return Pending(Insn(0x85, 0, 0, 0, imm32(target, line)), line)
    if "#" in target:
        name, _, number = target.partition("#")
        src = 2 if name in ("kfunc", "kernel-function") else 0
        off = off16(m[2], line) if m[2] else 0
        return Pending(Insn(0x85, 0, src, off, imm32(number, line)), line)
    return Pending(Insn(0x85, 0, 1), line, target, "imm", call=True)


def _callx(m, line):
    return Pending(Insn(0x8D, _reg(m[1], line)[0]), line)


_FORMS: list[tuple[re.Pattern, Callable[[re.Match, Line], Pending]]] = [
    (r"exit", lambda m, line: Pending(Insn(0x95), line)),
    (rf"(goto|gotol|may_goto)\s+{_TARGET}", _goto),
    (rf"callx\s+{_R}", _callx),
    (rf"call\s+([\w.$#+-]+)(?:\s*,\s*{_NUM})?", _call),
    (rf"if\s+{_R}\s*(s?[<>]=?|==|!=|&)\s*([rw]\d+|{_NUM[1:-1]})\s+goto\s+{_TARGET}", _jcond),
    (rf"lock\s+\*{_SZ}{_MEMREF}\s*(\+=|\|=|&=|\^=)\s*{_R}", _lock),
    (rf"{_R}\s*=\s*atomic(64)?_fetch_(add|or|and|xor)\(\s*{_SZ}\s*{_MEMREF}\s*,\s*{_R}\s*\)", _fetch),
    (rf"{_R}\s*=\s*(xchg_64|xchg32_32)\(\s*r(\d+)\s*([+-])\s*(\w+)\s*,\s*{_R}\s*\)", _xchg),
    (rf"{_R}\s*=\s*(atomic64_xchg|atomic_xchg)\(\s*\(\s*u\d+\s*\*\s*\)\s*\(\s*r(\d+)\s*([+-])\s*(\w+)\s*\)\s*,\s*{_R}\s*\)",
     _xchg),
    (rf"{_R}\s*=\s*(cmpxchg_64|cmpxchg32_32)\(\s*r(\d+)\s*([+-])\s*(\w+)\s*,\s*{_R}\s*,\s*{_R}\s*\)", _cmpxchg),
    (rf"{_R}\s*=\s*(atomic64_cmpxchg|atomic_cmpxchg)\(\s*\(\s*u\d+\s*\*\s*\)\s*\(\s*r(\d+)\s*([+-])\s*(\w+)\s*\)"
     rf"\s*,\s*{_R}\s*,\s*{_R}\s*\)", _cmpxchg),
    (rf"{_R}\s*=\s*load_acquire\(\s*{_SZ}\s*{_MEMREF}\s*\)", _load_acq),
    (rf"store_release\(\s*{_SZ}\s*{_MEMREF}\s*,\s*{_R}\s*\)", _store_rel),
    (rf"\*{_SZ}\s*{_MEMREF}\s*=\s*([rw]\d+|{_NUM[1:-1]})", _store),
    (rf"r0\s*=\s*\*{_SZ}\s*skb\[\s*{_NUM}\s*\]", _ldabs),
    (rf"r0\s*=\s*\*{_SZ}\s*skb\[\s*r(\d+)\s*(?:\+\s*{_NUM})?\s*\]", _ldind),
    (rf"{_R}\s*=\s*\*{_SZ}\s*{_MEMREF}", _ldx),
    (rf"{_R}\s*=\s*map\[(fd|idx):{_NUM}\](?:\[0\]\+{_NUM})?(?:\s+ll)?", _lddw_map),
    (rf"{_R}\s*=\s*btf_id\(\s*{_NUM}\s*(?:,\s*{_NUM}\s*)?\)(?:\s+ll)?", _lddw_btf),
    (rf"{_R}\s*=\s*func\(\s*{_TARGET}\s*\)(?:\s+ll)?", _lddw_func),
    (rf"{_R}\s*=\s*{_NUM}\s+ll", _lddw),
    (rf"{_R}\s*=\s*-\s*{_R}", lambda m, line: _neg(m, line)),
    (rf"{_R}\s*=\s*\(s(8|16|32)\)\s*{_R}", _movsx),
    (rf"{_R}\s*=\s*(be|le|bswap)(16|32|64)\s+[rw]\d+", _end),
    (rf"{_R}\s*(s/=|s%=|s>>=|<<=|>>=|[-+*/|&%^]?=)\s*([rw]\d+|{_NUM[1:-1]})", _alu),
]
_FORMS = [(re.compile(pattern + r"$"), build) for pattern, build in _FORMS]
_KERNEL_LDDW = re.compile(rf"{_R}\s*=\s*(0x[0-9a-fA-F]+)$")


def parse_line(line: Line, kernel: bool = False) -> Pending | None:
    """One statement in LLVM (or, with kernel=True, verifier-log) syntax."""
    text = re.sub(r"^\(\w\w\)\s+", "", line.code) if kernel else line.code
    if not text:
        return None
    if kernel:
        m = _KERNEL_LDDW.match(text)
        if m:  # the log prints a 64-bit immediate load as `r1 = 0x...`, a mov in decimal
            return _lddw(m, line)
    for pattern, build in _FORMS:
        m = pattern.match(text)
        if m:
            return build(m, line)
    raise line.error(f"cannot parse '{text}'", text.split()[0] if text.split() else None)

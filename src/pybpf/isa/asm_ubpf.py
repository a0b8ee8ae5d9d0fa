"""The ubpf / bpf_conformance assembly syntax: `ldxw %r0, [%r1+2]`.

Mnemonics are the `name` column of the opcode table; a mnemonic names a
family of variants (register or immediate source) and the operands pick one.
Rules follow bpf_conformance's assembler: the first `exit` defines an
implicit label `exit`; `call N` is a helper call, `call local L` a local call,
`call runtime N` a kfunc call and `call %rN` a callx; `lock [fetch] op[32]`
spells the atomics; `add64`/`jeq64` are accepted for `add`/`jeq`, `swapN` for
`bswapN`.  Pseudo 64-bit loads read `lddw %r1, map_fd(5)`,
`map_value(5, 8)`, `map_idx(3)`, `map_idx_value(3, 8)`, `btf_id(7, 0)`,
`func(+5)` (or `func(label)`).
"""

from __future__ import annotations

import re

from .asm_text import Line, Pending, imm32, imm64, off16
from .insn import Insn, s32
from .opcodes import LDDW_KIND_BY_OP, MAX_REG, SPECS, Spec

_BY_NAME: dict[str, list[Spec]] = {}
for _s in SPECS:
    _BY_NAME.setdefault(_s.name, []).append(_s)
del _s

_REG = re.compile(r"%r(\d+)$")
_MEM = re.compile(r"\[\s*(%r\d+)\s*(?:([+-])\s*(\w+))?\s*\]$")
_PSEUDO = re.compile(r"(\w+)\(\s*([^,)]+?)\s*(?:,\s*([^)]+?)\s*)?\)$")


def _split_operands(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _reg(token: str, line: Line) -> int:
    m = _REG.match(token)
    if not m or int(m.group(1)) > MAX_REG:
        raise line.error(f"invalid register '{token}'", token)
    return int(m.group(1))


def _mem(token: str, line: Line) -> tuple[int, int]:
    m = _MEM.match(token)
    if not m:
        raise line.error(f"expected a memory operand like [%r1+8], got '{token}'", token)
    off = 0
    if m.group(2):
        off = off16(m.group(2) + m.group(3), line)
    return _reg(m.group(1), line), off


def _target(token: str, line: Line, field: str, insn: Insn) -> Pending:
    if token[:1] in "+-" or token.isdigit():
        value = off16(token, line) if field == "off" else imm32(token, line)
        return Pending(insn.replace(**{field: value}), line)
    if not re.fullmatch(r"[A-Za-z_.$][\w.$]*", token):
        raise line.error(f"invalid jump target '{token}'", token)
    return Pending(insn, line, token, field)


def _pick(specs: list[Spec], src_is_reg: bool | None) -> Spec:
    if len(specs) == 1 or src_is_reg is None:
        return specs[0]
    for spec in specs:
        if ("src" in spec.operands) == src_is_reg:
            return spec
    return specs[0]


def _lock_name(words: list[str], line: Line) -> str:
    # lock [fetch] op[32]: the table names these "lock add", "lock fetch add32"...
    name = "lock " + " ".join(words)
    if name not in _BY_NAME:
        raise line.error(f"unknown atomic operation '{' '.join(words)}'", words[-1] if words else None)
    return name


def parse_line(line: Line) -> Pending | None:
    """One source line in ubpf syntax, or None for a blank line."""
    text = line.code
    if not text:
        return None
    mnemonic, _, rest = text.partition(" ")
    operands = _split_operands(rest)
    if mnemonic == "lock":
        words = rest.split("[", 1)[0].split()
        if not words or len(operands) != 2:
            raise line.error("Invalid number of operands for lock", "lock")
        mnemonic = _lock_name(words, line)
        operands = _split_operands(rest[rest.index("["):])
    elif mnemonic == "call":
        return _call(operands, line)
    elif mnemonic.startswith("swap"):
        mnemonic = "b" + mnemonic
    elif mnemonic not in _BY_NAME and mnemonic.endswith("64") and mnemonic[:-2] in _BY_NAME:
        mnemonic = mnemonic[:-2]
    specs = _BY_NAME.get(mnemonic)
    if specs is None:
        raise line.error(f"unknown mnemonic '{mnemonic}'", mnemonic)
    return _operands(specs, operands, line, mnemonic)


_ARITY = {"alu": 2, "movsx": 2, "neg": 1, "end": 1, "ldx": 2, "ldxs": 2, "load_acq": 2, "st": 2,
          "stx": 2, "atomic": 2, "store_rel": 2, "lddw": 2, "ldabs": 1, "ldind": 2, "ja": 1,
          "jcond": 3, "exit": 0, "may_goto": 1}


def _operands(specs: list[Spec], ops: list[str], line: Line, mnemonic: str) -> Pending:
    kind = specs[0].kind
    if len(ops) != _ARITY[kind]:
        raise line.error(f"'{mnemonic}' takes {_ARITY[kind]} operand(s), got {len(ops)}", mnemonic)
    if kind in ("alu", "movsx", "jcond"):
        src_is_reg = ops[1].startswith("%")
        spec = _pick(specs, src_is_reg)
        dst = _reg(ops[0], line)
        fields = dict(spec.fixed)
        if src_is_reg:
            fields["src"] = _reg(ops[1], line)
        else:
            fields["imm"] = imm32(ops[1], line)
        insn = Insn(spec.code, dst, fields.get("src", 0), fields.get("off", 0), fields.get("imm", 0))
        if kind == "jcond":
            return _target(ops[2], line, "off", insn)
        return Pending(insn, line)
    spec = specs[0]
    fixed = dict(spec.fixed)
    if kind in ("neg", "end"):
        return Pending(Insn(spec.code, _reg(ops[0], line), 0, 0, fixed.get("imm", 0)), line)
    if kind in ("ldx", "ldxs", "load_acq"):
        src, off = _mem(ops[1], line)
        return Pending(Insn(spec.code, _reg(ops[0], line), src, off, fixed.get("imm", 0)), line)
    if kind == "st":
        dst, off = _mem(ops[0], line)
        return Pending(Insn(spec.code, dst, 0, off, imm32(ops[1], line)), line)
    if kind in ("stx", "atomic", "store_rel"):
        dst, off = _mem(ops[0], line)
        return Pending(Insn(spec.code, dst, _reg(ops[1], line), off, fixed.get("imm", 0)), line)
    if kind == "lddw":
        return _lddw(ops, line)
    if kind == "ldabs":
        return Pending(Insn(spec.code, 0, 0, 0, imm32(ops[0], line)), line)
    if kind == "ldind":
        return Pending(Insn(spec.code, 0, _reg(ops[0], line), 0, imm32(ops[1], line)), line)
    if kind == "ja":
        return _target(ops[0], line, "imm" if spec.op == "gotol" else "off", Insn(spec.code))
    if kind == "may_goto":
        return _target(ops[0], line, "off", Insn(spec.code))
    return Pending(Insn(spec.code), line)


def _lddw(ops: list[str], line: Line) -> Pending:
    dst = _reg(ops[0], line)
    m = _PSEUDO.match(ops[1])
    if not m:
        value = imm64(ops[1], line)
        return Pending(Insn(0x18, dst, 0, 0, s32(value), s32(value >> 32)), line)
    kind, first, second = m.groups()
    if kind not in LDDW_KIND_BY_OP or kind == "imm64":
        raise line.error(f"unknown lddw source '{kind}'", kind)
    src = LDDW_KIND_BY_OP[kind]
    if kind == "func":
        return _target(first, line, "imm", Insn(0x18, dst, src, 0, 0, 0))
    imm2 = imm32(second, line) if second is not None else 0
    return Pending(Insn(0x18, dst, src, 0, imm32(first, line), imm2), line)


def _call(ops: list[str], line: Line) -> Pending:
    words = ops[0].split() if ops else []
    if len(words) == 1 and len(ops) == 1:
        target = words[0]
        if target.startswith("%"):
            return Pending(Insn(0x8D, _reg(target, line)), line)
        return Pending(Insn(0x85, 0, 0, 0, imm32(target, line)), line)
    if len(words) == 2 and words[0] == "helper":
        if words[1].startswith("%"):
            return Pending(Insn(0x8D, _reg(words[1], line)), line)
        return Pending(Insn(0x85, 0, 0, 0, imm32(words[1], line)), line)
    if len(words) == 2 and words[0] == "local":
        return _target(words[1], line, "imm", Insn(0x85, 0, 1))
    if len(words) == 2 and words[0] == "runtime":
        off = off16(ops[1], line) if len(ops) == 2 else 0
        return Pending(Insn(0x85, 0, 2, off, imm32(words[1], line)), line)
    raise line.error("call takes a helper id, 'local LABEL', 'runtime ID' or a register", "call")


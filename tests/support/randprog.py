"""Random programs that the Linux verifier accepts, for differential tests.

`generate(seed)` returns a program built only from `random.Random(seed)`, so
a failure names its seed and is reproduced by calling generate(seed) again.
Shape:
  1. every register r0-r9 gets a random value (mov32, mov64 or lddw), and the
     64 bytes below r10 a random 64-bit value per slot;
  2. a body of random instructions drawn from the opcode table: ALU and
     ALU64 with immediate and register sources (div/mod/sdiv/smod by
     registers that may hold zero or -1), neg, movsx, le/be/bswap, lddw,
     stack loads, sign-extending loads, stores of registers and immediates,
     and atomics of every kind on aligned stack slots, and forward
     conditional jumps of every kind on 32 and 64 bits;
  3. a fold of r0-r9 and the stack into r0 (r0 = r0 * 31 + x), then `exit`,
     or `r0 >>= 32; exit` for the high half (BPF_PROG_TEST_RUN returns 32 bits).
The verifier's rules are kept: no r10 writes, immediate shifts below the
width, no division by an immediate zero, aligned stack accesses inside the
initialised 64 bytes.
"""

from __future__ import annotations

import random

from pybpf.isa.insn import Insn, lddw
from pybpf.isa.opcodes import SPECS, Spec

STACK_SLOTS = 8  # 64 bytes below r10, all initialised
_BODY_KINDS = ("alu", "alu", "alu", "alu", "neg", "movsx", "end", "lddw", "ldx", "ldxs", "st", "stx",
               "atomic", "jcond", "jcond")
_BY_KIND: dict[str, list[Spec]] = {}
for _spec in SPECS:
    _BY_KIND.setdefault(_spec.kind, []).append(_spec)
_BY_KIND["lddw"] = [s for s in _BY_KIND["lddw"] if s.op == "imm64"]
del _spec

INTERESTING = (0, 1, -1, 2, 31, 32, 63, 64, 0x7FFFFFFF, -0x80000000, 0xFFFF, 0x80)


def _imm(rng: random.Random) -> int:
    if rng.random() < 0.4:
        return rng.choice(INTERESTING)
    return rng.randrange(-(1 << 31), 1 << 31)


def _value64(rng: random.Random) -> int:
    choice = rng.random()
    if choice < 0.3:
        return rng.choice((0, 1, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 0xFFFFFFFF, 0x80000000))
    if choice < 0.5:
        return rng.randrange(-300, 300) & ((1 << 64) - 1)
    return rng.getrandbits(64)


def _reg(rng: random.Random) -> int:
    return rng.randrange(10)


def _stack_off(rng: random.Random, size: int) -> int:
    return -size * rng.randrange(1, STACK_SLOTS * 8 // size + 1)


def _body_insn(rng: random.Random) -> Insn | None:
    kind = rng.choice(_BODY_KINDS)
    spec = rng.choice(_BY_KIND[kind])
    fixed = dict(spec.fixed)
    d, s = _reg(rng), _reg(rng)
    if kind == "alu":
        if "src" in spec.operands:
            return Insn(spec.code, d, s, fixed.get("off", 0), 0)
        imm = _imm(rng)
        if spec.op in ("lsh", "rsh", "arsh"):
            imm = rng.randrange(spec.width)
        if spec.op in ("div", "mod", "sdiv", "smod") and imm == 0:
            imm = rng.choice((1, -1, 3, 7))
        return Insn(spec.code, d, 0, fixed.get("off", 0), imm)
    if kind == "neg":
        return Insn(spec.code, d)
    if kind == "movsx":
        return Insn(spec.code, d, s, fixed["off"])
    if kind == "end":
        return Insn(spec.code, d, 0, 0, fixed["imm"])
    if kind == "lddw":
        return lddw(d, _value64(rng))
    size = spec.width // 8
    off = _stack_off(rng, size)
    if kind in ("ldx", "ldxs"):
        return Insn(spec.code, d, 10, off)
    if kind == "st":
        return Insn(spec.code, 10, 0, off, _imm(rng))
    if kind == "stx":
        return Insn(spec.code, 10, s, off)
    if kind == "atomic":
        return Insn(spec.code, 10, s, off, fixed["imm"])
    return None  # jumps are placed by generate()


def generate(seed: int, length: int | None = None, high: bool = False) -> list[Insn]:
    rng = random.Random(seed)
    length = length or rng.randrange(10, 60)
    prologue = []
    for reg in range(10):
        choice = rng.random()
        if choice < 0.3:
            prologue.append(Insn(0xB4, reg, 0, 0, _imm(rng)))  # w = imm
        elif choice < 0.6:
            prologue.append(Insn(0xB7, reg, 0, 0, _imm(rng)))  # r = imm (sign-extended)
        else:
            prologue.append(lddw(reg, _value64(rng)))
    for slot in range(1, STACK_SLOTS + 1):
        prologue.append(Insn(0x7B, 10, rng.randrange(10), -8 * slot))
    body: list[Insn | tuple] = []
    while len(body) < length:
        insn = _body_insn(rng)
        if insn is not None:
            body.append(insn)
        else:
            spec = rng.choice(_BY_KIND["jcond"])
            skip = rng.randrange(0, 6)
            if "src" in spec.operands:
                body.append(("jump", Insn(spec.code, _reg(rng), _reg(rng)), skip))
            else:
                body.append(("jump", Insn(spec.code, _reg(rng), 0, 0, _imm(rng)), skip))
    resolved = []
    for i, item in enumerate(body):
        if isinstance(item, tuple):
            _, insn, skip = item
            # Offsets count slots; a lddw in the skipped range takes two.
            remaining = body[i + 1:i + 1 + skip]
            off = sum(2 if (not isinstance(x, tuple) and x.size == 2) else 1 for x in remaining)
            resolved.append(insn.replace(off=off))
        else:
            resolved.append(item)
    fold = []
    for reg in range(1, 10):
        fold += [Insn(0x27, 0, 0, 0, 31), Insn(0x0F, 0, reg)]  # r0 *= 31; r0 += rN
    for slot in range(1, STACK_SLOTS + 1):
        fold += [Insn(0x79, 1, 10, -8 * slot), Insn(0x27, 0, 0, 0, 31), Insn(0x0F, 0, 1)]
    if high:
        fold.append(Insn(0x77, 0, 0, 0, 32))  # r0 >>= 32
    return prologue + resolved + fold + [Insn(0x95)]

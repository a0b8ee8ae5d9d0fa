"""Random programs that the Linux verifier accepts, for differential tests.

A program runs on a 144-byte *state* (`STATE_SIZE`): r0-r9 as ten
little-endian u64 (bytes 0-79), then the 64 stack bytes r10-64..r10-1
(bytes 80-143).  It loads the state, runs a random body, and writes the
final state back over the input, so the whole machine state at exit is
compared, not only r0.  The program is reached two ways with the same
bytes:

- the reference interpreter: `vm.run(program(seed), state)` (r1 points at a
  copy of the state; `RunResult.memory` is the final state);
- the kernel: `to_xdp(program(seed))` loaded as XDP and run by
  BPF_PROG_TEST_RUN on the state as the packet; `data_out` is the final
  state.  Its only extra instructions turn the xdp_md context into the
  packet pointer (with the bounds check the verifier asks for).

Because the inputs are packet data, the verifier sees unknown scalars and
the same loaded program is run on several inputs (`inputs(seed, n)`): one
load, many comparisons.  Some registers are still set to constants after
the load (mov32, mov64, lddw), so known values meet unknown ones.

Everything comes from `random.Random(seed)`: a failure names its seed and
`program(seed)`/`inputs(seed, n)` rebuild it.  The body draws from the
opcode table: ALU and ALU64 with immediate and register sources (shift
immediates below the width, register shifts by anything, div/mod/sdiv/smod
by registers that may hold 0 or -1, and INT_MIN / -1 snippets), neg, movsx,
le/be/bswap, lddw, stack loads of every size incl. sign-extending ones,
stores of registers and immediates, atomics of every kind on 32 and 64
bits, load-acquire/store-release, `ja`, `gotol` and conditional jumps of
every kind on 32 and 64 bits, forward only so every program terminates.
The verifier's rules are kept: every register is written before use, r10
is never written, stack accesses are aligned and inside initialised slots,
no division by an immediate zero.  Two kernel bugs are stepped around
(test_kernel_quirks.py pins them): r0 is read right after each 32-bit
cmpxchg (`_body_insns`), and conditional jumps never read a value an atomic
fetched (`_Fetched`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pybpf.isa.insn import Insn, lddw
from pybpf.isa.opcodes import (BPF_ADD, BPF_ALU, BPF_ALU64, BPF_DW, BPF_JLE, BPF_JMP, BPF_K, BPF_LDX, BPF_MEM,
                               BPF_MOV, BPF_STX, BPF_W, BPF_X, SPECS, Spec)

STACK_BYTES = 64  # the body's stack: r10-64 .. r10-1, all initialised from the state
STATE_SIZE = 80 + STACK_BYTES
_PTR_SLOT = -72  # the state pointer, kept across the body (which never touches it)
_SPILL = -152  # r0-r9 are spilled to r10-152 .. r10-80 before the state is written back
XDP_PASS = 2

_LDXDW, _STXDW = BPF_LDX | BPF_MEM | BPF_DW, BPF_STX | BPF_MEM | BPF_DW
_MOV64_K, _MOV32_K = BPF_ALU64 | BPF_MOV | BPF_K, BPF_ALU | BPF_MOV | BPF_K
_EXIT = Insn(0x95)

# How often each kind of body instruction is drawn ("divedge": an INT_MIN / -1 or / 0 snippet).
_BODY_WEIGHTS = {"alu": 8, "neg": 1, "movsx": 1, "end": 2, "lddw": 1, "ldx": 2, "ldxs": 1, "st": 1,
                 "stx": 2, "atomic": 2, "load_acq": 1, "store_rel": 1, "divedge": 1, "jcond": 4, "ja": 1}
_KINDS, _WEIGHTS = tuple(_BODY_WEIGHTS), tuple(_BODY_WEIGHTS.values())
_BY_KIND: dict[str, list[Spec]] = {}
for _spec in SPECS:
    _BY_KIND.setdefault(_spec.kind, []).append(_spec)
del _spec
_BY_KIND["lddw"] = [s for s in _BY_KIND["lddw"] if s.op == "imm64"]
_DIVS = [s for s in _BY_KIND["alu"] if s.op in ("div", "sdiv", "mod", "smod")]

INTERESTING_IMM = (0, 1, -1, 2, 31, 32, 63, 64, 0x7FFFFFFF, -0x80000000, 0xFFFF, 0x80, -2)
INTERESTING_64 = (0, 1, 2, (1 << 64) - 1, (1 << 64) - 2, 1 << 63, (1 << 63) - 1, 0xFFFFFFFF, 0x80000000,
                  0x7FFFFFFF, 0xFFFFFFFF80000000, 0x100000000, 0xFF, 0x8000, 0xFFFF)


def _imm(rng: random.Random) -> int:
    if rng.random() < 0.4:
        return rng.choice(INTERESTING_IMM)
    return rng.randrange(-(1 << 31), 1 << 31)


def _value64(rng: random.Random) -> int:
    choice = rng.random()
    if choice < 0.3:
        return rng.choice(INTERESTING_64)
    if choice < 0.5:
        return rng.randrange(-300, 300) & ((1 << 64) - 1)
    if choice < 0.6:
        return rng.getrandbits(32)
    return rng.getrandbits(64)


def _reg(rng: random.Random) -> int:
    return rng.randrange(10)


def _stack_off(rng: random.Random, size: int) -> int:
    return -size * rng.randrange(1, STACK_BYTES // size + 1)


def _div_edge(rng: random.Random) -> list[Insn]:
    """dst = INT_MIN of the width, then divide by -1 or 0 (a register) or by the immediate -1."""
    spec = rng.choice(_DIVS)
    d, s = rng.sample(range(10), 2)
    head = [Insn(_MOV32_K, d, 0, 0, -0x80000000) if spec.width == 32 else lddw(d, 1 << 63)]
    if "src" not in spec.operands:
        return head + [Insn(spec.code, d, 0, spec.fixed_value("off"), -1)]
    divisor = rng.choice((-1, -1, 0))
    return head + [Insn(rng.choice((_MOV64_K, _MOV32_K)), s, 0, 0, divisor),
                   Insn(spec.code, d, s, spec.fixed_value("off"))]


def _jcond(rng: random.Random) -> Insn:
    spec = rng.choice(_BY_KIND["jcond"])
    if "src" in spec.operands:
        return Insn(spec.code, _reg(rng), _reg(rng))
    return Insn(spec.code, _reg(rng), 0, 0, _imm(rng))


def _body_insns(rng: random.Random) -> list[Insn]:
    """One to three instructions of a random kind; _body resolves the jumps."""
    kind = rng.choices(_KINDS, _WEIGHTS)[0]
    if kind == "divedge":
        return _div_edge(rng)
    spec = rng.choice(_BY_KIND[kind])
    fixed = dict(spec.fixed)
    d, s = _reg(rng), _reg(rng)
    if kind == "alu":
        if "src" in spec.operands:
            return [Insn(spec.code, d, s, fixed.get("off", 0), 0)]
        imm = _imm(rng)
        if spec.op in ("lsh", "rsh", "arsh"):
            imm = rng.randrange(spec.width)
        if spec.op in ("div", "mod", "sdiv", "smod") and imm == 0:
            imm = rng.choice((1, -1, 3, 7))
        return [Insn(spec.code, d, 0, fixed.get("off", 0), imm)]
    if kind == "neg":
        return [Insn(spec.code, d)]
    if kind == "movsx":
        return [Insn(spec.code, d, s, fixed["off"])]
    if kind == "end":
        return [Insn(spec.code, d, 0, 0, fixed["imm"])]
    if kind == "lddw":
        return [lddw(d, _value64(rng))]
    if kind == "ja":
        # The verifier rejects unreachable code: a conditional jump over the `ja`
        # (or `gotol`) reaches what it skips (if/else).  The guard's off is 1.
        return [_jcond(rng).replace(off=1), Insn(spec.code)]
    if kind == "jcond":
        return [_jcond(rng)]
    off = _stack_off(rng, spec.width // 8)
    if kind in ("ldx", "ldxs", "load_acq"):
        return [Insn(spec.code, d, 10, off, fixed.get("imm", 0))]
    if kind == "st":
        return [Insn(spec.code, 10, 0, off, _imm(rng))]
    # stx, store_rel, atomic: cmpxchg also reads and writes r0, set like every register
    insn = Insn(spec.code, 10, s, off, fixed.get("imm", 0))
    if spec.op == "cmpxchg" and spec.width == 32:
        # Linux 6.18 leaves r0's upper half after a 32-bit cmpxchg when the verifier
        # prunes the only path reading r0 as 64 bits (test_kernel_quirks.py); reading
        # it at once (`r0 += 0`) keeps the kernel's zero-extension and still checks ours.
        return [insn, Insn(BPF_ALU64 | BPF_ADD | BPF_K, 0)]
    return [insn]


def _is_jump(insn: Insn) -> bool:
    return insn.spec.kind in ("jcond", "ja")


@dataclass
class _Fetched:
    """Registers and stack slots (0-7, from r10-64) that may hold a value an atomic fetched.

    Linux 6.18 does not carry precision from a fetching atomic's result back
    to its stack slot, so it may prune a path whose slot differs, take a
    branch on that value as decided, and rewrite the other side as dead code
    (test_kernel_quirks.py).  Conditional jumps therefore read only
    registers outside this set.  Tracked along the forward-only control flow:
    a join takes the union of what arrives.
    """

    regs: set[int] = field(default_factory=set)
    slots: set[int] = field(default_factory=set)

    def merge(self, other: "_Fetched") -> None:
        self.regs |= other.regs
        self.slots |= other.slots

    def copy(self) -> "_Fetched":
        return _Fetched(set(self.regs), set(self.slots))

    def _set(self, reg: int, fetched: bool) -> None:
        (self.regs.add if fetched else self.regs.discard)(reg)

    def apply(self, insn: Insn) -> None:
        spec, d, s = insn.spec, insn.dst, insn.src
        slot = (insn.off + STACK_BYTES) // 8
        if spec.kind == "alu":
            src = "src" in spec.operands and s in self.regs
            self._set(d, src or (spec.op != "mov" and d in self.regs))
        elif spec.kind == "movsx":
            self._set(d, s in self.regs)
        elif spec.kind == "lddw":
            self._set(d, False)
        elif spec.kind in ("ldx", "ldxs", "load_acq"):
            self._set(d, slot in self.slots)
        elif spec.kind in ("st", "stx", "store_rel"):
            stored = spec.kind != "st" and s in self.regs
            if stored or spec.width == 64:
                (self.slots.add if stored else self.slots.discard)(slot)
        elif spec.kind == "atomic":
            if s in self.regs or (spec.op == "cmpxchg" and 0 in self.regs):
                self.slots.add(slot)
            if spec.op == "cmpxchg":
                self.regs.add(0)
            elif spec.op.startswith("fetch") or spec.op == "xchg":
                self.regs.add(s)


def _steer(jump: Insn, regs: list[int], rng: random.Random) -> Insn:
    """The conditional jump reading only `regs`."""
    if "src" in jump.spec.operands:
        return jump.replace(dst=rng.choice(regs), src=rng.choice(regs))
    return jump.replace(dst=rng.choice(regs))


def _body(rng: random.Random, length: int) -> list[Insn]:
    """Draw the body; each forward jump skips 0-5 instructions (its guard's: just its `ja`)."""
    body: list[Insn] = []
    targets: dict[int, int] = {}  # index of a jump -> index of its target
    arriving: dict[int, _Fetched] = {}
    fetched, pending = _Fetched(), []
    while len(body) < length or pending:
        pending = pending or _body_insns(rng)
        here = len(body)
        if here in arriving:
            fetched.merge(arriving.pop(here))
        insn = pending.pop(0)
        if insn.spec.kind == "jcond":
            clean = [r for r in range(10) if r not in fetched.regs]
            if not clean:
                pending = []  # a guard goes with its ja
                continue
            insn = _steer(insn, clean, rng)
            targets[here] = here + 2 if insn.off == 1 else here + 1 + rng.randrange(0, 6)
        elif insn.spec.kind == "ja":
            targets[here] = here + 1 + rng.randrange(0, 6)
        else:
            fetched.apply(insn)
        if here in targets:
            arriving.setdefault(targets[here], _Fetched()).merge(fetched.copy())
        if insn.spec.kind == "ja":
            fetched = _Fetched()  # what follows a ja is reached only by its guard
        body.append(insn)
    # Offsets count slots (a lddw takes two); a target past the end is the end.
    out = []
    for i, insn in enumerate(body):
        if i in targets:
            target = sum(x.size for x in body[i + 1:targets[i]])
            insn = insn.replace(imm=target, off=0) if insn.spec.op == "gotol" else insn.replace(off=target)
        out.append(insn)
    return out


def _load_state(rng: random.Random) -> list[Insn]:
    """r1 = state: keep the pointer, fill the stack and r0-r9 from it, then set some to constants."""
    out = [Insn(_STXDW, 10, 1, _PTR_SLOT)]
    for i in range(STACK_BYTES // 8):
        out += [Insn(_LDXDW, 2, 1, 80 + 8 * i), Insn(_STXDW, 10, 2, -STACK_BYTES + 8 * i)]
    out += [Insn(_LDXDW, reg, 1, 8 * reg) for reg in (0, 2, 3, 4, 5, 6, 7, 8, 9)]
    out.append(Insn(_LDXDW, 1, 1, 8))
    for reg in range(10):
        choice = rng.random()
        if choice < 0.15:
            out.append(Insn(_MOV32_K, reg, 0, 0, _imm(rng)))
        elif choice < 0.3:
            out.append(Insn(_MOV64_K, reg, 0, 0, _imm(rng)))
        elif choice < 0.4:
            out.append(lddw(reg, _value64(rng)))
    return out


def _store_state() -> list[Insn]:
    """Write r0-r9 and the stack back over the state; r0 = XDP_PASS."""
    out = [Insn(_STXDW, 10, reg, _SPILL + 8 * reg) for reg in range(10)]
    out.append(Insn(_LDXDW, 1, 10, _PTR_SLOT))
    for i in range(10):
        out += [Insn(_LDXDW, 2, 10, _SPILL + 8 * i), Insn(_STXDW, 1, 2, 8 * i)]
    for i in range(STACK_BYTES // 8):
        out += [Insn(_LDXDW, 2, 10, -STACK_BYTES + 8 * i), Insn(_STXDW, 1, 2, 80 + 8 * i)]
    return out + [Insn(_MOV64_K, 0, 0, 0, XDP_PASS), _EXIT]


def program(seed: int, length: int | None = None) -> list[Insn]:
    """The program of `seed` for the interpreter: r1 points at a STATE_SIZE-byte state."""
    rng = random.Random(seed)
    length = length or rng.randrange(10, 60)
    head = _load_state(rng)
    return head + _body(rng, length) + _store_state()


def to_xdp(insns: list[Insn]) -> list[Insn]:
    """A `program()` as XDP: r1 = the packet (the state) after the bounds check the verifier asks for."""
    return [
        Insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0),  # r2 = ctx->data
        Insn(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 4),  # r3 = ctx->data_end
        Insn(BPF_ALU64 | BPF_MOV | BPF_X, 4, 2),
        Insn(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, STATE_SIZE),
        Insn(BPF_JMP | BPF_JLE | BPF_X, 4, 3, 2),  # if r4 <= r3 goto +2 (in bounds)
        Insn(_MOV64_K, 0, 0, 0, 0),
        _EXIT,
        Insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2),  # r1 = data
    ] + insns


def inputs(seed: int, count: int) -> list[bytes]:
    """`count` states for the program of `seed` (from their own generator, so count may vary)."""
    rng = random.Random(f"inputs {seed}")
    out = []
    for _ in range(count):
        regs = b"".join(_value64(rng).to_bytes(8, "little") for _ in range(10))
        stack = b"".join(_value64(rng).to_bytes(8, "little") for _ in range(STACK_BYTES // 8))
        out.append(regs + stack)
    return out


def describe(state: bytes) -> dict[str, int]:
    """A state as {"r0": ..., "r9": ..., "stack-64": ..., "stack-8": ...} of unsigned 64-bit values."""
    words = [int.from_bytes(state[i:i + 8], "little") for i in range(0, STATE_SIZE, 8)]
    names = [f"r{i}" for i in range(10)] + [f"stack{-STACK_BYTES + 8 * i}" for i in range(STACK_BYTES // 8)]
    return dict(zip(names, words))


__all__ = ["STATE_SIZE", "XDP_PASS", "describe", "inputs", "program", "to_xdp"]

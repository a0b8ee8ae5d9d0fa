"""Structured random programs for the verifier differential and soundness fuzzing.

`program(seed)` returns a `Generated`: the instructions (LLVM-syntax text
assembled by `pybpf.isa.asm`), the program type, and the map it uses.  Each
program is one *template* (a shape the Linux verifier has a rule for) with
random parameters drawn so that roughly half of them break the rule:

- stack: pointer arithmetic on r10, store and load at an offset (in or out
  of the 512-byte frame, aligned or not, read before written or not);
- map: bpf_map_lookup_elem with a key on the stack, the NULL check kept or
  dropped, a value access at a constant offset and size;
- bounds: a variable offset read from the map value or the packet, bounded
  by one conditional jump of a random kind (JMP/JMP32, signed/unsigned,
  either direction, register or immediate), added to a map value pointer
  and dereferenced;
- spill: a pointer or scalar spilled to the stack and filled back whole or
  in part, then dereferenced or returned;
- helper: bpf_map_update_elem / bpf_skb_load_bytes / bpf_probe_read_kernel
  with a stack buffer and a size that is constant, bounded or not;
- loop: a bounded loop with a random trip count (or no progress);
- call: a bpf-to-bpf subprogram given a stack pointer, writing through it;
- packet: data/data_end for xdp and tc, a bounds check of N bytes and an
  access of M bytes at an offset.

Everything comes from `random.Random(seed)`; `Generated.digest` (the first
16 hex digits of the sha1 of the encoded instructions) names a program
stably across runs and machines.  Map lookups use one map, whose fd is
written into every `lddw` that loads MAP_MARK (`with_map_fd`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from pybpf.isa.asm import assemble
from pybpf.isa.insn import Insn, encode
from pybpf.isa.opcodes import BPF_PSEUDO_MAP_FD
from pybpf.uapi import MapType, ProgType

MAP_MARK = 0x7EADBEEF
SOCKET, XDP, TC, KPROBE = (ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_XDP,
                           ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_KPROBE)
# (map type, key size, value size, max entries) per map kind a template may ask for.
MAPS = {"array": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 4), "hash": (MapType.BPF_MAP_TYPE_HASH, 8, 16, 16)}
# Offsets of the packet pointers in each context: (data, data_end).
PACKET_CTX = {XDP: (0, 4), TC: (76, 80)}
SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
JUMPS = ("==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=")


@dataclass
class Generated:
    seed: int
    template: str
    prog_type: int
    insns: list[Insn]
    map_kind: str | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha1(encode(self.insns)).hexdigest()[:16]

    def with_map_fd(self, fd: int) -> list[Insn]:
        """The instructions with every MAP_MARK lddw turned into a map reference to `fd`."""
        return [i.replace(src=BPF_PSEUDO_MAP_FD, imm=fd, imm2=0) if i.code == 0x18 and i.imm == MAP_MARK else i
                for i in self.insns]

    def map_pcs(self) -> list[int]:
        pcs, pc = [], 0
        for i in self.insns:
            if i.code == 0x18 and i.imm == MAP_MARK:
                pcs.append(pc)
            pc += i.size
        return pcs


def _chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def _at(reg: str, off: int) -> str:
    return f"{reg} + {off}" if off >= 0 else f"{reg} - {-off}"


def _size(rng: random.Random) -> int:
    return rng.choice((1, 2, 4, 8))


def _lookup(rng: random.Random, kind: str, null_check: bool = True) -> list[str]:
    """Key on the stack, bpf_map_lookup_elem, r0 NULL-checked (jumping to `out`) unless told not to."""
    key_size = MAPS[kind][1]
    key = rng.choice((0, 1, 3, 7)) if _chance(rng, 0.8) else rng.randrange(1 << 16)
    lines = [f"r1 = {key}", f"*(u{key_size * 8} *)(r10 - 8) = r1",
             f"r1 = {MAP_MARK:#x} ll", "r2 = r10", "r2 += -8", "call 1"]
    if null_check:
        lines.append("if r0 == 0 goto out")
    return lines


def t_stack(rng):
    off = rng.choice((-8, -16, -512, -504, -520, 0, 8, -4, -3, -1)) if _chance(rng, 0.7) else rng.randrange(-560, 16)
    size = _size(rng)
    via = rng.choice(("r10", "r2"))
    lines = ["r2 = r10", f"r2 += {rng.randrange(-64, 1) if via == 'r2' else 0}"]
    base_off = off - (int(lines[1].split()[-1]) if via == "r2" else 0)
    if _chance(rng, 0.75):
        lines.append(f"r1 = {rng.randrange(1 << 20)}")
        lines.append(f"*({SIZES[size]} *)({via} {'+' if base_off >= 0 else '-'} {abs(base_off)}) = r1")
    rsize = size if _chance(rng, 0.7) else _size(rng)
    lines.append(f"r0 = *({SIZES[rsize]} *)({via} {'+' if base_off >= 0 else '-'} {abs(base_off)})")
    return SOCKET, None, lines + ["exit"]


def t_map(rng):
    kind = rng.choice(tuple(MAPS))
    vsize = MAPS[kind][2]
    size = _size(rng)
    off = rng.choice((0, 8, vsize - size, vsize - size + 1, vsize, -size, 4)) if _chance(rng, 0.8) \
        else rng.randrange(-8, vsize + 8)
    lines = _lookup(rng, kind, null_check=_chance(rng, 0.8))
    if _chance(rng, 0.5):
        lines.append(f"r1 = {rng.randrange(100)}")
        lines.append(f"*({SIZES[size]} *)(r0 {'+' if off >= 0 else '-'} {abs(off)}) = r1")
    else:
        lines.append(f"r1 = *({SIZES[size]} *)(r0 {'+' if off >= 0 else '-'} {abs(off)})")
    return rng.choice((SOCKET, XDP, TC)), kind, lines + ["out:", "r0 = 0", "exit"]


def _bound(rng: random.Random, reg: str, limit_hi: int) -> list[str]:
    """A conditional jump that (maybe) bounds `reg` to [0, limit_hi) on the fall-through path."""
    w = "w" if _chance(rng, 0.3) else "r"
    op = rng.choice(JUMPS)
    limit = rng.choice((limit_hi, limit_hi - 1, limit_hi + 1, limit_hi // 2, -1, 0x7FFFFFFF))
    if _chance(rng, 0.3):
        return [f"r3 = {limit}", f"if {w}{reg[1:]} {op} {w}3 goto out"]
    return [f"if {w}{reg[1:]} {op} {limit} goto out"]


def t_bounds(rng):
    kind = "array"
    vsize = MAPS[kind][2]
    size = rng.choice((1, 4, 8))
    lines = _lookup(rng, kind)
    lines += ["r6 = r0", f"r7 = *({rng.choice(('u8', 'u32', 'u64'))} *)(r6 + 0)"]
    if _chance(rng, 0.3):
        lines += [f"r7 &= {rng.choice((7, 15, 31, 63, 0xFF))}"]
    for _ in range(rng.choice((1, 1, 2))):
        lines += _bound(rng, "r7", vsize - size + 1)
    if _chance(rng, 0.2):
        lines.append("if r7 s< 0 goto out")
    lines += ["r6 += r7", f"r0 = *({SIZES[size]} *)(r6 + 0)", "exit"]
    return rng.choice((SOCKET, XDP)), kind, lines + ["out:", "r0 = 0", "exit"]


def t_spill(rng):
    what = rng.choice(("fp", "map", "ctx", "scalar"))
    kind = "array" if what == "map" else None
    lines = _lookup(rng, kind) if kind else []
    src = {"fp": "r10", "map": "r0", "ctx": "r1", "scalar": "r4"}[what]
    if what == "ctx":
        lines.insert(0, "r9 = r1")
        src = "r9"
    if what == "scalar":
        lines.append("r4 = 7")
    slot = rng.choice((-16, -24, -12, -20))
    lines.append(f"*(u64 *)(r10 {slot}) = {src}")
    if _chance(rng, 0.3):
        lines += ["r5 = 1", f"*(u{rng.choice((8, 32))} *)(r10 {slot + rng.choice((0, 4))}) = r5"]
    fill = rng.choice((8, 8, 4, 1))
    fill_off = slot + (rng.choice((0, 4)) if fill < 8 else 0)
    lines.append(f"r3 = *({SIZES[fill]} *)(r10 {fill_off})")
    use = rng.choice(("deref", "return", "arith"))
    if use == "deref":
        lines.append(f"r0 = *(u32 *)({_at('r3', rng.choice((0, 4, -8, 44)))})" if what != "fp"
                     else f"r0 = *(u64 *)(r3 {slot})")
    elif use == "arith":
        lines += ["r3 += 4", f"r0 = *(u32 *)(r3 + 0)"]
    else:
        lines.append("r0 = r3")
    if what == "ctx" and use == "deref":
        lines[-1] = f"r0 = *(u32 *)(r3 + {rng.choice((0, 4, 16, 76, 2, 200))})"
    return rng.choice((SOCKET, TC)), kind, lines + ["exit", "out:", "r0 = 0", "exit"]


def t_helper(rng):
    helper = rng.choice(("update", "load_bytes", "probe_read"))
    if helper == "update":
        kind = rng.choice(tuple(MAPS))
        vsize = MAPS[kind][2]
        vstart = -8 - rng.choice((vsize, vsize + 8, vsize - 8, 64))
        lines = ["r1 = 1", "*(u64 *)(r10 - 8) = r1"]
        init = rng.choice((vsize, vsize - 8, 0)) if _chance(rng, 0.9) else vsize
        lines += ["r1 = 0"] + [f"*(u64 *)(r10 {vstart + i}) = r1" for i in range(0, init, 8)]
        lines += [f"r1 = {MAP_MARK:#x} ll", "r2 = r10", "r2 += -8", "r3 = r10", f"r3 += {vstart}",
                  f"r4 = {rng.choice((0, 0, 1, 2, 4))}", "call 2", "r0 = 0", "exit"]
        return rng.choice((SOCKET, XDP)), kind, lines
    buf = rng.choice((-16, -32, -64))
    setup = ["r6 = r1"]
    how = rng.choice(("const", "bounded", "unbounded", "zero"))
    if how == "const":
        size_lines = [f"r4 = {rng.choice((-buf, -buf + 1, 8, 1))}"]
    elif how == "zero":
        size_lines = ["r4 = 0"]
    else:
        size_lines = ["call 7", "r4 = r0"]  # bpf_get_prandom_u32
        if how == "bounded":
            size_lines += [f"r4 &= {rng.choice((15, 31, 63))}"]
            if _chance(rng, 0.5):
                size_lines += ["if r4 == 0 goto out"]
    if helper == "load_bytes":
        prog_type = rng.choice((SOCKET, TC))
        call = [f"r1 = r6", f"r2 = {rng.choice((0, 14))}", "r3 = r10", f"r3 += {buf}", "call 26"]
    else:
        prog_type = KPROBE
        call = ["r1 = r10", f"r1 += {buf}", "r2 = r4", "r3 = 0", "call 113"]
    body = setup + size_lines + call
    return prog_type, None, body + ["r0 = 0", "exit", "out:", "r0 = 0", "exit"]


def t_loop(rng):
    n = rng.choice((4, 16, 100, 1000, 10000)) if _chance(rng, 0.8) else rng.randrange(1, 50)
    step = rng.choice((1, 1, 1, 2, 0))
    op = rng.choice(("<", "!=", "s<", "<="))
    w = "w" if _chance(rng, 0.3) else "r"
    lines = ["r1 = 0", "r0 = 0", "loop:", "r0 += r1", f"r1 += {step}", f"if {w}1 {op} {n} goto loop"]
    if _chance(rng, 0.3):
        lines = ["r6 = r10", "r6 += -32", "r1 = 0", "*(u64 *)(r10 - 8) = r1", "loop:",
                 "r2 = r6", "r2 += r1", "r3 = 0", "*(u8 *)(r2 + 0) = r3",
                 f"r1 += {step}", f"if {w}1 {op} {rng.choice((8, 16, 32, 33, 40))} goto loop", "r0 = 0"]
    return SOCKET, None, lines + ["exit"]


def t_call(rng):
    off = rng.choice((-8, -16, 0, 8, -4))
    size = _size(rng)
    init = _chance(rng, 0.8)
    ret = rng.choice(("r0 = 0", "r0 = r1", ""))
    main = ["r1 = r10", "r1 += -16", "call sub", f"r0 = *(u64 *)(r10 - 16)" if _chance(rng, 0.5) else "r0 = 0",
            "exit"]
    sub = ["sub:"] + ([f"r2 = 5", f"*({SIZES[size]} *)(r1 {'+' if off >= 0 else '-'} {abs(off)}) = r2"]
                      if init else []) + ([ret] if ret else []) + ["exit"]
    if _chance(rng, 0.2):
        sub = ["sub:", "r0 = *(u64 *)(r10 - 8)", "exit"]
    return SOCKET, None, main + sub


def t_packet(rng):
    prog_type = rng.choice((XDP, TC))
    data, end = PACKET_CTX[prog_type]
    n = rng.choice((1, 8, 14, 20, 34))
    size = _size(rng)
    off = rng.choice((0, n - size, n - size + 1, n)) if _chance(rng, 0.85) else rng.randrange(-4, 40)
    op = rng.choice((">", ">", ">=", "<", "s>"))
    lines = [f"r2 = *(u32 *)(r1 + {data})", f"r3 = *(u32 *)(r1 + {end})", "r4 = r2", f"r4 += {n}",
             f"if r4 {op} r3 goto out"]
    if _chance(rng, 0.15):
        lines[-1] = "if r3 < r4 goto out"
    if _chance(rng, 0.1):
        lines.pop()
    if _chance(rng, 0.5):
        lines.append(f"r0 = *({SIZES[size]} *)(r2 {'+' if off >= 0 else '-'} {abs(off)})")
    else:
        lines += ["r5 = 1", f"*({SIZES[size]} *)(r2 {'+' if off >= 0 else '-'} {abs(off)}) = r5"]
    return prog_type, None, lines + ["out:", "r0 = 2", "exit"]


TEMPLATES = {"stack": t_stack, "map": t_map, "bounds": t_bounds, "spill": t_spill, "helper": t_helper,
             "loop": t_loop, "call": t_call, "packet": t_packet}


def program(seed: int) -> Generated:
    rng = random.Random(seed)
    name = rng.choice(tuple(TEMPLATES))
    prog_type, kind, lines = TEMPLATES[name](rng)
    return Generated(seed, name, int(prog_type), assemble("\n".join(lines), "llvm"), kind)

"""Render instructions as text in three syntaxes, from the opcode table.

- "llvm": what `llvm-objdump -d` prints (LLVM 14 for what it knows, modern
  LLVM's spelling for the v4 and v3 instructions it prints as `<unknown>`).
- "kernel": what the Linux verifier log prints (kernel/bpf/disasm.c, 6.18):
  `r0 = *(u32 *)(r1 +4)`, `if r1 == 0x5 goto pc+3`, `call bpf_map_lookup_elem#1`.
- "ubpf": the bpf_conformance/ubpf assembler syntax: `ldxw %r0, [%r1+4]`.

Where LLVM 14's text loses information we print an unambiguous form instead,
and the assembler reads it back:
- a local call (src=1) prints as `call -1` in LLVM, exactly like a helper call;
  we print `call pc-1`, as the kernel does;
- a lddw with a pseudo source prints as `ld_pseudo r1, 2, 5` (no second-slot
  imm); we print `r1 = map[fd:5] ll`, `r1 = map[fd:5][0]+8 ll`,
  `r1 = map[idx:3] ll`, `r1 = map[idx:3][0]+8 ll`, `r1 = btf_id(7) ll` (or
  `btf_id(7, 1)` with a module fd), `r1 = func(pc+5) ll`;
- `callx` is printed with the register taken from dst (LLVM 14 read imm);
- `r0 = *(u16 *)skb[r1]` ignores a non-zero imm; we print `skb[r1 + 4]`;
- a kfunc call (src=2) prints `call kfunc#ID` (`call kfunc#ID, OFF` with a
  module offset).
"""

from __future__ import annotations

from typing import Callable, Iterable

from .insn import Insn, pcs
from .opcodes import ALU_BY_NAME, JMP_BY_NAME, Spec

SYNTAXES = ("llvm", "kernel", "ubpf")
HelperNamer = Callable[[int], str | None]

_ATOMIC_SYMBOL = {"add": "+=", "or": "|=", "and": "&=", "xor": "^="}


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def _mem(reg: int, off: int, syntax: str) -> str:
    if syntax == "kernel":
        return f"(r{reg} {off:+d})"
    return f"(r{reg} {'-' if off < 0 else '+'} {abs(off)})"


def _target(off: int, syntax: str) -> str:
    return f"pc{off:+d}" if syntax == "kernel" else f"{off:+d}"


# How a lddw with a pseudo source reads, by the pseudo source's name.
_PSEUDO_TEXT = {
    "map_fd": "map[fd:{imm}]", "map_value": "map[fd:{imm}][0]+{imm2}",
    "map_idx": "map[idx:{imm}]", "map_idx_value": "map[idx:{imm}][0]+{imm2}",
    "func": "func(pc{imm:+d})",
}


def _lddw_pseudo(insn: Insn, spec: Spec) -> str:
    imm, imm2 = insn.imm, insn.imm2 or 0
    if spec.op == "btf_id":
        return f"btf_id({imm})" if not imm2 else f"btf_id({imm}, {imm2})"
    return _PSEUDO_TEXT[spec.op].format(imm=imm, imm2=imm2)


def _c_like(insn: Insn, spec: Spec, syntax: str, helper_name: HelperNamer | None) -> str:
    """LLVM and kernel syntax: C-like statements that differ in small ways."""
    kind, op, w = spec.kind, spec.op, spec.width
    kernel = syntax == "kernel"
    r = "w" if (w == 32 and kind in ("alu", "neg", "movsx")) else "r"
    d, s = insn.dst, insn.src
    size = f"u{w}"
    if kind == "alu":
        sym = ALU_BY_NAME[op].symbol
        rhs = f"{r}{s}" if "src" in spec.operands else str(insn.imm)
        return f"{r}{d} {sym} {rhs}"
    if kind == "neg":
        return f"{r}{d} = -{r}{d}"
    if kind == "movsx":
        return f"{r}{d} = (s{op[5:]}){r}{s}"
    if kind == "end":
        return f"r{d} = {op}{w} r{d}"
    if kind in ("ldx", "ldxs"):
        return f"r{d} = *({'s' if kind == 'ldxs' else 'u'}{w} *){_mem(s, insn.off, syntax)}"
    if kind == "st":
        return f"*({size} *){_mem(d, insn.off, syntax)} = {insn.imm}"
    if kind == "stx":
        return f"*({size} *){_mem(d, insn.off, syntax)} = r{s}"
    if kind == "atomic":
        return _atomic_c(insn, spec, syntax)
    if kind == "load_acq":
        return f"{'w' if w < 64 and not kernel else 'r'}{d} = load_acquire(({size} *){_mem(s, insn.off, syntax)})"
    if kind == "store_rel":
        return f"store_release(({size} *){_mem(d, insn.off, syntax)}, {'w' if w < 64 and not kernel else 'r'}{s})"
    if kind == "lddw":
        if op == "imm64":
            return f"r{d} = {insn.imm64:#x}" if kernel else f"r{d} = {_signed64(insn.imm64)} ll"
        return f"r{d} = {_lddw_pseudo(insn, spec)}" + ("" if kernel else " ll")
    if kind == "ldabs":
        return f"r0 = *({size} *)skb[{insn.imm}]"
    if kind == "ldind":
        if kernel or insn.imm:
            return f"r0 = *({size} *)skb[r{s} + {insn.imm}]"
        return f"r0 = *({size} *)skb[r{s}]"
    if kind == "ja":
        word = "gotol" if op == "gotol" else "goto"
        return f"{word} {_target(insn.imm if op == 'gotol' else insn.off, syntax)}"
    if kind == "jcond":
        jr = "w" if w == 32 else "r"
        sym = JMP_BY_NAME[op].symbol
        if "src" in spec.operands:
            rhs = f"{jr}{s}"
        else:
            rhs = f"{insn.imm & 0xFFFFFFFF:#x}" if kernel else str(insn.imm)
        return f"if {jr}{d} {sym} {rhs} goto {_target(insn.off, syntax)}"
    if kind == "call":
        if op == "local":
            return f"call pc{insn.imm:+d}"
        if op == "kfunc":
            if kernel:
                return f"call kernel-function#{insn.imm}"
            return f"call kfunc#{insn.imm}" + (f", {insn.off}" if insn.off else "")
        if kernel:
            name = helper_name(insn.imm) if helper_name else None
            return f"call {name or 'unknown'}#{insn.imm}"
        return f"call {insn.imm}"
    if kind == "callx":
        return f"callx r{d}"
    if kind == "may_goto":
        return f"may_goto {_target(insn.off, syntax)}"
    assert kind == "exit", kind
    return "exit"


def _atomic_c(insn: Insn, spec: Spec, syntax: str) -> str:
    op, w, d, s = spec.op, spec.width, insn.dst, insn.src
    kernel = syntax == "kernel"
    mem = _mem(d, insn.off, syntax)
    size = f"u{w}"
    r = "w" if w == 32 and not kernel else "r"
    if op in _ATOMIC_SYMBOL:
        # LLVM 14 spells the 32-bit `lock +=` with an r register; the others it
        # does not know, and modern LLVM uses w.
        lr = "r" if (kernel or op == "add") else r
        return f"lock *({size} *){mem} {_ATOMIC_SYMBOL[op]} {lr}{s}"
    if kernel:
        bits = "64" if w == 64 else ""
        if op.startswith("fetch_"):
            return f"r{s} = atomic{bits}_fetch_{op[6:]}(({size} *){mem}, r{s})"
        if op == "xchg":
            return f"r{s} = atomic{bits}_xchg(({size} *){mem}, r{s})"
        return f"r0 = atomic{bits}_cmpxchg(({size} *){mem}, r0, r{s})"
    if op.startswith("fetch_"):
        return f"{r}{s} = atomic_{op}(({size} *){mem}, {r}{s})"
    plain = mem[1:-1]
    name = "xchg_64" if w == 64 else "xchg32_32"
    if op == "xchg":
        return f"{r}{s} = {name}({plain}, {r}{s})"
    name = "cmpxchg_64" if w == 64 else "cmpxchg32_32"
    return f"{r}0 = {name}({plain}, {r}0, {r}{s})"


def _ubpf_mem(reg: int, off: int) -> str:
    return f"[%r{reg}{off:+d}]"


def _ubpf(insn: Insn, spec: Spec) -> str:
    kind, name, d, s = spec.kind, spec.name, insn.dst, insn.src
    if kind in ("alu", "movsx"):
        rhs = f"%r{s}" if "src" in spec.operands else str(insn.imm)
        return f"{name} %r{d}, {rhs}"
    if kind in ("neg", "end"):
        return f"{name} %r{d}"
    if kind in ("ldx", "ldxs", "load_acq"):
        return f"{name} %r{d}, {_ubpf_mem(s, insn.off)}"
    if kind == "st":
        return f"{name} {_ubpf_mem(d, insn.off)}, {insn.imm}"
    if kind in ("stx", "atomic", "store_rel"):
        return f"{name} {_ubpf_mem(d, insn.off)}, %r{s}"
    if kind == "lddw":
        if spec.op == "imm64":
            return f"lddw %r{d}, {insn.imm64:#x}"
        args = {"func": f"{insn.imm:+d}"}.get(spec.op, str(insn.imm))
        if "imm2" in spec.operands:
            args += f", {insn.imm2 or 0}"
        return f"lddw %r{d}, {spec.op}({args})"
    if kind == "ldabs":
        return f"{name} {insn.imm}"
    if kind == "ldind":
        return f"{name} %r{s}, {insn.imm}"
    if kind == "ja":
        return f"{name} {(insn.imm if spec.op == 'gotol' else insn.off):+d}"
    if kind == "jcond":
        rhs = f"%r{s}" if "src" in spec.operands else str(insn.imm)
        return f"{name} %r{d}, {rhs}, {insn.off:+d}"
    if kind == "call":
        if spec.op == "local":
            return f"call local {insn.imm:+d}"
        if spec.op == "kfunc":
            return f"call runtime {insn.imm}" + (f", {insn.off}" if insn.off else "")
        return f"call {insn.imm}"
    if kind == "callx":
        return f"call %r{d}"
    if kind == "may_goto":
        return f"may_goto {insn.off:+d}"
    return name


def format_insn(insn: Insn, syntax: str = "llvm", helper_name: HelperNamer | None = None) -> str:
    """One instruction as text.  An invalid encoding renders as `<unknown>`."""
    spec = insn.spec
    if spec is None:
        return "<unknown>"
    if syntax == "ubpf":
        return _ubpf(insn, spec)
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}; choose one of {', '.join(SYNTAXES)}")
    return _c_like(insn, spec, syntax, helper_name)


def kernel_log_line(insn: Insn, helper_name: HelperNamer | None = None) -> str:
    """The verifier log form: `(bf) r1 = r10`."""
    return f"({insn.code:02x}) {format_insn(insn, 'kernel', helper_name)}"


def disassemble(insns: Iterable[Insn], syntax: str = "llvm", helper_name: HelperNamer | None = None,
                *, with_pc: bool = True) -> list[str]:
    """Lines of text, prefixed with the pc (`  12: r0 = 1`) unless with_pc is False."""
    insns = list(insns)
    lines = []
    for pc, insn in zip(pcs(insns), insns):
        text = format_insn(insn, syntax, helper_name)
        lines.append(f"{pc:4d}: {text}" if with_pc else text)
    return lines


def objdump_lines(insns: Iterable[Insn], base: str = ".text", *, start_pc: int = 0,
                  symbol_offset: int = 0) -> list[str]:
    """Lines in llvm-objdump -d's layout: `%8d:\\t<hex bytes>\\t<text>`.

    Jumps get llvm-objdump's `<base+0xNN>` annotation of their target, where
    NN is the byte offset of the target from `base` (the section, or a
    symbol `symbol_offset` bytes into it).
    """
    out = []
    pc = start_pc
    for insn in insns:
        raw = insn.encode()
        text = format_insn(insn, "llvm")
        spec = insn.spec
        if spec is not None and (spec.kind in ("jcond", "ja", "may_goto")):
            delta = insn.imm if spec.op == "gotol" else insn.off
            target = (pc + 1 + delta) * 8 - symbol_offset
            text += f" <{base}+{target:#x}>" if target else f" <{base}>"
        out.append(f"{pc:8d}:\t{raw.hex(' ')}\t{text}")
        pc += insn.size
    return out

"""BPF program -> Python source: the code generator of the compiled-Python engine.

Each subprogram entry becomes one Python function `F<pc>(vm, r1..r5, depth)`
with the registers as locals.  Its body is a `while True` loop over the
basic blocks, found by a binary tree of `pc` comparisons (one dispatch per
block, none per instruction).  Per-instruction code comes from the opcode
table: `EMITTERS` is keyed by the `kind` of `pybpf.isa.opcodes.SPECS`, and
the value expressions are keyed by `spec.op` (`ALU_EXPR`, `JMP_EXPR`); an
op without an inline expression calls its function of `pybpf.isa.semantics`.

Every instruction is generated on lines of its own, and `lines` maps each
line to (pc, instructions left in the block after it): a fault's traceback
line names the faulting pc and how many instructions ran, at no run-time cost.
The instruction budget is charged once per block (`b -= n`); a block the
budget cannot pay for is finished by the reference closures (`vm._limit`).
Calls end blocks, so a callback draws on the budget exactly as in the interpreter.
"""

from __future__ import annotations

from ..isa.insn import Insn
from ..isa.semantics import ALU, MASK

M64, M32 = MASK[64], MASK[32]
STACK_SIZE = 512

# op -> inline expression of (a, b) at width w with mask m; ops absent here call ALU[op] (sdiv, smod, arsh).
ALU_EXPR = {
    "add": "({a} + {b}) & {m}", "sub": "({a} - {b}) & {m}", "mul": "({a} * {b}) & {m}",
    "div": "({a} // {b} if {b} else 0)", "mod": "({a} % {b} if {b} else {a})",
    "or": "{a} | {b}", "and": "{a} & {b}", "xor": "{a} ^ {b}", "mov": "{b}",
    "lsh": "({a} << ({b} & {s})) & {m}", "rsh": "{a} >> ({b} & {s})",
}
# op -> condition over (a, b); the signed ones compare with the sign bit flipped (t = 1 << (w - 1)).
JMP_EXPR = {
    "jeq": "{a} == {b}", "jne": "{a} != {b}", "jgt": "{a} > {b}", "jge": "{a} >= {b}",
    "jlt": "{a} < {b}", "jle": "{a} <= {b}", "jset": "{a} & {b}",
    "jsgt": "({a} ^ {t}) > ({b} ^ {t})", "jsge": "({a} ^ {t}) >= ({b} ^ {t})",
    "jslt": "({a} ^ {t}) < ({b} ^ {t})", "jsle": "({a} ^ {t}) <= ({b} ^ {t})",
}
TERMINATORS = {"ja", "jcond", "exit", "may_goto", "call", "callx"}


def _r(n: int) -> str:
    return f"r{n}"


def _operands(insn: Insn, spec, w: int) -> tuple[str, str]:
    a = _r(insn.dst) if w == 64 else f"({_r(insn.dst)} & {M32})"
    if "src" in spec.operands:
        b = _r(insn.src) if w == 64 else f"({_r(insn.src)} & {M32})"
    else:
        b = str(insn.imm & MASK[w])
    return a, b


def _sext(expr: str, bits: int, w: int = 64) -> str:
    t = 1 << (bits - 1)
    return f"(((({expr}) & {MASK[bits]}) ^ {t}) - {t}) & {MASK[w]}"


def _addr(reg: int, off: int) -> str:
    return f"({_r(reg)} + {off}) & {M64}" if off else _r(reg)


def _on_stack(reg: int, off: int, size: int) -> bool:
    """r10 + off is the frame's own stack, statically inside it: no region lookup is needed."""
    return reg == 10 and -STACK_SIZE <= off and off + size <= 0


def _alu(pc, insn, spec):
    w, op = spec.width, spec.op
    a, b = _operands(insn, spec, w)
    if op in ALU_EXPR:
        expr = ALU_EXPR[op].format(a=a, b=b, m=MASK[w], s=w - 1)
    else:
        expr = f"ALU_{op}({a}, {b}, {w})"
    return [f"{_r(insn.dst)} = {expr}"]


def _neg(pc, insn, spec):
    return [f"{_r(insn.dst)} = -{_r(insn.dst)} & {MASK[spec.width]}"]


def _movsx(pc, insn, spec):
    return [f"{_r(insn.dst)} = {_sext(_r(insn.src), insn.off, spec.width)}"]


def _end(pc, insn, spec):
    d, bits = _r(insn.dst), spec.width
    if spec.op == "le":
        return [f"{d} = {d} & {MASK[bits]}"]
    return [f"{d} = END_{spec.op}({d}, {bits})"]


def _ldx(pc, insn, spec):
    size, d = spec.width // 8, _r(insn.dst)
    if _on_stack(insn.src, insn.off, size):
        lines = [f"{d} = UNPACK{size}(sv, {STACK_SIZE + insn.off})[0]"]
    else:  # through the function's one-region read cache (cs, ce, cv), refilled by vm._load
        lines = [f"a = {_addr(insn.src, insn.off)}",
                 f"if cs <= a and a + {size} <= ce: {d} = UNPACK{size}(cv, a - cs)[0]",
                 f"else: {d}, cs, ce, cv = vm._load(a, {size})"]
    if spec.kind == "ldxs":
        lines.append(f"{d} = {_sext(d, spec.width)}")
    return lines


def _store(insn, size: int, value: str) -> list[str]:
    value = f"{value} & {MASK[size * 8]}"
    if _on_stack(insn.dst, insn.off, size):
        return [f"PACK{size}(sv, {STACK_SIZE + insn.off}, {value})"]
    return [f"a = {_addr(insn.dst, insn.off)}",  # the write cache (ws, we, wv) holds writable regions only
            f"if ws <= a and a + {size} <= we: PACK{size}(wv, a - ws, {value})",
            f"else: ws, we, wv = vm._store(a, {size}, {value})"]


def _st(pc, insn, spec):
    return _store(insn, spec.width // 8, str(insn.imm & M64))


def _stx(pc, insn, spec):
    return _store(insn, spec.width // 8, _r(insn.src))


def _aligned(pc, insn, size):
    return [f"a = {_addr(insn.dst if insn.spec.kind != 'load_acq' else insn.src, insn.off)}",
            f"if a % {size}: MISALIGNED({pc}, a, {size})"]


def _atomic(pc, insn, spec):
    w, op, s = spec.width, spec.op, _r(insn.src)
    size, m = w // 8, MASK[w]
    lines = _aligned(pc, insn, size) + [f"o = load(a, {size})"]
    if op == "cmpxchg":
        return lines + [f"if o == r0 & {m}: store(a, {size}, {s})", "r0 = o"]
    base = op.removeprefix("fetch_")
    new = s if base == "xchg" else ALU_EXPR[base].format(a="o", b=f"({s} & {m})", m=m, s=w - 1)
    lines.append(f"store(a, {size}, {new})")
    if op.startswith("fetch") or op == "xchg":
        lines.append(f"{s} = o")
    return lines


def _load_acq(pc, insn, spec):
    size = spec.width // 8
    return _aligned(pc, insn, size) + [f"{_r(insn.dst)} = load(a, {size})"]


def _store_rel(pc, insn, spec):
    size = spec.width // 8
    return _aligned(pc, insn, size) + [f"store(a, {size}, {_r(insn.src)})"]


def _lddw(pc, insn, spec):
    return [f"{_r(insn.dst)} = LD{pc}"]  # bound per engine: pseudo lddw values differ per load


def _ld_packet(pc, insn, spec):
    index = _r(insn.src) if spec.kind == "ldind" else "0"
    return [f"r0 = vm._ld_packet({pc}, {index}, {insn.imm}, {spec.width // 8})",
            "if r0 is None:", "    r0 = 0", "    vm._left = b", "    return 0"]


def _ja(pc, insn, spec):
    return [f"pc = {pc + 1 + (insn.imm if spec.op == 'gotol' else insn.off)}"]


def condition(insn: Insn) -> str:
    spec = insn.spec
    w = spec.width
    a, b = _operands(insn, spec, w)
    return JMP_EXPR[spec.op].format(a=a, b=b, t=1 << (w - 1))


def _jcond(pc, insn, spec):
    return [f"pc = {pc + 1 + insn.off} if {condition(insn)} else {pc + 1}"]


_ARGS = "r1, r2, r3, r4, r5"
FORGET = "cs = ce = ws = we = 0"  # a call may unmap regions: the access caches start over


def _call(pc, insn, spec):
    if spec.op == "local":
        target = pc + 1 + insn.imm
        return [f"if depth >= {7}: TOO_DEEP({pc})", "vm._left = b",
                f"r0 = F{target}(vm, {_ARGS}, depth + 1)", "b = vm._left", FORGET, f"pc = {pc + 1}"]
    if spec.op == "kfunc":
        return [f"KFUNC({pc})"]
    return ["vm._left = b", f"r0 = HELPER({pc}, {insn.imm}, depth, {_ARGS})", "b = vm._left", FORGET,
            f"pc = {pc + 1}"]


def _callx(pc, insn, spec):
    return ["vm._left = b", f"r0 = vm._callx({pc}, {_r(insn.dst)}, depth, {_ARGS})", "b = vm._left",
            FORGET, f"pc = {pc + 1}"]


def _exit(pc, insn, spec):
    return ["vm._left = b", "return r0"]


def _may_goto(pc, insn, spec):
    return ["if vm.may_goto_budget <= 0:", f"    pc = {pc + 1 + insn.off}", "else:",
            "    vm.may_goto_budget -= 1", f"    pc = {pc + 1}"]


# kind of the opcode table -> emitter of one instruction's Python lines.
EMITTERS = {
    "alu": _alu, "neg": _neg, "movsx": _movsx, "end": _end,
    "ldx": _ldx, "ldxs": _ldx, "st": _st, "stx": _stx, "atomic": _atomic,
    "load_acq": _load_acq, "store_rel": _store_rel, "lddw": _lddw,
    "ldabs": _ld_packet, "ldind": _ld_packet,
    "ja": _ja, "jcond": _jcond, "call": _call, "callx": _callx, "exit": _exit, "may_goto": _may_goto,
}


def _successors(pc: int, insn: Insn) -> list[int]:
    spec = insn.spec
    if spec.kind == "exit":
        return []
    if spec.kind == "ja":
        return [pc + 1 + (insn.imm if spec.op == "gotol" else insn.off)]
    if spec.kind in ("jcond", "may_goto"):
        return [pc + 1, pc + 1 + insn.off]
    return [pc + insn.size]


def blocks(slots: list[Insn | None], entry: int) -> dict[int, list[int]]:
    """The basic blocks reachable from entry: leader pc -> the pcs of its instructions."""
    reach, work = set(), [entry]
    leaders = {entry}
    while work:
        pc = work.pop()
        if pc in reach:
            continue
        reach.add(pc)
        insn = slots[pc]
        nxt = _successors(pc, insn)
        if insn.spec.kind in TERMINATORS:
            leaders.update(nxt)
        work.extend(nxt)
    result: dict[int, list[int]] = {}
    for leader in sorted(leaders & reach):
        pcs, pc = [], leader
        while True:
            pcs.append(pc)
            insn = slots[pc]
            if insn.spec.kind in TERMINATORS:
                break
            pc += insn.size
            if pc in leaders:
                pcs.append(-pc)  # falls through into the next leader
                break
        result[leader] = pcs
    return result


class Source:
    """Python source under construction, with the pc and budget rest of every line."""

    def __init__(self):
        self.text: list[str] = []
        self.lines: dict[int, tuple[int, int]] = {}  # 1-based line -> (pc, instructions after it in its block)

    def add(self, indent: int, line: str, where: tuple[int, int] | None = None) -> None:
        self.text.append(" " * indent + line)
        if where is not None:
            self.lines[len(self.text)] = where


def _dispatch(src: Source, leaders: list[int], emit_block, indent: int) -> None:
    """A binary tree of comparisons over the sorted leaders, a block at each leaf."""
    if len(leaders) <= 3:
        for i, leader in enumerate(leaders):
            if i == len(leaders) - 1 and i > 0:
                src.add(indent, "else:")
            else:
                src.add(indent, f"{'if' if i == 0 else 'elif'} pc == {leader}:")
            emit_block(leader, indent + 4)
        return
    mid = len(leaders) // 2
    src.add(indent, f"if pc < {leaders[mid]}:")
    _dispatch(src, leaders[:mid], emit_block, indent + 4)
    src.add(indent, "else:")
    _dispatch(src, leaders[mid:], emit_block, indent + 4)


def function(src: Source, slots: list[Insn | None], entry: int) -> None:
    """Append the source of F<entry> to src."""
    graph = blocks(slots, entry)
    src.add(0, f"def F{entry}(vm, r1, r2, r3, r4, r5, depth):")
    src.add(4, "r0 = r6 = r7 = r8 = r9 = cs = ce = ws = we = 0; cv = wv = None")
    src.add(4, "sv = VIEWS[depth]; r10 = ENDS[depth]; ZERO(STARTS[depth], 0, 512)")
    src.add(4, f"b = vm._left; pc = {entry}")
    src.add(4, "while True:")

    def emit_block(leader: int, indent: int) -> None:
        pcs = graph[leader]
        run = [pc for pc in pcs if pc >= 0]
        n = len(run)
        last = slots[run[-1]]
        if last.spec.kind == "jcond" and run[-1] + 1 + last.off == leader:
            return self_loop(leader, run, indent)
        src.add(indent, f"b -= {n}")
        src.add(indent, "if b < 0:")
        src.add(indent + 4, f"vm._limit({leader}, b + {n}, [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10], depth)")
        for k, pc in enumerate(run):
            insn = slots[pc]
            for line in EMITTERS[insn.spec.kind](pc, insn, insn.spec):
                src.add(indent, line, (pc, n - k - 1))
        if pcs[-1] < 0:
            src.add(indent, f"pc = {-pcs[-1]}")

    def self_loop(leader: int, run: list[int], indent: int) -> None:
        """A block that branches back to itself loops in place, without going through the dispatch."""
        n = len(run)
        src.add(indent, "while True:")
        indent += 4
        src.add(indent, f"b -= {n}")
        src.add(indent, "if b < 0:")
        src.add(indent + 4, f"vm._limit({leader}, b + {n}, [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10], depth)")
        for k, pc in enumerate(run[:-1]):
            insn = slots[pc]
            for line in EMITTERS[insn.spec.kind](pc, insn, insn.spec):
                src.add(indent, line, (pc, n - k - 1))
        src.add(indent, f"if not ({condition(slots[run[-1]])}):", (run[-1], 0))
        src.add(indent + 4, f"pc = {run[-1] + 1}", (run[-1], 0))
        src.add(indent + 4, "break")

    leaders = sorted(graph)
    if len(leaders) == 1:
        emit_block(leaders[0], 8)
    else:
        _dispatch(src, leaders, emit_block, 8)
    src.add(0, "")


def semantic_names() -> dict[str, object]:
    """The functions of pybpf.isa.semantics the generated code may call, by their generated names."""
    from ..isa.semantics import END
    names = {f"ALU_{op}": fn for op, fn in ALU.items()}
    names.update({f"END_{op}": fn for op, fn in END.items()})
    return names

"""The control flow of the compiled-Python engine: basic blocks laid out as Python functions.

Each subprogram entry becomes one function `F<pc>(vm, r1..r5, depth)` with
the registers as locals.  Its body is a `while True` loop whose dispatch, a
binary tree of `pc` comparisons over the block leaders, picks a *root*
block.  A root does not hand every jump back to the dispatch: its code
goes on into its successors, laid out inline after it (a conditional jump
is an `if` whose two arms carry on into their targets), and a jump back to
the root itself is a `continue` of a `while True` around it.  So a loop
whose body fits under the root runs without any dispatch, and a chain of
small blocks (if-then diamonds, a switch's cases) costs one branch per
jump.  A block reached from several places is laid out once under each
(tail duplication), up to INLINE_LIMIT instructions per root and, in a
large function, its size again in all (INLINE_TOTAL: compile() time grows
with the code); past that,
or on a jump into a block already on the path, the code sets `pc` and
`break`s to the dispatch.

Every instruction is generated on lines of its own, and `Source.lines` maps
each line to (pc, instructions left in its block after it): a fault's
traceback line names the faulting pc and how many instructions ran, at no
run-time cost.  The instruction budget is charged once per block, inlined
or not (`b -= n`); a block the budget cannot pay for is finished by the
reference closures (`vm._limit`).  Calls end blocks, so a callback draws on
the budget exactly as in the interpreter.

Along each laid-out path the generator knows which registers hold r10 + k
(`compiled_codegen.track`): loads and stores through them that stay inside
the frame go straight to the stack buffer, without a region lookup.
"""

from __future__ import annotations

from ..isa.insn import Insn
from .compiled_codegen import EMITTERS, alu_expr, call, condition, fusable, track

TERMINATORS = {"ja", "jcond", "exit", "may_goto", "call", "callx"}
INLINE_LIMIT = 48  # instructions laid out under one root beyond its own block
# and under all roots of a function together: its size again, or INLINE_FLOOR for a small one
INLINE_TOTAL, INLINE_FLOOR = 1, 512
MAX_NESTING = 40  # indentation levels (Python's parser stops at 100)
REGS = "[r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10]"


def _successors(pc: int, insn: Insn) -> list[int]:
    spec = insn.spec
    if spec.kind == "exit":
        return []
    if spec.kind == "ja":
        return [_jump_target(pc, insn)]
    if spec.kind in ("jcond", "may_goto"):
        return [pc + 1, pc + 1 + insn.off]
    return [pc + insn.size]


def _jump_target(pc: int, insn: Insn) -> int:
    return pc + 1 + (insn.imm if insn.spec.op == "gotol" else insn.off)


def blocks(slots: list[Insn | None], entry: int) -> dict[int, list[int]]:
    """The basic blocks reachable from entry: leader pc -> the pcs of its instructions
    (then -next when it falls through into the next leader)."""
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


def _dispatch(src: Source, leaders: list[int], emit_root, indent: int) -> None:
    """A binary tree of comparisons over the sorted leaders, a root block at each leaf."""
    if len(leaders) <= 3:
        for i, leader in enumerate(leaders):
            if i == len(leaders) - 1 and i > 0:
                src.add(indent, "else:")
            else:
                src.add(indent, f"{'if' if i == 0 else 'elif'} pc == {leader}:")
            emit_root(leader, indent + 4)
        return
    mid = len(leaders) // 2
    src.add(indent, f"if pc < {leaders[mid]}:")
    _dispatch(src, leaders[:mid], emit_root, indent + 4)
    src.add(indent, "else:")
    _dispatch(src, leaders[mid:], emit_root, indent + 4)


class _Layout:
    """Lays out one root block and what it inlines."""

    def __init__(self, src: Source, slots, graph: dict[int, list[int]], fast: frozenset[int]):
        self.src, self.slots, self.graph, self.fast = src, slots, graph, fast
        size = sum(len([pc for pc in pcs if pc >= 0]) for pcs in graph.values())
        self.total = max(INLINE_TOTAL * size, INLINE_FLOOR)

    def root(self, leader: int, indent: int) -> None:
        self.budget = INLINE_LIMIT
        self.leader = leader
        self.src.add(indent, "while True:")
        self.block(leader, indent + 4, {10: 0}, (leader,))

    def goto(self, target: int, indent: int, fp: dict[int, int], path: tuple[int, ...]) -> None:
        """Continue at target: loop to the root, lay the block out here, or go through the dispatch."""
        if target == self.leader:
            self.src.add(indent, "continue")
            return
        size = len([pc for pc in self.graph[target] if pc >= 0])
        if target not in path and size <= min(self.budget, self.total) and indent < 4 * MAX_NESTING:
            self.budget -= size
            self.total -= size
            self.block(target, indent, dict(fp), path + (target,))
            return
        self.src.add(indent, f"pc = {target}")
        self.src.add(indent, "break")

    def block(self, leader: int, indent: int, fp: dict[int, int], path: tuple[int, ...]) -> None:
        src, slots = self.src, self.slots
        pcs = self.graph[leader]
        run = [pc for pc in pcs if pc >= 0]
        n = len(run)
        src.add(indent, f"b -= {n}")
        src.add(indent, "if b < 0:")
        src.add(indent + 4, f"vm._limit({leader}, b + {n}, {REGS}, depth)")
        fused = False
        for k, pc in enumerate(run):
            insn = slots[pc]
            kind, where = insn.spec.kind, (pc, n - k - 1)
            if fused:  # laid out with the mov before it
                fused = False
                track(fp, insn)
                continue
            if k + 1 < n and fusable(insn, slots[run[k + 1]]):
                fused = True
                src.add(indent, f"r{insn.dst} = {alu_expr(slots[run[k + 1]], f'r{insn.src}')}", where)
                track(fp, insn)
                continue
            if kind == "ja":
                return self.goto(_jump_target(pc, insn), indent, fp, path)
            if kind == "jcond":
                src.add(indent, f"if {condition(insn)}:", where)
                self.goto(pc + 1 + insn.off, indent + 4, fp, path)
                return self.goto(pc + 1, indent, fp, path)
            if kind == "may_goto":
                src.add(indent, "if vm.may_goto_budget <= 0:", where)
                self.goto(pc + 1 + insn.off, indent + 4, fp, path)
                src.add(indent, "vm.may_goto_budget -= 1", where)
                return self.goto(pc + 1, indent, fp, path)
            lines = call(pc, insn, fp, self.fast) if kind in ("call", "callx") else \
                EMITTERS[kind](pc, insn, insn.spec, fp)
            for line in lines:
                src.add(indent, line, where)
            track(fp, insn)
            if kind in ("call", "callx"):
                return self.goto(pc + 1, indent, fp, path)
            if kind == "exit":
                return
        self.goto(-pcs[-1], indent, fp, path)


def function(src: Source, slots: list[Insn | None], entry: int, fast: frozenset[int] = frozenset()) -> None:
    """Append the source of F<entry> to src; `fast` are the helper ids called straight (codegen.call)."""
    graph = blocks(slots, entry)
    src.add(0, f"def F{entry}(vm, r1, r2, r3, r4, r5, depth):")
    src.add(4, "r0 = r6 = r7 = r8 = r9 = cs = ce = ws = we = 0; cv = wv = None")
    # a fresh zeroed frame; a slice assignment costs a third of a ctypes.memset call
    src.add(4, "sv = VIEWS[depth]; r10 = ENDS[depth]; sv[:] = ZEROS")
    src.add(4, f"b = vm._left; pc = {entry}")
    src.add(4, "while True:")
    layout = _Layout(src, slots, graph, fast)
    leaders = sorted(graph)
    if len(leaders) == 1:
        layout.root(leaders[0], 8)
    else:
        _dispatch(src, leaders, layout.root, 8)
    src.add(0, "")

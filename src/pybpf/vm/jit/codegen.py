"""BPF instructions -> one LLVM function `void prog(i64* state)`, by the opcode table's `kind`.

Registers are allocas (mem2reg makes them SSA), every jump target starts a
basic block, local calls push an explicit frame stack (return block id and
the caller's r6-r10) and `exit` pops it through a switch.  Everything the
code needs at run time lives in the `state` words of `layout` (the entry
pc, r1-r5, the stack frames' ends, the step counter); helpers, packet loads
and checked-mode memory checks go through two callbacks into Python whose
symbols the engine binds (llvm.add_symbol).  A callback that fails sets
`state[STATUS]` and the code returns at once; Python raises what it kept.
"""

from __future__ import annotations

import errno

from llvmlite import ir

from ...helpers import helper_id
from ...isa.semantics import MASK
from ..check import subprogram_entries
from ..interp import MAY_GOTO_BUDGET
from . import layout as L
from . import native_hash
from .native_helpers import EMITTERS
from .native_ringbuf import RingEmitter

i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
INT = {8: i8, 16: ir.IntType(16), 32: i32, 64: i64}
BOUNDS = ir.LiteralStructType([i64, i64])  # [start, end) of a region; (1, 0) for none
ICMP = {"jeq": ("u", "=="), "jne": ("u", "!="), "jgt": ("u", ">"), "jge": ("u", ">="), "jlt": ("u", "<"),
        "jle": ("u", "<="), "jsgt": ("s", ">"), "jsge": ("s", ">="), "jslt": ("s", "<"), "jsle": ("s", "<=")}
RMW = {"add": "add", "or": "or", "and": "and", "xor": "xor", "xchg": "xchg"}
FRAMES = 8
MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM = helper_id("map_lookup_elem"), helper_id("map_update_elem")
BPF_NOEXIST, BPF_EXIST = 1, 2
# The two callbacks into Python, bound to these names with llvm.add_symbol by the engine.
HELPER_SYMBOL, CHECK_SYMBOL = "pybpf_jit_helper", "pybpf_jit_check"
PROG_SYMBOL, LOOP_SYMBOL = "prog", "loop"  # the entry of one activation; n whole runs (engine.run)


def _const(value: int, width: int = 64) -> ir.Constant:
    return ir.Constant(INT[width], value & MASK[width])


def leaders(slots, entries) -> set[int]:
    """The pcs that start a basic block: entries, jump targets, what follows a jump, call or exit."""
    out = set(entries)
    for pc, insn in enumerate(slots):
        if insn is None:
            continue
        kind = insn.spec.kind
        if kind in ("ja", "jcond", "may_goto"):
            out.add(pc + 1 + (insn.imm if insn.spec.op == "gotol" else insn.off))
            out.add(pc + 1)
        elif kind in ("call", "callx", "exit", "ldabs", "ldind"):
            out.add(pc + 1)
    return {pc for pc in out if pc < len(slots) and slots[pc] is not None}


class Codegen:
    """Builds the module of one program.  lddw: pc -> value (resolved by the engine)."""

    def __init__(self, slots, lddw: dict[int, int], checked: bool, code_start: int,
                 arrays: dict[int, tuple[int, int, int, int]] | None = None,
                 native_helpers: frozenset[int] = frozenset(),
                 hashes: dict[int, native_hash.NativeHash] | None = None, rings=None):
        self.slots, self.lddw, self.checked = slots, lddw, checked
        # map handle -> (element 0, element size, max_entries, value size): inline lookups and updates
        self.arrays = arrays or {}
        self.hashes = hashes or {}  # map handle -> its native hash index: lookups and updates (native_hash)
        self.native_helpers = native_helpers  # helper ids run in native code (native_helpers.EMITTERS)
        self.rings = RingEmitter(self, rings) if rings else None  # native_ringbuf.plan: ring buffer helpers
        self.code_start = code_start
        self.module = ir.Module(name="bpf")
        fn_type = ir.FunctionType(i64, [i64.as_pointer()] + [i64] * 7)
        self.helper = ir.Function(self.module, fn_type, name=HELPER_SYMBOL)
        chk_type = ir.FunctionType(i64, [i64.as_pointer(), i64, i64, i64])
        self.check = ir.Function(self.module, chk_type, name=CHECK_SYMBOL) if checked else None
        find_type = ir.FunctionType(BOUNDS, [i64.as_pointer(), i64, i64, i64])
        self.find = ir.Function(self.module, find_type, name="find_region") if checked else None
        self.fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [i64.as_pointer()]), name=PROG_SYMBOL)
        self.memset = self.module.declare_intrinsic("llvm.memset", [i8.as_pointer(), i64])
        self.memcpy = self.module.declare_intrinsic("llvm.memcpy", [i8.as_pointer(), i8.as_pointer(), i64])
        self.entries = sorted(subprogram_entries(slots))

    # -- helpers for building ------------------------------------------------
    def word(self, index: int):
        return self.b.gep(self.state, [_const(index, 32)])

    def reg(self, r: int):
        return self.b.load(self.regs[r])

    def set(self, r: int, value) -> None:
        if value.type != i64:
            value = self.b.zext(value, i64)
        self.b.store(value, self.regs[r])

    def operand(self, insn, w: int):
        if "src" in insn.spec.operands:
            v = self.reg(insn.src)
            return self.b.trunc(v, i32) if w == 32 else v
        return _const(insn.imm, w)

    def fail_if(self, cond) -> None:
        """Return from the function when cond holds (state[STATUS] already says why)."""
        bad, good = self.fn.append_basic_block(), self.fn.append_basic_block()
        self.b.cbranch(cond, bad, good)
        self.b.position_at_end(bad)
        self.leave()
        self.b.position_at_end(good)

    def fault(self, pc: int, code: int) -> None:
        self.b.store(_const(code), self.word(L.STATUS))
        self.b.store(_const(pc), self.word(L.FAULT_PC))
        self.leave()

    def leave(self) -> None:
        """Return to the caller, the step count written back (checked mode counts in a local)."""
        if self.checked:
            self.b.store(self.b.load(self.steps), self.word(L.STEPS))
        self.b.ret_void()

    def status_check(self) -> None:
        self.fail_if(self.b.icmp_unsigned("!=", self.b.load(self.word(L.STATUS)), _const(0)))

    def address(self, pc: int, base: int, off: int, size: int, flags: int):
        addr = self.b.add(self.reg(base), _const(off))
        if self.checked and not (base == 10 and -L.STACK_SIZE <= off and off + size <= 0 and not flags & L.ATOMIC):
            self.checked_access(pc, addr, size, flags)
        return self.b.inttoptr(addr, INT[size * 8].as_pointer())

    def checked_access(self, pc: int, addr, size: int, flags: int) -> None:
        """Checked mode: the access must be wholly inside one region (writable for a write), atomics aligned.

        The last region read and the last one written are cached in locals (forgotten after
        each helper call, which may unmap regions); a miss searches the address space's
        `NativeTable`; what that refuses goes to the Python check, which raises the fault.
        """
        b = self.b
        lo, hi = self.cache[bool(flags & L.WRITE)]
        end = b.add(addr, _const(size))
        top = self.reg(10)  # the current frame, always a writable region
        in_frame = b.and_(b.icmp_unsigned("<=", b.sub(top, _const(L.STACK_SIZE)), addr),
                          b.icmp_unsigned("<=", end, top))
        hit = b.and_(b.icmp_unsigned("<=", b.load(lo), addr), b.icmp_unsigned("<=", end, b.load(hi)))
        hit = b.and_(b.or_(hit, in_frame), b.icmp_unsigned(">=", end, addr))
        if flags & L.ATOMIC and size > 1:
            hit = b.and_(hit, b.icmp_unsigned("==", b.and_(addr, _const(size - 1)), _const(0)))
        done, search = self.fn.append_basic_block(), self.fn.append_basic_block()
        b.cbranch(hit, done, search)
        b.position_at_end(search)
        bounds = b.call(self.find, [self.state, addr, _const(size), _const(1 if flags & L.WRITE else 0)])
        start, stop = b.extract_value(bounds, 0), b.extract_value(bounds, 1)
        b.store(start, lo)
        b.store(stop, hi)
        found = b.and_(b.icmp_unsigned("<=", start, addr), b.icmp_unsigned("<=", end, stop))
        if flags & L.ATOMIC and size > 1:
            found = b.and_(found, b.icmp_unsigned("==", b.and_(addr, _const(size - 1)), _const(0)))
        slow = self.fn.append_basic_block()
        b.cbranch(found, done, slow)
        b.position_at_end(slow)
        r = b.call(self.check, [self.state, _const(pc), addr, _const(size | flags)])
        self.fail_if(b.icmp_unsigned("!=", r, _const(0)))
        b.branch(done)
        b.position_at_end(done)

    def forget_regions(self) -> None:
        for lo, hi in self.cache:
            self.b.store(_const(0), lo)
            self.b.store(_const(0), hi)

    def depth(self):
        return self.b.add(self.b.load(self.word(L.BASE)), self.b.load(self.nframes))

    def limit_check(self, pc: int) -> None:
        """Checked mode: fault at pc when the run's instruction count is over the limit.

        Counted per block, checked where a run can go on unboundedly or act: at
        the entries and the targets of backward jumps (every loop passes one), before
        helper calls and at exits.  So a run faults exactly when the interpreter's
        does, but maybe a few straight-line blocks later, at the next of those points.
        """
        over = self.b.icmp_unsigned(">", self.b.load(self.steps), self.b.load(self.limit))
        bad, good = self.fn.append_basic_block(), self.fn.append_basic_block()
        self.b.cbranch(over, bad, good)
        self.b.position_at_end(bad)
        self.fault(pc, L.FAULT_STEPS)
        self.b.position_at_end(good)

    def call_helper(self, pc: int, helper_id, args) -> ir.Value:
        self.b.store(self.depth(), self.word(L.DEPTH))
        if self.checked:  # callbacks the helper makes count on from here, and a fault reads the count
            self.limit_check(pc)
            self.b.store(self.b.load(self.steps), self.word(L.STEPS))
        r = self.b.call(self.helper, [self.state, _const(pc), helper_id] + args)
        if self.checked:
            self.b.store(self.b.load(self.word(L.STEPS)), self.steps)
        self.status_check()
        if self.checked:
            self.forget_regions()
        return r

    # -- the function --------------------------------------------------------
    def build(self) -> ir.Module:
        fn = self.fn
        self.state = fn.args[0]
        entry = fn.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)
        self.regs = [self.b.alloca(i64, name=f"r{i}") for i in range(11)]
        self.nframes = self.b.alloca(i64, name="nframes")
        self.ret_ids = self.b.alloca(ir.ArrayType(i64, FRAMES))
        self.saved = self.b.alloca(ir.ArrayType(i64, FRAMES * 5))
        self.steps, self.limit = self.b.alloca(i64, name="steps"), self.b.alloca(i64, name="limit")
        if self.checked:
            self.b.store(self.b.load(self.word(L.STEPS)), self.steps)
            self.b.store(self.b.load(self.word(L.LIMIT)), self.limit)
        self.cache = [(self.b.alloca(i64, name="read_lo"), self.b.alloca(i64, name="read_hi")),
                      (self.b.alloca(i64, name="write_lo"), self.b.alloca(i64, name="write_hi"))]
        if self.checked:
            self.forget_regions()
        self.b.store(_const(0), self.nframes)
        for r in range(11):
            self.b.store(_const(0), self.regs[r])
        for r in range(1, 6):
            self.set(r, self.b.load(self.word(L.ARGS + r - 1)))
        base = self.b.load(self.word(L.BASE))
        self.set(10, self.b.load(self.b.gep(self.state, [self.b.add(base, _const(L.STACKS))])))
        starts = sorted(leaders(self.slots, self.entries))
        self.loop_heads = set(self.entries) | {pc + 1 + (i.imm if i.spec.op == "gotol" else i.off)
                                               for pc, i in enumerate(self.slots) if i is not None
                                               and i.spec.kind in ("ja", "jcond", "may_goto")
                                               and (i.imm if i.spec.op == "gotol" else i.off) < 0}
        self.blocks = {pc: fn.append_basic_block(f"pc{pc}") for pc in starts}
        self.returns = sorted(pc + 1 for pc, i in enumerate(self.slots)
                              if i is not None and i.spec.kind in ("call", "callx") and pc + 1 in self.blocks)
        bad_entry = fn.append_basic_block("bad_entry")
        switch = self.b.switch(self.b.load(self.word(L.ENTRY)), bad_entry)
        for pc in self.entries:
            switch.add_case(_const(pc), self.blocks[pc])
        self.b.position_at_end(bad_entry)
        self.fault(-1, L.FAULT_ENTRY)
        self.exit_block = fn.append_basic_block("exit")
        for i, pc in enumerate(starts):
            self.b.position_at_end(self.blocks[pc])
            end = starts[i + 1] if i + 1 < len(starts) else len(self.slots)
            self.block(pc, end)
        self.build_exit()
        if self.checked:
            build_find(self.find)
        build_loop(self.module, self.fn, self.memset)
        return self.module

    def block(self, start: int, end: int) -> None:
        if self.checked:
            n = sum(1 for i in self.slots[start:end] if i is not None)
            self.b.store(self.b.add(self.b.load(self.steps), _const(n)), self.steps)
            if start in self.loop_heads:
                self.limit_check(start)
        for pc in range(start, end):
            insn = self.slots[pc]
            if insn is None:
                continue
            getattr(self, "k_" + insn.spec.kind)(pc, insn, insn.spec)
            if self.b.block.is_terminated:
                return
        self.b.branch(self.blocks[end])

    # -- one method per kind of the opcode table -------------------------------
    def k_alu(self, pc, insn, spec):
        w, op, b = spec.width, spec.op, self.b
        y = self.operand(insn, w)
        if op == "mov":
            self.set(insn.dst, y)
            return
        x = self.reg(insn.dst)
        if w == 32:
            x = b.trunc(x, i32)
        zero, ones = _const(0, w), _const(-1, w)
        if op in ("lsh", "rsh", "arsh"):
            y = b.and_(y, _const(w - 1, w))
        is0 = b.icmp_unsigned("==", y, zero)
        if op in ("div", "mod"):
            safe = b.select(is0, _const(1, w), y)
            r = b.udiv(x, safe) if op == "div" else b.urem(x, safe)
            r = b.select(is0, zero if op == "div" else x, r)
        elif op in ("sdiv", "smod"):
            neg1 = b.icmp_unsigned("==", y, ones)
            safe = b.select(b.or_(is0, neg1), _const(1, w), y)
            r = b.sdiv(x, safe) if op == "sdiv" else b.srem(x, safe)
            r = b.select(neg1, b.sub(zero, x) if op == "sdiv" else zero, r)
            r = b.select(is0, zero if op == "sdiv" else x, r)
        else:
            r = {"add": b.add, "sub": b.sub, "mul": b.mul, "or": b.or_, "and": b.and_, "xor": b.xor,
                 "lsh": b.shl, "rsh": b.lshr, "arsh": b.ashr}[op](x, y)
        self.set(insn.dst, r)

    def k_neg(self, pc, insn, spec):
        x = self.reg(insn.dst)
        if spec.width == 32:
            x = self.b.trunc(x, i32)
        self.set(insn.dst, self.b.neg(x))

    def k_movsx(self, pc, insn, spec):
        v = self.b.sext(self.b.trunc(self.reg(insn.src), INT[insn.off]), INT[spec.width])
        self.set(insn.dst, v)

    def k_end(self, pc, insn, spec):
        v = self.b.trunc(self.reg(insn.dst), INT[spec.width]) if spec.width < 64 else self.reg(insn.dst)
        if spec.op != "le" and spec.width > 8:
            v = self.b.bswap(v)
        self.set(insn.dst, v)

    def k_ldx(self, pc, insn, spec):
        ptr = self.address(pc, insn.src, insn.off, spec.width // 8, 0)
        v = self.b.load(ptr, align=1)
        self.set(insn.dst, self.b.sext(v, i64) if spec.kind == "ldxs" and spec.width < 64 else v)

    k_ldxs = k_ldx

    def k_load_acq(self, pc, insn, spec):
        ptr = self.address(pc, insn.src, insn.off, spec.width // 8, L.ATOMIC)
        self.set(insn.dst, self.b.load(ptr, align=spec.width // 8))

    def k_st(self, pc, insn, spec):
        ptr = self.address(pc, insn.dst, insn.off, spec.width // 8, L.WRITE)
        self.b.store(_const(insn.imm, spec.width), ptr, align=1)

    def k_stx(self, pc, insn, spec):
        ptr = self.address(pc, insn.dst, insn.off, spec.width // 8,
                           L.WRITE | (L.ATOMIC if spec.kind == "store_rel" else 0))
        v = self.reg(insn.src)
        self.b.store(self.b.trunc(v, INT[spec.width]) if spec.width < 64 else v, ptr, align=1)

    k_store_rel = k_stx

    def k_atomic(self, pc, insn, spec):
        w, b = spec.width, self.b
        ptr = self.address(pc, insn.dst, insn.off, w // 8, L.WRITE | L.ATOMIC)
        src = self.reg(insn.src)
        if w == 32:
            src = b.trunc(src, i32)
        if spec.op == "cmpxchg":
            expect = self.reg(0)
            if w == 32:
                expect = b.trunc(expect, i32)
            pair = b.cmpxchg(ptr, expect, src, "seq_cst", "seq_cst")
            self.set(0, b.extract_value(pair, 0))
            return
        old = b.atomic_rmw(RMW[spec.op.removeprefix("fetch_")], ptr, src, "seq_cst")
        if spec.op.startswith("fetch") or spec.op == "xchg":
            self.set(insn.src, old)

    def k_lddw(self, pc, insn, spec):
        self.set(insn.dst, _const(self.lddw[pc]))

    def k_ldabs(self, pc, insn, spec):
        off = _const(insn.imm, 64)
        if spec.kind == "ldind":
            off = self.b.add(self.reg(insn.src), off)
        off = self.b.and_(off, _const(MASK[32]))
        v = self.call_helper(pc, _const(L.HELPER_PACKET), [off, _const(spec.width // 8)] + [_const(0)] * 3)
        self.set(0, v)
        miss = self.b.load(self.word(L.PACKET_MISS))
        out, ok = self.fn.append_basic_block(), self.fn.append_basic_block()
        self.b.cbranch(self.b.icmp_unsigned("!=", miss, _const(0)), out, ok)
        self.b.position_at_end(out)
        self.b.store(_const(0), self.word(L.PACKET_MISS))
        self.b.branch(self.exit_block)
        self.b.position_at_end(ok)

    k_ldind = k_ldabs

    def k_ja(self, pc, insn, spec):
        self.b.branch(self.blocks[pc + 1 + (insn.imm if spec.op == "gotol" else insn.off)])

    def k_jcond(self, pc, insn, spec):
        w = spec.width
        x = self.reg(insn.dst)
        if w == 32:
            x = self.b.trunc(x, i32)
        y = self.operand(insn, w)
        if spec.op == "jset":
            cond = self.b.icmp_unsigned("!=", self.b.and_(x, y), _const(0, w))
        else:
            sign, rel = ICMP[spec.op]
            cond = (self.b.icmp_signed if sign == "s" else self.b.icmp_unsigned)(rel, x, y)
        self.b.cbranch(cond, self.blocks[pc + 1 + insn.off], self.blocks[pc + 1])

    def k_may_goto(self, pc, insn, spec):
        budget = self.word(L.MAY_GOTO)
        left = self.b.load(budget)
        go_on = self.fn.append_basic_block()
        self.b.cbranch(self.b.icmp_signed("<=", left, _const(0)), self.blocks[pc + 1 + insn.off], go_on)
        self.b.position_at_end(go_on)
        self.b.store(self.b.sub(left, _const(1)), budget)
        self.b.branch(self.blocks[pc + 1])

    def k_call(self, pc, insn, spec):
        if spec.op == "local":
            self.local_call(pc, self.blocks[pc + 1 + insn.imm])
            return
        if insn.imm in self.native_helpers:
            self.set(0, EMITTERS[insn.imm](self.module, self.b))
            self.b.branch(self.blocks[pc + 1])
            return
        if insn.imm == MAP_LOOKUP_ELEM and self.arrays:
            self.inline_array_lookup(pc)
        if insn.imm == MAP_UPDATE_ELEM and self.arrays and not self.checked:
            self.inline_array_update(pc)
        if insn.imm == MAP_LOOKUP_ELEM and self.hashes:
            native_hash.lookup(self, pc, self.hashes)
        if insn.imm == MAP_UPDATE_ELEM and self.hashes and not self.checked:
            native_hash.update(self, pc, self.hashes)
        if self.rings is not None and insn.imm in self.rings.plan.helpers:
            self.rings.emit(pc, insn.imm)
        args = [self.reg(r) for r in range(1, 6)]
        self.set(0, self.call_helper(pc, _const(insn.imm), args))
        self.b.branch(self.blocks[pc + 1])

    def inline_array_lookup(self, pc) -> None:
        """bpf_map_lookup_elem on a known array map: &values[key] (or NULL past the end), no helper call."""
        b = self.b
        generic = self.fn.append_basic_block()
        switch = b.switch(self.reg(1), generic)
        for handle, (base, elem, entries, _) in sorted(self.arrays.items()):
            case = self.fn.append_basic_block()
            switch.add_case(_const(handle), case)
            b.position_at_end(case)
            index = b.zext(b.load(self.address(pc, 2, 0, 4, 0), align=1), i64)
            inside = b.icmp_unsigned("<", index, _const(entries))
            self.set(0, b.select(inside, b.add(_const(base), b.mul(index, _const(elem))), _const(0)))
            b.branch(self.blocks[pc + 1])
        b.position_at_end(generic)

    def inline_array_update(self, pc) -> None:
        """bpf_map_update_elem on a known array map, as ArrayMap.update does it: flags past BPF_EXIST are
        -EINVAL, an index past the end -E2BIG, BPF_NOEXIST -EEXIST (elements always exist), else the value
        is copied in and r0 = 0.  Verified code only: the key and value pointers are the verifier's to prove."""
        b = self.b
        generic = self.fn.append_basic_block()
        switch = b.switch(self.reg(1), generic)
        for handle, (base, elem, entries, size) in sorted(self.arrays.items()):
            case, copy, done = (self.fn.append_basic_block() for _ in range(3))
            switch.add_case(_const(handle), case)
            b.position_at_end(case)
            flags = self.reg(4)
            index = b.zext(b.load(b.inttoptr(self.reg(2), i32.as_pointer()), align=1), i64)
            r0 = b.select(b.icmp_unsigned("==", flags, _const(BPF_NOEXIST)), _const(-errno.EEXIST), _const(0))
            r0 = b.select(b.icmp_unsigned(">=", index, _const(entries)), _const(-errno.E2BIG), r0)
            r0 = b.select(b.icmp_unsigned(">", flags, _const(BPF_EXIST)), _const(-errno.EINVAL), r0)
            self.set(0, r0)
            b.cbranch(b.icmp_unsigned("==", r0, _const(0)), copy, done)
            b.position_at_end(copy)
            target = b.inttoptr(b.add(_const(base), b.mul(index, _const(elem))), i8.as_pointer())
            b.call(self.memcpy, [target, b.inttoptr(self.reg(3), i8.as_pointer()), _const(size), ir.Constant(i1, 0)])
            b.branch(done)
            b.position_at_end(done)
            b.branch(self.blocks[pc + 1])
        b.position_at_end(generic)

    def k_callx(self, pc, insn, spec):
        b = self.b
        value = self.reg(insn.dst)
        offset = b.sub(value, _const(self.code_start))
        local, helper = self.fn.append_basic_block(), self.fn.append_basic_block()
        b.cbranch(b.icmp_unsigned("<", offset, _const(len(self.slots) * 8)), local, helper)
        b.position_at_end(helper)
        self.set(0, self.call_helper(pc, value, [self.reg(r) for r in range(1, 6)]))
        b.branch(self.blocks[pc + 1])
        b.position_at_end(local)
        bad = self.fn.append_basic_block()
        switch = b.switch(offset, bad)
        for target in self.entries:
            case = self.fn.append_basic_block()
            switch.add_case(_const(target * 8), case)
            b.position_at_end(case)
            self.local_call(pc, self.blocks[target])
        b.position_at_end(bad)
        self.fault(pc, L.FAULT_CALLX)

    def local_call(self, pc, target) -> None:
        b = self.b
        n = b.load(self.nframes)
        depth = b.add(b.load(self.word(L.BASE)), b.add(n, _const(1)))
        too_deep, ok = self.fn.append_basic_block(), self.fn.append_basic_block()
        b.cbranch(b.icmp_unsigned(">=", depth, _const(FRAMES)), too_deep, ok)
        b.position_at_end(too_deep)
        self.fault(pc, L.FAULT_DEPTH)
        b.position_at_end(ok)
        b.store(_const(self.returns.index(pc + 1)), b.gep(self.ret_ids, [_const(0, 32), n]))
        for i, r in enumerate(range(6, 11)):
            slot = b.add(b.mul(n, _const(5)), _const(i))
            b.store(self.reg(r), b.gep(self.saved, [_const(0, 32), slot]))
        b.store(b.add(n, _const(1)), self.nframes)
        top = b.load(b.gep(self.state, [b.add(depth, _const(L.STACKS))]))
        low = b.inttoptr(b.sub(top, _const(L.STACK_SIZE)), i8.as_pointer())
        b.call(self.memset, [low, _const(0, 8), _const(L.STACK_SIZE), ir.Constant(i1, 0)])
        self.set(10, top)
        b.branch(target)

    def k_exit(self, pc, insn, spec):
        if self.checked:
            self.limit_check(pc)
        self.b.branch(self.exit_block)

    def build_exit(self) -> None:
        b = self.b
        b.position_at_end(self.exit_block)
        n = b.load(self.nframes)
        done, pop = self.fn.append_basic_block("done"), self.fn.append_basic_block("pop")
        b.cbranch(b.icmp_unsigned("==", n, _const(0)), done, pop)
        b.position_at_end(done)
        b.store(self.reg(0), self.word(L.R0))
        self.leave()
        b.position_at_end(pop)
        n = b.sub(n, _const(1))
        b.store(n, self.nframes)
        for i, r in enumerate(range(6, 11)):
            slot = b.add(b.mul(n, _const(5)), _const(i))
            self.set(r, b.load(b.gep(self.saved, [_const(0, 32), slot])))
        unreachable = self.fn.append_basic_block()
        switch = b.switch(b.load(b.gep(self.ret_ids, [_const(0, 32), n])), unreachable)
        for i, pc in enumerate(self.returns):
            switch.add_case(_const(i), self.blocks[pc])
        b.position_at_end(unreachable)
        b.unreachable()


def build_find(fn: ir.Function) -> None:
    """`{start, end} find_region(state, addr, size, write)`: binary search of the NativeTable.

    The bounds of the region that holds [addr, addr+size) (a writable one for a
    write), or (1, 0), which holds nothing.  Bounds, not pointers to the caller's
    cache, so that the cache stays in registers.
    """
    fn.linkage = "internal"
    state, addr, size, write = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    header = b.inttoptr(b.load(b.gep(state, [_const(L.REGIONS, 32)])), i64.as_pointer())
    count = b.load(header)
    table = b.inttoptr(b.load(b.gep(header, [_const(1, 32)])), i64.as_pointer())
    head, body, found, test, keep, miss = (fn.append_basic_block(n)
                                           for n in ("head", "body", "found", "test", "keep", "miss"))
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    lo, hi = b.phi(i64), b.phi(i64)
    lo.add_incoming(_const(0), entry)
    hi.add_incoming(count, entry)
    b.cbranch(b.icmp_unsigned("<", lo, hi), body, found)
    b.position_at_end(body)
    mid = b.lshr(b.add(lo, hi), _const(1))
    start = b.load(b.gep(table, [b.mul(mid, _const(3))]))
    after = b.icmp_unsigned("<=", start, addr)  # the region at mid starts at or before addr: look right
    lo.add_incoming(b.select(after, b.add(mid, _const(1)), lo), body)
    hi.add_incoming(b.select(after, hi, mid), body)
    b.branch(head)
    b.position_at_end(found)  # lo = the number of regions starting at or before addr
    b.cbranch(b.icmp_unsigned("==", lo, _const(0)), miss, test)
    b.position_at_end(test)
    row = b.mul(b.sub(lo, _const(1)), _const(3))
    start = b.load(b.gep(table, [row]))
    end = b.load(b.gep(table, [b.add(row, _const(1))]))
    writable = b.load(b.gep(table, [b.add(row, _const(2))]))
    last = b.add(addr, size)
    ok = b.and_(b.icmp_unsigned("<=", last, end), b.icmp_unsigned(">=", last, addr))
    ok = b.and_(ok, b.or_(b.icmp_unsigned("==", write, _const(0)), b.icmp_unsigned("!=", writable, _const(0))))
    b.cbranch(ok, keep, miss)
    b.position_at_end(keep)
    b.ret(b.insert_value(b.insert_value(ir.Constant(BOUNDS, ir.Undefined), start, 0), end, 1))
    b.position_at_end(miss)
    b.ret(ir.Constant(BOUNDS, [_const(1), _const(0)]))


def build_loop(module: ir.Module, prog: ir.Function, memset) -> None:
    """`i64 loop(state, n, r1)`: n runs of the program from pc 0, as BPF_PROG_TEST_RUN's repeat loop.

    Each run starts afresh: frame 0 zeroed, the status, entry, depth, step
    count and may_goto budget reset, r1 as given and r2-r5 from RUN_ARGS.
    Returns n, or the index of the run that stopped with a status.  One call
    is one run of `NativeEngine.run`: the whole set-up is here, not in Python.
    """
    fn = ir.Function(module, ir.FunctionType(i64, [i64.as_pointer(), i64, i64]), name=LOOP_SYMBOL)
    state, n, r1 = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    word = lambda index: b.gep(state, [_const(index, 32)])  # noqa: E731
    b.store(r1, word(L.RUN_ARGS))
    entry = b.block
    head, body, stop, done = (fn.append_basic_block(x) for x in ("head", "body", "stop", "done"))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(i64)
    i.add_incoming(_const(0), entry)
    b.cbranch(b.icmp_unsigned("<", i, n), body, done)
    b.position_at_end(body)
    low = b.inttoptr(b.sub(b.load(word(L.STACKS)), _const(L.STACK_SIZE)), i8.as_pointer())
    b.call(memset, [low, _const(0, 8), _const(L.STACK_SIZE), ir.Constant(i1, 0)])
    for index in (L.STATUS, L.ENTRY, L.BASE, L.DEPTH, L.STEPS):
        b.store(_const(0), word(index))
    b.store(_const(MAY_GOTO_BUDGET), word(L.MAY_GOTO))
    for r in range(5):
        b.store(b.load(word(L.RUN_ARGS + r)), word(L.ARGS + r))
    b.call(prog, [state])
    i.add_incoming(b.add(i, _const(1)), b.block)
    b.cbranch(b.icmp_unsigned("!=", b.load(word(L.STATUS)), _const(0)), stop, head)
    b.position_at_end(stop)
    b.ret(i)
    b.position_at_end(done)
    b.ret(n)

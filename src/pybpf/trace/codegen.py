"""Typed syntax tree to LLVM IR (llvmlite), one BPF program per attach point.

The module is what clang would make of the equivalent C: maps as legacy
`struct bpf_map_def` globals in the `maps` section, helpers called through
their Linux ids, a `license` section.  Records for user space (printf
arguments, exit, print/clear/zero of a map) go out through one ring buffer
map as a u64 id, for map actions a u64 map index, then the arguments in
8-byte slots (strings at their size).  Maps: key = the keys in slots (u64 0
for a map without keys; hist and lhist add a u64 bucket); value = an
integer, a string, or an aggregation's state: count/sum u64; min/max
{value, set}; avg/stats {total, count}; hist/lhist a u64 count per bucket.
Aggregations live in per-CPU maps, updated without atomics (percpu.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from ..errors import PybpfError
from ..helpers import helper_id
from . import ast, composite, percpu, string_loops
from .builtins import ACTIONS, FUNCTIONS, VARIABLES
from .probes import program_names, providers
from .semantic import MapInfo, Resources
from .loops import add_btf_functions, for_map, for_range
from .scratch import BPF_STACK, ELEMENT_MAX, Scratch
from .types import pointee_size, slot_offset, slot_size, tuple_of

DATA_LAYOUT = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
TRIPLE = "bpfel-unknown-none"
BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_RINGBUF = 1, 2, 27
E2BIG = 7
BPF_ANY, BPF_NOEXIST = 0, 1
MAP_ENTRIES = 4096
RINGBUF_SIZE = 1 << 20
RINGBUF_MAP, START_MAP, EXIT_MAP = "ringbuf", "start_time", "exiting"
BIG_COPY = 512  # bytes: a bigger memset/memcpy is a helper call
STACK_BUDGET = 448  # bytes of stack buffers in a function past which they all go to scratch memory (of 512)
STATE_SIZE = {"min": 16, "max": 16, "avg": 16, "stats": 16, "count": 8, "sum": 8, "hist": 8, "lhist": 8,
              "tseries": 24}

i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = i8.as_pointer()  # llvmlite builds typed pointers; LLVM reads them as `ptr`


@dataclass(frozen=True)
class MapLayout:
    """How a script map sits in BPF memory."""

    symbol: str  # its ELF symbol (and kernel map name)
    key_size: int
    value_size: int
    bucketed: bool  # hist/lhist: a u64 bucket follows the keys
    map_type: int = BPF_MAP_TYPE_HASH
    entries: int = MAP_ENTRIES

    @staticmethod
    def of(info: MapInfo) -> "MapLayout":
        value = info.value
        bucketed = value.kind in ("hist", "lhist", "tseries")
        keys = sum(slot_size(k) for k in info.keys)
        key_size = keys + 8 if bucketed else keys or 8
        value_size = STATE_SIZE.get(value.kind, 8 if value.is_scalar else value.size)
        symbol = "AT_" + info.name[1:]
        return MapLayout(symbol, key_size, value_size, bucketed, percpu.map_type(info.kind, value.is_aggregation),
                         info.entries)


class Gen:
    def __init__(self, program: ast.Program, resources: Resources, on_stack_limit: int | None = None):
        self.program, self.resources = program, resources
        self.module = ir.Module("pybpftrace")
        self.module.triple, self.module.data_layout = TRIPLE, DATA_LAYOUT
        self.ptr = PTR
        self.map_def = ir.LiteralStructType([i32] * 5)
        self.layouts = {name: MapLayout.of(info) for name, info in resources.maps.items()}
        self.globals: dict[str, ir.GlobalVariable] = {}
        for layout in self.layouts.values():
            self._map_global(layout.symbol, layout.map_type, layout.key_size, layout.value_size, layout.entries)
        self._map_global(RINGBUF_MAP, BPF_MAP_TYPE_RINGBUF, 0, 0, RINGBUF_SIZE)
        if resources.needs_elapsed:
            self._map_global(START_MAP, BPF_MAP_TYPE_ARRAY, 4, 8, 1)
        if resources.uses_exit:
            self._map_global(EXIT_MAP, BPF_MAP_TYPE_ARRAY, 4, 8, 1)
        licence = ir.GlobalVariable(self.module, ir.ArrayType(i8, 4), "_license")
        licence.initializer = ir.Constant(ir.ArrayType(i8, 4), bytearray(b"GPL\0"))
        licence.section = "license"
        self.programs: list[tuple[str, ast.AttachPoint]] = []
        self.resolver = resources.structs  # struct names -> types (a pointer's target named before its body)
        self.scratch = Scratch(self, resources.config.get("on_stack_limit", 32) if on_stack_limit is None
                               else on_stack_limit)
        self.stack_bytes = self.stack_peak = 0  # the current function's stack buffers; the most of any
        self.fn: ir.Function | None = None  # the function being generated, its blocks and builders:
        self.entry: ir.Block | None = None  # stack slots
        self.prologue: ir.IRBuilder | None = None  # run once before the body (open_function)
        self.b: ir.IRBuilder | None = None  # where the code goes
        self.exit_key: ir.Value | None = None  # the key of exit()'s flag, once a function needs it

    def _map_global(self, symbol: str, map_type: int, key: int, value: int, entries: int) -> None:
        g = ir.GlobalVariable(self.module, self.map_def, symbol)
        g.initializer = ir.Constant(self.map_def, [ir.Constant(i32, v) for v in (map_type, key, value, entries, 0)])
        g.section, g.align = "maps", 4
        self.globals[symbol] = g

    # -- programs --------------------------------------------------------------------
    def generate(self) -> ir.Module:
        for probe in self.program.probes:
            for point in probe.attach_points:
                self.function(probe, point, len(self.programs))
        if any(fn.linkage == "internal" for fn in self.module.functions):
            add_btf_functions(self.module)  # Linux wants BTF func_info for the callbacks' subprograms
        self.scratch.finish()
        return self.module

    def function(self, probe: ast.Probe, point: ast.AttachPoint, index: int) -> None:
        name = program_names(self.program)[index][0]
        fn = ir.Function(self.module, ir.FunctionType(i64, [PTR]), name)
        self.provider = providers(self.resources.kernel)[point.provider]
        fn.section = self.provider.attach(point, self.resources.probe_facts.get(point.text)).section
        self.fn, self.attach_point, self.ctx = fn, point, fn.args[0]
        self.probe_body = [probe.predicate, *probe.body]
        self.scratch.new_program()
        body, _ = self.open_function(fn)
        self.variables: dict[str, ir.Value] = {}
        self.loops: list[tuple[ir.Block, ir.Block] | None] = []  # None: the callback of a map loop
        self.callback_flag: ir.Value | None = None  # in a loop's callback: where `return` leaves a 1
        if self.resources.uses_exit and point.provider != "END":  # after exit() only END runs
            flag = self.exit_flag()
            with self.b.if_then(self.b.icmp_unsigned("!=", flag, self.i64(0))):
                exiting = self.b.load(self.b.inttoptr(flag, i64.as_pointer()))
                with self.b.if_then(self.b.icmp_unsigned("!=", exiting, self.i64(0))):
                    self.b.ret(self.i64(0))
        if probe.predicate is not None:
            keep = self.b.icmp_unsigned("!=", self.expr(probe.predicate), self.i64(0))
            go, stop = self.new_block("predicate_true"), self.new_block("predicate_false")
            self.b.cbranch(keep, go, stop)
            self.b.position_at_end(stop)
            self.b.ret(self.i64(0))
            self.b.position_at_end(go)
        self.block(probe.body)
        if not self.b.block.is_terminated:
            self.b.ret(self.i64(0))
        self.close_function(body, None)
        self.programs.append((name, point))

    def open_function(self, fn: ir.Function) -> tuple[ir.Block, tuple]:
        """A function's blocks: entry (its stack slots), prologue (its scratch memory's addresses and the
        zeroing of its variables, run once), then the body, where self.b is left.  Returns the body and
        what close_function restores (a loop callback is made in the middle of its caller)."""
        saved = self.fn, self.entry, self.prologue, self.b, self.exit_key, self.stack_bytes, self.scratch.enter()
        self.fn, self.exit_key, self.stack_bytes = fn, None, 0
        self.entry = fn.append_basic_block("entry")
        self.prologue = ir.IRBuilder(fn.append_basic_block("prologue"))
        body = fn.append_basic_block("body")
        self.b = ir.IRBuilder(body)
        return body, saved

    def close_function(self, body: ir.Block, saved: tuple | None) -> None:
        """Join the entry to the prologue and the prologue to the body; back to the caller's function."""
        ir.IRBuilder(self.entry).branch(self.fn.blocks[1])  # the prologue's first block
        self.prologue.branch(body)
        if saved is not None:
            self.fn, self.entry, self.prologue, self.b, self.exit_key, self.stack_bytes, scratch = saved
            self.scratch.leave(scratch)

    # -- pieces builtins use ------------------------------------------------------------
    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(name)

    def i64(self, value: int) -> ir.Constant:
        return ir.Constant(i64, value & ((1 << 64) - 1))

    def alloca_bytes(self, size: int, stack: bool = False) -> ir.Value:
        """An 8-aligned buffer of `size` bytes, as an i8 pointer: on the stack, or in scratch memory when
        it is bigger than on_stack_limit (scratch.py) and the caller does not need the stack."""
        if not stack and self.scratch.wants(size):
            return self.scratch.region(size)
        if size > BPF_STACK:  # LLVM's BPF target would stop the process
            raise PybpfError(f"a value of {size} bytes fits neither the {BPF_STACK}-byte BPF stack nor a per-CPU "
                             f"scratch buffer ({ELEMENT_MAX} bytes): lower max_strlen")
        self.stack_bytes += (max(size, 1) + 7) // 8 * 8
        self.stack_peak = max(self.stack_peak, self.stack_bytes)
        builder = ir.IRBuilder(self.entry)
        buffer = builder.alloca(ir.ArrayType(i8, max(size, 1)))
        buffer.align = 8
        return builder.bitcast(buffer, PTR)

    def zero(self, pointer: ir.Value, size: int, builder: ir.IRBuilder | None = None) -> None:
        """memset(pointer, 0, size); past BIG_COPY bytes a probe_read_kernel from NULL, which fails and
        zeroes its destination (bpftrace's CreateMemsetBPF: LLVM's BPF target unrolls a memset or gives up)."""
        b = builder or self.b
        if size > BIG_COPY:
            self.helper("probe_read_kernel", [pointer, self.i64(size), ir.Constant(PTR, None)], b)
            return
        b.call(self.module.declare_intrinsic("llvm.memset", [PTR, i64]),
               [pointer, ir.Constant(i8, 0), self.i64(size), ir.Constant(i1, 0)])

    def copy(self, dest: ir.Value, source: ir.Value, size: int) -> None:
        """memcpy between BPF buffers; past BIG_COPY bytes with probe_read_kernel (CreateMemcpyBPF)."""
        if size > BIG_COPY:
            self.helper("probe_read_kernel", [dest, self.i64(size), source])
            return
        self.b.call(self.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, i64]),
                    [dest, source, self.i64(size), ir.Constant(i1, 0)])

    def at(self, pointer: ir.Value, offset: int = 0, typ: ir.Type | None = None) -> ir.Value:
        """pointer + offset bytes, as a pointer to typ (i8 by default)."""
        if pointer.type != PTR:
            pointer = self.b.bitcast(pointer, PTR)
        if offset:
            pointer = self.b.gep(pointer, [self.i64(offset)])
        return self.b.bitcast(pointer, typ.as_pointer()) if typ is not None else pointer

    def helper(self, name: str, args: list[ir.Value], builder: ir.IRBuilder | None = None) -> ir.Value:
        """Call a helper by name: `call N` with N its Linux id, as clang emits for `(void *)N`."""
        b = builder or self.b
        fnty = ir.FunctionType(i64, [a.type for a in args])
        return b.call(b.inttoptr(self.i64(helper_id(name)), fnty.as_pointer()), args)

    def ctx_u64(self, offset: int) -> ir.Value:
        return self.b.load(self.at(self.ctx, offset, i64))

    def string_constant(self, text: str, size: int) -> ir.Value:
        data = text.encode()[:size - 1].ljust(size, b"\0")
        buffer = self.alloca_bytes(size)
        for offset in range(0, size - size % 8, 8):
            self.b.store(self.i64(int.from_bytes(data[offset:offset + 8], "little")), self.at(buffer, offset, i64))
        for offset in range(size - size % 8, size):
            self.b.store(ir.Constant(i8, data[offset]), self.at(buffer, offset))
        return buffer

    def map_ptr(self, name: str) -> ir.Value:
        return self.global_ptr(self.layouts[name].symbol)

    def global_ptr(self, symbol: str) -> ir.Value:
        return self.b.bitcast(self.globals[symbol], PTR)

    def map_index(self, name: str) -> int:
        return self.resources.maps[name].index

    def if_nonnull(self, address: ir.Value):
        """Context manager: the code inside runs when a helper's returned address is not NULL."""
        return self.b.if_then(self.b.icmp_unsigned("!=", address, self.i64(0)))

    def load_or_zero(self, address: ir.Value, offset: int = 0) -> ir.Value:
        """*(u64 *)(address + offset), or 0 when address (a lookup result) is NULL."""
        slot = ir.IRBuilder(self.entry).alloca(i64)
        self.b.store(self.i64(0), slot)
        with self.if_nonnull(address):
            self.b.store(self.b.load(self.at(self.b.inttoptr(address, PTR), offset, i64)), slot)
        return self.b.load(slot)

    def user_word(self, symbol: str) -> ir.Value:
        """The u64 user space keeps in the one-element array map `symbol` (declared on first use): the
        start time, the TAI offset, -c's pid."""
        if symbol not in self.globals:
            self._map_global(symbol, BPF_MAP_TYPE_ARRAY, 4, 8, 1)
        key = self.alloca_bytes(4)
        self.b.store(ir.Constant(i32, 0), self.at(key, 0, i32))
        return self.load_or_zero(self.helper("map_lookup_elem", [self.global_ptr(symbol), key]))

    def start_time(self) -> ir.Value:
        return self.user_word(START_MAP)

    def exit_flag(self) -> ir.Value:
        """The address of the u64 that exit() sets to 1 (its array map's only element)."""
        if self.exit_key is None:  # one key a program: the stack is small
            self.exit_key = self.alloca_bytes(4)
            self.prologue.store(ir.Constant(i32, 0), self.prologue.bitcast(self.exit_key, i32.as_pointer()))
        return self.helper("map_lookup_elem", [self.global_ptr(EXIT_MAP), self.exit_key])

    def leave(self) -> None:
        """Return from the program here (exit(), return); code after it lands in an unreachable block.
        In a loop's callback: stop the iteration and tell the caller to return too."""
        if self.callback_flag is not None:
            self.b.store(self.i64(1), self.callback_flag)
            self.b.ret(self.i64(1))
        else:
            self.b.ret(self.i64(0))
        self.b.position_at_end(self.new_block("after_return"))

    # -- records to user space ------------------------------------------------------------
    def record(self, action: int, args: list[ast.Expr], extra: int | ir.Value | None = None) -> None:
        values = [(a, self.expr(a)) for a in args]
        header = 16 if extra is not None else 8
        size = header + sum(slot_size(a.type) for a in args)
        buffer = self.alloca_bytes(size)
        self.zero(buffer, size)
        self.b.store(self.i64(action), self.at(buffer, 0, i64))
        if extra is not None:
            self.b.store(extra if isinstance(extra, ir.Value) else self.i64(extra), self.at(buffer, 8, i64))
        offset = header
        for arg, value in values:
            if arg.type.is_scalar:
                self.b.store(value, self.at(buffer, offset, i64))
            else:
                self.copy(self.at(buffer, offset), value, arg.type.size)
            offset += slot_size(arg.type)
        self.helper("ringbuf_output", [self.global_ptr(RINGBUF_MAP), buffer, self.i64(size), self.i64(0)])

    # -- statements --------------------------------------------------------------------------
    def block(self, statements: list[ast.Stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def statement(self, s: ast.Stmt) -> None:
        if isinstance(s, ast.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.If):
            cond = self.b.icmp_unsigned("!=", self.expr(s.cond), self.i64(0))
            with self.b.if_else(cond) as (then, otherwise):
                with then:
                    self.block(s.then)
                with otherwise:
                    self.block(s.otherwise)
        elif isinstance(s, ast.While):
            head, body, done = self.new_block("while_cond"), self.new_block("while_body"), self.new_block("while_end")
            self.b.branch(head)
            self.b.position_at_end(head)
            self.b.cbranch(self.b.icmp_unsigned("!=", self.expr(s.cond), self.i64(0)), body, done)
            self.b.position_at_end(body)
            self.loops.append((head, done))
            self.block(s.body)
            self.loops.pop()
            if not self.b.block.is_terminated:
                self.b.branch(head)
            self.b.position_at_end(done)
        elif isinstance(s, ast.ForRange):
            for_range(self, s)
        elif isinstance(s, ast.ForMap):
            for_map(self, s)
        elif isinstance(s, ast.Unroll):
            for _ in range(s.count):
                self.block(s.body)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.expr(s.value)
            self.leave()
        elif isinstance(s, ast.VarDecl):
            if s.value is not None:
                self.store_variable(s.variable, s.value, self.expr(s.value))
            else:
                self.zero(self.variable_slot(s.variable), slot_size(self.variable_type(s.variable)))
        elif isinstance(s, ast.Jump):
            if self.loops[-1] is None:  # in a map loop's callback: 0 goes on to the next entry, 1 stops
                self.b.ret(self.i64(1 if s.kind == "break" else 0))
            else:
                head, done = self.loops[-1]
                self.b.branch(done if s.kind == "break" else head)
            self.b.position_at_end(self.new_block("after_jump"))

    def variable_type(self, var: ast.Variable):
        return self.resources.variables.get(var.binding, var.type)

    def variable_slot(self, var: ast.Variable) -> ir.Value:
        """The stack slot of a variable's binding (zeroed at entry), sized for its final type."""
        key = var.binding or var.name
        slot = self.variables.get(key)
        if slot is None:
            size = slot_size(self.variable_type(var))
            slot = self.variables[key] = self.alloca_bytes(size)
            self.zero_at_start(slot, size)
        return slot

    def zero_at_start(self, pointer: ir.Value, size: int) -> None:
        """Zero a buffer once, in the function's prologue (a variable's slot: 0 until assigned)."""
        self.zero(pointer, size, self.prologue)

    def store_variable(self, var: ast.Variable, value_expr: ast.Expr, value: ir.Value) -> None:
        slot = self.variable_slot(var)
        t = self.variable_type(var)
        if t.kind == "int" and t.size < 8:  # a `let $x: uint8` keeps what fits, as bpftrace's implicit cast
            narrow = self.b.trunc(value, ir.IntType(t.size * 8))
            value = (self.b.sext if t.signed else self.b.zext)(narrow, i64)
        if t.is_scalar:
            self.b.store(value, self.at(slot, 0, i64))
        else:
            self.zero(slot, slot_size(t))
            self.convert(slot, t, value, value_expr.type)

    def convert(self, dest: ir.Value, dest_type, source: ir.Value, source_type) -> None:
        """Copy a value into a (zeroed) place of a wider type: a tuple's elements move to their offsets there
        (a longer string in the wider tuple pushes the later ones along); strings keep what fits."""
        if dest_type.kind == "record" and source_type.kind == "record" and dest_type != source_type:
            for index, (name, d) in enumerate(zip(dest_type.names, dest_type.items)):  # by name
                at = source_type.names.index(name)
                self.convert(self.at(dest, slot_offset(dest_type, index)), d,
                             self.at(source, slot_offset(source_type, at)), source_type.items[at])
            return
        if dest_type.kind == "tuple" and source_type.kind == "tuple" and dest_type != source_type:
            to, at = 0, 0
            for d, s in zip(dest_type.items, source_type.items):
                self.convert(self.at(dest, to), d, self.at(source, at), s)
                to, at = to + slot_size(d), at + slot_size(s)
            return
        self.copy(dest, source, 8 if dest_type.is_scalar else min(dest_type.size, source_type.size))

    def store_value(self, place: ir.Value, place_type, value: ir.Value, value_type) -> None:
        """A value into its slot: a scalar as a u64, anything else copied (converted to the slot's type)."""
        if place_type.is_scalar:
            self.b.store(value, self.at(place, 0, i64))
        else:
            self.convert(place, place_type, value, value_type)

    def narrowed(self, place: ir.Value, place_type, wanted) -> ir.Value:
        """A variable or map value read where the script expects an earlier (narrower) type of it."""
        if wanted == place_type or wanted.is_scalar:
            return place
        buffer = self.alloca_bytes(slot_size(wanted))
        self.zero(buffer, slot_size(wanted))
        self.convert(buffer, wanted, place, place_type)
        return buffer

    def assign(self, s: ast.Assign) -> None:
        target = s.target
        call = s.value
        while isinstance(call, ast.BlockExpr) and call.type.is_aggregation:  # @x = { ...; avg($a) }
            self.block(call.body)
            call = call.value
        if isinstance(call, ast.Call) and call.type.is_aggregation:
            percpu.aggregate(self, target, call)
            return
        value = self.expr(s.value)
        if s.op:
            if target.type.kind == "ptr" and s.op in "+-":
                value = self.b.mul(value, self.i64(pointee_size(target.type)))
            value = self.arithmetic(s.op, self.expr(target), value, target.type.signed if target.type else True,
                                    getattr(s, "by_zero", None))
        if isinstance(target, ast.Variable):
            self.store_variable(target, s.value, value)
            return
        layout = self.layouts[target.name]
        if target.type.is_scalar:
            stored = self.alloca_bytes(8)
            self.b.store(value, self.at(stored, 0, i64))
        else:
            stored = self.alloca_bytes(layout.value_size)
            self.zero(stored, layout.value_size)
            self.convert(stored, self.resources.maps[target.name].value, value, s.value.type)
        self.update(target, self.map_key(target), stored, BPF_ANY)

    def update(self, target: ast.Map, key: ir.Value, value: ir.Value, flags: int) -> None:
        """map_update_elem, and a warning record to user space when the map is full."""
        result = self.helper("map_update_elem", [self.map_ptr(target.name), key, value, self.i64(flags)])
        with self.b.if_then(self.b.icmp_unsigned("==", result, self.i64(-E2BIG))):
            self.record(ACTIONS["map_full"], [], extra=self.map_index(target.name))

    # -- maps -------------------------------------------------------------------------------
    def map_key(self, target: ast.Map, bucket: ir.Value | None = None) -> ir.Value:
        layout = self.layouts[target.name]
        key = self.alloca_bytes(layout.key_size)
        self.zero(key, layout.key_size)
        offset = 0
        key_types = self.resources.maps[target.name].keys
        if len(target.keys) == 1 and len(key_types) > 1:  # one tuple holding all the keys
            self.convert(key, tuple_of(key_types), self.expr(target.keys[0]), target.keys[0].type)
            offset, key_types = sum(slot_size(t) for t in key_types), []
        for key_expr, key_type in zip(target.keys, key_types):
            value = self.expr(key_expr)
            if key_expr.type.is_scalar:
                self.b.store(value, self.at(key, offset, i64))
            else:
                self.convert(self.at(key, offset), key_type, value, key_expr.type)
            offset += slot_size(key_type)
        if bucket is not None:
            self.b.store(bucket, self.at(key, offset, i64))
        return key

    def lookup_or_init(self, target: ast.Map, key: ir.Value, body) -> None:
        """Run body(pointer to the value) on the entry for key, creating it zeroed if missing."""
        layout, map_ptr = self.layouts[target.name], self.map_ptr(target.name)
        found = self.helper("map_lookup_elem", [map_ptr, key])
        slot = ir.IRBuilder(self.entry).alloca(i64)
        self.b.store(found, slot)
        with self.b.if_then(self.b.icmp_unsigned("==", found, self.i64(0))):
            zero = self.alloca_bytes(layout.value_size)
            self.zero(zero, layout.value_size)
            self.update(target, key, zero, BPF_NOEXIST)
            self.b.store(self.helper("map_lookup_elem", [map_ptr, key]), slot)
        value = self.b.load(slot)
        with self.if_nonnull(value):
            body(self.b.inttoptr(value, PTR))

    # -- expressions -------------------------------------------------------------------------
    def expr(self, e: ast.Expr) -> ir.Value:
        if isinstance(e, ast.Integer):
            return self.i64(e.value)
        if isinstance(e, ast.String):
            return self.string_constant(e.value, e.type.size)
        if isinstance(e, ast.Variable):
            slot = self.variable_slot(e)
            return self.b.load(self.at(slot, 0, i64)) if e.type.is_scalar else \
                self.narrowed(slot, self.variable_type(e), e.type)
        if isinstance(e, ast.PositionalParam):
            return self.i64(e.value) if e.type.is_scalar else \
                self.string_constant(e.value, e.type.size)
        if isinstance(e, ast.Map):
            return self.map_read(e)
        if isinstance(e, ast.Builtin) and e.enum_value is not None:
            return self.i64(e.enum_value)
        if isinstance(e, ast.Builtin):
            return VARIABLES[e.name].emit(self, e)
        if isinstance(e, ast.FieldAccess) and not (isinstance(e.base, ast.Builtin) and e.base.name == "args"):
            return composite.emit_field(self, e)
        if isinstance(e, ast.FieldAccess):
            return self.provider.emit_field(self, e)
        if isinstance(e, ast.Record):
            return composite.emit_record(self, e)
        if isinstance(e, (ast.TypeName, ast.TypeOf)):  # a type is not evaluated (sizeof reads it)
            return self.i64(0)
        if isinstance(e, ast.Call):
            return (FUNCTIONS[e.name] if e.name in FUNCTIONS else VARIABLES[e.name]).emit(self, e)
        if isinstance(e, ast.Unary) and e.op == "&":
            return self.b.ptrtoint(self.variable_slot(e.operand), i64)
        if isinstance(e, ast.Unary) and e.op == "*":
            return self.dereference(self.expr(e.operand), e.type)
        if isinstance(e, ast.Unary) and e.op in ("++", "--"):
            step = pointee_size(e.type) if e.type.kind == "ptr" else 1
            value = (self.b.add if e.op == "++" else self.b.sub)(self.expr(e.operand), self.i64(step))
            self.store_variable(e.operand, e, value)
            return value
        if isinstance(e, ast.Unary):
            operand = self.expr(e.operand)
            if e.op == "-":
                return self.b.sub(self.i64(0), operand)
            if e.op == "~":
                return self.b.xor(operand, self.i64(-1))
            return self.b.zext(self.b.icmp_unsigned("==", operand, self.i64(0)), i64)
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Ternary):
            return self.ternary(e)
        if isinstance(e, ast.BlockExpr):
            self.block(e.body)
            return self.expr(e.value) if e.value is not None else self.i64(0)
        if isinstance(e, ast.Cast) and e.type.kind == "bool":
            return self.b.zext(self.b.icmp_unsigned("!=", self.expr(e.operand), self.i64(0)), i64)
        if isinstance(e, ast.Cast) and e.type.kind == "ptr" and e.operand.type.kind == "int" and \
                e.operand.type.size < 8:  # LLVM's inttoptr zero-extends: (uint8 *)-1 is 0xff
            return self.b.zext(self.b.trunc(self.expr(e.operand), ir.IntType(e.operand.type.size * 8)), i64)
        if isinstance(e, ast.Cast) and e.type.kind in ("ptr", "enum"):
            return self.expr(e.operand)
        if isinstance(e, ast.Cast) and e.type.kind == "array":  # the operand's bytes, read as elements
            value = self.expr(e.operand)
            if not e.operand.type.is_scalar:
                return value
            buffer = self.alloca_bytes(8)
            self.b.store(value, self.at(buffer, 0, i64))
            return buffer
        if isinstance(e, ast.Cast):
            bits = e.type.size * 8
            narrow = self.b.trunc(self.expr(e.operand), ir.IntType(bits)) if bits < 64 else self.expr(e.operand)
            return (self.b.sext if e.type.signed else self.b.zext)(narrow, i64) if bits < 64 else narrow
        if isinstance(e, ast.TupleAccess) and e.tuple.type.kind in ("array", "ptr", "str"):
            return composite.emit_index(self, e)
        if isinstance(e, ast.TupleAccess):
            base = self.expr(e.tuple)
            offset = sum(slot_size(t) for t in e.tuple.type.items[:e.index])
            return self.b.load(self.at(base, offset, i64)) if e.type.is_scalar else self.at(base, offset)
        if isinstance(e, ast.Tuple):
            buffer = self.alloca_bytes(e.type.size)
            self.zero(buffer, e.type.size)
            offset = 0
            for item in e.items:
                value = self.expr(item)
                if item.type.is_scalar:
                    self.b.store(value, self.at(buffer, offset, i64))
                else:
                    self.copy(self.at(buffer, offset), value, item.type.size)
                offset += slot_size(item.type)
            return buffer
        raise AssertionError(f"unhandled expression {e!r}")  # pragma: no cover

    def dereference(self, address: ir.Value, t) -> ir.Value:
        """`*p`: what p points to, read with probe_read_kernel (bpftrace's default address space)."""
        size = t.size if not t.is_scalar else t.size if t.kind == "int" else 8
        buffer = self.alloca_bytes(max(slot_size(t), size))
        self.zero(buffer, max(slot_size(t), size))
        self.helper("probe_read_kernel", [buffer, self.i64(size), self.b.inttoptr(address, PTR)])
        if not t.is_scalar:
            return buffer
        if t.kind == "int" and size < 8:
            narrow = self.b.load(self.at(buffer, 0, ir.IntType(size * 8)))
            return (self.b.sext if t.signed else self.b.zext)(narrow, i64)
        return self.b.load(self.at(buffer, 0, i64))

    def map_read(self, e: ast.Map) -> ir.Value:
        kind = self.resources.maps[e.name].value.kind
        if kind in percpu.CASTABLE:  # every CPU's copy, as bpftrace reads a count() in an expression
            return percpu.read_all_cpus(self, self.map_ptr(e.name), self.map_key(e), kind,
                                        percpu.possible_cpus(self.resources.kernel))
        found = self.helper("map_lookup_elem", [self.map_ptr(e.name), self.map_key(e)])
        if not e.type.is_scalar:
            size = self.layouts[e.name].value_size
            buffer = self.alloca_bytes(size)
            self.zero(buffer, size)
            with self.if_nonnull(found):
                self.copy(buffer, self.b.inttoptr(found, PTR), size)
            return self.narrowed(buffer, self.resources.maps[e.name].value, e.type)
        return self.load_or_zero(found)

    def arithmetic(self, op: str, left: ir.Value, right: ir.Value, signed: bool,
                   by_zero_record: int | None = None) -> ir.Value:
        simple = {"+": self.b.add, "-": self.b.sub, "*": self.b.mul, "&": self.b.and_, "|": self.b.or_,
                  "^": self.b.xor, "<<": self.b.shl, ">>": self.b.ashr if signed else self.b.lshr}
        if op in simple:
            return simple[op](left, right)
        by_zero = self.b.icmp_unsigned("==", right, self.i64(0))
        with self.b.if_then(by_zero):  # current bpftrace: warn where it happened, and the result is 1
            self.record(ACTIONS["div_zero"] if by_zero_record is None else by_zero_record, [])
        safe = self.b.select(by_zero, self.i64(1), right)
        if not signed:
            result = (self.b.udiv if op == "/" else self.b.urem)(left, safe)
        else:  # BPF before cpu v4 has no signed division: divide magnitudes, then fix the sign
            negative_left = self.b.icmp_signed("<", left, self.i64(0))
            negative_right = self.b.icmp_signed("<", safe, self.i64(0))
            magnitude_left = self.b.select(negative_left, self.b.sub(self.i64(0), left), left)
            magnitude_right = self.b.select(negative_right, self.b.sub(self.i64(0), safe), safe)
            quotient = (self.b.udiv if op == "/" else self.b.urem)(magnitude_left, magnitude_right)
            flip = self.b.xor(negative_left, negative_right) if op == "/" else negative_left
            result = self.b.select(flip, self.b.sub(self.i64(0), quotient), quotient)
        return self.b.select(by_zero, self.i64(1), result)

    def binary(self, e: ast.Binary) -> ir.Value:
        if e.op in ("&&", "||"):
            slot = ir.IRBuilder(self.entry).alloca(i64)
            left = self.b.icmp_unsigned("!=", self.expr(e.left), self.i64(0))
            self.b.store(self.b.zext(left, i64), slot)
            decided = left if e.op == "||" else self.b.not_(left)
            with self.b.if_then(self.b.not_(decided)):
                right = self.b.icmp_unsigned("!=", self.expr(e.right), self.i64(0))
                self.b.store(self.b.zext(right, i64), slot)
            return self.b.load(slot)
        if e.left.type.kind == "str":
            return self.string_equal(e)
        if e.left.type.kind == "buffer":
            return FUNCTIONS["buf"].equal(self, e)
        if e.left.type.kind == "array":
            equal = composite.equal_bytes(self, self.expr(e.left), self.expr(e.right), e.left.type.size)
            return equal if e.op == "==" else self.b.xor(equal, self.i64(1))
        left, right = self.expr(e.left), self.expr(e.right)
        if e.op in ("+", "-") and e.left.type.kind == "ptr" and e.right.type.kind != "ptr":
            right = self.b.mul(right, self.i64(pointee_size(e.left.type)))
        elif e.op == "+" and e.right.type.kind == "ptr" and e.left.type.kind != "ptr":
            left = self.b.mul(left, self.i64(pointee_size(e.right.type)))
        if e.op in ("==", "!=", "<", ">", "<=", ">="):
            compare = self.b.icmp_signed if e.signed else self.b.icmp_unsigned
            return self.b.zext(compare(e.op, left, right), i64)
        return self.arithmetic(e.op, left, right, e.type.signed, getattr(e, "by_zero", None))

    def string_equal(self, e: ast.Binary) -> ir.Value:
        equal = self.compare_strings(self.expr(e.left), e.left.type.size, self.expr(e.right), e.right.type.size)
        return equal if e.op == "==" else self.b.xor(equal, self.i64(1))

    def compare_strings(self, left: ir.Value, left_size: int, right: ir.Value, right_size: int,
                        limit: int | None = None) -> ir.Value:
        """1 when the strings are equal up to the first NUL (and within `limit` bytes), else 0.

        Up to 64 bytes unrolled, leaving at the first differing byte or the first NUL, as bpftrace's
        strcmp: each byte is one branch out, so the verifier walks one path per byte.  Equality folded
        over every byte without branching out instead compiles (BPF has no select) to a branch per byte
        whose outcomes stay apart on the stack: three comparisons of two comms took Linux past its
        1M-insn limit.  Longer strings compare in a loop (string_loops.py).
        """
        size = min(left_size, right_size, limit if limit is not None else 1 << 30)
        if size > string_loops.UNROLLED:
            return string_loops.equal(self, left, left_size, right, right_size, limit)
        same, differ = self.new_block("streq_same"), self.new_block("streq_differ")
        for i in range(size):
            a, c = self.b.load(self.at(left, i)), self.b.load(self.at(right, i))
            go_on, next_byte = self.new_block("streq_nul"), self.new_block("streq_next")
            self.b.cbranch(self.b.icmp_unsigned("!=", a, c), differ, go_on)
            self.b.position_at_end(go_on)
            self.b.cbranch(self.b.icmp_unsigned("==", a, ir.Constant(i8, 0)), same, next_byte)
            self.b.position_at_end(next_byte)
        shorter = min(left_size, right_size)
        if (limit is None or limit > shorter) and left_size != right_size:  # the longer must end there too
            longer = left if left_size > right_size else right
            tail = self.b.icmp_unsigned("==", self.b.load(self.at(longer, shorter)), ir.Constant(i8, 0))
            self.b.cbranch(tail, same, differ)
        else:
            self.b.branch(same)
        done = self.new_block("streq_done")
        self.b.position_at_end(same)
        self.b.branch(done)
        self.b.position_at_end(differ)
        self.b.branch(done)
        self.b.position_at_end(done)
        equal = self.b.phi(i64)
        equal.add_incoming(self.i64(1), same)
        equal.add_incoming(self.i64(0), differ)
        return equal

    def string_contains(self, haystack: ir.Value, haystack_size: int, needle: ir.Value,
                        needle_size: int) -> ir.Value:
        """1 when needle (to its NUL) occurs in haystack (to its NUL).

        Two bounded loops that leave at the first mismatch, as bpftrace emits
        them: unrolled byte compares would branch 2^n ways for the verifier.
        """
        entry = ir.IRBuilder(self.entry)
        i_slot, j_slot, found = entry.alloca(i64), entry.alloca(i64), entry.alloca(i64)
        self.b.store(self.i64(0), found)
        self.b.store(self.i64(0), i_slot)
        outer, inner, step, advance, done = (self.new_block(n) for n in (
            "contains_outer", "contains_inner", "contains_step", "contains_advance", "contains_done"))
        self.b.branch(outer)
        self.b.position_at_end(outer)  # for i in 0..haystack_size
        i = self.b.load(i_slot)
        self.b.store(self.i64(0), j_slot)
        self.b.cbranch(self.b.icmp_unsigned("<=", i, self.i64(haystack_size)), inner, done)
        self.b.position_at_end(inner)  # for j in 0..needle_size, while haystack[i + j] == needle[j]
        j = self.b.load(j_slot)
        in_needle = self.b.icmp_unsigned("<", j, self.i64(needle_size))
        c = self.b.load(self.b.gep(needle, [self.b.select(in_needle, j, self.i64(0))]))
        needle_over = self.b.or_(self.b.not_(in_needle), self.b.icmp_unsigned("==", c, ir.Constant(i8, 0)))
        matched, compare = self.new_block("contains_matched"), self.new_block("contains_compare")
        self.b.cbranch(needle_over, matched, compare)
        self.b.position_at_end(matched)
        self.b.store(self.i64(1), found)
        self.b.branch(done)
        self.b.position_at_end(compare)
        position = self.b.add(i, j)
        in_haystack = self.b.icmp_unsigned("<", position, self.i64(haystack_size))
        h = self.b.load(self.b.gep(haystack, [self.b.select(in_haystack, position, self.i64(0))]))
        same = self.b.and_(in_haystack, self.b.icmp_unsigned("==", h, c))
        self.b.cbranch(same, step, advance)
        self.b.position_at_end(step)
        self.b.store(self.b.add(j, self.i64(1)), j_slot)
        self.b.branch(inner)
        self.b.position_at_end(advance)  # no match at i: stop at the haystack's NUL
        in_range = self.b.icmp_unsigned("<", i, self.i64(haystack_size))
        here = self.b.load(self.b.gep(haystack, [self.b.select(in_range, i, self.i64(0))]))
        self.b.store(self.b.add(i, self.i64(1)), i_slot)
        more = self.b.and_(in_range, self.b.icmp_unsigned("!=", here, ir.Constant(i8, 0)))
        self.b.cbranch(more, outer, done)
        self.b.position_at_end(done)
        return self.b.load(found)

    def ternary(self, e: ast.Ternary) -> ir.Value:
        tested = self.expr(e.cond)
        cond = self.b.icmp_unsigned("!=", tested, self.i64(0))
        if e.type.kind == "none":  # both sides are statements: printf(...) : printf(...)
            with self.b.if_else(cond) as (then, otherwise):
                with then:
                    self.expr(e.then)
                with otherwise:
                    self.expr(e.otherwise)
            return self.i64(0)
        if e.then is None:
            return self.b.select(cond, tested, self.expr(e.otherwise))
        if e.type.is_scalar:
            slot = ir.IRBuilder(self.entry).alloca(i64)
            with self.b.if_else(cond) as (then, otherwise):
                with then:
                    self.b.store(self.expr(e.then), slot)
                with otherwise:
                    self.b.store(self.expr(e.otherwise), slot)
            return self.b.load(slot)
        buffer = self.alloca_bytes(e.type.size)
        self.zero(buffer, e.type.size)
        with self.b.if_else(cond) as (then, otherwise):
            with then:
                self.copy(buffer, self.expr(e.then), e.then.type.size)
            with otherwise:
                self.copy(buffer, self.expr(e.otherwise), e.otherwise.type.size)
        return buffer


def generate(program: ast.Program, resources: Resources) -> tuple[ir.Module, list[tuple[str, ast.AttachPoint]]]:
    """The module and its programs.  A function whose stack buffers come near the 512-byte BPF stack (many
    maps touched in one probe: each key and initial value a buffer) is generated again with every buffer
    in scratch memory (on_stack_limit 0), as bpftrace's error advises: LLVM's BPF target would stop the
    process with "Looks like the BPF stack limit is exceeded"."""
    gen = Gen(program, resources)
    module = gen.generate()
    if gen.stack_peak > STACK_BUDGET and gen.scratch.limit > 0:
        gen = Gen(program, resources, on_stack_limit=0)
        module = gen.generate()
    return module, gen.programs

"""Scratch memory: buffers too big for the 512-byte BPF stack, in a per-CPU array map.

As current bpftrace (irbuilderbpf.cpp createAllocation): a buffer of more
than `on_stack_limit` bytes (config, 32 by default) is not an alloca but a
region of per-CPU memory that no other CPU touches, so strings of
`max_strlen` = 1024 bytes, long tuples and big printf records fit.
bpftrace keeps its buffers in global arrays indexed by CPU id; here they
are one BPF_MAP_TYPE_PERCPU_ARRAY map, `scratch`, whose value is every
region a program needs, back to back (8-aligned).  Each allocation site
has its own region, as an alloca has its own stack slot, and a program's
loop callbacks get regions after its own (the caller's are live while a
callback runs).  Programs run one at a time on a CPU (Linux does not nest
kprobe/tracepoint programs; an NMI-driven perf event program may interrupt
one, as it may bpftrace's buffers), so the programs of a script share the
map: its value is as big as the biggest program's regions.  Past the
512-byte stack a buffer comes here whatever on_stack_limit says.  A value is at most 32 KiB (PCPU_MIN_UNIT_SIZE): more regions go
into the next element.

A function finds its elements once, in its prologue (between the stack
slots and the body): a lookup by constant key, and a NULL check that the
verifier knows to be dead (an array element named by a constant key
exists).
"""

from __future__ import annotations

from llvmlite import ir

BPF_MAP_TYPE_PERCPU_ARRAY = 6
SCRATCH_MAP = "scratch"
ELEMENT_MAX = 32768  # PCPU_MIN_UNIT_SIZE: the largest value of a per-CPU map
BPF_STACK = 512

i32, i64 = ir.IntType(32), ir.IntType(64)


class Scratch:
    """The regions of the script's programs, and each function's pointers to its elements."""

    def __init__(self, gen, limit: int):
        self.gen, self.limit = gen, limit
        self.fills: list[int] = []  # bytes used of each element, by the current program
        self.value_size, self.entries = 0, 0  # the map's, the most any program needs
        self.bases: dict[int, ir.Value] = {}  # element -> its address, in the current function
        self.bail: ir.Block | None = None

    def wants(self, size: int) -> bool:
        """Whether a buffer of `size` bytes goes here rather than on the stack: past on_stack_limit, or past
        the 512-byte BPF stack whatever the limit says."""
        return min(self.limit, BPF_STACK) < size <= ELEMENT_MAX

    def new_program(self) -> None:
        self.fills = []

    def enter(self) -> tuple:
        """A function starts (a program, or a loop callback inside one): its own element pointers.
        Returns what leave() restores."""
        saved = self.bases, self.bail
        self.bases, self.bail = {}, None
        return saved

    def leave(self, saved: tuple) -> None:
        self.bases, self.bail = saved

    def region(self, size: int) -> ir.Value:
        """An 8-aligned region of `size` bytes of this CPU's scratch memory, as an i8 pointer that is valid
        in the whole function (computed in its prologue)."""
        size = (size + 7) // 8 * 8
        element = next((e for e, fill in enumerate(self.fills) if fill + size <= ELEMENT_MAX), len(self.fills))
        if element == len(self.fills):
            self.fills.append(0)
        offset = self.fills[element]
        self.fills[element] += size
        self.value_size = max(self.value_size, self.fills[element])
        self.entries = max(self.entries, len(self.fills))
        prologue = self.gen.prologue
        return prologue.gep(self._base(element), [ir.Constant(i64, offset)]) if offset else self._base(element)

    def _base(self, element: int) -> ir.Value:
        base = self.bases.get(element)
        if base is None:
            gen, prologue = self.gen, self.gen.prologue
            if SCRATCH_MAP not in gen.globals:
                gen._map_global(SCRATCH_MAP, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1)  # sized in finish()
            key = ir.IRBuilder(gen.entry).alloca(i32)
            prologue.store(ir.Constant(i32, element), key)
            address = gen.helper("map_lookup_elem", [prologue.bitcast(gen.globals[SCRATCH_MAP], gen.ptr), key],
                                 prologue)
            if self.bail is None:
                self.bail = gen.fn.append_basic_block("scratch_missing")
                ir.IRBuilder(self.bail).ret(ir.Constant(i64, 0))
            found = gen.fn.append_basic_block(f"scratch_{element}")
            prologue.cbranch(prologue.icmp_unsigned("!=", address, ir.Constant(i64, 0)), found, self.bail)
            prologue.position_at_end(found)
            base = self.bases[element] = prologue.inttoptr(address, gen.ptr)
        return base

    def finish(self) -> None:
        """Size the map once every program is generated."""
        g = self.gen.globals.get(SCRATCH_MAP)
        if g is not None:
            g.initializer = ir.Constant(g.value_type, [ir.Constant(i32, v) for v in (
                BPF_MAP_TYPE_PERCPU_ARRAY, 4, self.value_size, self.entries, 0)])

"""Aggregations in per-CPU maps, as current bpftrace keeps them: the BPF side and the user-space fold.

bpftrace (bpfmap.cpp get_bpf_map_type, SizedType::NeedsPercpuMap) puts the
value of count, sum, min, max, avg, stats, hist, lhist and tseries in a
BPF_MAP_TYPE_PERCPU_HASH (LRU_PERCPU_HASH for a `let @m = percpulruhash(N)`
map): a probe updates its own CPU's copy with plain loads and stores, no
atomics and no sharing of cache lines between CPUs.  The other map values
stay in shared maps; a declaration whose kind says otherwise is
bpftrace's "Incompatible map types" error.

Reading a count/sum/min/max/avg in an expression (`$x = @c + 1`; `@x =
@c` only into a map of integers, bpftrace's is_valid_assignment) visits
every CPU's copy with bpf_map_lookup_percpu_elem (irbuilderbpf.cpp
CreatePerCpuMapAggElems); user space folds the copies of each element the
same way when it prints, sorts, writes JSON (runtime.Session.entries).
"""

from __future__ import annotations

import os
import struct
from functools import lru_cache

from llvmlite import ir

from . import ast
from .builtins import FUNCTIONS

BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH = 1, 9
BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_PERCPU_HASH = 5, 6, 10
PER_CPU_TYPES = (BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_PERCPU_HASH)
# (a declaration's kind, whether the value is an aggregation) -> the map type
MAP_TYPES = {("hash", False): BPF_MAP_TYPE_HASH, ("lruhash", False): BPF_MAP_TYPE_LRU_HASH,
             ("hash", True): BPF_MAP_TYPE_PERCPU_HASH, ("lruhash", True): BPF_MAP_TYPE_LRU_PERCPU_HASH,
             ("percpuhash", True): BPF_MAP_TYPE_PERCPU_HASH, ("percpulruhash", True): BPF_MAP_TYPE_LRU_PERCPU_HASH}
# bpftrace's spelling of the map type a value needs (for the "Incompatible map types" error)
NEEDED_KIND = {False: "hash", True: "percpuhash"}
CASTABLE = ("count", "sum", "min", "max", "avg")  # the aggregations an expression may read (IsCastableMapTy)

M64 = (1 << 64) - 1
i64 = ir.IntType(64)

# What bpftrace's messages suggest calling for each aggregation (type_resolver.cpp AGGREGATE_HINTS)
AGGREGATE_HINTS = {"count": "count()", "sum": "sum(retval)", "min": "min(retval)", "max": "max(retval)",
                   "avg": "avg(retval)", "hist": "hist(retval)", "lhist": "lhist(rand %10, 0, 10, 1)",
                   "tseries": "tseries(rand %10, 10s, 1)", "stats": "stats(arg2)"}


def check_copy(analyser, s) -> bool:
    """bpftrace's is_valid_assignment for `@x = @agg` and `$x = @agg` (an aggregation's map read whole):
    a count/sum/min/max/avg may go into a variable or into a map that already holds integers, its value
    folded over the CPUs; anything else is bpftrace's error at the statement.  True when it reported one."""
    if s.op or not isinstance(s.value, ast.Map):
        return False
    info = analyser.resources.maps.get(s.value.name)
    aggregation = info.value if info is not None else None
    if aggregation is None or not aggregation.is_aggregation:
        return False
    castable = aggregation.kind in CASTABLE
    if isinstance(s.target, ast.Variable):
        if not castable:
            analyser.diagnostics.error(s.span, f"Value '{aggregation}' cannot be assigned to a scratch variable.")
        return not castable
    target = analyser.resources.maps.get(s.target.name)
    current = target.value if target is not None else None
    if castable and current is not None and current.is_int:
        return False
    hints = [f"Add a cast to integer if you want the value of the aggregate, e.g. `{s.target.name} = "
             f"(int64){s.value.name};`."] if castable else []
    analyser.diagnostics.error(s.span, f"Map value '{aggregation}' cannot be assigned from one map to another. "
                                       "The function that returns this type must be called directly e.g. "
                                       f"`{s.target.name} = {AGGREGATE_HINTS[aggregation.kind]};`.", *hints)
    return True


def map_type(kind: str, aggregation: bool) -> int:
    """The BPF map type of a script map: its declared kind (hash for an undeclared one) and its value."""
    return MAP_TYPES.get((kind, aggregation), MAP_TYPES[("hash", aggregation)])


def compatible(kind: str, aggregation: bool) -> bool:
    """bpftrace's bpf_map_types_compatible: hash/lruhash hold plain values, percpu(lru)hash aggregations."""
    return kind.startswith("percpu") == aggregation


@lru_cache(maxsize=None)
def possible_cpus(kernel: str) -> int:
    """How many CPU copies a per-CPU map has on the kernel a script compiles for (the bound of the BPF
    loop that reads them): Linux's possible CPUs, or the virtual kernel's CPUs (one a host CPU)."""
    if kernel == "linux":
        from ..kernel.linux.kernel import possible_cpus as linux_possible
        return linux_possible()
    return os.cpu_count() or 1


# -- BPF: updating an aggregation ----------------------------------------------------------------------
def aggregate(gen, target: ast.Map, call: ast.Call) -> None:
    """`@m[k] = count()` ...: this CPU's copy of the element updated with plain loads and stores (created
    zeroed first); hist/lhist add the bucket to the key; an aggregation with its own code (tseries) runs it."""
    if hasattr(FUNCTIONS[call.name], "aggregate"):  # an aggregation with its own code (tseries)
        FUNCTIONS[call.name].aggregate(gen, target, call)
        return
    kind = call.type.kind
    arg = gen.expr(call.args[0]) if call.args else gen.i64(1)
    bucket = None
    if kind == "hist":
        bucket = log2_bucket(gen, arg, *call.type.params)
    elif kind == "lhist":
        bucket = linear_bucket(gen, arg, *call.type.params)
    key = gen.map_key(target, bucket)

    def update(value: ir.Value) -> None:
        first, second = gen.at(value, 0, i64), gen.at(value, 8, i64)
        if kind in ("count", "sum", "hist", "lhist"):
            gen.b.store(gen.b.add(gen.b.load(first), arg if kind == "sum" else gen.i64(1)), first)
        elif kind in ("avg", "stats"):
            gen.b.store(gen.b.add(gen.b.load(first), arg), first)
            gen.b.store(gen.b.add(gen.b.load(second), gen.i64(1)), second)
        else:  # min, max: {value, set}
            unset = gen.b.icmp_unsigned("==", gen.b.load(second), gen.i64(0))
            better = gen.b.icmp_signed("<" if kind == "min" else ">", arg, gen.b.load(first))
            with gen.b.if_then(gen.b.or_(unset, better)):
                gen.b.store(arg, first)
                gen.b.store(gen.i64(1), second)

    gen.lookup_or_init(target, key, update)


def log2_bucket(gen, value: ir.Value, k: int = 0) -> ir.Value:
    """hist(n, k)'s bucket, as bpftrace's log2(): 0 for negatives, n + 1 for n < 2^k, else
    1 + ((l - k + 1) << k | the k bits after the leftmost 1) with l = floor(log2(n))."""
    n, log = value, gen.i64(0)
    for shift in (32, 16, 8, 4, 2, 1):
        big = gen.b.icmp_unsigned(">=", n, gen.i64(1 << shift))
        n = gen.b.select(big, gen.b.lshr(n, gen.i64(shift)), n)
        log = gen.b.select(big, gen.b.add(log, gen.i64(shift)), log)
    mask = (1 << k) - 1
    shift = gen.b.sub(log, gen.i64(k))
    safe_shift = gen.b.select(gen.b.icmp_signed("<", shift, gen.i64(0)), gen.i64(0), shift)
    low_bits = gen.b.and_(gen.b.lshr(value, safe_shift), gen.i64(mask))
    index = gen.b.add(gen.b.add(gen.b.shl(gen.b.add(shift, gen.i64(1)), gen.i64(k)), low_bits), gen.i64(1))
    index = gen.b.select(gen.b.icmp_signed("<=", value, gen.i64(mask)), gen.b.add(value, gen.i64(1)), index)
    return gen.b.select(gen.b.icmp_signed("<", value, gen.i64(0)), gen.i64(0), index)


def linear_bucket(gen, value: ir.Value, low: int, high: int, step: int) -> ir.Value:
    """lhist()'s bucket: 0 below min, (max - min) / step + 1 at or above max, else 1 + (v - min) / step."""
    inside = gen.b.add(gen.b.udiv(gen.b.sub(value, gen.i64(low)), gen.i64(step)), gen.i64(1))
    top = gen.b.select(gen.b.icmp_signed(">=", value, gen.i64(high)), gen.i64((high - low) // step + 1), inside)
    return gen.b.select(gen.b.icmp_signed("<", value, gen.i64(low)), gen.i64(0), top)


# -- BPF: reading a count/sum/min/max/avg in an expression -------------------------------------------------
def read_all_cpus(gen, map_ptr: ir.Value, key: ir.Value, kind: str, cpus: int) -> ir.Value:
    """The value of one element folded over the CPUs' copies, in BPF: a loop of at most `cpus` lookups
    (bpf_map_lookup_percpu_elem), stopped by the first NULL (no such key, or past the last CPU).
    count/sum add up; min/max keep the extreme of the copies that are set ({value, set}); avg adds the
    totals and the counts ({total, count}) and divides once, the total signed (bpftrace: -12 / 3 is -4).
    A missing element reads 0."""
    entry = ir.IRBuilder(gen.entry)
    cpu_slot, first, second = entry.alloca(i64), entry.alloca(i64), entry.alloca(i64)
    for slot in (cpu_slot, first, second):
        gen.b.store(gen.i64(0), slot)
    test, body, found, done = (gen.new_block(n) for n in ("percpu_test", "percpu_lookup", "percpu_found",
                                                          "percpu_done"))
    gen.b.branch(test)
    gen.b.position_at_end(test)
    cpu = gen.b.load(cpu_slot)
    gen.b.cbranch(gen.b.icmp_unsigned("<", cpu, gen.i64(cpus)), body, done)
    gen.b.position_at_end(body)
    copy = gen.helper("map_lookup_percpu_elem", [map_ptr, key, cpu])
    gen.b.cbranch(gen.b.icmp_unsigned("!=", copy, gen.i64(0)), found, done)
    gen.b.position_at_end(found)
    place = gen.b.inttoptr(copy, gen.ptr)
    value = gen.b.load(gen.at(place, 0, i64))
    if kind in ("min", "max"):
        is_set = gen.b.icmp_unsigned("!=", gen.b.load(gen.at(place, 8, i64)), gen.i64(0))
        unset_yet = gen.b.icmp_unsigned("==", gen.b.load(second), gen.i64(0))
        better = gen.b.icmp_signed("<" if kind == "min" else ">", value, gen.b.load(first))
        with gen.b.if_then(gen.b.and_(is_set, gen.b.or_(unset_yet, better))):
            gen.b.store(value, first)
            gen.b.store(gen.i64(1), second)
    else:
        gen.b.store(gen.b.add(gen.b.load(first), value), first)
        if kind == "avg":
            gen.b.store(gen.b.add(gen.b.load(second), gen.b.load(gen.at(place, 8, i64))), second)
    gen.b.store(gen.b.add(cpu, gen.i64(1)), cpu_slot)
    gen.b.branch(test)
    gen.b.position_at_end(done)
    if kind != "avg":
        return gen.b.load(first)
    count, total = gen.b.load(second), gen.b.load(first)
    safe = gen.b.select(gen.b.icmp_unsigned("==", count, gen.i64(0)), gen.i64(1), count)
    negative = gen.b.icmp_signed("<", total, gen.i64(0))  # a signed total, as user space prints it:
    magnitude = gen.b.udiv(gen.b.select(negative, gen.b.neg(total), total), safe)  # BPF divides unsigned
    return gen.b.select(negative, gen.b.neg(magnitude), magnitude)


# -- user space: one value out of the copies ---------------------------------------------------------------
def value_copies(bpf_map, value: bytes, value_size: int) -> int:
    """How many per-CPU copies a value read from a map holds (1 but for per-CPU maps)."""
    if getattr(bpf_map, "map_type", None) not in PER_CPU_TYPES:
        return 1
    return max(1, len(value) // ((value_size + 7) // 8 * 8))


def fold(value: bytes, size: int, cpus: int, kind: str, aggregator: str = "none") -> bytes:
    """One value out of a per-CPU map's copies (each 8-byte aligned), as bpftrace folds them
    (util/reduce_value, stats.cpp, tseries.cpp): counts, sums and buckets add up; min/max take the
    extreme of the copies that are set; avg/stats add totals and counts; a tseries bucket (`aggregator`:
    its fourth argument) keeps the latest epoch of its copies and combines the copies of that epoch."""
    slot = (size + 7) // 8 * 8
    copies = [value[i * slot:i * slot + size] for i in range(cpus)]
    if kind in ("min", "max"):
        set_copies = [c for c in copies if struct.unpack_from("<q", c, 8)[0]] or copies[:1]
        pick = min if kind == "min" else max
        return pick(set_copies, key=lambda c: struct.unpack_from("<q", c)[0])
    if kind == "tseries":
        return _fold_tseries([struct.unpack("<qqQ", c) for c in copies], aggregator)
    words = len(copies[0]) // 8
    totals = [sum(struct.unpack_from("<q", c, 8 * w)[0] for c in copies) & (2**64 - 1) for w in range(words)]
    return b"".join(t.to_bytes(8, "little") for t in totals)


def _fold_tseries(states: list[tuple[int, int, int]], aggregator: str) -> bytes:
    """{value, meta, epoch} copies of one bucket (tseries.cpp reduce_tseries_value): epoch 0 is a copy never
    used; of the latest epoch's copies, sum and avg add value and meta, min/max keep the extreme value, and
    with no aggregator the value with the latest timestamp (meta) wins."""
    used = [s for s in states if s[2]]
    if not used:
        return struct.pack("<QQQ", *(word & M64 for word in states[0]))
    latest = max(epoch for _, _, epoch in used)
    value, meta, epoch = next(s for s in used if s[2] == latest)
    for v, m, _ in [s for s in used if s[2] == latest][1:]:
        if aggregator in ("sum", "avg"):
            value, meta = value + v, meta + m
        elif aggregator in ("min", "max"):
            value = (min if aggregator == "min" else max)(value, v)
        elif m > meta:
            value, meta = v, m
    return struct.pack("<QQQ", value & M64, meta & M64, epoch)

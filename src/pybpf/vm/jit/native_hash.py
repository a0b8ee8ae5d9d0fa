"""bpf_map_lookup_elem and bpf_map_update_elem on plain hash maps, in machine code (docs/jit.md).

A program that names a BPF_MAP_TYPE_HASH map with lddw gets the map's
`HashIndex` (maps/hash_index.py), an open-addressing table the map keeps in
step with its dict.  Lookup hashes the key the way `key_hash` does, probes
linearly from `hash & (capacity - 1)` until an empty slot, compares the
stored hash and key words and returns the value address or NULL: no
callback.  Update of an existing key with BPF_ANY or BPF_EXIST does what
`HashMap.update` does for one (the kernel's extra element): the value is
copied into the spare buffer, the slot takes the spare's address, the old
buffer becomes the spare, and the slot, the first time since the map last
synced, goes into the index's log for the map to take in (`HashMap.sync`);
BPF_NOEXIST on an existing key is -EEXIST.  A new key and flags past
BPF_EXIST take the helper callback, as do per-CPU and LRU maps (no index).
"""

from __future__ import annotations

import errno
from typing import NamedTuple

from llvmlite import ir

from ...maps.hash_index import HASH, KEY, SPARE, SWAPPED, SWAPS, VALUE, key_words

i1, i8, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(64)
BPF_NOEXIST, BPF_EXIST = 1, 2


class NativeHash(NamedTuple):
    """What the machine code of one hash map needs (all of it in the compile digest)."""
    table: int
    header: int  # HashMap.header: SWAPS, SPARE
    log: int
    capacity: int
    stride: int  # words a slot
    key_size: int
    value_size: int
    multiplier: int

    @classmethod
    def of(cls, bpf_map) -> "NativeHash | None":
        index = bpf_map.native_index()
        if index is None:
            return None
        return cls(index.table, bpf_map.header, index.log, index.capacity, index.stride, index.key_size,
                   bpf_map.value_size, index.multiplier)


def _c(value: int) -> ir.Constant:
    return ir.Constant(i64, value & ((1 << 64) - 1))


def _key_words(cg, pc: int, layout: NativeHash) -> list:
    """The key at r2 as zero-padded little-endian words (checked mode checks each read)."""
    b, out = cg.b, []
    for j in range(key_words(layout.key_size)):
        size = min(8, layout.key_size - 8 * j)
        addr = b.add(cg.reg(2), _c(8 * j))
        if cg.checked:
            cg.checked_access(pc, addr, size, 0)
        word = b.load(b.inttoptr(addr, ir.IntType(size * 8).as_pointer()), align=1)
        out.append(word if size == 8 else b.zext(word, i64))
    return out


def _probe(cg, pc: int, layout: NativeHash, found_block, missing_block):
    """Emit the probe; returns (slot phi, slot words pointer, value address), valid in found_block."""
    b, fn = cg.b, cg.fn
    words = _key_words(cg, pc, layout)
    h = _c(layout.key_size)
    for w in words:
        h = b.mul(b.xor(h, w), _c(layout.multiplier))
    h = b.xor(h, b.lshr(h, _c(32)))
    start = b.and_(h, _c(layout.capacity - 1))
    entry = b.block
    head, compare, step = fn.append_basic_block(), fn.append_basic_block(), fn.append_basic_block()
    b.branch(head)
    b.position_at_end(head)
    slot = b.phi(i64)
    slot.add_incoming(start, entry)
    base = b.inttoptr(b.add(_c(layout.table), b.mul(slot, _c(layout.stride * 8))), i64.as_pointer())
    value = b.load(b.gep(base, [_c(VALUE)]))
    b.cbranch(b.icmp_unsigned("==", value, _c(0)), missing_block, compare)
    b.position_at_end(compare)
    same = b.icmp_unsigned("==", b.load(b.gep(base, [_c(HASH)])), h)
    for j, w in enumerate(words):
        same = b.and_(same, b.icmp_unsigned("==", b.load(b.gep(base, [_c(KEY + j)])), w))
    b.cbranch(same, found_block, step)
    b.position_at_end(step)
    slot.add_incoming(b.and_(b.add(slot, _c(1)), _c(layout.capacity - 1)), step)
    b.branch(head)
    return slot, base, value


def lookup(cg, pc: int, hashes: dict[int, NativeHash]) -> None:
    """bpf_map_lookup_elem on a known hash map: the value address or NULL.  Leaves the builder in the
    block for other maps (the callback)."""
    b, fn = cg.b, cg.fn
    generic = fn.append_basic_block()
    switch = b.switch(cg.reg(1), generic)
    for handle, layout in sorted(hashes.items()):
        case, found, missing = (fn.append_basic_block() for _ in range(3))
        switch.add_case(_c(handle), case)
        b.position_at_end(case)
        _, _, value = _probe(cg, pc, layout, found, missing)
        b.position_at_end(found)
        cg.set(0, value)
        b.branch(cg.blocks[pc + 1])
        b.position_at_end(missing)
        cg.set(0, _c(0))
        b.branch(cg.blocks[pc + 1])
    b.position_at_end(generic)


def update(cg, pc: int, hashes: dict[int, NativeHash]) -> None:
    """bpf_map_update_elem of an existing key of a known hash map (verified code: the pointers are the
    verifier's to prove), as HashMap.update does it; the rest goes to the callback (the block left open)."""
    b, fn = cg.b, cg.fn
    generic = fn.append_basic_block()
    switch = b.switch(cg.reg(1), generic)
    memmove = cg.module.declare_intrinsic("llvm.memmove", [i8.as_pointer(), i8.as_pointer(), i64])
    for handle, layout in sorted(hashes.items()):
        case, probe, found, replace, log, done = (fn.append_basic_block() for _ in range(6))
        switch.add_case(_c(handle), case)
        b.position_at_end(case)
        flags = cg.reg(4)
        b.cbranch(b.icmp_unsigned("<=", flags, _c(BPF_EXIST)), probe, generic)
        b.position_at_end(probe)
        slot, base, value = _probe(cg, pc, layout, found, generic)
        b.position_at_end(found)
        exists = fn.append_basic_block()
        b.cbranch(b.icmp_unsigned("==", flags, _c(BPF_NOEXIST)), exists, replace)
        b.position_at_end(exists)
        cg.set(0, _c(-errno.EEXIST))
        b.branch(cg.blocks[pc + 1])
        b.position_at_end(replace)
        header = b.inttoptr(_c(layout.header), i64.as_pointer())
        spare = b.load(b.gep(header, [_c(SPARE)]))
        b.call(memmove, [b.inttoptr(spare, i8.as_pointer()), b.inttoptr(cg.reg(3), i8.as_pointer()),
                         _c(layout.value_size), ir.Constant(i1, 0)])
        b.store(value, b.gep(header, [_c(SPARE)]))
        b.store(spare, b.gep(base, [_c(VALUE)]))
        swapped = b.gep(base, [_c(SWAPPED)])
        b.cbranch(b.icmp_unsigned("==", b.load(swapped), _c(0)), log, done)
        b.position_at_end(log)  # the slot's first swap since the map synced: into the log
        b.store(_c(1), swapped)
        count = b.load(b.gep(header, [_c(SWAPS)]))
        b.store(slot, b.gep(b.inttoptr(_c(layout.log), i64.as_pointer()), [count]))
        b.store(b.add(count, _c(1)), b.gep(header, [_c(SWAPS)]))
        b.branch(done)
        b.position_at_end(done)
        cg.set(0, _c(0))
        b.branch(cg.blocks[pc + 1])
    b.position_at_end(generic)

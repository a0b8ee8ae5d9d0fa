"""BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/hashtab.c).

Elements are created by update and removed by delete; a full map refuses a
new key with E2BIG, except the LRU maps, which evict the least recently
used element instead.  Each element's value is its own buffer (one a CPU for
the per-CPU maps) that lives until the element is deleted or replaced.
Iteration order is insertion order here; the kernel's is its bucket order,
which user space must not rely on either.

Replacing an element of a plain (not per-CPU, not LRU) map works as the
kernel's preallocated hash map does (hashtab.c, alloc_htab_elem with
`extra_elems`): the new value goes into the map's spare buffer, which takes
the element's place, and the element's old buffer becomes the spare.  So a
pointer a program looked up before the update still reads the old value,
until the next replacement reuses that buffer, as on Linux (for
BPF_F_NO_PREALLOC maps too, whose freed element the next allocation reuses:
tests/vm/test_native_hash.py runs both on the live kernel).  A buffer keeps
the region name of the key it was made for.  The per-CPU and LRU maps
allocate a new buffer and free the old one.

A plain map a native program uses also keeps a `HashIndex` (hash_index.py),
the table its machine code probes, in step with the dict.
"""

from __future__ import annotations

import ctypes
import errno
from collections import OrderedDict

from .base import (BPF_ANY, BPF_EXIST, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED, BPF_NOEXIST,
                   ENOTSUPP, KMALLOC_MAX_SIZE, PCPU_MIN_UNIT_SIZE, Map, Value, fail)
from .hash_index import HEADER_WORDS, MAX_BYTES, MULTIPLIER, SPARE, SWAPS, HashIndex

_NO_SWAPS = memoryview(bytes(8)).cast("Q")  # `swaps` of a map without an index: native code never swaps

HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem), which the kernel's size check counts


class HashMap(Map):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED
    lru = False

    def validate(self) -> None:
        super().validate()
        if self.key_size + self.value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE or (
                self.percpu and self.value_size > PCPU_MIN_UNIT_SIZE):
            raise fail(errno.E2BIG, f"key_size + value_size {self.key_size + self.value_size} is too large")
        if self.lru and self.flags & BPF_F_NO_PREALLOC:
            raise fail(ENOTSUPP, "LRU maps are always preallocated")
        self.elements: OrderedDict[bytes, list[Value]] = OrderedDict()
        # plain maps: key -> its current value buffer, the key a little-endian int when it is 4 or 8 bytes
        # (`int_keys`): what the compiled engine's lookups read (one int off the stack is cheaper than bytes)
        self.current: dict[int | bytes, Value] = {}
        self.int_keys = False
        # the buffer the next replacement of an element writes (plain maps; None for per-CPU and LRU maps)
        self.spare = None if self.percpu or self.lru else Value(self.value_size)
        self.index: HashIndex | None = None
        self.swaps = _NO_SWAPS  # the header native code writes (hash_index): swaps[SWAPS] != 0 after a swap
        self.header = 0  # its address
        self._buffers: dict[int, Value] = {}  # plain maps: address -> buffer, of every element and the spare
        if self.spare is not None:
            self._buffers[self.spare.address] = self.spare
            self.int_keys = self.key_size in (4, 8)
            self._header = (ctypes.c_uint64 * HEADER_WORDS)()
            self.header = ctypes.addressof(self._header)
            self.swaps = memoryview(self._header).cast("B").cast("Q")
            self.swaps[SPARE] = self.spare.address

    def blocks(self):
        self.sync()
        for key, values in self.elements.items():
            for cpu, value in enumerate(values):
                yield value, f"map {self.name or '(unnamed)'} element {key.hex()}" + (f" cpu{cpu}" if self.percpu else "")
        if self.spare is not None:
            yield self.spare, f"map {self.name or '(unnamed)'} spare element"

    def native_index(self, multiplier: int = MULTIPLIER) -> HashIndex | None:
        """The native table of a plain map, built on the first request (the native engine's compile) and kept
        in step from then on; None for per-CPU and LRU maps, and for a table over MAX_BYTES (their helpers
        stay on the callback).  multiplier: of the hash (a test forces collisions with 0)."""
        if self.index is None and self.spare is not None and \
                HashIndex.table_bytes(self.key_size, self.max_entries) <= MAX_BYTES:
            index = HashIndex(self.key_size, self.max_entries, multiplier)
            self.sync()
            for key, values in self.elements.items():
                index.put(key, values[0].address)
            self.index = index
        return self.index

    def sync(self) -> None:
        """Take in the replacements native code made: each swapped its slot's value buffer with the spare,
        so the slots it logged (hash_index) and the header's SPARE name the buffers that hold what now."""
        swaps = self.swaps
        count = swaps[SWAPS]
        if not count:
            return
        buffers = self._buffers
        for key, address in self.index.take_swaps(count):
            value = buffers[address]
            self.elements[key][0] = self.current[self._current_key(key)] = value
        self.spare = buffers[swaps[SPARE]]
        swaps[SWAPS] = 0

    def _new_values(self, key: bytes, value: bytes) -> list[Value]:
        if not self.percpu:
            values = [Value(self.value_size, value)]
            if self.spare is not None:
                self._buffers[values[0].address] = values[0]
        else:
            slot = (self.value_size + 7) // 8 * 8
            values = [Value(self.value_size, value[cpu * slot: cpu * slot + self.value_size])
                      for cpu in range(self.ncpus)]
        for cpu, v in enumerate(values):
            self.on_alloc(v, f"map {self.name or '(unnamed)'} element {key.hex()}" + (f" cpu{cpu}" if self.percpu else ""))
        return values

    def _current_key(self, key: bytes) -> int | bytes:
        return int.from_bytes(key, "little") if self.int_keys else key

    def _drop(self, key: bytes) -> None:
        values = self.elements.pop(key)
        for v in values:
            self.on_free(v)
        if self.spare is not None:
            del self.current[self._current_key(key)]
            del self._buffers[values[0].address]
        if self.index is not None:
            self.index.delete(key)

    def _touch(self, key: bytes) -> None:
        if self.lru:
            self.elements.move_to_end(key)

    def lookup(self, key: bytes) -> bytes:
        key = self.check_key(key)
        self.sync()
        values = self.elements.get(key)
        if values is None:
            raise fail(errno.ENOENT, "no such key")
        self._touch(key)
        if not self.percpu:
            return values[0].read()
        slot = (self.value_size + 7) // 8 * 8
        return b"".join(v.read().ljust(slot, b"\0") for v in values)

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        mode = self.check_update_flags(flags)
        key, value = self.check_key(key), self.check_value(value)
        self.sync()
        exists = key in self.elements
        if mode == BPF_NOEXIST and exists:
            raise fail(errno.EEXIST, "key exists (BPF_NOEXIST)")
        if mode == BPF_EXIST and not exists:
            raise fail(errno.ENOENT, "no such key (BPF_EXIST)")
        if exists and self.spare is not None:
            self._replace(key, value)
            return
        if not exists and len(self.elements) >= self.max_entries:
            if not self.lru:
                raise fail(errno.E2BIG, f"map is full ({self.max_entries} entries)")
            self._drop(next(iter(self.elements)))
        new = self._new_values(key, value)  # per-CPU and LRU maps: a new element, the old one freed
        if exists:
            self._drop(key)
        self.elements[key] = new
        if self.spare is not None:
            self.current[self._current_key(key)] = new[0]
        if self.index is not None:
            self.index.put(key, new[0].address)

    def _replace(self, key: bytes, value: bytes) -> None:
        """Replace the value of an existing key of a plain map as the kernel does (its extra element): the value
        goes into the spare buffer, which takes the element's place; the old buffer, still readable through
        the pointers programs hold, is the next spare."""
        values = self.elements[key]
        self.spare.view[:] = value  # value_size bytes (checked by the caller)
        values[0], self.spare = self.spare, values[0]
        self.current[self._current_key(key)] = values[0]
        self.swaps[SPARE] = self.spare.address
        if self.index is not None:
            self.index.put(key, values[0].address)

    def replace_current(self, key: int | bytes, value: bytes) -> int:
        """bpf_map_update_elem of a key `current` holds, BPF_ANY or BPF_EXIST (the compiled engine's fast
        path, which found the key and checked the flags): HashMap.update's replacement; r0 = 0."""
        self.sync()
        self._replace(key.to_bytes(self.key_size, "little") if self.int_keys else key, value)
        return 0

    def delete(self, key: bytes) -> None:
        key = self.check_key(key)
        self.sync()
        if key not in self.elements:
            raise fail(errno.ENOENT, "no such key")
        self._drop(key)

    def lookup_and_delete(self, key: bytes | None) -> bytes:
        if key is None:
            raise fail(errno.EINVAL, "a key is needed")
        value = self.lookup(key)
        self.delete(key)
        return value

    def get_next_key(self, key: bytes | None) -> bytes:
        keys = list(self.elements)
        if key is not None:
            key = self.check_key(key)
            if key in self.elements:
                position = keys.index(key) + 1
                if position >= len(keys):
                    raise fail(errno.ENOENT, "no more keys")
                return keys[position]
        if not keys:
            raise fail(errno.ENOENT, "the map is empty")
        return keys[0]

    def value_address(self, key: bytes, cpu: int = 0) -> int | None:
        if self.swaps[SWAPS]:
            self.sync()
        values = self.elements.get(bytes(key))
        if values is None:
            return None
        self._touch(bytes(key))
        return values[cpu if self.percpu else 0].address


class PerCpuHashMap(HashMap):
    percpu = True


class LruHashMap(HashMap):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_NO_COMMON_LRU | BPF_F_ZERO_SEED | BPF_F_NO_PREALLOC
    lru = True


class LruPerCpuHashMap(LruHashMap):
    percpu = True

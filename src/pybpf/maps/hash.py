"""BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/hashtab.c).

Elements are created by update and removed by delete; a full map refuses a
new key with E2BIG, except the LRU maps, which evict the least recently
used element instead.  Each element's value is its own buffer (one a CPU for
the per-CPU maps) that lives until the element is deleted or replaced.
Iteration order is insertion order here; the kernel's is its bucket order,
which user space must not rely on either.
"""

from __future__ import annotations

import errno
from collections import OrderedDict

from .base import (BPF_ANY, BPF_EXIST, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED, BPF_NOEXIST,
                   ENOTSUPP, KMALLOC_MAX_SIZE, PCPU_MIN_UNIT_SIZE, Map, Value, fail)

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

    def blocks(self):
        for key, values in self.elements.items():
            for cpu, value in enumerate(values):
                yield value, f"map {self.name or '(unnamed)'} element {key.hex()}" + (f" cpu{cpu}" if self.percpu else "")

    def _new_values(self, key: bytes, value: bytes) -> list[Value]:
        if not self.percpu:
            values = [Value(self.value_size, value)]
        else:
            slot = (self.value_size + 7) // 8 * 8
            values = [Value(self.value_size, value[cpu * slot: cpu * slot + self.value_size])
                      for cpu in range(self.ncpus)]
        for cpu, v in enumerate(values):
            self.on_alloc(v, f"map {self.name or '(unnamed)'} element {key.hex()}" + (f" cpu{cpu}" if self.percpu else ""))
        return values

    def _drop(self, key: bytes) -> None:
        for v in self.elements.pop(key):
            self.on_free(v)

    def _touch(self, key: bytes) -> None:
        if self.lru:
            self.elements.move_to_end(key)

    def lookup(self, key: bytes) -> bytes:
        key = self.check_key(key)
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
        exists = key in self.elements
        if mode == BPF_NOEXIST and exists:
            raise fail(errno.EEXIST, "key exists (BPF_NOEXIST)")
        if mode == BPF_EXIST and not exists:
            raise fail(errno.ENOENT, "no such key (BPF_EXIST)")
        if not exists and len(self.elements) >= self.max_entries:
            if not self.lru:
                raise fail(errno.E2BIG, f"map is full ({self.max_entries} entries)")
            self._drop(next(iter(self.elements)))
        new = self._new_values(key, value)  # the kernel replaces the element: old pointers stay valid
        if exists:
            self._drop(key)
        self.elements[key] = new

    def delete(self, key: bytes) -> None:
        key = self.check_key(key)
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

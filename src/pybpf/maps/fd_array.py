"""Maps of kernel objects (kernel/bpf/arraymap.c fd_array, map_in_map.c).

User space stores an object by its fd; lookup from user space answers the
object's id, an empty slot is ENOENT, delete empties a slot.  The kernel
that owns the map installs `resolve_fd` (fd -> object, or an errno) and
`object_id` (object -> id).  Program arrays feed bpf_tail_call, perf event
arrays (perf.py) bpf_perf_event_output, maps of maps give programs the inner
map.
"""

from __future__ import annotations

import errno
from typing import Callable

from .array import next_index
from .base import BPF_ANY, BPF_F_INNER_MAP, BPF_NOEXIST, Map, fail


def _no_kernel(fd: int):
    raise fail(errno.EBADF, "no kernel to resolve fds")


class FdArray(Map):
    """An array whose slots hold kernel objects stored by fd (key u32 index, value u32 fd)."""

    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_INNER_MAP

    def validate(self) -> None:
        if self.key_size != 4 or self.value_size != 4 or self.max_entries == 0:
            raise fail(errno.EINVAL, "fd arrays need key_size 4, value_size 4 and max_entries")
        self.slots: dict[int, object] = {}
        self.resolve_fd: Callable[[int], object] = _no_kernel
        self.object_id: Callable[[object], int] = lambda obj: 0

    def accepts(self, obj) -> bool:
        """Whether an object may go in a slot (a program, a perf event...)."""
        return obj is not None

    def _index(self, key: bytes) -> int:
        return int.from_bytes(self.check_key(key), "little")

    def _slot(self, key: bytes) -> int:
        index = self._index(key)
        if index >= self.max_entries:
            raise fail(errno.E2BIG, f"index {index} is past max_entries {self.max_entries}")
        return index

    def lookup(self, key: bytes) -> bytes:
        index = self._index(key)
        if index not in self.slots:
            raise fail(errno.ENOENT, "empty slot")
        return self.object_id(self.slots[index]).to_bytes(4, "little")

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        mode = self.check_update_flags(flags)
        value = self.check_value(value)
        index = self._slot(key)
        if mode == BPF_NOEXIST:
            raise fail(errno.EEXIST, "array elements always exist")
        obj = self.resolve_fd(int.from_bytes(value, "little", signed=True))
        if not self.accepts(obj):
            raise fail(errno.EBADF, "the fd is not an object this map holds")
        self.slots[index] = obj

    def delete(self, key: bytes) -> None:
        if self.slots.pop(self._slot(key), None) is None:
            raise fail(errno.ENOENT, "empty slot")

    def get_next_key(self, key: bytes | None) -> bytes:
        return next_index(self._index(key) if key is not None else None, self.max_entries)

    def target(self, index: int):
        """The object in a slot, or None (what bpf_tail_call and perf output use)."""
        return self.slots.get(index) if 0 <= index < self.max_entries else None


class ProgArrayMap(FdArray):
    """BPF_MAP_TYPE_PROG_ARRAY: programs, for bpf_tail_call; lookup answers program ids."""


class MapInMap(Map):
    """BPF_MAP_TYPE_ARRAY_OF_MAPS and HASH_OF_MAPS: values are maps, stored from user space by fd.

    bpf_map_lookup_elem on the outer map gives a program the inner map itself
    (what it passes to further map helpers); user space reads inner map ids.
    The kernel installs `resolve_fd` (fd -> map object), `object_id` and
    `handle_of` (map object -> the address programs use for it).
    """

    ALLOWED_FLAGS = Map.ALLOWED_FLAGS

    def validate(self) -> None:
        if self.value_size != 4 or self.max_entries == 0 or (self.hashed and self.key_size == 0) or (
                not self.hashed and self.key_size != 4):
            raise fail(errno.EINVAL, "map-in-map needs value_size 4 (an fd) and a valid key")
        self.slots: dict[bytes, object] = {}
        self.resolve_fd = _no_kernel
        self.object_id = lambda obj: 0
        self.handle_of = lambda obj: 0

    hashed = False

    def _key(self, key: bytes) -> bytes:
        key = self.check_key(key)
        if not self.hashed and int.from_bytes(key, "little") >= self.max_entries:
            raise fail(errno.E2BIG, "index past max_entries")
        return key

    def lookup(self, key: bytes) -> bytes:
        obj = self.slots.get(self.check_key(key))
        if obj is None:
            raise fail(errno.ENOENT, "empty slot")
        return self.object_id(obj).to_bytes(4, "little")

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        mode = self.check_update_flags(flags)
        key, value = self._key(key), self.check_value(value)
        exists = key in self.slots
        if mode == BPF_NOEXIST and (exists or not self.hashed):
            raise fail(errno.EEXIST, "the slot exists")
        if mode == 2 and self.hashed and not exists:
            raise fail(errno.ENOENT, "no such key (BPF_EXIST)")
        if self.hashed and not exists and len(self.slots) >= self.max_entries:
            raise fail(errno.E2BIG, "map is full")
        self.slots[key] = self.resolve_fd(int.from_bytes(value, "little", signed=True))

    def delete(self, key: bytes) -> None:
        if self.slots.pop(self._key(key), None) is None:
            raise fail(errno.ENOENT, "empty slot")

    def get_next_key(self, key: bytes | None) -> bytes:
        if not self.hashed:
            return next_index(int.from_bytes(self.check_key(key), "little") if key is not None else None,
                              self.max_entries)
        keys = list(self.slots)
        if key is not None and key in self.slots and keys.index(key) + 1 < len(keys):
            return keys[keys.index(key) + 1]
        if key is None or key not in self.slots:
            if keys:
                return keys[0]
        raise fail(errno.ENOENT, "no more keys")

    def value_address(self, key: bytes, cpu: int = 0) -> int | None:
        obj = self.slots.get(bytes(key))
        return self.handle_of(obj) if obj is not None else None


class HashOfMaps(MapInMap):
    hashed = True

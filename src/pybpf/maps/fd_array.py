"""Arrays of kernel objects: BPF_MAP_TYPE_PROG_ARRAY (kernel/bpf/arraymap.c, fd_array).

User space stores a program by its fd; a program reaches it through
bpf_tail_call.  Lookup from user space answers the program's id; an empty
slot is ENOENT; delete empties a slot.  The kernel that owns the map installs
`resolve_fd` (fd -> object, or an errno) and `object_id` (object -> id).
"""

from __future__ import annotations

import errno
from typing import Callable

from .array import next_index
from .base import BPF_ANY, BPF_F_INNER_MAP, BPF_NOEXIST, Map, fail


class ProgArrayMap(Map):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_INNER_MAP

    def validate(self) -> None:
        if self.key_size != 4 or self.value_size != 4 or self.max_entries == 0:
            raise fail(errno.EINVAL, "program arrays need key_size 4, value_size 4 and max_entries")
        self.slots: dict[int, object] = {}
        self.resolve_fd: Callable[[int], object] = lambda fd: (_ for _ in ()).throw(
            fail(errno.EBADF, "no kernel to resolve fds"))
        self.object_id: Callable[[object], int] = lambda obj: 0

    def _index(self, key: bytes) -> int:
        return int.from_bytes(self.check_key(key), "little")

    def lookup(self, key: bytes) -> bytes:
        index = self._index(key)
        if index not in self.slots:
            raise fail(errno.ENOENT, "empty slot")
        return self.object_id(self.slots[index]).to_bytes(4, "little")

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        mode = self.check_update_flags(flags)
        index = self._index(key)
        value = self.check_value(value)
        if index >= self.max_entries:
            raise fail(errno.E2BIG, f"index {index} is past max_entries {self.max_entries}")
        if mode == BPF_NOEXIST:
            raise fail(errno.EEXIST, "array elements always exist")
        self.slots[index] = self.resolve_fd(int.from_bytes(value, "little", signed=True))

    def delete(self, key: bytes) -> None:
        index = self._index(key)
        if index >= self.max_entries:
            raise fail(errno.E2BIG, f"index {index} is past max_entries {self.max_entries}")
        if self.slots.pop(index, None) is None:
            raise fail(errno.ENOENT, "empty slot")

    def get_next_key(self, key: bytes | None) -> bytes:
        return next_index(self._index(key) if key is not None else None, self.max_entries)

    def target(self, index: int):
        """The object in a slot, or None: what bpf_tail_call jumps to."""
        return self.slots.get(index) if 0 <= index < self.max_entries else None

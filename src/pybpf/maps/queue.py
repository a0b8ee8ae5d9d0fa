"""BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (kernel/bpf/queue_stack_maps.c).

Keyless: key_size must be 0.  update pushes (BPF_EXIST overwrites the
oldest element when full, else E2BIG), lookup peeks, lookup_and_delete pops;
an empty map answers ENOENT.  delete and get_next_key are refused.
"""

from __future__ import annotations

import errno
from collections import deque

from .base import BPF_ANY, BPF_EXIST, KMALLOC_MAX_SIZE, Map, fail


class QueueMap(Map):
    lifo = False

    def validate(self) -> None:
        if self.key_size != 0 or self.value_size == 0 or self.max_entries == 0:
            raise fail(errno.EINVAL, "queue and stack maps need key_size 0, a value_size and max_entries")
        if self.value_size > KMALLOC_MAX_SIZE:
            raise fail(errno.E2BIG, f"value_size {self.value_size} is too large")
        self.items_: deque[bytes] = deque()

    def _peek(self) -> bytes:
        if not self.items_:
            raise fail(errno.ENOENT, "the map is empty")
        return self.items_[-1] if self.lifo else self.items_[0]

    def lookup(self, key: bytes | None) -> bytes:
        self.check_key(key)
        return self._peek()

    def lookup_and_delete(self, key: bytes | None) -> bytes:
        self.check_key(key)
        value = self._peek()
        self.items_.pop() if self.lifo else self.items_.popleft()
        return value

    def update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self.check_key(key)
        if flags not in (BPF_ANY, BPF_EXIST):
            raise fail(errno.EINVAL, f"push flags {flags:#x} are not valid")
        value = self.check_value(value)
        if len(self.items_) >= self.max_entries:
            if flags != BPF_EXIST:
                raise fail(errno.E2BIG, f"map is full ({self.max_entries} entries)")
            self.items_.popleft()
        self.items_.append(value)

    def push(self, value: bytes, flags: int = BPF_ANY) -> None:
        self.update(None, value, flags)

    def pop(self) -> bytes:
        return self.lookup_and_delete(None)

    def peek(self) -> bytes:
        return self.lookup(None)

    def __len__(self) -> int:
        return len(self.items_)

    def delete(self, key: bytes | None) -> None:
        self.check_key(key)
        raise fail(errno.EINVAL, "queue and stack elements cannot be deleted by key")

    def get_next_key(self, key: bytes | None) -> bytes:
        raise fail(errno.EINVAL, "queue and stack maps have no keys")

    def keys(self):
        raise fail(errno.EINVAL, "queue and stack maps have no keys")


class StackMap(QueueMap):
    lifo = True

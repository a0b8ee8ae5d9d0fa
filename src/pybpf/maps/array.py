"""BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c).

Keys are u32 indexes below max_entries; every element exists from creation,
zeroed, so NOEXIST always fails and delete is refused.  Elements are 8-byte
aligned slots of one buffer (one buffer a CPU for the per-CPU array), as
the kernel lays them out, which is what makes the array mmapable.
"""

from __future__ import annotations

import errno

from .base import (BPF_ANY, BPF_F_INNER_MAP, BPF_F_MMAPABLE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY, BPF_NOEXIST, KMALLOC_MAX_SIZE,
                   PCPU_MIN_UNIT_SIZE, Map, Value, fail)


def next_index(index: int | None, max_entries: int) -> bytes:
    """get_next_key of every array-like map: 0 after no key or one out of range, ENOENT after the last."""
    if index is None or index >= max_entries:
        return (0).to_bytes(4, "little")
    if index == max_entries - 1:
        raise fail(errno.ENOENT, "no more keys")
    return (index + 1).to_bytes(4, "little")


class ArrayMap(Map):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_MMAPABLE | BPF_F_INNER_MAP

    def validate(self) -> None:
        if self.key_size != 4 or self.value_size == 0 or self.max_entries == 0:
            raise fail(errno.EINVAL, "array maps need key_size 4, a value_size and max_entries")
        if self.value_size > KMALLOC_MAX_SIZE:
            raise fail(errno.E2BIG, f"value_size {self.value_size} is too large")
        if self.percpu and self.value_size > PCPU_MIN_UNIT_SIZE:
            raise fail(errno.E2BIG, f"per-CPU value_size {self.value_size} is above {PCPU_MIN_UNIT_SIZE}")
        self.elem_size = (self.value_size + 7) // 8 * 8
        copies = self.ncpus if self.percpu else 1
        self.storage = [Value(self.elem_size * self.max_entries) for _ in range(copies)]

    def mmap(self, writable: bool = True) -> memoryview:
        """The values as one memoryview, elements 8-byte aligned (mmap of a BPF_F_MMAPABLE array's fd)."""
        if self.percpu or not self.flags & BPF_F_MMAPABLE:
            raise fail(errno.EINVAL, "only an array created with BPF_F_MMAPABLE can be mapped")
        if self.flags & BPF_F_RDONLY:  # Linux 6.18 refuses a read-only mapping too (EINVAL)
            raise fail(errno.EACCES if writable else errno.EINVAL, "the map is read-only to user space (BPF_F_RDONLY)")
        view = memoryview(self.storage[0].buffer).cast("B")
        return view if writable else view.toreadonly()

    def blocks(self):
        for cpu, block in enumerate(self.storage):
            yield block, f"map {self.name or '(unnamed)'} values" + (f" cpu{cpu}" if self.percpu else "")

    def _index(self, key: bytes) -> int:
        return int.from_bytes(self.check_key(key), "little")

    def _slot(self, index: int, cpu: int) -> tuple[Value, int]:
        return self.storage[cpu], index * self.elem_size

    def _read(self, index: int, cpu: int) -> bytes:
        block, offset = self._slot(index, cpu)
        return block.read(offset, self.value_size)

    def _write(self, index: int, cpu: int, data: bytes) -> None:
        block, offset = self._slot(index, cpu)
        block.write(data, offset)

    def lookup(self, key: bytes) -> bytes:
        index = self._index(key)
        if index >= self.max_entries:
            raise fail(errno.ENOENT, f"index {index} is past max_entries {self.max_entries}")
        if not self.percpu:
            return self._read(index, 0)
        return b"".join(self._read(index, cpu).ljust(self.elem_size, b"\0") for cpu in range(self.ncpus))

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        mode = self.check_update_flags(flags)
        index = self._index(key)
        value = self.check_value(value)
        if index >= self.max_entries:
            raise fail(errno.E2BIG, f"index {index} is past max_entries {self.max_entries}")
        if mode == BPF_NOEXIST:
            raise fail(errno.EEXIST, "array elements always exist")
        if not self.percpu:
            self._write(index, 0, value)
            return
        for cpu in range(self.ncpus):
            self._write(index, cpu, value[cpu * self.elem_size: cpu * self.elem_size + self.value_size])

    def delete(self, key: bytes) -> None:
        raise fail(errno.EINVAL, "array elements cannot be deleted")

    def get_next_key(self, key: bytes | None) -> bytes:
        return next_index(self._index(key) if key is not None else None, self.max_entries)

    def value_address(self, key: bytes, cpu: int = 0) -> int | None:
        index = int.from_bytes(key, "little")
        if index >= self.max_entries:
            return None
        block, offset = self._slot(index, cpu if self.percpu else 0)
        return block.address + offset


class PerCpuArrayMap(ArrayMap):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_INNER_MAP
    percpu = True


__all__ = ["ArrayMap", "BPF_F_PRESERVE_ELEMS", "PerCpuArrayMap"]

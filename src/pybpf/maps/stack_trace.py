"""BPF_MAP_TYPE_STACK_TRACE (kernel/bpf/stackmap.c): stacks by id, for bpf_get_stackid.

A value is up to value_size / 8 instruction pointers, zero-padded.  The id of
a stack is a hash of its ips modulo max_entries; a different stack already
at that id makes bpf_get_stackid fail with -EEXIST unless
BPF_F_REUSE_STACKID replaces it.  User space reads and deletes stacks; it
cannot write them.
"""

from __future__ import annotations

import errno
import hashlib

from .base import BPF_ANY, Map, fail

PERF_MAX_STACK_DEPTH = 127
BPF_F_SKIP_FIELD_MASK = 0xFF
BPF_F_USER_STACK = 1 << 8
BPF_F_FAST_STACK_CMP = 1 << 9
BPF_F_REUSE_STACKID = 1 << 10


class StackTraceMap(Map):
    def validate(self) -> None:
        if self.key_size != 4 or self.value_size < 8 or self.value_size % 8 or self.max_entries == 0:
            raise fail(errno.EINVAL, "stack maps need key_size 4 and a value_size that is a multiple of 8")
        if self.value_size // 8 > PERF_MAX_STACK_DEPTH:
            raise fail(errno.EINVAL, f"stacks are at most {PERF_MAX_STACK_DEPTH} frames")
        self.stacks: dict[int, bytes] = {}

    def get_stackid(self, ips: list[int], flags: int) -> int:
        """The id of this stack (stored), or a negative errno."""
        if flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID):
            return -errno.EINVAL
        ips = ips[flags & BPF_F_SKIP_FIELD_MASK:][: self.value_size // 8]
        if not ips:
            return -errno.EFAULT
        data = b"".join(ip.to_bytes(8, "little") for ip in ips).ljust(self.value_size, b"\0")
        stack_id = int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little") % self.max_entries
        existing = self.stacks.get(stack_id)
        if existing is not None and existing != data and not flags & BPF_F_REUSE_STACKID:
            return -errno.EEXIST
        self.stacks[stack_id] = data
        return stack_id

    def _id(self, key: bytes) -> int:
        return int.from_bytes(self.check_key(key), "little")

    def lookup(self, key: bytes) -> bytes:
        data = self.stacks.get(self._id(key))
        if data is None:
            raise fail(errno.ENOENT, "no such stack id")
        return data

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        raise fail(errno.EINVAL, "stack maps are written by bpf_get_stackid only")

    def delete(self, key: bytes) -> None:
        if self.stacks.pop(self._id(key), None) is None:
            raise fail(errno.ENOENT, "no such stack id")

    def get_next_key(self, key: bytes | None) -> bytes:
        ids = sorted(self.stacks)
        current = self._id(key) if key is not None else None
        later = [i for i in ids if current is None or i > current]
        if not later:
            raise fail(errno.ENOENT, "no more stack ids")
        return later[0].to_bytes(4, "little")

"""What every map shares: attributes, errno semantics, value storage, the Python mapping view.

A map answers the bpf() map commands with Linux's results and errnos
(`MapError(errno)`), and keeps every value in a ctypes buffer at a stable
address so that programs can hold pointers to it (ARCHITECTURE.md, decision
4).  The package imports nothing else of ours: the kernel that owns a map
installs `on_alloc`/`on_free` hooks to make those buffers reachable from its
programs' address space.
"""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass
from typing import Callable, Iterator

BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK = 0, 1, 2, 4

# map_flags (include/uapi/linux/bpf.h)
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_NO_COMMON_LRU = 1 << 1
BPF_F_NUMA_NODE = 1 << 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_STACK_BUILD_ID = 1 << 5
BPF_F_ZERO_SEED = 1 << 6
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_CLONE = 1 << 9
BPF_F_MMAPABLE = 1 << 10
BPF_F_PRESERVE_ELEMS = 1 << 11
BPF_F_INNER_MAP = 1 << 12
BPF_F_LINK = 1 << 13
BPF_F_PATH_FD = 1 << 14
BPF_F_VTYPE_BTF_OBJ_FD = 1 << 15
BPF_F_TOKEN_FD = 1 << 16
BPF_F_SEGV_ON_FAULT = 1 << 17
BPF_F_NO_USER_CONV = 1 << 18

KMALLOC_MAX_SIZE = 1 << 22  # the kernel's limit on one element (value_size checks)
ENOTSUPP = 524  # the kernel-internal "not supported" that some map checks return to user space
PCPU_MIN_UNIT_SIZE = 32 << 10


class MapError(OSError):
    """A map command refused, with the errno Linux gives for it."""

    def __init__(self, err: int, message: str):
        super().__init__(err, message)


def fail(err: int, message: str) -> MapError:
    return MapError(err, message)


@dataclass(frozen=True)
class MapAttrs:
    """The BPF_MAP_CREATE attributes that shape a map."""

    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    name: str = ""
    map_extra: int = 0
    inner_map: "Map | None" = None
    ncpus: int = 1


class Value:
    """One value's storage: a ctypes buffer whose address never changes while it lives.

    `view` is its bytes as a memoryview (the compiled engine's access caches hold one)."""

    __slots__ = ("buffer", "address", "size", "view")

    def __init__(self, size: int, data: bytes | None = None):
        self.buffer = (ctypes.c_ubyte * max(size, 1))()
        self.address = ctypes.addressof(self.buffer)
        self.size = size
        self.view = memoryview(self.buffer).cast("B")[:size]
        if data:
            ctypes.memmove(self.address, data, len(data))

    def read(self, offset: int = 0, size: int | None = None) -> bytes:
        return ctypes.string_at(self.address + offset, self.size - offset if size is None else size)

    def write(self, data: bytes, offset: int = 0) -> None:
        assert offset + len(data) <= self.size, "write past a value buffer"
        ctypes.memmove(self.address + offset, data, len(data))


class Map:
    """The base of all map types.  Subclasses set `ALLOWED_FLAGS` and implement the commands."""

    ALLOWED_FLAGS = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG
    percpu = False

    def __init__(self, attrs: MapAttrs):
        self.attrs = attrs
        self.map_type, self.key_size, self.value_size = attrs.map_type, attrs.key_size, attrs.value_size
        self.max_entries, self.flags, self.name = attrs.max_entries, attrs.flags, attrs.name
        self.ncpus = attrs.ncpus
        self.on_alloc: Callable[[Value, str], None] = lambda value, what: None
        self.on_free: Callable[[Value], None] = lambda value: None
        if attrs.flags & ~self.ALLOWED_FLAGS:
            raise fail(errno.EINVAL, f"map flags {attrs.flags:#x} are not valid for this map type")
        self.validate()

    # -- creation checks, per type ------------------------------------------
    def validate(self) -> None:
        if self.key_size == 0 or self.value_size == 0 or self.max_entries == 0:
            raise fail(errno.EINVAL, "key_size, value_size and max_entries must be non-zero")

    # -- helpers for subclasses -----------------------------------------------
    def check_key(self, key: bytes | None) -> bytes:
        """The key as bytes; keyless maps (key_size 0) take no key pointer at all."""
        if self.key_size == 0:
            if key is not None:
                raise fail(errno.EINVAL, "this map takes no key")
            return b""
        if key is None:
            raise fail(errno.EINVAL, "a key is needed")
        key = bytes(key)
        if len(key) != self.key_size:
            raise fail(errno.EINVAL, f"key is {len(key)} bytes, the map's key_size is {self.key_size}")
        return key

    @property
    def stored_value_size(self) -> int:
        """Bytes of one element as syscalls see it (per-CPU: one 8-byte-rounded slot a CPU)."""
        if self.percpu:
            return ((self.value_size + 7) // 8 * 8) * self.ncpus
        return self.value_size

    def check_value(self, value: bytes) -> bytes:
        value = bytes(value)
        if len(value) != self.stored_value_size:
            raise fail(errno.EINVAL, f"value is {len(value)} bytes, expected {self.stored_value_size}")
        return value

    @staticmethod
    def check_update_flags(flags: int) -> int:
        """BPF_ANY, BPF_NOEXIST or BPF_EXIST; BPF_F_LOCK needs a bpf_spin_lock in the value (none here)."""
        if flags > BPF_EXIST:
            raise fail(errno.EINVAL, f"update flags {flags:#x} are not valid")
        return flags

    # -- the bpf() commands (defaults: not supported by this map type) --------
    def lookup(self, key: bytes) -> bytes:
        raise fail(errno.EINVAL, "lookup is not supported by this map type")

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        raise fail(errno.EINVAL, "update is not supported by this map type")

    def delete(self, key: bytes) -> None:
        raise fail(errno.EINVAL, "delete is not supported by this map type")

    def get_next_key(self, key: bytes | None) -> bytes:
        raise fail(errno.EINVAL, "get_next_key is not supported by this map type")

    def lookup_and_delete(self, key: bytes | None) -> bytes:
        raise fail(ENOTSUPP, "lookup_and_delete is not supported by this map type")

    def mmap(self, writable: bool = True) -> memoryview:
        raise fail(errno.ENODEV, "this map type cannot be memory-mapped")

    # -- batch operations (BPF_MAP_*_BATCH) ------------------------------------
    def lookup_batch(self, token: bytes | None, count: int, delete: bool = False):
        """Up to `count` (key, value) pairs after `token`; (pairs, next token or None at the end).

        The token is the last key returned, so the walk resumes where it left
        off; the kernel's tokens are opaque too.  Deleting while walking
        (lookup_and_delete_batch) collects the keys first, as the kernel does
        per bucket.
        """
        if count == 0:
            raise fail(errno.EINVAL, "count must be positive")
        pairs, key = [], token
        while len(pairs) < count:
            try:
                key = self.get_next_key(key)
            except MapError as err:
                if err.errno != errno.ENOENT:
                    raise
                key = None  # the walk is over
                break
            pairs.append((key, self.lookup(key)))
        if delete:
            for k, _ in pairs:
                self.delete(k)
        return pairs, key

    def update_batch(self, pairs, flags: int = 0) -> int:
        """Update each pair in order; stop at the first error (raised), having done the earlier ones."""
        done = 0
        for key, value in pairs:
            self.update(key, value, flags)
            done += 1
        return done

    def delete_batch(self, keys) -> int:
        done = 0
        for key in keys:
            self.delete(key)
            done += 1
        return done

    # -- memory the kernel makes reachable from programs ---------------------
    def blocks(self) -> Iterator[tuple[Value, str]]:
        """The value buffers that exist now, each with a name for fault messages."""
        return iter(())

    def bind(self, on_alloc: Callable[[Value, str], None], on_free: Callable[[Value], None]) -> None:
        """Install the kernel's hooks and announce the buffers that already exist."""
        self.on_alloc, self.on_free = on_alloc, on_free
        for value, what in self.blocks():
            on_alloc(value, what)

    # -- what programs use: pointers to values ---------------------------------
    def value_address(self, key: bytes, cpu: int = 0) -> int | None:
        """Address of the value for `key` (on `cpu` for per-CPU maps), or None: bpf_map_lookup_elem."""
        return None

    # -- the Python mapping view -------------------------------------------------
    def keys(self) -> Iterator[bytes]:
        key = None
        while True:
            try:
                key = self.get_next_key(key)
            except MapError as err:
                if err.errno == errno.ENOENT:
                    return
                raise
            yield key

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for key in list(self.keys()):
            try:
                yield key, self.lookup(key)
            except MapError as err:
                if err.errno != errno.ENOENT:
                    raise

    def __iter__(self):
        return self.keys()

    def typed(self, key=int, value=int, *, signed: bool = False):
        """A MutableMapping view with keys and values as ints, bytes or ctypes types (see typed.py)."""
        from .typed import TypedMap

        return TypedMap(self, key, value, signed=signed)

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name or '(unnamed)'} key {self.key_size} value {self.value_size} "
                f"max_entries {self.max_entries}>")

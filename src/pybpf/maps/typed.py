"""Typed views of maps: keys and values as ints, bytes or ctypes types.

    counts = kernel.map(fd).typed(key=int, value=int)
    counts[7] = 1; counts[7] += 1; dict(counts.items())  ->  {7: 2}
    events = kernel.map(fd2).typed(key=ctypes.c_uint32, value=Event)   # a ctypes.Structure

`int` is the map's key or value size as an unsigned little-endian integer
(`signed=True` for two's complement); `bytes` is raw; a ctypes type converts
with from_buffer_copy and bytes().  Per-CPU maps give a list of values, one
a CPU.  Errors stay the map's MapErrors (a missing key is a KeyError).
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import MutableMapping

from .base import Map, MapError


class _Codec:
    def __init__(self, kind, size: int, signed: bool):
        self.kind, self.size, self.signed = kind, size, signed
        if isinstance(kind, type) and issubclass(kind, ctypes._SimpleCData | ctypes.Structure | ctypes.Union | ctypes.Array):
            if ctypes.sizeof(kind) != size:
                raise MapError(errno.EINVAL, f"{kind.__name__} is {ctypes.sizeof(kind)} bytes, the map's is {size}")
        elif kind not in (int, bytes):
            raise MapError(errno.EINVAL, f"cannot view map data as {kind!r}")

    def encode(self, value) -> bytes:
        if self.kind is int:
            return int(value).to_bytes(self.size, "little", signed=self.signed and int(value) < 0)
        if self.kind is bytes:
            return bytes(value)
        return bytes(value if isinstance(value, self.kind) else self.kind(value))

    def decode(self, data: bytes):
        if self.kind is int:
            return int.from_bytes(data, "little", signed=self.signed)
        if self.kind is bytes:
            return data
        value = self.kind.from_buffer_copy(data)
        return value.value if isinstance(value, ctypes._SimpleCData) else value


class TypedMap(MutableMapping):
    def __init__(self, bpf_map: Map, key=int, value=int, *, signed: bool = False):
        self.map = bpf_map
        self.keys_ = _Codec(key, bpf_map.key_size, signed)
        self.slot = (bpf_map.value_size + 7) // 8 * 8 if bpf_map.percpu else bpf_map.value_size
        self.values_ = _Codec(value, bpf_map.value_size, signed)

    def _decode_value(self, data: bytes):
        if not self.map.percpu:
            return self.values_.decode(data)
        return [self.values_.decode(data[i:i + self.map.value_size]) for i in range(0, len(data), self.slot)]

    def __getitem__(self, key):
        try:
            return self._decode_value(self.map.lookup(self.keys_.encode(key)))
        except MapError as err:
            if err.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __setitem__(self, key, value) -> None:
        if self.map.percpu:
            values = value if isinstance(value, (list, tuple)) else [value] * self.map.ncpus
            data = b"".join(self.values_.encode(v).ljust(self.slot, b"\0") for v in values)
        else:
            data = self.values_.encode(value)
        self.map.update(self.keys_.encode(key), data)

    def __delitem__(self, key) -> None:
        try:
            self.map.delete(self.keys_.encode(key))
        except MapError as err:
            if err.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __iter__(self):
        return (self.keys_.decode(key) for key in self.map.keys())

    def __len__(self) -> int:
        return len(self.map)

    def __repr__(self) -> str:
        return f"{self.map.name or type(self.map).__name__}{dict(self.items())!r}"

"""The memory model: real host addresses, every access checked.

Registers hold plain 64-bit integers; a pointer is the real host address of
memory the VM owns.  Each `Region` is a ctypes buffer, so its address is
stable for its lifetime and a native engine can use it directly
(ARCHITECTURE.md, decision 4).  `AddressSpace` finds the region an access
falls in (bisect over sorted start addresses, with a one-entry cache) and
refuses anything that is not wholly inside one region, or that writes a
read-only one.  Nothing a program does reaches memory the VM does not own.
"""

from __future__ import annotations

import bisect
import ctypes
import struct
from dataclasses import dataclass, field

from ..errors import PybpfError


GUARD = 64  # unmapped bytes around every region the address space allocates
NEAR = 4096  # a miss this close to a region is reported relative to it

# Access size in bytes -> little-endian (un)packer: a tuple indexed by size,
# cheaper in the interpreter's hot path than int.from_bytes on a slice.
_STRUCTS = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}
_UNPACK = tuple(_STRUCTS[n].unpack_from if n in _STRUCTS else None for n in range(9))
_PACK = tuple(_STRUCTS[n].pack_into if n in _STRUCTS else None for n in range(9))
_MASK = tuple((1 << (8 * n)) - 1 for n in range(9))


class MemoryFault(PybpfError):
    """An access outside the VM's regions, or a write to a read-only one."""

    def __init__(self, addr: int, size: int, reason: str, write: bool = False):
        self.addr, self.size, self.write, self.reason = addr, size, write, reason
        verb = "write" if write else "read"
        super().__init__(f"invalid {verb} of {size} byte(s) at {addr:#x}: {reason}")


@dataclass(eq=False)
class Region:
    """A block of VM-owned memory at a stable host address."""

    name: str
    size: int
    writable: bool = True
    buffer: ctypes.Array = field(repr=False, default=None)

    def __post_init__(self) -> None:
        guard = 0
        if self.buffer is None:
            # Guard bytes on both sides keep two regions from ever being adjacent,
            # so an access just past one region never lands in another.
            guard = GUARD
            self.buffer = (ctypes.c_ubyte * (self.size + 2 * GUARD))()
        self.start = ctypes.addressof(self.buffer) + guard
        self.end = self.start + self.size
        self.view = memoryview(self.buffer).cast("B")[guard: guard + self.size]

    def read(self, offset: int = 0, size: int | None = None) -> bytes:
        size = self.size - offset if size is None else size
        return bytes(self.view[offset:offset + size])

    def write(self, data: bytes, offset: int = 0) -> None:
        self.view[offset:offset + len(data)] = data

    def __contains__(self, addr: int) -> bool:
        return self.start <= addr < self.end


class NativeTable:
    """The regions as a sorted array of (start, end, writable) words, for inline checks in native code.

    `header` sits at a stable address: [number of regions, address of the array];
    the array moves when it grows, so native code reads the header on every lookup.
    """

    def __init__(self, regions: list[Region]):
        self.header = (ctypes.c_uint64 * 2)()
        self.words = (ctypes.c_uint64 * 0)()
        self.count = 0
        self._grow(max(64, 2 * len(regions)))
        for i, region in enumerate(regions):
            self.insert(i, region)

    def _grow(self, capacity: int) -> None:
        words = (ctypes.c_uint64 * (3 * capacity))()
        ctypes.memmove(words, self.words, 24 * self.count)
        self.words, self.capacity = words, capacity
        self.header[1] = ctypes.addressof(words)

    def insert(self, i: int, region: Region) -> None:
        if self.count == self.capacity:
            self._grow(2 * self.capacity)
        base = ctypes.addressof(self.words)
        ctypes.memmove(base + 24 * (i + 1), base + 24 * i, 24 * (self.count - i))
        self.words[3 * i:3 * i + 3] = [region.start, region.end, int(region.writable)]
        self.count += 1
        self.header[0] = self.count

    def remove(self, i: int) -> None:
        base = ctypes.addressof(self.words)
        ctypes.memmove(base + 24 * i, base + 24 * (i + 1), 24 * (self.count - i - 1))
        self.count -= 1
        self.header[0] = self.count


class AddressSpace:
    """The regions a program may touch, found by address."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._regions: list[Region] = []
        self._last: Region | None = None
        self._native: NativeTable | None = None

    def native_table(self) -> int:
        """The address of the `NativeTable` header, kept up to date from now on (the native engine's checks)."""
        if self._native is None:
            self._native = NativeTable(self._regions)
        return ctypes.addressof(self._native.header)

    def map(self, name: str, size_or_data: int | bytes, *, writable: bool = True) -> Region:
        """Allocate a region (zeroed, or holding a copy of the given bytes) and make it reachable."""
        data = None if isinstance(size_or_data, int) else bytes(size_or_data)
        region = Region(name, len(data) if data is not None else size_or_data, writable)
        if data:
            region.write(data)
        return self.add(region)

    def add(self, region: Region) -> Region:
        i = bisect.bisect(self._starts, region.start)
        self._starts.insert(i, region.start)
        self._regions.insert(i, region)
        if self._native is not None:
            self._native.insert(i, region)
        return region

    def unmap(self, region: Region) -> None:
        i = self._regions.index(region)
        del self._starts[i], self._regions[i]
        if self._native is not None:
            self._native.remove(i)
        if self._last is region:
            self._last = None

    def __iter__(self):
        return iter(self._regions)

    def find(self, addr: int, size: int, write: bool = False) -> Region:
        """The region that holds [addr, addr+size), or MemoryFault."""
        region = self._last
        if region is None or not (region.start <= addr and addr + size <= region.end):
            i = bisect.bisect(self._starts, addr) - 1
            region = self._regions[i] if i >= 0 else None
            if region is None or addr >= region.end:
                raise MemoryFault(addr, size, self._miss(addr, i), write)
            if addr + size > region.end:
                raise MemoryFault(addr, size, f"runs past the end of {region.name} "
                                  f"(offset {addr - region.start}, size {region.size})", write)
            self._last = region
        if write and not region.writable:
            raise MemoryFault(addr, size, f"{region.name} is read-only", write)
        return region

    def _miss(self, addr: int, i: int) -> str:
        """Why addr is in no region, naming the nearest region when it is close (an off-by-some access)."""
        past = addr - self._regions[i].end if i >= 0 else NEAR
        before = self._regions[i + 1].start - addr if i + 1 < len(self._regions) else NEAR
        if min(past, before) >= NEAR:
            return "not in any VM region"
        if past <= before:
            region = self._regions[i]
            return f"not in any VM region ({past} byte(s) past the end of {region.name}, size {region.size})"
        return f"not in any VM region ({before} byte(s) before {self._regions[i + 1].name})"

    def load(self, addr: int, size: int) -> int:
        """The unsigned little-endian value of 1, 2, 4 or 8 bytes at addr."""
        region = self._last
        if region is None or addr < region.start or addr + size > region.end:
            region = self.find(addr, size)
        return _UNPACK[size](region.view, addr - region.start)[0]

    def store(self, addr: int, size: int, value: int) -> None:
        """Store the low 1, 2, 4 or 8 bytes of value at addr, little-endian."""
        region = self._last
        if region is None or addr < region.start or addr + size > region.end or not region.writable:
            region = self.find(addr, size, True)
        _PACK[size](region.view, addr - region.start, value & _MASK[size])

    def read_bytes(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        region = self.find(addr, size)
        o = addr - region.start
        return bytes(region.view[o:o + size])

    def write_bytes(self, addr: int, data: bytes) -> None:
        if not data:
            return
        region = self.find(addr, len(data), True)
        o = addr - region.start
        region.view[o:o + len(data)] = data

    def read_str(self, addr: int, limit: int) -> bytes:
        """Bytes up to (not including) a NUL, at most `limit`, staying inside one region."""
        region = self.find(addr, 1)
        o = addr - region.start
        chunk = bytes(region.view[o:min(o + limit, region.size)])
        cut = chunk.find(b"\0")
        return chunk if cut < 0 else chunk[:cut]

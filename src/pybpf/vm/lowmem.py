"""Memory below 4 GiB, for packets whose pointers live in 32-bit context fields.

`struct xdp_md` and `struct __sk_buff` give a program `data`, `data_end` and
`data_meta` as __u32 fields; Linux's verifier rewrites those loads into
64-bit pointer loads.  The virtual kernel needs no rewriting: it places
packet buffers at addresses below 4 GiB, so the 32-bit field holds the real
pointer and every engine (interpreter, compiled Python, native code) reads
it the same way.  Linux on x86-64 has MAP_32BIT for this; elsewhere we ask
mmap for a hint address in the low range with MAP_FIXED_NOREPLACE.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import sys

from ..errors import PybpfError

PAGE = mmap.PAGESIZE
_MAP_32BIT = 0x40  # x86-64 Linux
_MAP_FIXED_NOREPLACE = 0x100000
_LOW_HINTS = range(0x1000_0000, 0xF000_0000, 0x0100_0000)


class LowMemoryError(PybpfError):
    """This platform cannot place memory below 4 GiB."""


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


_LIBC = _libc() if sys.platform.startswith("linux") else None
_FAILED = ctypes.c_void_p(-1).value


def _low(address: int | None, size: int) -> bool:
    return address not in (None, _FAILED) and address + size <= 1 << 32


def allocate(size: int) -> ctypes.Array:
    """A zeroed, page-aligned buffer of at least `size` bytes that ends below 4 GiB."""
    if _LIBC is None:
        raise LowMemoryError(f"packet programs need memory below 4 GiB; not available on {sys.platform}")
    size = -(-size // PAGE) * PAGE
    prot = mmap.PROT_READ | mmap.PROT_WRITE
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    address = None
    if platform.machine() in ("x86_64", "AMD64"):
        address = _LIBC.mmap(None, size, prot, flags | _MAP_32BIT, -1, 0)
    for hint in ([] if _low(address, size) else _LOW_HINTS):
        address = _LIBC.mmap(hint, size, prot, flags | _MAP_FIXED_NOREPLACE, -1, 0)
        if _low(address, size):
            break
        if address not in (None, _FAILED):
            _LIBC.munmap(address, size)
    if not _low(address, size):
        raise LowMemoryError(f"mmap could not place {size} bytes below 4 GiB: {os.strerror(ctypes.get_errno())}")
    return (ctypes.c_ubyte * size).from_address(address)


def release(buffer: ctypes.Array) -> None:
    """Give a buffer from `allocate` back to the system."""
    _LIBC.munmap(ctypes.addressof(buffer), ctypes.sizeof(buffer))

"""The context a probe hands its program: Python values as a fixed C layout.

    struct pybpf_probe_ctx {          // offset
        u64 args[8];                  //  0: arg0..arg7
        u64 retval;                   // 64: the return value (return probes)
        u64 func_ip;                  // 72: an id of the probed function (bpf_get_func_ip)
        u64 nargs;                    // 80: how many args the event carried
    };                                // 88 bytes

Arguments convert as bpftrace users expect: ints (and bools) as 64-bit
two's complement, floats truncated to ints, None as 0, str and bytes as
pointers to NUL-terminated copies in VM memory (str as UTF-8) that live
until the program returns, a list or tuple of str/bytes as a pointer to a
NULL-terminated array of such pointers (what `argv` is to a C program, and
bpftrace's join() reads), anything else as 0.  The layout is read-only for
programs, like a kprobe's pt_regs.
"""

from __future__ import annotations

import struct

MAX_ARGS = 8
CTX_SIZE = 88
OFF_RETVAL, OFF_FUNC_IP, OFF_NARGS = 64, 72, 80
M64 = (1 << 64) - 1


def to_u64(value, strings: list[bytes]) -> tuple[int, bytes | None]:
    """(scalar, None) or (0, bytes to place in memory and point at)."""
    if isinstance(value, bool):
        return int(value), None
    if isinstance(value, int):
        return value & M64, None
    if isinstance(value, float):
        return int(value) & M64, None
    if isinstance(value, str):
        return 0, value.encode("utf-8", "replace") + b"\0"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return 0, bytes(value) + b"\0"
    return 0, None


ARENA_SIZE = 4096


class ProbeContexts:
    """The context and string arena events reuse, one event at a time (the kernel serialises them).

    Scalars go into one preallocated context; strings into a preallocated
    arena, or into a region of their own when they do not fit, unmapped after
    the run.  Programs see both read-only.
    """

    def __init__(self, mem):
        self.mem = mem
        self.ctx = mem.map("probe context", CTX_SIZE, writable=False)
        self.arena = mem.map("probe strings", ARENA_SIZE, writable=False)

    def build(self, args, retval=None, func_ip: int = 0):
        """Fill the context for one event; return (ctx address, regions to unmap after the run)."""
        extra, used = [], 0
        values = list(args)[:MAX_ARGS]

        def place(value) -> int:
            if isinstance(value, (list, tuple)) and value and \
                    all(isinstance(v, (str, bytes, bytearray)) for v in value):
                pointers = [place(v) for v in value] + [0]
                return place_blob(struct.pack(f"<{len(pointers)}Q", *pointers))
            scalar, blob = to_u64(value, [])
            return scalar if blob is None else place_blob(blob)

        def place_blob(blob: bytes) -> int:
            nonlocal used
            used = (used + 7) & ~7  # pointer arrays are read as u64s
            if used + len(blob) <= ARENA_SIZE:
                self.arena.write(blob, used)
                address = self.arena.start + used
                used += len(blob)
                return address
            region = self.mem.map("probe string", blob, writable=False)
            extra.append(region)
            return region.start

        words = [place(value) for value in values] + [0] * (MAX_ARGS - len(values))
        ret = place(retval) if retval is not None else 0
        self.ctx.write(struct.pack("<8QQQQ", *words, ret, func_ip & M64, len(values)))
        return self.ctx.start, extra

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
until the program returns, anything else as 0.  The layout is read-only for
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


def build(mem, args, retval=None, func_ip: int = 0):
    """Map the context (and any strings) into `mem`; return (ctx region, regions to unmap after the run)."""
    regions = []
    words = [0] * MAX_ARGS
    values = list(args)[:MAX_ARGS]
    for i, value in enumerate(values):
        scalar, blob = to_u64(value, [])
        if blob is not None:
            region = mem.map(f"probe argument {i}", blob, writable=False)
            regions.append(region)
            scalar = region.start
        words[i] = scalar
    ret_scalar, ret_blob = to_u64(retval, []) if retval is not None else (0, None)
    if ret_blob is not None:
        region = mem.map("probe return value", ret_blob, writable=False)
        regions.append(region)
        ret_scalar = region.start
    data = struct.pack("<8QQQQ", *words, ret_scalar, func_ip & M64, len(values))
    ctx = mem.map("probe context", data, writable=False)
    regions.append(ctx)
    return ctx, regions

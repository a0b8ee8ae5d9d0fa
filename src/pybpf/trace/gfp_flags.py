"""printf's `%gr`: a kernel GFP allocation mask as its flag names (current bpftrace, util/gfp_flags.cpp).

The bits are linux/gfp_types.h's; the names are matched in the kernel's own order
(include/trace/events/mmflags.h, __def_gfpflag_names): compound masks first, so that
0xcc0 reads GFP_KERNEL and not __GFP_IO|__GFP_FS|..., and leftover bits print in hex.
"""

from __future__ import annotations

BITS = ("DMA", "HIGHMEM", "DMA32", "MOVABLE", "RECLAIMABLE", "HIGH", "IO", "FS", "ZERO", "UNUSED",
        "DIRECT_RECLAIM", "KSWAPD_RECLAIM", "WRITE", "NOWARN", "RETRY_MAYFAIL", "NOFAIL", "NORETRY", "MEMALLOC",
        "COMP", "NOMEMALLOC", "HARDWALL", "THISNODE", "ACCOUNT", "ZEROTAGS", "SKIP_ZERO", "SKIP_KASAN",
        "NO_OBJ_EXT")
_GFP = {name: 1 << bit for bit, name in enumerate(BITS)}
_RECLAIM = _GFP["DIRECT_RECLAIM"] | _GFP["KSWAPD_RECLAIM"]
_KERNEL = _RECLAIM | _GFP["IO"] | _GFP["FS"]
_NOIO = _RECLAIM
_NOFS = _NOIO | _GFP["IO"]
_USER = _NOFS | _GFP["FS"] | _GFP["HARDWALL"]
_HIGHUSER = _USER | _GFP["HIGHMEM"]
_HIGHUSER_MOVABLE = _HIGHUSER | _GFP["MOVABLE"] | _GFP["SKIP_KASAN"]
_TRANSHUGE_LIGHT = (_HIGHUSER_MOVABLE | _GFP["COMP"] | _GFP["NOMEMALLOC"] | _GFP["NOWARN"]) & ~_RECLAIM

NAMES: tuple[tuple[int, str], ...] = (
    (_TRANSHUGE_LIGHT | _GFP["DIRECT_RECLAIM"], "GFP_TRANSHUGE"),
    (_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
    (_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (_HIGHUSER, "GFP_HIGHUSER"),
    (_USER, "GFP_USER"),
    (_KERNEL | _GFP["ACCOUNT"], "GFP_KERNEL_ACCOUNT"),
    (_KERNEL, "GFP_KERNEL"),
    (_NOFS, "GFP_NOFS"),
    (_GFP["HIGH"] | _GFP["KSWAPD_RECLAIM"], "GFP_ATOMIC"),
    (_NOIO, "GFP_NOIO"),
    (_GFP["KSWAPD_RECLAIM"] | _GFP["NOWARN"], "GFP_NOWAIT"),
    (_GFP["DMA"], "GFP_DMA"),
    (_GFP["HIGHMEM"], "__GFP_HIGHMEM"),
    (_GFP["DMA32"], "GFP_DMA32"),
    *((_GFP[name], f"__GFP_{name}") for name in (
        "HIGH", "IO", "FS", "ZERO", "DIRECT_RECLAIM", "KSWAPD_RECLAIM", "WRITE", "NOWARN", "RETRY_MAYFAIL", "NOFAIL",
        "NORETRY", "MEMALLOC", "COMP", "NOMEMALLOC", "HARDWALL", "THISNODE", "ACCOUNT", "ZEROTAGS", "SKIP_ZERO",
        "SKIP_KASAN", "NO_OBJ_EXT")),
)


def gfp_text(flags: int) -> str:
    """`GFP_KERNEL|__GFP_ZERO`, `0` for none, unknown bits as a trailing `0x...`."""
    if flags == 0:
        return "0"
    parts, remaining = [], flags
    for mask, name in NAMES:
        if remaining & mask == mask:
            parts.append(name)
            remaining &= ~mask
    if remaining:
        parts.append(f"0x{remaining:x}")
    return "|".join(parts)

"""Maps pinned by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)`), as libbpf pins and reuses them.

A map with LIBBPF_PIN_BY_NAME lives at /sys/fs/bpf/NAME (libbpf's default
pin root): when something is pinned there already, the loader reuses it (it
must match the definition: type, key and value sizes, max_entries, flags;
libbpf's map_is_reuse_compat) and neither fills nor freezes it again;
otherwise the map is created as usual and pinned there.  A failed load
unpins what it pinned, and leaves a reused pin alone.
"""

from __future__ import annotations

import errno

from ..elf.maps import MapDef
from .errors import BpfError

PIN_ROOT = "/sys/fs/bpf"
LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME = 0, 1


def pin_path(m: MapDef) -> str | None:
    """Where m is pinned, or None for a map that is not."""
    if m.pinning == LIBBPF_PIN_NONE:
        return None
    if m.pinning != LIBBPF_PIN_BY_NAME:
        raise BpfError("BPF_OBJ_PIN", errno.EINVAL, f"map '{m.name}': pinning {m.pinning} is not "
                       "LIBBPF_PIN_NONE (0) or LIBBPF_PIN_BY_NAME (1)")
    return f"{PIN_ROOT}/{m.name}"


def reuse_pinned(kernel, m: MapDef, path: str, max_entries: int) -> int | None:
    """The fd of the map pinned at path if there is one (BpfError if it does not match m), else None."""
    try:
        fd = kernel.obj_get(path)
    except BpfError as err:
        if err.errno == errno.ENOENT:
            return None
        raise
    info = kernel.info(fd)
    have = (info["type"], info["key_size"], info["value_size"], info["max_entries"], info["map_flags"])
    want = (m.type, m.key_size, m.value_size, max_entries, m.flags)
    if have != want:
        kernel.close(fd)
        fields = "type, key_size, value_size, max_entries, map_flags"
        raise BpfError("BPF_OBJ_GET", errno.EINVAL, f"map '{m.name}': the map pinned at {path} ({fields} "
                       f"{have}) does not match its definition {want}; unpin it or rename the map")
    return fd

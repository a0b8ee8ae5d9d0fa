"""Loading a BPF ELF object into a kernel: its maps, then its programs.

The same code serves every Kernel implementation: maps are created in the
object's order (global data maps filled with their initial bytes), and each
program is loaded with an fd_array that turns the loader's
BPF_PSEUDO_MAP_IDX references into those maps.  Nothing is left behind when
a step fails: every fd made so far is closed before the error propagates.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field

from ..elf import BpfObject
from ..elf.maps import MapDef
from ..uapi import MapType


@dataclass
class LoadedObject:
    obj: BpfObject
    map_fds: dict[str, int] = field(default_factory=dict)
    prog_fds: dict[str, int] = field(default_factory=dict)

    def fds(self) -> list[int]:
        return list(self.prog_fds.values()) + list(self.map_fds.values())


def kernel_version() -> int:
    """KERNEL_VERSION(a, b, c) of the running system, as LINUX_KERNEL_VERSION reads (0 if unknown)."""
    numbers = re.findall(r"\d+", platform.release())[:3]
    a, b, c = (int(n) for n in numbers + ["0"] * (3 - len(numbers)))
    return (a << 16) + (b << 8) + min(c, 255)


def _initial_data(m: MapDef) -> bytes | None:
    if not m.externs:
        return m.data
    data = bytearray(m.data or bytes(m.value_size))
    for name, (offset, size) in m.externs.items():
        value = kernel_version() if name == "LINUX_KERNEL_VERSION" else 0  # unknown CONFIG_*: 0, as libbpf's weak
        data[offset:offset + size] = value.to_bytes(size, "little")
    return bytes(data)


def _create_map(kernel, m: MapDef, inner_fds: dict[str, int]) -> int:
    max_entries = m.max_entries
    if m.type == MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY and max_entries == 0:
        max_entries = getattr(kernel, "ncpus", os.cpu_count() or 1)  # libbpf: one slot a possible CPU
    if m.inner is not None:  # a map-in-map: its inner maps' template, made and dropped as libbpf does
        template = _create_map(kernel, m.inner, {})
        try:
            fd = kernel.map_create(m.type, m.key_size, m.value_size, max_entries, m.flags, name=m.name,
                                   inner_map_fd=template)
        finally:
            kernel.close(template)
    else:
        fd = kernel.map_create(m.type, m.key_size, m.value_size, max_entries, m.flags, name=m.name)
    data = _initial_data(m)
    if data is not None:
        kernel.map_update(fd, bytes(4), data)
    if m.section.startswith((".rodata", ".kconfig")):
        kernel.map_freeze(fd)  # read-only to user space from now on, as libbpf leaves it
    for slot, inner in m.inner_values.items():
        kernel.map_update(fd, slot.to_bytes(4, "little"), inner_fds[inner].to_bytes(4, "little"))
    return fd


def load_object(kernel, obj: BpfObject) -> LoadedObject:
    """Create the object's maps and load its programs into `kernel`; close everything on failure."""
    loaded = LoadedObject(obj)
    try:
        for m in obj.maps:
            loaded.map_fds[m.name] = _create_map(kernel, m, loaded.map_fds)
        fd_array = [loaded.map_fds[m.name] for m in obj.maps]
        core_relocate = getattr(kernel, "core_relocate", None)  # a kernel with its own BTF applies CO-RE
        for prog in obj.programs:
            insns = core_relocate(obj, prog) if core_relocate and prog.core_relos else prog.insns
            result = kernel.prog_load(prog.prog_type, insns, obj.license or "GPL", name=prog.name,
                                      expected_attach_type=prog.expected_attach_type, fd_array=fd_array)
            loaded.prog_fds[prog.name] = result.fd
    except Exception:
        for fd in loaded.fds():
            kernel.close(fd)
        raise
    return loaded

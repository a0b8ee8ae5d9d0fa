"""Loading a BPF ELF object into a kernel: its BTF, its maps, then its programs.

The same code serves every Kernel implementation: maps are created in the
object's order (global data maps filled with their initial bytes), and each
program is loaded with an fd_array that turns the loader's
BPF_PSEUDO_MAP_IDX references into those maps.  Nothing is left behind when
a step fails: every fd made so far is closed (and every pin made, unpinned) before the error
propagates, which names the object and the map or program (and section) refused, and a CO-RE
relocation a kernel cannot read (`CoreRelo.check`) by its instruction offset. Maps pinned by name are reused or pinned as libbpf does (`kernel.pinning`).

A kernel that takes BTF (it has `btf_load`: both do) first gets the object's
.BTF, fixed up as libbpf does (`elf.btf_fixup`); maps are then created with
their key and value types, and programs loaded with their func_info and
line_info (one record per sub-program, in the linked program's numbering),
so that the verifier checks global functions against their BTF signatures and
`bpftool prog dump xlated` shows the source lines.  What only Linux takes
(attach BTF ids, NUMA nodes) goes to a kernel with `attach_btf_id`.
"""

from __future__ import annotations

import errno
import os
import re
import struct
from dataclasses import dataclass, field

from ..elf import BpfObject, ElfError
from ..elf.btf_fixup import kernel_btf
from ..elf.maps import MapDef
from ..elf.sections import ATTACH_BTF, find_section_def
from ..isa.insn import Insn, pcs
from ..uapi import MapType
from .core import POISON, relocate
from .core_virtual import virtual_target
from .errors import BpfError
from .kconfig import kconfig_value
from .pinning import pin_path, reuse_pinned


@dataclass
class LoadedObject:
    obj: BpfObject
    map_fds: dict[str, int] = field(default_factory=dict)
    prog_fds: dict[str, int] = field(default_factory=dict)
    pinned: list[str] = field(default_factory=list)  # the paths this load pinned maps at (not reused ones)

    def fds(self) -> list[int]:
        return list(self.prog_fds.values()) + list(self.map_fds.values())


BPF_F_SLEEPABLE = 1 << 4
BPF_F_NUMA_NODE = 1 << 2
# Map types the kernel takes no key/value BTF for (libbpf's bpf_object__create_map clears it for them).
NO_BTF_TYPES = {MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, MapType.BPF_MAP_TYPE_CGROUP_ARRAY,
                MapType.BPF_MAP_TYPE_STACK_TRACE, MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
                MapType.BPF_MAP_TYPE_HASH_OF_MAPS, MapType.BPF_MAP_TYPE_DEVMAP, MapType.BPF_MAP_TYPE_DEVMAP_HASH,
                MapType.BPF_MAP_TYPE_CPUMAP, MapType.BPF_MAP_TYPE_XSKMAP, MapType.BPF_MAP_TYPE_SOCKMAP,
                MapType.BPF_MAP_TYPE_SOCKHASH, MapType.BPF_MAP_TYPE_QUEUE, MapType.BPF_MAP_TYPE_STACK,
                MapType.BPF_MAP_TYPE_RINGBUF}


def _initial_data(m: MapDef, path: str) -> bytes | None:
    if not m.externs:
        return m.data
    data = bytearray(m.data or bytes(m.value_size))
    for name, (offset, size) in m.externs.items():
        data[offset:offset + size] = kconfig_value(name, size, path)
    return bytes(data)


def _btf_of(m: MapDef, btf_fd: int | None) -> dict:
    """map_create's BTF arguments for m, when the kernel took the object's BTF and m has types."""
    if btf_fd is None or m.type in NO_BTF_TYPES or not m.btf_value_type_id:
        return {}
    return {"btf_fd": btf_fd, "btf_key_type_id": m.btf_key_type_id, "btf_value_type_id": m.btf_value_type_id}


def _map_create(kernel, m: MapDef, max_entries: int, btf: dict, **extra) -> int:
    if m.map_extra:
        extra["map_extra"] = m.map_extra  # a bloom filter's number of hashes, an arena's address
    if m.flags & BPF_F_NUMA_NODE and hasattr(kernel, "attach_btf_id"):  # Linux's; the virtual kernel has one node
        extra["numa_node"] = m.numa_node
    if btf:
        try:
            return kernel.map_create(m.type, m.key_size, m.value_size, max_entries, m.flags, name=m.name,
                                     **btf, **extra)
        except BpfError:
            pass  # as libbpf: the map without its BTF, which only the kernel's map dumps miss
    return kernel.map_create(m.type, m.key_size, m.value_size, max_entries, m.flags, name=m.name, **extra)


def _max_entries(kernel, m: MapDef) -> int:
    if m.type == MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY and m.max_entries == 0:
        return getattr(kernel, "ncpus", os.cpu_count() or 1)  # libbpf: one slot a possible CPU
    return m.max_entries


def _create_map(kernel, m: MapDef, inner_fds: dict[str, int], btf_fd: int | None, path: str) -> int:
    max_entries = _max_entries(kernel, m)
    if m.inner is not None:  # a map-in-map: its inner maps' template, made and dropped as libbpf does
        template = _create_map(kernel, m.inner, {}, btf_fd, path)
        try:
            fd = _map_create(kernel, m, max_entries, {}, inner_map_fd=template)
        finally:
            kernel.close(template)
    else:
        fd = _map_create(kernel, m, max_entries, _btf_of(m, btf_fd))
    try:
        data = _initial_data(m, path)
        if data is not None:
            kernel.map_update(fd, bytes(4), data)
        if m.section.startswith((".rodata", ".kconfig")):
            kernel.map_freeze(fd)  # read-only to user space from now on, as libbpf leaves it
        for slot, inner in m.inner_values.items():
            kernel.map_update(fd, slot.to_bytes(4, "little"), inner_fds[inner].to_bytes(4, "little"))
    except Exception:
        kernel.close(fd)  # not yet the caller's to close
        raise
    return fd


def _func_info(prog) -> bytes:
    """struct bpf_func_info records (insn_off in instructions, BTF FUNC id), one a sub-program."""
    return b"".join(struct.pack("<II", pc, type_id) for pc, type_id in prog.func_info)


def _line_info(prog) -> bytes:
    """struct bpf_line_info records: insn_off, the file's and the line's string offsets, line << 10 | column."""
    return b"".join(struct.pack("<IIII", pc, li.file_name_off, li.line_off, li.line_num << 10 | li.column)
                    for pc, li in prog.line_info)


def _load_btf(kernel, obj: BpfObject) -> int | None:
    """The object's BTF loaded into a kernel that takes BTF, its fd (None: no BTF, or the kernel takes none)."""
    if obj.btf is None or not hasattr(kernel, "btf_load"):
        return None
    try:
        raw = kernel_btf(obj)
    except ElfError as err:
        raise BpfError("BPF_BTF_LOAD", errno.EINVAL, str(err)) from None
    try:
        return kernel.btf_load(raw)
    except BpfError as err:
        lines = [line.strip() for line in err.log.splitlines() if line.strip()]
        why = f": {lines[-1]}" if lines else ""  # the checker's verdict ends its log
        raise BpfError("BPF_BTF_LOAD", err.errno, f"{obj.path}: the kernel refused the object's .BTF{why}",
                       log=err.log) from None


def _core_relocated(kernel, obj: BpfObject, prog, poisoned: dict[int, str]) -> list:
    """prog's instructions with its CO-RE relocations applied against the kernel's types: its own
    (`core_target()`, Linux's vmlinux BTF), else the virtual kernel's (`core_virtual`); `poisoned` gets
    the relocations that found no match, by pc."""
    if not prog.core_relos:
        return prog.insns
    if obj.btf is None:
        raise BpfError("CO-RE", errno.EINVAL, f"{prog.name}: CO-RE relocations but the object has no .BTF")
    for _, relo in prog.core_relos:
        try:
            relo.check(obj.btf)
        except ElfError as err:
            raise BpfError("CO-RE", errno.EINVAL,
                           f"{obj.path}: program '{prog.name}' ({prog.section}): {err}") from None
    core_target = getattr(kernel, "core_target", None)
    return relocate(prog, obj.btf, core_target() if core_target else virtual_target(), poisoned)


def _reached_poison(err: BpfError, poisoned: dict[int, str]) -> str | None:
    """Which unmatched CO-RE relocation the verifier stopped at, from its log (`20: (85) call unknown#...`)."""
    for match in re.finditer(rf"^(\d+): \(85\) call unknown#{POISON}\b", err.log, re.M):
        if int(match.group(1)) in poisoned:
            return poisoned[int(match.group(1))]
    return None


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def _ksyms_resolved(kernel, obj: BpfObject, prog, insns: list) -> list:
    """insns with prog's `__ksym` references (kernel variables, kfunc calls) pointed at the kernel's own,
    through `kernel.ksym(name, kind, typeless)`; a kernel without one (the virtual kernel) has none."""
    relocations = [r for r in prog.relocations if r.kind in ("ksym", "kfunc")]
    if not relocations:
        return insns
    resolve = getattr(kernel, "ksym", None)
    if resolve is None:
        r = relocations[0]
        raise BpfError("ksym", errno.ENOTSUP, f"extern '{r.symbol}' __ksym: this kernel "
                       "has no kernel symbols (kernel variables and kfuncs need Linux)")
    index = {pc: i for i, pc in enumerate(pcs(insns))}
    ksyms = obj.btf.find(".ksyms", "DATASEC")
    local = {obj.btf[m.type].name: obj.btf[m.type] for m in ksyms.members}
    weak = {s.name for s in obj.symbols if s.bind == "STB_WEAK"}
    out = list(insns)
    for r in relocations:
        i = index[r.pc]
        var = local[r.symbol]
        typeless = var.kind == "VAR" and obj.btf.resolve(var.type).kind == "VOID"
        found = resolve(r.symbol, r.kind, typeless)
        what = "kernel function" if r.kind == "kfunc" else "kernel variable"
        if found is None and r.symbol not in weak:
            where = "/proc/kallsyms" if typeless else "the kernel's BTF"
            raise BpfError("ksym", errno.ENOENT, f"extern {what} '{r.symbol}' __ksym "
                           f"is not in {where}")
        if found is None:  # weak and missing: the variable reads as NULL, the call fails only if reached
            out[i] = out[i].replace(src=0, imm=0, imm2=0) if r.kind == "ksym" else Insn(0x85, 0, 0, 0, POISON)
        elif r.kind == "kfunc":
            out[i] = out[i].replace(src=found[0], imm=_signed32(found[1]), off=found[2])
        else:
            out[i] = out[i].replace(src=found[0], imm=_signed32(found[1]), imm2=_signed32(found[2]))
    return out


def _load_options(kernel, prog) -> dict:
    """BPF_F_SLEEPABLE and the attach_btf_id of tracing, LSM and iterator programs, for a kernel that
    takes them (one that finds attach BTF ids: Linux)."""
    if not hasattr(kernel, "attach_btf_id"):
        return {}
    options = {"prog_flags": BPF_F_SLEEPABLE} if prog.sleepable else {}
    definition = find_section_def(prog.section)
    if definition is not None and definition.flags & ATTACH_BTF:
        options["attach_btf_id"] = kernel.attach_btf_id(prog)
    return options


def _program_btf(prog, btf_fd: int | None) -> dict:
    if btf_fd is None or not prog.func_info:
        return {}
    return {"btf_fd": btf_fd, "func_info": _func_info(prog), "line_info": _line_info(prog)}


def load_object(kernel, obj: BpfObject, engines: dict[str, str] | None = None) -> LoadedObject:
    """Create the object's maps and load its programs into `kernel`; close everything on failure.
    `engines`: the engine to run a program on, by program name, for a kernel that has engines (the virtual
    kernel's prog_load `engine=`); the others get the kernel's choice."""
    loaded = LoadedObject(obj)
    btf_fd = None
    try:
        btf_fd = _load_btf(kernel, obj)
        for m in obj.maps:
            pin = pin_path(m)
            reused = reuse_pinned(kernel, m, pin, _max_entries(kernel, m)) if pin else None
            if reused is not None:
                loaded.map_fds[m.name] = reused
                continue
            try:
                loaded.map_fds[m.name] = _create_map(kernel, m, loaded.map_fds, btf_fd, obj.path)
            except BpfError as err:
                reason = err.args[0].split(": ", 2)[2:]  # "COMMAND: ENAME (text): reason"
                raise BpfError(err.command, err.errno, f"{obj.path}: map '{m.name}' ({m.section})"
                               + (f": {reason[0]}" if reason else ""), log=err.log) from None
            if pin:
                kernel.obj_pin(loaded.map_fds[m.name], pin)
                loaded.pinned.append(pin)
        fd_array = [loaded.map_fds[m.name] for m in obj.maps]
        for prog in obj.programs:
            poisoned: dict[int, str] = {}
            try:
                insns = _ksyms_resolved(kernel, obj, prog, _core_relocated(kernel, obj, prog, poisoned))
                result = kernel.prog_load(prog.prog_type, insns, obj.license or "GPL", name=prog.name,
                                          expected_attach_type=prog.expected_attach_type, fd_array=fd_array,
                                          **_program_btf(prog, btf_fd), **_load_options(kernel, prog),
                                          **({"engine": engines[prog.name]} if prog.name in (engines or {}) else {}))
            except BpfError as err:
                reason = err.args[0].split(": ", 2)[2:]  # "COMMAND: ENAME (text): reason"
                reached = _reached_poison(err, poisoned)
                if reached:
                    reason = [f"{reached}; the program reaches it (libbpf poisons it the same way)"]
                raise BpfError(err.command, err.errno, f"program '{prog.name}' ({prog.section})"
                               + (f": {reason[0]}" if reason else ""), log=err.log) from None
            loaded.prog_fds[prog.name] = result.fd
    except Exception:
        for pin in loaded.pinned:
            kernel.unpin(pin)
        for fd in loaded.fds():
            kernel.close(fd)
        raise
    finally:
        if btf_fd is not None:
            kernel.close(btf_fd)  # the maps and programs hold the BTF from now on
    return loaded

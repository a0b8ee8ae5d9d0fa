"""The object's .BTF as BPF_BTF_LOAD accepts it: what libbpf fixes up before loading it.

clang leaves work to the loader, and the kernel's BTF checker
(kernel/bpf/btf.c) refuses the BTF until it is done:

| clang emits | the kernel wants | fixed as |
|---|---|---|
| DATASEC size 0 | the section's size ("Invalid size") | the ELF section's size (libbpf's btf_fixup_datasec) |
| DATASEC variable offsets 0 | ascending, in bounds ("Invalid offset") | each variable's symbol value, sorted by offset |
| `.kconfig` VARs with extern linkage | static or global-allocated ("Linkage not supported") | global-allocated, at the offsets the loader lays them out |
| `.ksyms` VARs and FUNCs (extern) | VARs only ("Not a VAR kind member") | 4-byte int VARs, as libbpf's dummy variables |
| extern FUNCs (kfunc declarations) | static or global linkage ("Invalid func linkage") | global; unnamed parameters named after the function |

Everything else goes to the kernel byte for byte: the string section is kept
as it is, so the line_info and func_info records keep their string offsets.
The result is raw BTF (header, types, strings).
"""

from __future__ import annotations

import struct

from .btf import BTF_MAGIC, Btf, BtfType
from .errors import ElfError

BTF_VAR_GLOBAL_ALLOCATED = 1
BTF_FUNC_GLOBAL = 1
_KIND_NO = {"INT": 1, "VAR": 14, "FUNC": 12}


def _info(kind: str, vlen: int = 0) -> int:
    return _KIND_NO[kind] << 24 | vlen


class _Patcher:
    """The type section as a bytearray, with types appended past the object's last one."""

    def __init__(self, btf: Btf):
        self.btf = btf
        self.types = bytearray(btf.type_data)
        self.strings = bytearray(btf.strings)
        self.next_id = len(btf.types)

    def put(self, t: BtfType, at: int, fmt: str, *values) -> None:
        """Write values at `at` bytes past the start of type t."""
        struct.pack_into(fmt, self.types, t.position + at, *values)

    def append(self, data: bytes) -> int:
        self.types += data
        self.next_id += 1
        return self.next_id - 1

    def int32(self) -> int:
        """A 4-byte signed int type id, the object's own if it has one."""
        for t in self.btf.types:
            if t.kind == "INT" and t.size_or_type == 4 and t.int_bits == 32:
                return t.id
        name = self.string("int")
        return self.append(struct.pack("<IIII", name, _info("INT"), 4, 1 << 24 | 32))

    def string(self, text: str) -> int:
        offset = len(self.strings)
        self.strings += text.encode() + b"\0"
        return offset

    def raw(self) -> bytes:
        header = struct.pack("<HBBIIIII", BTF_MAGIC, 1, 0, 24, 0, len(self.types), len(self.types),
                             len(self.strings))
        return header + bytes(self.types) + bytes(self.strings)


def _secinfo_at(t: BtfType, index: int) -> int:
    return 12 + 12 * index  # past the common header: (type, offset, size) per variable


def _fix_datasec(p: _Patcher, sec: BtfType, size: int, offsets: dict[str, int], path: str) -> None:
    entries = []
    for m in sec.members:
        var = p.btf[m.type]
        offset = offsets.get(var.name)
        if offset is None:
            raise ElfError(f"{path}: .BTF: variable '{var.name}' of DATASEC {sec.name} has no symbol "
                           f"in section {sec.name}")
        var_size = m.size or p.btf.size_of(m.type)
        if not 0 <= offset <= size or var_size > size:  # a damaged symbol or type; the kernel wants it inside
            raise ElfError(f"{path}: .BTF: variable '{var.name}' of DATASEC {sec.name} ({var_size} bytes at "
                           f"offset {offset}) does not fit the section's {size} bytes")
        entries.append((offset, m.type, var_size))
    entries.sort()
    p.put(sec, 8, "<I", size)
    for i, (offset, type_id, var_size) in enumerate(entries):
        p.put(sec, _secinfo_at(sec, i), "<III", type_id, offset, var_size)


def _fix_ksyms(p: _Patcher, sec: BtfType) -> None:
    int_id = p.int32()
    for i, m in enumerate(sec.members):
        entry = p.btf[m.type]
        if entry.kind == "VAR":
            p.put(entry, 0, "<III", entry.name_off, _info("VAR"), int_id)
            p.put(entry, 12, "<I", BTF_VAR_GLOBAL_ALLOCATED)
            var_id = entry.id
        else:  # an extern FUNC: a dummy int variable of its name stands in the DATASEC
            var_id = p.append(struct.pack("<IIIi", entry.name_off, _info("VAR"), int_id, BTF_VAR_GLOBAL_ALLOCATED))
        p.put(sec, _secinfo_at(sec, i), "<III", var_id, i * 4, 4)
    p.put(sec, 8, "<I", 4 * len(sec.members))


def _fix_extern_funcs(p: _Patcher) -> None:
    for t in p.btf.types:
        if t.kind != "FUNC" or t.linkage <= BTF_FUNC_GLOBAL:
            continue
        p.put(t, 4, "<I", _info("FUNC", BTF_FUNC_GLOBAL))
        proto = p.btf[t.type]
        for i, param in enumerate(proto.members):
            if not param.name and param.type:
                p.put(proto, 12 + 8 * i, "<I", t.name_off)


def kernel_btf(obj) -> bytes:
    """Raw BTF of `obj` (a BpfObject with .BTF) that the kernel's BTF checker accepts."""
    btf = obj.btf
    if btf is None:
        raise ElfError(f"{obj.path}: the object has no .BTF")
    p = _Patcher(btf)
    kconfig = next((m for m in obj.maps if m.section == ".kconfig"), None)
    for sec in [t for t in btf.types if t.kind == "DATASEC"]:
        if sec.name == ".ksyms":
            _fix_ksyms(p, sec)
            continue
        if sec.name == ".kconfig" and kconfig is not None:
            for m in sec.members:
                var = btf[m.type]
                p.put(var, 12, "<I", BTF_VAR_GLOBAL_ALLOCATED)
            _fix_datasec(p, sec, kconfig.value_size, {n: off for n, (off, _) in kconfig.externs.items()}, obj.path)
            continue
        section = obj.get_section(sec.name)
        if section is None:
            raise ElfError(f"{obj.path}: .BTF: DATASEC {sec.name} names no section of the object")
        offsets = {s.name: s.value for s in obj.symbols if s.section == sec.name and s.name}
        _fix_datasec(p, sec, section.size, offsets, obj.path)
    _fix_extern_funcs(p)
    return p.raw()

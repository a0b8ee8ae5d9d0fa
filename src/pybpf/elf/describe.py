"""Describing a loaded object as text: `pybpf objdump FILE.o` without `-d`.

The object as a kernel will get it: licence, sections and what the loader
makes of each, maps with their attributes and BTF types, global variables,
and each program linked (sub-programs appended), its instructions with
what the loader resolved: map names on lddws, sub-program names on calls
and function addresses, helper names on helper calls, CO-RE relocations,
and the source lines from `.BTF.ext` line info as comments.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Callable

from ..isa.disasm import format_insn
from ..isa.insn import pcs
from ..uapi import AttachType, ProgType
from .maps import MapDef
from .obj import BpfObject, Program

HelperNamer = Callable[[int], str | None]
_LDDW, _CALL = 0x18, 0x85


def _enum_name(enum, value: int, prefix: str) -> str:
    try:
        return enum(value).name.removeprefix(prefix).lower()
    except ValueError:
        return str(value)


_QUIET_KINDS = ("debug", "relocations", "strings", "symbols", "")


def _section_lines(obj: BpfObject) -> list[str]:
    """The sections the loader reads; the rest (DWARF, relocation tables, symbols) only counted."""
    shown = [s for s in obj.iter_sections() if s.kind not in _QUIET_KINDS]
    out = [f"sections ({len(shown)} of {obj.num_sections() - 1}; not shown: debug info, symbols, "
           f"relocation tables):"]
    for s in shown:
        out.append(f"  [{s.index:2d}] {s.name:<32} {s.kind:<12} {s.size:6d} bytes")
    return out


def _map_lines(obj: BpfObject, index: int, m: MapDef) -> list[str]:
    flags = f" flags {m.flags:#x}" if m.flags else ""
    inner = f" inner {m.inner.type_name}" if m.inner else ""
    extra = "".join(f" {attr} {getattr(m, attr)}" for attr in ("pinning", "numa_node", "map_extra") if getattr(m, attr))
    out = [f"  [{index}] {m.name}: {m.type_name} key {m.key_size} value {m.value_size} "
           f"max_entries {m.max_entries}{flags}{extra}{inner}  ({m.section})"]
    if obj.btf is not None and not m.variables:
        types = [f"{what} {obj.btf.describe(type_id)}" for what, type_id in
                 (("key", m.btf_key_type_id), ("value", m.btf_value_type_id)) if type_id]
        if types:
            out.append("       " + ", ".join(types))
    slots = {**m.inner_values, **m.prog_values}
    if slots:
        out.append("       values " + ", ".join(f"[{slot}] {name}" for slot, name in sorted(slots.items())))
    for name, (offset, size) in {**m.variables, **m.externs}.items():
        out.append(f"       {name} at {offset} ({size} bytes)")
    return out


def _relocation_note(obj: BpfObject, r) -> str:
    """`map counts`, `map_value .data+8 (table)`: what a relocated instruction refers to."""
    text = f"{r.kind} {r.target}" + (f"+{r.offset}" if r.offset else "")
    if r.kind == "map_value":
        m = obj.get_map(r.target)
        names = [name for name, (offset, size) in {**m.variables, **m.externs}.items()
                 if offset <= r.offset < offset + max(size, 1)]
        if names:
            text += f" ({names[0]})"
    return text


def _program_lines(obj: BpfObject, prog: Program, helper_name: HelperNamer | None) -> list[str]:
    ptype = _enum_name(ProgType, prog.prog_type, "BPF_PROG_TYPE_") if prog.prog_type else "unknown"
    attach = (f", attach {_enum_name(AttachType, prog.expected_attach_type, 'BPF_')}"
              if prog.expected_attach_type else "")
    target = f" -> {prog.attach_target}" if prog.attach_target else ""
    sleepable = ", sleepable" if prog.sleepable else ""
    subs = f", sub-programs {', '.join(prog.subprograms)}" if prog.subprograms else ""
    out = ["", f"program {prog.name}: section {prog.section}{target}, type {ptype}{attach}{sleepable}, "
               f"{prog.insn_count} insns{subs}"]
    notes = {r.pc: _relocation_note(obj, r) for r in prog.relocations}
    for pc, relo in prog.core_relos:
        notes[pc] = "core " + (relo.describe(obj.btf) if obj.btf is not None else relo.kind_name)
    entries, pc = {}, 0
    for name in [prog.name] + prog.subprograms:
        entries[pc] = name
        pc += obj.functions[name].size // 8
    lines = {}
    for pc, info in prog.line_info:
        lines.setdefault(pc, info)
    last_line = None
    for pc, insn in zip(pcs(prog.insns), prog.insns):
        if pc in entries:
            out.append(f"{entries[pc]}:")
        info = lines.get(pc)
        if info is not None and info.line and (info.file_name, info.line_num) != last_line:
            out.append(f"        ; {info.line.strip()}  @ {PurePosixPath(info.file_name).name}:{info.line_num}")
            last_line = (info.file_name, info.line_num)
        note = notes.get(pc)
        if insn.code in (_CALL, _LDDW) and insn.src in (1, 4) and insn.spec is not None:
            note = f"{'call' if insn.code == _CALL else 'func'} {entries.get(pc + 1 + insn.imm, '?')}"
        elif note is None and insn.spec is not None and insn.spec.op == "helper" and helper_name:
            note = helper_name(insn.imm)
        out.append(f"  {pc:4d}: {format_insn(insn, 'llvm')}" + (f"  ; {note}" if note else ""))
    return out


def summary_lines(obj: BpfObject, helper_name: HelperNamer | None = None) -> list[str]:
    out = [f"{obj.path}: BPF object, license {obj.license!r}"
           + (f", kernel version {obj.kern_version:#x}" if obj.kern_version else "")
           + (f", BTF {len(obj.btf)} types" if obj.btf is not None else "")]
    out += _section_lines(obj)
    out += ["", f"maps ({len(obj.maps)}):"]
    for index, m in enumerate(obj.maps):
        out += _map_lines(obj, index, m)
    if obj.data_relocations:
        out += ["", "data relocations (recorded, not applied):"]
        out += [f"  {r.section}+{r.offset:#x}: {r.type} {r.symbol}" for r in obj.data_relocations]
    for prog in obj.programs:
        out += _program_lines(obj, prog, helper_name)
    return out

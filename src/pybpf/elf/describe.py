"""Describing a loaded object as text: `pybpf objdump`'s two views.

- `llvm_objdump_lines(obj)`: the layout of `llvm-objdump -d` (LLVM 14),
  section by section and symbol by symbol, the raw bytes of each
  instruction, jump targets annotated with the nearest symbol.
- `summary_lines(obj)`: licence, sections, maps, and each program as the
  kernel will get it: linked sub-programs, relocations resolved to map and
  function names, helper names.
"""

from __future__ import annotations

from typing import Callable

from ..isa.disasm import format_insn
from ..isa.insn import decode, pcs
from ..uapi import AttachType, ProgType
from .obj import BpfObject

HelperNamer = Callable[[int], str | None]


def _symbol_ref(symbols: list[tuple[int, str]], address: int) -> str:
    best = None
    for value, name in symbols:
        if value <= address:
            best = (value, name)
    if best is None:
        return ""
    value, name = best
    return f" <{name}>" if value == address else f" <{name}+{address - value:#x}>"


def llvm_objdump_lines(obj: BpfObject, shown_path: str | None = None) -> list[str]:
    out = ["", f"{shown_path or obj.path}:\tfile format elf64-bpf"]
    for section, code in obj.code_sections.items():
        out += ["", f"Disassembly of section {section}:"]
        symbols = sorted({(value, name) for name, sec, value, kind in obj.symbols
                          if sec == section and kind in ("STT_FUNC", "STT_NOTYPE")})
        starts = {value: name for value, name in reversed(symbols)}
        if not starts or 0 not in starts:
            starts[0] = section
            symbols.insert(0, (0, section))
        insns = decode(code, strict=False)
        for pc, insn in zip(pcs(insns), insns):
            address = pc * 8
            if address in starts:
                out += ["", f"{address:016x} <{starts[address]}>:"]
            text = format_insn(insn, "llvm")
            spec = insn.spec
            if spec is not None and spec.kind == "call" and spec.op == "local":
                text = f"call {insn.imm}"  # llvm-objdump prints a local call like a helper call
            if spec is not None and spec.kind in ("jcond", "ja", "may_goto"):
                delta = insn.imm if spec.op == "gotol" else insn.off
                text += _symbol_ref(symbols, (pc + 1 + delta) * 8)
            out.append(f"{pc:8d}:\t{insn.encode().hex(' ')}\t{text}")
    return out


def _type_name(enum, value: int, prefix: str) -> str:
    try:
        return enum(value).name.removeprefix(prefix).lower()
    except ValueError:
        return str(value)


def summary_lines(obj: BpfObject, helper_name: HelperNamer | None = None) -> list[str]:
    out = [f"{obj.path}: BPF object, license {obj.license!r}"
           + (f", kernel version {obj.kern_version:#x}" if obj.kern_version else ""),
           f"sections: {', '.join(obj.section_names)}", ""]
    out.append(f"maps ({len(obj.maps)}):")
    for index, m in enumerate(obj.maps):
        flags = f" flags {m.flags:#x}" if m.flags else ""
        inner = f" inner {m.inner.type_name}" if m.inner else ""
        out.append(f"  [{index}] {m.name}: {m.type_name} key {m.key_size} value {m.value_size} "
                   f"max_entries {m.max_entries}{flags}{inner}  ({m.section})")
        if obj.btf is not None and m.btf_value_type_id:
            out.append(f"       key {obj.btf.describe(m.btf_key_type_id)}, "
                       f"value {obj.btf.describe(m.btf_value_type_id)}")
    for prog in obj.programs:
        ptype = _type_name(ProgType, prog.prog_type, "BPF_PROG_TYPE_") if prog.prog_type else "unknown"
        attach = (f", attach {_type_name(AttachType, prog.expected_attach_type, 'BPF_')}"
                  if prog.expected_attach_type else "")
        target = f" -> {prog.attach_target}" if prog.attach_target else ""
        subs = f", sub-programs {', '.join(prog.subprograms)}" if prog.subprograms else ""
        out += ["", f"program {prog.name}: section {prog.section}{target}, type {ptype}{attach}, "
                    f"{sum(i.size for i in prog.insns)} insns{subs}"]
        notes = {r.pc: (f"{r.kind} {r.target}" + (f"+{r.offset}" if r.offset else "")) for r in prog.relocations}
        entries = {}
        pc = 0
        for name in [prog.name] + prog.subprograms:
            entries[pc] = name
            pc += obj.functions[name].size // 8
        for pc, insn in zip(pcs(prog.insns), prog.insns):
            if pc in entries:
                out.append(f"{entries[pc]}:")
            text = format_insn(insn, "llvm")
            note = notes.get(pc)
            if note is None and insn.spec is not None and insn.spec.op == "helper" and helper_name:
                note = helper_name(insn.imm)
            out.append(f"  {pc:4d}: {text}" + (f"  ; {note}" if note else ""))
    return out

"""Relocating and linking the functions of an object into loadable programs.

Each code section is split into functions by its STT_FUNC symbols.  A
program is a global function of a program section; the `.text` functions it
calls (directly, or by taking their address for a callback) are appended
after it and every call and function address is re-pointed at the appended
copy, as libbpf's bpf_object__reloc_code does: it scans the growing
instruction list from the top and appends each sub-program the first time
a call reaches it, so sub-programs land in the order the scan meets them.

Map references (R_BPF_64_64 on a lddw) become BPF_PSEUDO_MAP_IDX (imm =
the map's index in `BpfObject.maps`) or, for global data and `.kconfig`
externs, BPF_PSEUDO_MAP_IDX_VALUE with the offset in the value in imm2.
References to `__ksym` externs (the `.ksyms` DATASEC of the BTF) stay for
the kernel to resolve at load: a lddw of a kernel variable is recorded as a
"ksym" relocation, a call of a kernel function as a "kfunc" one (its call
made BPF_PSEUDO_KFUNC_CALL, imm 0 until the loader knows the BTF id).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..isa.insn import Insn, pcs
from ..isa.opcodes import (BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_IDX,
                           BPF_PSEUDO_MAP_IDX_VALUE)
from .btf_ext import BtfExt
from .errors import ElfError
from .maps import MapDef, is_data_section
from .relocs import RelocEntry
from .sections import SectionDef

_LDDW, _CALL = 0x18, 0x85


@dataclass
class Function:
    """A function symbol's code as the object has it, before linking."""

    name: str
    section: str
    start: int  # byte offset in its section
    insns: list[Insn]
    is_program: bool
    definition: SectionDef | None
    relocs: list[RelocEntry]
    fixups: list[tuple[int, str]] = field(default_factory=list)  # (insn index, target function)
    reloc_records: list[tuple[int, str, str, str, str, int]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(i.size for i in self.insns) * 8


def _at(functions: dict[str, Function], section: str, offset: int, where: str) -> str:
    for f in functions.values():
        if f.section == section and f.start == offset:
            return f.name
    raise ElfError(f"{where}: reference to {section}+{offset:#x}, which is not the start of a function")


def _map_at(maps: list[MapDef], section: str, offset: int, symbol: str, where: str) -> int:
    for index, m in enumerate(maps):
        if m.section == section and m.symbol_offset == offset:
            return index
    raise ElfError(f"{where}: reference to '{symbol}' ({section}+{offset:#x}), which is not a map")


def _relocate(func: Function, functions: dict[str, Function], maps: list[MapDef],
              externs: dict[str, tuple[int, int]], ksyms: set[str], path: str) -> None:
    """Rewrite map references in place; record calls and function addresses to patch after layout."""
    slot_index = {pc: i for i, pc in enumerate(pcs(func.insns))}
    data_maps = {m.section: i for i, m in enumerate(maps) if is_data_section(m.section)}
    handled = set()
    for r in func.relocs:
        where = r.where(path)
        index = slot_index.get((r.offset - func.start) // 8)
        if (r.offset - func.start) % 8 or index is None:
            raise ElfError(f"{where}: {r.type} does not point at an instruction")
        insn = func.insns[index]
        handled.add(index)
        addend = insn.imm if r.is_section_symbol else 0
        if r.type == "R_BPF_64_64" and insn.code == _LDDW:
            if not r.symbol_section and r.symbol in externs:  # a .kconfig extern
                offset = externs[r.symbol][0] + insn.imm
                func.insns[index] = insn.replace(src=BPF_PSEUDO_MAP_IDX_VALUE, imm=data_maps[".kconfig"], imm2=offset)
                func.reloc_records.append((index, r.type, r.symbol, "map_value", ".kconfig", offset))
            elif not r.symbol_section and r.symbol in ksyms:  # a kernel variable, resolved at load
                func.insns[index] = insn.replace(src=0, imm=0, imm2=0)
                func.reloc_records.append((index, r.type, r.symbol, "ksym", r.symbol, 0))
            elif not r.symbol_section:
                raise ElfError(f"{where}: relocation against undefined symbol '{r.symbol}' "
                               f"(neither in .kconfig nor declared __ksym)")
            elif r.symbol_section in ("maps", ".maps"):
                map_index = _map_at(maps, r.symbol_section, r.value + addend, r.symbol, where)
                func.insns[index] = insn.replace(src=BPF_PSEUDO_MAP_IDX, imm=map_index, imm2=0)
                func.reloc_records.append((index, r.type, r.symbol, "map", maps[map_index].name, 0))
            elif r.symbol_section in data_maps:
                offset = r.value + insn.imm
                func.insns[index] = insn.replace(src=BPF_PSEUDO_MAP_IDX_VALUE, imm=data_maps[r.symbol_section],
                                                 imm2=offset)
                func.reloc_records.append((index, r.type, r.symbol, "map_value", r.symbol_section, offset))
            elif any(f.section == r.symbol_section for f in functions.values()):
                target = _at(functions, r.symbol_section, r.value + addend, where)
                func.fixups.append((index, target))
                func.insns[index] = insn.replace(src=BPF_PSEUDO_FUNC, imm=0, imm2=0)
                func.reloc_records.append((index, r.type, r.symbol, "func", target, 0))
            else:
                raise ElfError(f"{where}: R_BPF_64_64 against '{r.symbol}' in unsupported section {r.symbol_section}")
        elif r.type == "R_BPF_64_32" and insn.code == _CALL and not r.symbol_section and r.symbol in ksyms:
            func.insns[index] = insn.replace(src=BPF_PSEUDO_KFUNC_CALL, imm=0, off=0)  # a kfunc
            func.reloc_records.append((index, r.type, r.symbol, "kfunc", r.symbol, 0))
        elif r.type == "R_BPF_64_32" and insn.code == _CALL and insn.src == BPF_PSEUDO_CALL:
            if not r.symbol_section:
                raise ElfError(f"{where}: call to undefined function '{r.symbol}'")
            target = _at(functions, r.symbol_section, r.value + (insn.imm + 1) * 8, where)
            func.fixups.append((index, target))
            func.reloc_records.append((index, r.type, r.symbol, "call", target, 0))
        else:
            raise ElfError(f"{where}: {r.type} cannot apply to this instruction (opcode {insn.code:#04x})")
    local_pcs = pcs(func.insns)
    for index, insn in enumerate(func.insns):  # calls inside one section need no relocation
        if index not in handled and insn.code == _CALL and insn.src == BPF_PSEUDO_CALL:
            target = func.start + (local_pcs[index] + 1 + insn.imm) * 8
            func.fixups.append((index, _at(functions, func.section, target, f"{path}: {func.section}")))
    func.fixups.sort()


def _layout(main: Function, functions: dict[str, Function]) -> list[str]:
    """The main program, then each sub-program in the order libbpf's scan appends it."""
    order = [main.name]
    for name in order:  # the list grows as the scan goes, like libbpf's instruction array
        for _, target in functions[name].fixups:
            if target not in order:
                order.append(target)
    return order


def _rebase(records: dict[str, list], f: Function, start: int) -> list:
    """BTF.ext records of function f, as (final pc, record) pairs."""
    lo, hi = f.start, f.start + f.size
    return [(start + (r.insn_off - lo) // 8, r) for r in records.get(f.section, []) if lo <= r.insn_off < hi]


def link(functions: dict[str, Function], maps: list[MapDef], btf_ext: BtfExt | None,
         externs: dict[str, tuple[int, int]], path: str, ksyms: set[str] = frozenset()):
    from .obj import Program, Relocation  # the data classes live with the object model

    for func in functions.values():
        _relocate(func, functions, maps, externs, ksyms, path)
    programs = []
    for main in functions.values():
        if not main.is_program:
            continue
        order = _layout(main, functions)
        starts, pc = {}, 0
        for name in order:
            starts[name] = pc
            pc += functions[name].size // 8
        insns: list[Insn] = []
        relocations, func_info, line_info, core_relos = [], [], [], []
        for name in order:
            f = functions[name]
            local = list(f.insns)
            local_pcs = pcs(local)
            for index, target in f.fixups:
                final_pc = starts[name] + local_pcs[index]
                local[index] = local[index].replace(imm=starts[target] - final_pc - 1)
            for index, rtype, symbol, kind, target, offset in f.reloc_records:
                relocations.append(Relocation(starts[name] + local_pcs[index], rtype, symbol, kind, target, offset))
            if btf_ext is not None:
                func_info += [(pc, r.type_id) for pc, r in _rebase(btf_ext.func_info, f, starts[name])]
                line_info += _rebase(btf_ext.line_info, f, starts[name])
                core_relos += _rebase(btf_ext.core_relos, f, starts[name])
            insns += local
        definition = main.definition
        kind = definition.kind if definition else ""
        target = main.section[len(kind) + 1:] if definition and main.section.startswith(kind + "/") else ""
        programs.append(Program(
            main.name, main.section, int(definition.prog_type) if definition else 0,
            int(definition.attach_type) if definition else 0, target,
            bool(definition and definition.sleepable), insns, relocations, func_info, line_info,
            order[1:], main.start, core_relos))
    return programs

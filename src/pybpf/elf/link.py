"""Relocating and linking the functions of an object into loadable programs.

Each code section is split into functions by its STT_FUNC symbols.  A
program is a function of a program section; the `.text` functions it calls
(directly, or by taking their address for a callback) are appended after it,
depth first, and every call and function address is re-pointed at the
appended copy, as libbpf's bpf_object__relocate does.  Map references
(R_BPF_64_64 on a lddw) become BPF_PSEUDO_MAP_IDX or, for global data,
BPF_PSEUDO_MAP_IDX_VALUE with the offset in imm2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..isa.insn import Insn, pcs
from ..isa.opcodes import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE
from .btf_ext import BtfExt
from .errors import ElfError
from .maps import MapDef, is_data_section
from .sections import SectionDef

_LDDW, _CALL = 0x18, 0x85


@dataclass
class Function:
    name: str
    section: str
    start: int  # byte offset in its section
    insns: list[Insn]
    is_program: bool
    definition: SectionDef | None
    relocs: list[tuple[int, str, str, str, int]]  # (section offset, type, symbol, symbol's section, value)
    fixups: list[tuple[int, str]] = field(default_factory=list)  # (insn index, target function)
    reloc_records: list[tuple[int, str, str, str, str, int]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(i.size for i in self.insns) * 8


def _at(functions: dict[str, Function], section: str, offset: int, path: str) -> str:
    for f in functions.values():
        if f.section == section and f.start == offset:
            return f.name
    raise ElfError(f"{path}: reference to {section}+{offset:#x}, which is not the start of a function")


def _relocate(func: Function, functions: dict[str, Function], maps: list[MapDef], path: str) -> None:
    """Rewrite map references in place; record calls and function addresses to patch after layout."""
    slot_index = {pc: i for i, pc in enumerate(pcs(func.insns))}
    by_name = {m.name: i for i, m in enumerate(maps)}
    handled = set()
    for offset, rtype, symbol, target_sec, value in func.relocs:
        where = f"{path}: {func.section}+{offset:#x}"
        index = slot_index.get((offset - func.start) // 8)
        if (offset - func.start) % 8 or index is None:
            raise ElfError(f"{where}: {rtype} does not point at an instruction")
        insn = func.insns[index]
        handled.add(index)
        if rtype == "R_BPF_64_64" and insn.code == _LDDW:
            if target_sec in ("maps", ".maps"):
                if symbol not in by_name:
                    raise ElfError(f"{where}: reference to unknown map '{symbol}'")
                func.insns[index] = insn.replace(src=BPF_PSEUDO_MAP_IDX, imm=by_name[symbol], imm2=0)
                func.reloc_records.append((index, rtype, symbol, "map", symbol, 0))
            elif is_data_section(target_sec):
                offset_in = (value if symbol != target_sec else 0) + insn.imm
                func.insns[index] = insn.replace(src=BPF_PSEUDO_MAP_IDX_VALUE, imm=by_name[target_sec],
                                                 imm2=offset_in)
                func.reloc_records.append((index, rtype, symbol, "map_value", target_sec, offset_in))
            elif any(f.section == target_sec for f in functions.values()):
                target = _at(functions, target_sec, value + (insn.imm if symbol == target_sec else 0), path)
                func.fixups.append((index, target))
                func.insns[index] = insn.replace(src=BPF_PSEUDO_FUNC, imm=0, imm2=0)
                func.reloc_records.append((index, rtype, symbol, "func", target, 0))
            else:
                raise ElfError(f"{where}: R_BPF_64_64 against '{symbol}' in unsupported section {target_sec}")
        elif rtype == "R_BPF_64_32" and insn.code == _CALL and insn.src == BPF_PSEUDO_CALL:
            target = _at(functions, target_sec, value + (insn.imm + 1) * 8, path)
            func.fixups.append((index, target))
            func.reloc_records.append((index, rtype, symbol, "call", target, 0))
        else:
            raise ElfError(f"{where}: {rtype} cannot apply to this instruction (opcode {insn.code:#04x})")
    for index, insn in enumerate(func.insns):
        if index not in handled and insn.code == _CALL and insn.src == BPF_PSEUDO_CALL:
            pc = pcs(func.insns)[index]
            func.fixups.append((index, _at(functions, func.section, func.start + (pc + 1 + insn.imm) * 8, path)))


def link(functions: dict[str, Function], maps: list[MapDef], btf_ext: BtfExt | None, path: str):
    from .obj import Program, Relocation  # the data classes live with the object model

    for func in functions.values():
        _relocate(func, functions, maps, path)
    programs = []
    for func in functions.values():
        if not func.is_program:
            continue
        order = [func.name]
        stack = [t for _, t in reversed(func.fixups)]
        while stack:
            name = stack.pop()
            if name not in order:
                order.append(name)
                stack += [t for _, t in reversed(functions[name].fixups)]
        starts, pc = {}, 0
        for name in order:
            starts[name] = pc
            pc += functions[name].size // 8
        insns: list[Insn] = []
        relocations, func_info, line_info = [], [], []
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
                lo, hi = f.start, f.start + f.size
                func_info += [(starts[name] + (r.insn_off - lo) // 8, r.type_id)
                              for r in btf_ext.func_info.get(f.section, []) if lo <= r.insn_off < hi]
                line_info += [(starts[name] + (r.insn_off - lo) // 8, r)
                              for r in btf_ext.line_info.get(f.section, []) if lo <= r.insn_off < hi]
            insns += local
        definition = func.definition
        kind = definition.kind if definition else ""
        target = func.section[len(kind) + 1:] if definition and func.section.startswith(kind + "/") else ""
        programs.append(Program(
            func.name, func.section, int(definition.prog_type) if definition else 0,
            int(definition.attach_type) if definition else 0, target,
            bool(definition and definition.sleepable), insns, relocations, func_info, line_info,
            order[1:], func.start))
    return programs

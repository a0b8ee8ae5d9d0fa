"""Loading a BPF ELF object: programs, sub-programs, maps, relocations, licence, BTF.

`load(path_or_bytes)` reads an object made by clang/llc (`-target bpf`) or
by llvmlite's BPF target and returns a `BpfObject` whose programs are ready
for a kernel: bpf-to-bpf calls linked (the sub-programs each program uses
are appended after it, as libbpf does), map references rewritten to
`BPF_PSEUDO_MAP_IDX` / `BPF_PSEUDO_MAP_IDX_VALUE` lddws indexing
`BpfObject.maps`, and function references to `BPF_PSEUDO_FUNC`.  Whatever is
wrong with the file raises `ElfError` naming the file and the place.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ..isa.insn import EncodingError, Insn, decode
from ..isa.opcodes import BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE
from .btf import Btf
from .btf_ext import BtfExt, LineInfo, parse_btf_ext
from .errors import ElfError
from .link import Function, link
from .maps import MapDef, btf_maps, data_map, is_data_section, kconfig_map, legacy_maps
from .sections import find_section_def

EM_BPF = 247
R_BPF_NONE, R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32, R_BPF_64_32 = 0, 1, 2, 3, 4, 10
RELOC_NAMES = {0: "R_BPF_NONE", 1: "R_BPF_64_64", 2: "R_BPF_64_ABS64", 3: "R_BPF_64_ABS32",
               4: "R_BPF_64_NODYLD32", 10: "R_BPF_64_32"}


@dataclass(frozen=True)
class Relocation:
    """One relocation as the object states it, in a program's final pc numbering."""

    pc: int
    type: str  # R_BPF_64_64 ...
    symbol: str
    kind: str  # "map", "map_value", "call", "func"
    target: str  # the map's or the function's name
    offset: int = 0  # into a map value


@dataclass
class Program:
    name: str
    section: str
    prog_type: int  # enum bpf_prog_type; 0 when the section name is not one libbpf knows
    expected_attach_type: int
    attach_target: str  # what follows the section kind: "syscalls/sys_enter_openat", "do_sys_open"
    sleepable: bool
    insns: list[Insn]
    relocations: list[Relocation] = field(default_factory=list)
    func_info: list[tuple[int, int]] = field(default_factory=list)  # (pc, BTF FUNC id)
    line_info: list[tuple[int, LineInfo]] = field(default_factory=list)
    subprograms: list[str] = field(default_factory=list)  # appended after the program, in order
    section_offset: int = 0  # bytes into its section where the program starts


@dataclass
class BpfObject:
    path: str
    programs: list[Program]
    maps: list[MapDef]
    license: str
    kern_version: int
    btf: Btf | None
    btf_ext: BtfExt | None
    functions: dict[str, Function]  # every function, by name, including .text sub-programs
    section_names: list[str]
    code_sections: dict[str, bytes] = field(default_factory=dict)  # executable sections, in file order
    symbols: list[tuple[str, str, int, str]] = field(default_factory=list)  # (name, section, value, type)

    def get_program(self, name: str) -> Program:
        for prog in self.programs:
            if prog.name == name:
                return prog
        raise KeyError(f"{self.path}: no program named {name!r}")

    def get_map(self, name: str) -> MapDef:
        for m in self.maps:
            if m.name == name:
                return m
        raise KeyError(f"{self.path}: no map named {name!r}")

    def map_index(self, name: str) -> int:
        return self.maps.index(self.get_map(name))

    def iter_sections(self):
        return iter(self.section_names)


def load(source: str | Path | bytes, name: str | None = None) -> BpfObject:
    """Read a BPF ELF object from a path or from its bytes."""
    if isinstance(source, (bytes, bytearray)):
        data, path = bytes(source), name or "<bytes>"
    else:
        path = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise ElfError(f"{path}: {err.strerror}") from None
    try:
        return _Reader(data, path).read()
    except ElfError as err:
        if str(err).startswith(path):
            raise
        raise ElfError(f"{path}: {err}") from None
    except EncodingError as err:
        raise ElfError(f"{path}: {err}") from None
    except (_PyElfError, struct.error, ValueError, IndexError, KeyError, UnicodeDecodeError) as err:
        raise ElfError(f"{path}: malformed ELF object ({err})") from None


class _Reader:
    def __init__(self, data: bytes, path: str):
        self.path = path
        if data[:4] != b"\x7fELF":
            raise ElfError(f"{path}: not an ELF file")
        if len(data) < 64:
            raise ElfError(f"{path}: truncated ELF header ({len(data)} bytes)")
        if data[4] != 2:
            raise ElfError(f"{path}: 32-bit ELF; BPF objects are ELF64")
        if data[5] != 1:
            raise ElfError(f"{path}: big-endian ELF (bpfeb) is not supported; build for bpfel")
        self.elf = ELFFile(io.BytesIO(data))
        machine = self.elf.header["e_machine"]
        if machine not in ("EM_BPF", EM_BPF):
            raise ElfError(f"{path}: machine is {machine}, not EM_BPF (247): not a BPF object")
        if self.elf.header["e_type"] != "ET_REL":
            raise ElfError(f"{path}: e_type is {self.elf.header['e_type']}; expected a relocatable object")
        self.sections = list(self.elf.iter_sections())
        self.symtab = self.elf.get_section_by_name(".symtab")
        if not isinstance(self.symtab, SymbolTableSection):
            raise ElfError(f"{path}: no symbol table (.symtab)")
        self.symbols = list(self.symtab.iter_symbols())
        self.externs: dict[str, tuple[int, int]] = {}

    def _section_data(self, name: str) -> bytes | None:
        sec = self.elf.get_section_by_name(name)
        if sec is None:
            return None
        if sec["sh_type"] == "SHT_NOBITS":
            return bytes(sec["sh_size"])
        data = sec.data()
        if len(data) != sec["sh_size"]:
            raise ElfError(f"{self.path}: section {name} is truncated")
        return data

    def read(self) -> BpfObject:
        license_data = self._section_data("license")
        license = license_data.split(b"\0")[0].decode(errors="replace") if license_data else ""
        version = self._section_data("version")
        kern_version = struct.unpack_from("<I", version)[0] if version and len(version) >= 4 else 0
        btf = Btf.parse(self._section_data(".BTF")) if self.elf.get_section_by_name(".BTF") else None
        btf_ext = None
        if btf is not None and self.elf.get_section_by_name(".BTF.ext"):
            btf_ext = parse_btf_ext(self._section_data(".BTF.ext"), btf)
        maps = self._maps(btf)
        functions = self._functions()
        programs = link(functions, maps, btf_ext, self.path)
        code = {f.section: self._section_data(f.section) for f in functions.values()}
        symbols = [(s.name, self.sections[s["st_shndx"]].name, s["st_value"], s["st_info"]["type"])
                   for s in self.symbols if isinstance(s["st_shndx"], int) and s.name]
        return BpfObject(self.path, programs, maps, license, kern_version, btf, btf_ext, functions,
                         [s.name for s in self.sections if s.name], code, symbols)

    # -- maps ------------------------------------------------------------
    def _symbols_in(self, index: int) -> list:
        return [s for s in self.symbols if s["st_shndx"] == index]

    def _maps(self, btf: Btf | None) -> list[MapDef]:
        maps: list[MapDef] = []
        for index, sec in enumerate(self.sections):
            if sec.name == "maps":
                syms = [(s.name, s["st_value"]) for s in self._symbols_in(index) if s["st_info"]["type"] != "STT_SECTION"]
                maps += legacy_maps(self._section_data("maps"), syms, self.path)
            elif sec.name == ".maps":
                maps += btf_maps(btf, self.path)
        for sec in self.sections:
            if is_data_section(sec.name) and sec["sh_flags"] & 0x2 and sec["sh_size"]:  # SHF_ALLOC
                maps.append(data_map(sec.name, self._section_data(sec.name)))
        kconfig = kconfig_map(btf)
        if kconfig is not None:
            maps.append(kconfig)
            self.externs = kconfig.externs
        self._map_in_map_values(maps)
        return maps

    def _map_in_map_values(self, maps: list[MapDef]) -> None:
        """`.rel.maps` entries initialise the slots of map-in-map `values` arrays."""
        rel = self.elf.get_section_by_name(".rel.maps")
        if not isinstance(rel, RelocationSection):
            return
        by_offset = sorted((m.symbol_offset, m) for m in maps if m.section == ".maps")
        for r in rel.iter_relocations():
            target = self.symbols[r["r_info_sym"]].name
            owner = max((m for off, m in by_offset if off <= r["r_offset"]), key=lambda m: m.symbol_offset,
                        default=None)
            if owner is None or owner.inner is None:
                raise ElfError(f"{self.path}: .rel.maps entry at {r['r_offset']} is not in a map-in-map")
            slot = (r["r_offset"] - owner.symbol_offset - owner.values_offset) // 8
            owner.inner_values[slot] = target

    # -- programs ----------------------------------------------------------
    def _functions(self) -> dict[str, Function]:
        functions: dict[str, Function] = {}
        for index, sec in enumerate(self.sections):
            if not (sec["sh_type"] == "SHT_PROGBITS" and sec["sh_flags"] & 0x4 and sec["sh_size"]):
                continue  # not executable code
            code = self._section_data(sec.name)
            if len(code) % 8:
                raise ElfError(f"{self.path}: section {sec.name} has {len(code)} bytes, not a multiple of 8")
            funcs = sorted((s for s in self._symbols_in(index) if s["st_info"]["type"] == "STT_FUNC"),
                           key=lambda s: s["st_value"])
            if not funcs:
                funcs = [None]
            relocs = self._relocations(sec.name)
            for offset, rtype, *_ in relocs:
                if not 0 <= offset < len(code):
                    raise ElfError(f"{self.path}: .rel{sec.name}: {rtype} at offset {offset:#x} is outside "
                                   f"the section ({len(code)} bytes)")
            for sym in funcs:
                start = sym["st_value"] if sym else 0
                size = (sym["st_size"] or len(code) - start) if sym else len(code)
                fname = sym.name if sym else sec.name
                if start % 8 or start + size > len(code):
                    raise ElfError(f"{self.path}: function {fname} at {start}+{size} is outside {sec.name}")
                try:
                    insns = decode(code[start:start + size])
                except EncodingError as err:
                    raise ElfError(f"{self.path}: {sec.name}: function {fname}: {err}") from None
                definition = find_section_def(sec.name) if sec.name != ".text" else None
                is_program = sec.name != ".text" and (sym is None or sym["st_info"]["bind"] == "STB_GLOBAL")
                functions[fname] = Function(
                    fname, sec.name, start, insns, is_program, definition,
                    [r for r in relocs if start <= r[0] < start + size])
        return functions

    def _relocations(self, section: str) -> list[tuple[int, str, str, str, int]]:
        """(offset, type name, symbol name, symbol's section, symbol value) for a code section."""
        rel = self.elf.get_section_by_name(".rel" + section)
        if rel is None:
            return []
        if not isinstance(rel, RelocationSection):
            raise ElfError(f"{self.path}: .rel{section} is not a relocation section")
        out = []
        for r in rel.iter_relocations():
            rtype = r["r_info_type"]
            if rtype not in RELOC_NAMES:
                raise ElfError(f"{self.path}: .rel{section} at offset {r['r_offset']}: unknown relocation type {rtype}")
            index = r["r_info_sym"]
            if index >= len(self.symbols):
                raise ElfError(f"{self.path}: .rel{section} at offset {r['r_offset']}: no symbol {index}")
            sym = self.symbols[index]
            shndx = sym["st_shndx"]
            if shndx == "SHN_UNDEF" and sym.name in self.externs:
                out.append((r["r_offset"], RELOC_NAMES[rtype], sym.name, ".kconfig", self.externs[sym.name][0]))
                continue
            if shndx == "SHN_UNDEF":
                raise ElfError(f"{self.path}: .rel{section} at offset {r['r_offset']}: "
                               f"relocation against undefined symbol '{sym.name}'")
            target_sec = self.sections[shndx].name if isinstance(shndx, int) and shndx < len(self.sections) else str(shndx)
            name = sym.name or target_sec
            out.append((r["r_offset"], RELOC_NAMES[rtype], name, target_sec, sym["st_value"]))
        return out


__all__ = ["BPF_PSEUDO_FUNC", "BPF_PSEUDO_MAP_IDX", "BPF_PSEUDO_MAP_IDX_VALUE", "BpfObject", "Program",
           "Relocation", "load"]

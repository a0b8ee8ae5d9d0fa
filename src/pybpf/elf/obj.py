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

import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

from elftools.common.exceptions import ELFError as _PyElfError

from ..isa.insn import EncodingError, Insn, decode
from ..isa.opcodes import BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE
from .btf import Btf
from .btf_ext import BtfExt, CoreRelo, LineInfo, parse_btf_ext
from .errors import ElfError
from .link import Function, link
from .maps import MapDef, btf_maps, data_map, fill_slots, is_data_section, kconfig_map, legacy_maps
from .reader import SHF_ALLOC, ElfReader, Section, Symbol
from .relocs import RelocEntry
from .sections import find_section_def


@dataclass(frozen=True)
class Relocation:
    """One relocation as the object states it, in a program's final pc numbering."""

    pc: int
    type: str  # R_BPF_64_64 ...
    symbol: str
    kind: str  # "map", "map_value", "call", "func", "ksym" (a kernel variable), "kfunc" (a kernel function)
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
    core_relos: list[tuple[int, CoreRelo]] = field(default_factory=list)  # (pc, record), not applied

    @property
    def insn_count(self) -> int:
        """Instruction slots, as the kernel counts them (a lddw is two)."""
        return sum(i.size for i in self.insns)


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
    sections: list[Section] = field(default_factory=list)  # every section header, in file order
    symbols: list[Symbol] = field(default_factory=list)
    code_sections: dict[str, bytes] = field(default_factory=dict)  # executable sections, in file order
    code_relocations: dict[str, list[RelocEntry]] = field(default_factory=dict)  # by code section
    data_relocations: list[RelocEntry] = field(default_factory=list)  # in .data etc.: recorded, not applied

    @property
    def section_names(self) -> list[str]:
        return [s.name for s in self.sections if s.name]

    def iter_sections(self):
        """Every named section, in file order (pyelftools' vocabulary)."""
        return (s for s in self.sections if s.name)

    def num_sections(self) -> int:
        return len(self.sections)

    def get_section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

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


def load(source: str | Path | bytes, name: str | None = None) -> BpfObject:
    """Read a BPF ELF object from a path or from its bytes (`name` is how errors call it)."""
    if isinstance(source, (bytes, bytearray)):
        data, path = bytes(source), name or "<bytes>"
    else:
        path = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise ElfError(f"{path}: {err.strerror}") from None
    try:
        return _Loader(ElfReader(data, path)).read()
    except ElfError as err:
        if str(err).startswith(path):
            raise
        raise ElfError(f"{path}: {err}") from None
    except EncodingError as err:
        raise ElfError(f"{path}: {err}") from None
    except (_PyElfError, struct.error, ValueError, IndexError, KeyError, UnicodeDecodeError, OverflowError) as err:
        raise ElfError(f"{path}: malformed ELF object ({err})") from None


def _kind(section: Section) -> str:
    """What the loader makes of a section, for listings."""
    name = section.name
    if section.is_code:
        return "text" if name == ".text" else "program"
    named = {"maps": "legacy maps", ".maps": "maps", "license": "license", "version": "version",
             ".BTF": "btf", ".BTF.ext": "btf_ext"}
    if name in named:
        return named[name]
    if is_data_section(name) and section.flags & SHF_ALLOC:
        return "data"
    by_type = {"SHT_REL": "relocations", "SHT_SYMTAB": "symbols", "SHT_STRTAB": "strings"}
    if section.type in by_type:
        return by_type[section.type]
    return "debug" if name.startswith(".debug") else ""


class _Loader:
    def __init__(self, reader: ElfReader):
        self.r = reader
        self.path = reader.path
        self.relocs = reader.relocation_tables()

    def _data(self, name: str) -> bytes | None:
        sec = self.r.get_section(name)
        return self.r.section_data(sec) if sec is not None else None

    def read(self) -> BpfObject:
        license_data = self._data("license")
        license = license_data.split(b"\0")[0].decode(errors="replace") if license_data else ""
        version = self._data("version")
        kern_version = struct.unpack_from("<I", version)[0] if version and len(version) >= 4 else 0
        btf_data = self._data(".BTF")
        btf = Btf.parse(btf_data) if btf_data is not None else None
        ext_data = self._data(".BTF.ext")
        btf_ext = parse_btf_ext(ext_data, btf) if btf is not None and ext_data is not None else None
        maps = self._maps(btf)
        externs = next((m.externs for m in maps if m.section == ".kconfig"), {})
        functions = self._functions()
        ksyms = btf.find(".ksyms", "DATASEC") if btf is not None else None
        ksym_names = {btf[m.type].name for m in ksyms.members} if ksyms is not None else set()
        programs = link(functions, maps, btf_ext, externs, self.path, ksym_names)
        maps_sec = self.r.get_section(".maps")
        if maps_sec is not None:
            fill_slots(maps, self.relocs.get(maps_sec.index, []), {p.name for p in programs}, self.path)
        sections = [replace(s, kind=_kind(s)) for s in self.r.sections]
        code = {s.name: self.r.section_data(s) for s in sections if s.is_code and s.size}
        code_relocs = {s.name: self.relocs.get(s.index, []) for s in sections if s.name in code}
        data_relocs = [r for s in sections if s.kind in ("data", "license", "version")
                       for r in self.relocs.get(s.index, [])]
        return BpfObject(self.path, programs, maps, license, kern_version, btf, btf_ext, functions,
                         sections, self.r.symbols, code, code_relocs, data_relocs)

    # -- maps ------------------------------------------------------------
    def _named_symbols(self, sec: Section) -> list[Symbol]:
        return [s for s in self.r.symbols_in(sec) if s.type not in ("STT_SECTION", "STT_FILE") and s.name]

    def _maps(self, btf: Btf | None) -> list[MapDef]:
        maps: list[MapDef] = []
        for sec in self.r.sections:
            if sec.name == "maps":
                syms = [(s.name, s.value) for s in self._named_symbols(sec)]
                maps += legacy_maps(self.r.section_data(sec), syms, self.path)
            elif sec.name == ".maps":
                syms = {s.name: (s.value, s.size) for s in self._named_symbols(sec)}
                maps += btf_maps(btf, syms, sec.size, self.path)
        for sec in self.r.sections:
            if is_data_section(sec.name) and sec.flags & SHF_ALLOC and sec.size:
                syms = [(s.name, s.value, s.size) for s in self._named_symbols(sec)]
                maps.append(data_map(sec.name, self.r.section_data(sec), btf, syms))
        kconfig = kconfig_map(btf)
        if kconfig is not None:
            maps.append(kconfig)
        return maps

    # -- programs ----------------------------------------------------------
    def _functions(self) -> dict[str, Function]:
        functions: dict[str, Function] = {}
        for sec in self.r.sections:
            if not (sec.is_code and sec.size):
                continue
            code = self.r.section_data(sec)
            if len(code) % 8:
                raise ElfError(f"{self.path}: section {sec.name} has {len(code)} bytes, not a multiple of 8")
            funcs = sorted((s for s in self.r.symbols_in(sec) if s.type == "STT_FUNC"), key=lambda s: s.value)
            relocs = self.relocs.get(sec.index, [])
            definition = find_section_def(sec.name) if sec.name != ".text" else None
            for sym in funcs or [None]:
                start = sym.value if sym else 0
                size = (sym.size or len(code) - start) if sym else len(code)
                fname = sym.name if sym else sec.name
                if start % 8 or size % 8 or start + size > len(code):
                    raise ElfError(f"{self.path}: {sec.name}+{start:#x}: function {fname} "
                                   f"({size} bytes) is outside the section or misaligned")
                if sym and sec.name != ".text" and sym.bind == "STB_LOCAL":
                    raise ElfError(f"{self.path}: {sec.name}+{start:#x}: program '{fname}' is static; "
                                   f"programs must be global (static functions belong in .text)")
                if fname in functions:
                    raise ElfError(f"{self.path}: {sec.name}+{start:#x}: a second function named '{fname}'")
                try:
                    insns = decode(code[start:start + size])
                except EncodingError as err:
                    raw = f" ({err.raw.hex(' ')})" if err.raw else ""
                    raise ElfError(f"{self.path}: {sec.name}+{start + err.pc * 8:#x}: function {fname}: "
                                   f"{err.reason}{raw}") from None
                functions[fname] = Function(fname, sec.name, start, insns, sec.name != ".text", definition,
                                            [r for r in relocs if start <= r.offset < start + size])
        return functions


__all__ = ["BPF_PSEUDO_FUNC", "BPF_PSEUDO_MAP_IDX", "BPF_PSEUDO_MAP_IDX_VALUE", "BpfObject", "Program",
           "Relocation", "load"]

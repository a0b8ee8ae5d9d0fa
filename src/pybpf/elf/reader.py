"""The ELF layer of the loader: header checks, sections, symbols, relocation tables.

`ElfReader(data, path)` refuses anything that is not a little-endian ELF64
relocatable object for EM_BPF (247), then offers the sections and symbols
as plain values and every relocation table checked entry by entry: a known
type, an existing symbol, an offset inside the section it patches.  What
the relocations mean is decided by the callers (`link`, `maps`).
Everything wrong is an `ElfError` naming the file and the place.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from .errors import ElfError
from .relocs import RELOC_TYPES, RelocEntry

EM_BPF = 247
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4


@dataclass(frozen=True)
class Section:
    """One section header, as `pybpf objdump` lists it."""

    index: int
    name: str
    type: str  # SHT_PROGBITS, SHT_NOBITS, SHT_REL ...
    flags: int
    size: int
    offset: int
    kind: str = ""  # what the loader makes of it: program, text, maps, data, btf, ... (see obj.py)

    @property
    def is_code(self) -> bool:
        return self.type == "SHT_PROGBITS" and bool(self.flags & SHF_EXECINSTR)


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str  # STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, STT_FILE
    bind: str  # STB_LOCAL, STB_GLOBAL, STB_WEAK
    shndx: int | str  # a section index, or SHN_UNDEF / SHN_ABS / SHN_COMMON
    section: str  # the name of the section it is defined in, "" if none


class ElfReader:
    def __init__(self, data: bytes, path: str):
        self.path = path
        self.data = data
        if data[:4] != b"\x7fELF":
            raise ElfError(f"{path}: not an ELF file")
        if len(data) < 64:
            raise ElfError(f"{path}: truncated ELF header ({len(data)} bytes)")
        if data[4] != 2:
            raise ElfError(f"{path}: 32-bit ELF; BPF objects are ELF64")
        if data[5] != 1:
            raise ElfError(f"{path}: big-endian ELF (bpfeb) is not supported; build for bpfel")
        from elftools.elf.elffile import ELFFile  # here: a process that reuses loaded objects never imports it
        from elftools.elf.sections import SymbolTableSection
        self.elf = ELFFile(io.BytesIO(data))
        machine = self.elf.header["e_machine"]
        if machine not in ("EM_BPF", EM_BPF):
            raise ElfError(f"{path}: machine is {machine}, not EM_BPF (247): not a BPF object")
        if self.elf.header["e_type"] != "ET_REL":
            raise ElfError(f"{path}: e_type is {self.elf.header['e_type']}; expected a relocatable object")
        self._elf_sections = list(self.elf.iter_sections())
        self.sections = [Section(i, s.name, s["sh_type"], s["sh_flags"], s["sh_size"], s["sh_offset"])
                         for i, s in enumerate(self._elf_sections)]
        symtab = self.elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            raise ElfError(f"{path}: no symbol table (.symtab)")
        self.symbols = [self._symbol(i, s) for i, s in enumerate(symtab.iter_symbols())]

    def _symbol(self, index: int, sym) -> Symbol:
        shndx = sym["st_shndx"]
        section = ""
        if isinstance(shndx, int):
            if shndx >= len(self.sections):
                raise ElfError(f"{self.path}: symbol {index} '{sym.name}' is in section {shndx}, "
                               f"which does not exist ({len(self.sections)} sections)")
            section = self.sections[shndx].name
        name = sym.name or (section if sym["st_info"]["type"] == "STT_SECTION" else "")
        return Symbol(index, name, sym["st_value"], sym["st_size"], sym["st_info"]["type"],
                      sym["st_info"]["bind"], shndx, section)

    # -- sections ------------------------------------------------------------
    def get_section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def section_data(self, section: Section | str) -> bytes:
        """The bytes of a section (zeros for SHT_NOBITS); a truncated file is an error."""
        if isinstance(section, str):
            found = self.get_section(section)
            if found is None:
                raise ElfError(f"{self.path}: no section {section}")
            section = found
        if section.type == "SHT_NOBITS":
            return bytes(section.size)
        end = section.offset + section.size
        if end > len(self.data):
            raise ElfError(f"{self.path}: section {section.name} ({section.size} bytes at {section.offset:#x}) "
                           f"runs past the end of the file ({len(self.data)} bytes)")
        return self.data[section.offset:end]

    def symbols_in(self, section: Section) -> list[Symbol]:
        return [s for s in self.symbols if s.shndx == section.index]

    # -- relocations ---------------------------------------------------------
    def relocation_tables(self) -> dict[int, list[RelocEntry]]:
        """Every relocation table, checked, by the index of the section it patches."""
        from elftools.elf.relocation import RelocationSection
        tables: dict[int, list[RelocEntry]] = {}
        for index, sec in enumerate(self._elf_sections):
            if sec["sh_type"] == "SHT_RELA":
                raise ElfError(f"{self.path}: {sec.name} is SHT_RELA; BPF objects use SHT_REL relocations")
            if sec["sh_type"] != "SHT_REL":
                continue
            if not isinstance(sec, RelocationSection):
                raise ElfError(f"{self.path}: {sec.name} is not a relocation section")
            target = sec["sh_info"]
            if not 0 < target < len(self.sections):
                raise ElfError(f"{self.path}: {sec.name} patches section {target}, which does not exist")
            self.section_data(self.sections[index])  # the table itself must be in the file
            tables[target] = self._entries(sec, self.sections[target])
        return tables

    def _entries(self, rel, target: Section) -> list[RelocEntry]:
        out = []
        for r in rel.iter_relocations():
            offset, rtype, index = r["r_offset"], r["r_info_type"], r["r_info_sym"]
            where = f"{self.path}: {rel.name} at offset {offset:#x}"
            if rtype not in RELOC_TYPES:
                raise ElfError(f"{where}: unknown relocation type {rtype}")
            if index >= len(self.symbols):
                raise ElfError(f"{where}: no symbol {index} ({len(self.symbols)} symbols)")
            span = RELOC_TYPES[rtype].span
            if offset + span > target.size:
                raise ElfError(f"{where}: {RELOC_TYPES[rtype].name} at offset {offset:#x} is outside "
                               f"the section {target.name} ({target.size} bytes)")
            sym = self.symbols[index]
            out.append(RelocEntry(target.name, offset, RELOC_TYPES[rtype].name, sym.name, sym.section,
                                  sym.value, sym.type))
        return out

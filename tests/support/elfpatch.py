"""Mutating a good ELF64 little-endian object in place of hand-writing bad ones (malformed-input tests)."""

import io
import struct

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection


class ElfPatch:
    """Offsets of the headers and tables of `data`, and `patch` to return mutated copies."""

    def __init__(self, data: bytes):
        self.data = data
        self.elf = ELFFile(io.BytesIO(data))
        self.shoff = self.elf.header["e_shoff"]
        self.shentsize = self.elf.header["e_shentsize"]
        self.names = [s.name for s in self.elf.iter_sections()]

    def patch(self, offset: int, fmt: str, *values) -> bytes:
        out = bytearray(self.data)
        struct.pack_into(fmt, out, offset, *values)
        return bytes(out)

    def section_header(self, name: str) -> int:
        return self.shoff + self.names.index(name) * self.shentsize

    def section_offset(self, name: str) -> int:
        return self.elf.get_section_by_name(name)["sh_offset"]

    def set_section(self, name: str, field: str, value: int) -> bytes:
        """field: sh_type (+4, u32), sh_offset (+0x18), sh_size (+0x20)."""
        at, fmt = {"sh_type": (4, "<I"), "sh_offset": (0x18, "<Q"), "sh_size": (0x20, "<Q")}[field]
        return self.patch(self.section_header(name) + at, fmt, value)

    def reloc(self, rel_section: str, index: int = 0) -> tuple[int, int, int, int]:
        """(file offset of the entry, r_offset, type, symbol index)."""
        rel = self.elf.get_section_by_name(rel_section)
        assert isinstance(rel, RelocationSection)
        r = rel.get_relocation(index)
        return rel["sh_offset"] + 16 * index, r["r_offset"], r["r_info_type"], r["r_info_sym"]

    def set_reloc(self, rel_section: str, index: int = 0, *, offset=None, type=None, symbol=None) -> bytes:
        at, r_offset, r_type, r_sym = self.reloc(rel_section, index)
        info = ((r_sym if symbol is None else symbol) << 32) | (r_type if type is None else type)
        return self.patch(at, "<QQ", r_offset if offset is None else offset, info)

    def symbol(self, name: str) -> tuple[int, int]:
        """(index, file offset of the Elf64_Sym) of the symbol called `name`."""
        symtab = self.elf.get_section_by_name(".symtab")
        for index, sym in enumerate(symtab.iter_symbols()):
            if sym.name == name:
                return index, symtab["sh_offset"] + index * 24
        raise KeyError(name)

    def set_symbol(self, name: str, *, info=None, shndx=None, value=None, size=None) -> bytes:
        _, at = self.symbol(name)
        out = self.data
        for field, fmt, off in ((info, "<B", 4), (shndx, "<H", 6), (value, "<Q", 8), (size, "<Q", 16)):
            if field is not None:
                out = ElfPatch(out).patch(at + off, fmt, field)
        return out

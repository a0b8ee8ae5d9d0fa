"""BPF relocation types (Documentation/bpf/llvm_reloc.rst) and one relocation entry.

| type | name | where | patched | value |
|---|---|---|---|---|
| 1 | R_BPF_64_64 | the first slot of a lddw | imm of both slots (r_offset + 4, + 12) | S + A |
| 2 | R_BPF_64_ABS64 | data (`.maps` map-in-map slots, `.data` pointers, DWARF) | 64 bits at r_offset | S + A |
| 3 | R_BPF_64_ABS32 | data (DWARF) | 32 bits at r_offset | S + A |
| 4 | R_BPF_64_NODYLD32 | `.BTF`, `.BTF.ext` | 32 bits at r_offset | S + A |
| 10 | R_BPF_64_32 | a call | imm (r_offset + 4) | (S + A) / 8 - 1 |

BPF objects use SHT_REL: the addend A is what the patched field already
holds (a lddw's imm, a call's imm, the data word).  `span` is how many
bytes from r_offset the relocated field needs, for the bounds check.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelocType:
    value: int
    name: str
    span: int  # bytes from r_offset that must lie inside the section
    doc: str


R_BPF_NONE, R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32, R_BPF_64_32 = 0, 1, 2, 3, 4, 10

RELOC_TYPES: dict[int, RelocType] = {r.value: r for r in (
    RelocType(R_BPF_NONE, "R_BPF_NONE", 0, "no relocation"),
    RelocType(R_BPF_64_64, "R_BPF_64_64", 16, "lddw: the 64-bit address S + A split over both imm fields"),
    RelocType(R_BPF_64_ABS64, "R_BPF_64_ABS64", 8, "data: the 64-bit address S + A"),
    RelocType(R_BPF_64_ABS32, "R_BPF_64_ABS32", 4, "data: the 32-bit address S + A"),
    RelocType(R_BPF_64_NODYLD32, "R_BPF_64_NODYLD32", 4, ".BTF/.BTF.ext: S + A, ignored by dynamic loaders"),
    RelocType(R_BPF_64_32, "R_BPF_64_32", 8, "call: imm = (S + A) / 8 - 1, a pc-relative sub-program call"),
)}
RELOC_NAMES = {r.value: r.name for r in RELOC_TYPES.values()}


@dataclass(frozen=True)
class RelocEntry:
    """One entry of a SHT_REL section, with its symbol looked up."""

    section: str  # the section the entry patches
    offset: int  # r_offset: bytes into that section
    type: str  # R_BPF_64_64 ...
    symbol: str  # the symbol's name, or its section's name for a section symbol
    symbol_section: str  # the section the symbol is defined in ("" if undefined)
    value: int  # st_value: the symbol's offset in its section
    symbol_type: str = "STT_NOTYPE"  # STT_FUNC, STT_OBJECT, STT_SECTION ...

    @property
    def is_section_symbol(self) -> bool:
        return self.symbol_type == "STT_SECTION"

    def where(self, path: str) -> str:
        return f"{path}: {self.section}+{self.offset:#x}"

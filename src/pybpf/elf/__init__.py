"""Reading BPF ELF objects: programs, maps, relocations, licence, BTF and BTF.ext.

`load(path_or_bytes)` -> `BpfObject` (obj.py); the layers under it: reader.py
(ELF checks, sections, symbols, relocation tables), relocs.py (R_BPF_* types),
sections.py (libbpf's section names), maps.py, link.py (sub-programs and
relocations), btf.py / btf_ext.py / btf_dump.py, and the two objdump views
(describe.py, llvm_layout.py).
"""

from .btf import Btf, BtfType
from .btf_dump import dump_raw
from .btf_ext import CORE_RELO_KINDS, BtfExt, CoreRelo, FuncInfo, LineInfo
from .errors import ElfError
from .maps import MapDef
from .obj import BpfObject, Program, Relocation, load
from .reader import Section, Symbol
from .relocs import RELOC_TYPES, RelocEntry
from .sections import SECTION_DEFS, SectionDef, find_section_def

__all__ = ["Btf", "BtfExt", "BtfType", "BpfObject", "CORE_RELO_KINDS", "CoreRelo", "ElfError", "FuncInfo",
           "LineInfo", "MapDef", "Program", "RELOC_TYPES", "RelocEntry", "Relocation", "SECTION_DEFS", "Section",
           "SectionDef", "Symbol", "dump_raw", "find_section_def", "load"]

"""Reading BPF ELF objects: programs, maps, relocations, licence, BTF and BTF.ext."""

from .btf import Btf, BtfType
from .btf_ext import BtfExt, CoreRelo, FuncInfo, LineInfo
from .errors import ElfError
from .maps import MapDef
from .obj import BpfObject, Program, Relocation, load
from .sections import SECTION_DEFS, SectionDef, find_section_def

__all__ = ["Btf", "BtfExt", "BtfType", "BpfObject", "CoreRelo", "ElfError", "FuncInfo", "LineInfo", "MapDef",
           "Program", "Relocation", "SECTION_DEFS", "SectionDef", "find_section_def", "load"]

"""`pybpf objdump`: describe a BPF ELF object, disassemble it as llvm-objdump -d does, or dump its BTF."""

from __future__ import annotations

from ..elf import load
from ..elf.btf_dump import dump_raw
from ..elf.describe import summary_lines
from ..elf.llvm_layout import llvm_objdump_lines
from ..errors import PybpfError
from ..helpers import helper_name


def add_arguments(parser) -> None:
    parser.add_argument("file", help="a BPF ELF object (clang -target bpf, or pybpf's tracer)")
    parser.add_argument("-d", "--disassemble", action="store_true",
                        help="only disassemble, exactly as llvm-objdump -d prints it (the summary view "
                             "prints local calls as `call pc+N`, where llvm-objdump 14 prints an ambiguous `call N`)")
    parser.add_argument("-r", "--reloc", action="store_true",
                        help="with -d: show relocations as llvm-objdump -dr does")
    parser.add_argument("--btf", action="store_true",
                        help="only list the BTF types, as `bpftool btf dump file FILE` does")


def objdump_lines(path: str, *, disassemble: bool = False, relocations: bool = False,
                  btf: bool = False) -> list[str]:
    """What `pybpf objdump` prints for these flags, as lines."""
    obj = load(path)
    if btf:
        if obj.btf is None:
            raise PybpfError(f"{path}: no .BTF section")
        return dump_raw(obj.btf)
    if disassemble:
        return llvm_objdump_lines(obj, path, relocations=relocations)
    return summary_lines(obj, helper_name)


def run(args) -> int:
    print("\n".join(objdump_lines(args.file, disassemble=args.disassemble, relocations=args.reloc, btf=args.btf)))
    return 0

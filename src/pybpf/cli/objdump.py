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
                        help="only disassemble, in llvm-objdump -d's layout (local calls print as "
                             "`call pc+N`, where llvm-objdump 14 prints an ambiguous `call N`)")
    parser.add_argument("-r", "--reloc", action="store_true",
                        help="with -d: show relocations as llvm-objdump -dr does")
    parser.add_argument("--btf", action="store_true",
                        help="only list the BTF types, as `bpftool btf dump file FILE` does")


def run(args) -> int:
    obj = load(args.file)
    if args.btf:
        if obj.btf is None:
            raise PybpfError(f"{args.file}: no .BTF section")
        lines = dump_raw(obj.btf)
    elif args.disassemble:
        lines = llvm_objdump_lines(obj, args.file, relocations=args.reloc)
    else:
        lines = summary_lines(obj, helper_name)
    print("\n".join(lines))
    return 0

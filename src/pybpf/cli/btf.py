"""`pybpf btf dump`: BTF in bpftool's raw format.

    pybpf btf dump file /sys/kernel/btf/vmlinux
    pybpf btf dump id 1           a BTF object loaded in the kernel
"""

from __future__ import annotations

import sys

from .. import api
from .io import InputError


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=("dump",))
    parser.add_argument("source", choices=("file", "id"))
    parser.add_argument("target", metavar="PATH_OR_ID")


def run(args) -> int:
    if args.source == "id":
        if not (args.target.isascii() and args.target.isdigit()):
            raise InputError(f"btf id must be a number, got {args.target!r}")
        sys.stdout.write(api.btf_dump(int(args.target)))
        return 0
    sys.stdout.write(api.btf_dump(args.target))  # a missing or damaged file is a PybpfError naming it
    return 0

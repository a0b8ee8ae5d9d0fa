"""`pybpf objdump`: describe a BPF ELF object."""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("file", help="a BPF ELF object (clang -target bpf, or pybpf's tracer)")


def run(args) -> int:
    raise NotImplementedError

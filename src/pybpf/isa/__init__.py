"""The BPF instruction set: one opcode table, instructions, assembler, disassembler."""

from .insn import EncodingError, Insn, check, decode, encode, iter_decode, lddw
from .opcodes import SPECS, Spec, lookup

__all__ = ["EncodingError", "Insn", "SPECS", "Spec", "check", "decode", "encode", "iter_decode", "lddw", "lookup"]

"""Wrap raw bytecode in a minimal BPF ELF object, so llvm-objdump can disassemble it."""

import struct


def wrap(code: bytes) -> bytes:
    """An ET_REL, EM_BPF object with one .text section holding `code`."""
    shstrtab = b"\0.text\0.shstrtab\0"
    text_off = 64
    shstr_off = text_off + len(code)
    sh_off = (shstr_off + len(shstrtab) + 7) & ~7
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 1, 247, 1, 0, 0, sh_off, 0, 64, 0, 0, 64, 3, 2)
    out = bytearray(header + code + shstrtab)
    out += bytes(sh_off - len(out))
    out += bytes(64)  # the null section
    out += struct.pack("<IIQQQQIIQQ", 1, 1, 6, 0, text_off, len(code), 0, 0, 8, 0)
    out += struct.pack("<IIQQQQIIQQ", 7, 3, 0, 0, shstr_off, len(shstrtab), 0, 0, 1, 0)
    return bytes(out)

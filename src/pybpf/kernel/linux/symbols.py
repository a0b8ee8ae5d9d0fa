"""Symbols for addresses: /proc/kallsyms for the kernel, ELF symbol tables and build ids for user stacks."""

from __future__ import annotations

import bisect
import functools

from elftools.elf.elffile import ELFFile


class SymbolTable:
    """Sorted (address, name) pairs; `lookup(addr)` gives (name, offset) or None."""

    def __init__(self, pairs):
        pairs = sorted(pairs)
        self.addrs = [a for a, _ in pairs]
        self.names = [n for _, n in pairs]

    def lookup(self, addr: int):
        i = bisect.bisect_right(self.addrs, addr) - 1
        return (self.names[i], addr - self.addrs[i]) if i >= 0 else None

    def address(self, name: str) -> int | None:
        try:
            return self.addrs[self.names.index(name)]
        except ValueError:
            return None


@functools.cache
def kallsyms() -> SymbolTable:
    """The kernel's text symbols (addresses read as 0 without CAP_SYSLOG: then lookups find nothing)."""
    pairs = []
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW" and int(parts[0], 16):
                pairs.append((int(parts[0], 16), parts[2]))
    return SymbolTable(pairs)


def ksym(addr: int) -> str:
    """bpftrace's ksym(): the kernel function holding addr, or the address in hex."""
    hit = kallsyms().lookup(addr)
    return hit[0] if hit else f"0x{addr:x}"


@functools.cache
def elf_symbols(path: str) -> SymbolTable:
    """Function symbols of an ELF file by virtual address."""
    from .uprobe import function_symbols
    return SymbolTable((vaddr, name) for name, (vaddr, _) in function_symbols(path).items())


def build_id(path: str) -> str | None:
    """The GNU build id note of an ELF file in hex (as bpf_get_stack's BPF_F_USER_BUILD_ID gives it)."""
    with open(path, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if section["sh_type"] == "SHT_NOTE":
                for note in section.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        return note["n_desc"]
    return None


class ProcessSymbols:
    """usym() for one process: its executable mappings from /proc/PID/maps and their ELF symbols."""

    def __init__(self, pid: int):
        self.maps = []  # (start, end, file offset, path)
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and "x" in parts[1] and parts[5].startswith("/"):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    self.maps.append((start, end, int(parts[2], 16), parts[5]))

    def lookup(self, addr: int):
        """(name, offset, path) of a user address, or None."""
        for start, end, offset, path in self.maps:
            if start <= addr < end:
                file_off = addr - start + offset
                with open(path, "rb") as f:
                    for seg in ELFFile(f).iter_segments():
                        if seg["p_type"] == "PT_LOAD" and seg["p_offset"] <= file_off < seg["p_offset"] + seg["p_filesz"]:
                            vaddr = file_off - seg["p_offset"] + seg["p_vaddr"]
                            hit = elf_symbols(path).lookup(vaddr)
                            return (hit[0], hit[1], path) if hit else None
        return None

"""Symbols for addresses: /proc/kallsyms for the kernel, ELF symbol tables and build ids for user stacks."""

from __future__ import annotations

import bisect
import functools
import os

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile


class SymbolTable:
    """Sorted (address, name[, size]) entries; `lookup(addr)` gives (name, offset) or None.

    A symbol with a size covers only its bytes (as bcc resolves: an address
    past the end of the function before it is unknown); one without covers up
    to the next symbol.  Of several names at one address (aliases: write,
    __write, __GI___write) the last by name answers (bcc's pick among them
    depends on the order it read them in)."""

    def __init__(self, entries):
        entries = sorted((e[0], e[1], e[2] if len(e) > 2 else 0) for e in entries)
        self.addrs = [a for a, _, _ in entries]
        self.names = [n for _, n, _ in entries]
        self.sizes = [size for _, _, size in entries]

    def lookup(self, addr: int):
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0 or (self.sizes[i] and addr - self.addrs[i] >= self.sizes[i]):
            return None
        return self.names[i], addr - self.addrs[i]

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
    """Function symbols of an ELF file by virtual address, with those of its separate debug file
    (/usr/lib/debug/.build-id/NN/REST.debug, where distributions install them) when it has one, as bcc
    reads both: a stripped library's local functions (__libc_start_call_main) are only there."""
    from .uprobe import function_symbols
    found = dict(function_symbols(path, ifunc=True))
    debug = _debug_file(path)
    try:
        extra = function_symbols(debug, ifunc=True) if debug is not None else {}
    except (OSError, ELFError):
        extra = {}  # an unreadable debug file: the binary's own symbols
    for name, (vaddr, size) in extra.items():
        found.setdefault(name, (vaddr, size))
    return SymbolTable((vaddr, name, size) for name, (vaddr, size) in found.items())


def _debug_file(path: str) -> str | None:
    found = _build_id(path)
    candidate = f"/usr/lib/debug/.build-id/{found[:2]}/{found[2:]}.debug" if found else None
    return candidate if candidate and candidate != path and os.path.exists(candidate) else None


def build_id(path: str) -> str | None:
    """The GNU build id note of an ELF file in hex (as bpf_get_stack's BPF_F_USER_BUILD_ID gives it)."""
    with open(path, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if section["sh_type"] == "SHT_NOTE":
                for note in section.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        return note["n_desc"]
    return None


@functools.cache
def _load_segments(path: str) -> tuple[tuple[int, int, int], ...]:
    """(file offset, size in the file, virtual address) of each PT_LOAD segment of an ELF file."""
    with open(path, "rb") as f:
        return tuple((seg["p_offset"], seg["p_filesz"], seg["p_vaddr"]) for seg in ELFFile(f).iter_segments()
                     if seg["p_type"] == "PT_LOAD")


@functools.cache
def _build_id(path: str) -> str | None:
    try:
        return build_id(path)
    except (OSError, ValueError):
        return None


def read_maps(pid: int) -> list[tuple[int, int, int, str]]:
    """The executable file mappings of a process, (start, end, file offset, path); [] once it is gone."""
    found = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and "x" in parts[1] and parts[5].startswith("/"):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    found.append((start, end, int(parts[2], 16), parts[5]))
    except OSError:
        pass
    return found


class ProcessSymbols:
    """usym() and ustack for one process: its executable mappings from /proc/PID/maps and their ELF symbols.

    The mappings are read when the object is made; `refresh()` reads them again
    (a process that has exited keeps the last ones it had)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.maps: list[tuple[int, int, int, str]] = []
        self.refresh()

    def refresh(self) -> None:
        self.maps = read_maps(self.pid) or self.maps

    def file_offset(self, addr: int, refresh: bool = True):
        """(path, offset in that file) of a user address, or None outside every file mapping (the mappings
        are read again once: a library may have been mapped since)."""
        for start, end, offset, path in self.maps:
            if start <= addr < end:
                return path, addr - start + offset
        if refresh:
            self.refresh()
            return self.file_offset(addr, False)
        return None

    def lookup(self, addr: int):
        """(name, offset, path) of a user address, or None."""
        where = self.file_offset(addr)
        if where is None:
            return None
        path, file_off = where
        try:
            segments = _load_segments(path)
        except (OSError, ValueError):
            return None
        for seg_offset, seg_size, seg_vaddr in segments:
            if seg_offset <= file_off < seg_offset + seg_size:
                hit = elf_symbols(path).lookup(file_off - seg_offset + seg_vaddr)
                return (hit[0], hit[1], path) if hit else None
        return None


class StackSymbols:
    """Frames of kstack/ustack as bpftrace 0.17 prints them (bcc's symbolizer).

    Kernel frames are `name+offset` from /proc/kallsyms; user frames
    `name+offset` through the process's mappings and ELF symbol tables (`
    (path)` after it in perf mode); an address nothing covers prints as
    `0x...` (` ([unknown])` in perf mode).  `build_id(ip, pid)` gives
    `BUILDID 0xFILEOFFSET`, the pair the kernel's BPF_F_STACK_BUILD_ID stack
    maps hold, read here in user space from the same mappings.  Processes are
    remembered by pid, so that a stack printed after its process exited (the
    maps at END) still resolves when the process was seen alive
    (`remember(pid)`)."""

    def __init__(self):
        self.processes: dict[int, ProcessSymbols] = {}

    def remember(self, pid: int) -> None:
        """Read (again) the mappings of pid, while it runs."""
        process = self.processes.get(pid)
        if process is None:
            self.processes[pid] = ProcessSymbols(pid)
        else:
            process.refresh()

    def _process(self, pid: int) -> ProcessSymbols:
        if pid not in self.processes:
            self.remember(pid)
        return self.processes[pid]

    def kernel(self, ip: int, perf: bool = False) -> str:
        hit = kallsyms().lookup(ip)
        return f"{hit[0]}+{hit[1]}" if hit else f"0x{ip:x}"

    def user(self, ip: int, pid: int, perf: bool = False) -> str:
        hit = self._process(pid).lookup(ip)
        if hit is None:
            return f"0x{ip:x} ([unknown])" if perf else f"0x{ip:x}"
        name, offset, path = hit
        return f"{name}+{offset} ({path})" if perf else f"{name}+{offset}"

    def build_id(self, ip: int, pid: int) -> str:
        where = self._process(pid).file_offset(ip)
        found = _build_id(where[0]) if where else None
        return f"{found} 0x{where[1]:02x}" if found else f"{ip:x}"

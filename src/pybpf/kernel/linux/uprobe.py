"""Where a uprobe goes: ELF symbols of executables and shared libraries to file offsets.

The uprobe PMU (/sys/bus/event_source/devices/uprobe) takes a path and a
file offset; a symbol's st_value is a virtual address, turned into an offset
through the PT_LOAD segment that holds it.  A bare library name ("libc",
"libc.so.6") is found in /proc/PID/maps or with `ldconfig -p`.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess

from elftools.elf.elffile import ELFFile

from ...errors import PybpfError


class SymbolError(PybpfError):
    """A binary or a symbol in it could not be found."""


def resolve_binary(path: str, pid: int | None = None) -> str:
    """An absolute path for PATH: itself if it exists, else a library of that name (maps, ldconfig), else $PATH."""
    if os.path.isabs(path) and os.path.exists(path):
        return os.path.realpath(path)
    if os.path.exists(path) and "/" in path:
        return os.path.realpath(path)
    stem = path if path.startswith("lib") else "lib" + path
    pattern = re.compile(rf"/{re.escape(stem)}(\.so|-[\d.]+\.so)[\d.]*$")
    try:
        with open(f"/proc/{pid or 'self'}/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and pattern.search(parts[5]):
                    return os.path.realpath(parts[5])
    except OSError:
        pass
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            lib, _, where = line.partition("=>")
            if pattern.search("/" + lib.split()[0]) if lib.split() else False:
                return os.path.realpath(where.strip())
    except OSError:
        pass
    for directory in os.environ.get("PATH", "").split(":"):
        candidate = os.path.join(directory, path)
        if os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    raise SymbolError(f"no binary or library {path!r} (not a file, not in /proc/self/maps nor ldconfig -p)")


def vaddr_to_offset(elf: ELFFile, vaddr: int) -> int:
    """The file offset of virtual address vaddr (through its PT_LOAD segment)."""
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_memsz"]:
            return vaddr - seg["p_vaddr"] + seg["p_offset"]
    raise SymbolError(f"address {vaddr:#x} is in no loadable segment")


STT_FUNC, STT_GNU_IFUNC, SHN_UNDEF = 2, 10, 0


def function_symbols(path: str, ifunc: bool = False) -> dict[str, tuple[int, int]]:
    """name -> (virtual address, size) of the defined functions in .symtab and .dynsym (versions stripped).

    An STT_GNU_IFUNC symbol's address is its resolver, which runs once at binding, not the function
    callers reach: it is a function to put a name on an address (`ifunc`), not one to probe.  The
    Elf64_Sym records are unpacked directly (a libc debug file has tens of thousands: pyelftools'
    per-symbol objects take seconds there); other ELF classes go through pyelftools."""
    found: dict[str, tuple[int, int]] = {}
    types = (STT_FUNC, STT_GNU_IFUNC) if ifunc else (STT_FUNC,)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for section_name in (".dynsym", ".symtab"):
            section = elf.get_section_by_name(section_name)
            if section is None or section["sh_type"] == "SHT_NOBITS":  # a debug file's copy has no data
                continue
            if elf.elfclass == 64 and elf.little_endian:
                names = elf.get_section(section["sh_link"]).data()
                for name_off, info, _, shndx, value, size in struct.iter_unpack("<IBBHQQ", section.data()):
                    if info & 0xF in types and value and shndx != SHN_UNDEF:
                        name = names[name_off:names.index(b"\0", name_off)].decode(errors="replace")
                        found.setdefault(name.split("@")[0], (value, size))
                continue
            for sym in section.iter_symbols():
                kind = sym["st_info"]["type"]  # pyelftools names STT_GNU_IFUNC (10) STT_LOOS
                if (kind == "STT_FUNC" or (ifunc and kind in ("STT_GNU_IFUNC", "STT_LOOS"))) and sym["st_value"] \
                        and sym["st_shndx"] != "SHN_UNDEF":
                    found.setdefault(sym.name.split("@")[0], (sym["st_value"], sym["st_size"]))
    return found


def symbol_offset(path: str, symbol: str) -> int:
    """The file offset of SYMBOL[+OFF] (or of a hex address 0x...) in the ELF file at path."""
    name, _, extra = symbol.partition("+")
    extra_off = int(extra, 0) if extra else 0
    with open(path, "rb") as f:
        elf = ELFFile(f)
        if re.fullmatch(r"0x[0-9a-fA-F]+", name):
            return vaddr_to_offset(elf, int(name, 16)) + extra_off
        symbols = function_symbols(path)
        if name not in symbols:
            raise SymbolError(f"no function {name!r} in {path}")
        vaddr, size = symbols[name]
        if size and extra_off >= size:
            raise SymbolError(f"{symbol}: offset {extra_off} is past the end of {name} ({size} bytes)")
        return vaddr_to_offset(elf, vaddr) + extra_off

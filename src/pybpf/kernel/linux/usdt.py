"""USDT probes: the .note.stapsdt notes of a binary, their argument specs, their semaphores.

Each note (owner "stapsdt", type 3) holds the probe's pc, the link-time
address of .stapsdt.base, the semaphore's address (0: none), then
"provider\\0name\\0args\\0".  A pc is adjusted by how far .stapsdt.base
moved (prelink) and turned into a file offset for the uprobe PMU.  A
semaphore is a u16 the probe site tests; tracers increment it in the
traced process (here through /proc/PID/mem) so that the site runs.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile

from .uprobe import SymbolError, vaddr_to_offset

NT_STAPSDT = 3


@dataclass(frozen=True)
class Arg:
    """One argument spec, "-4@%eax", "8@-8(%rbp)", "4@$5": size (negative: signed) and where."""

    size: int
    kind: str  # "reg", "mem", "const"
    reg: str = ""
    offset: int = 0  # for mem; the value for const


_ARG = re.compile(r"(?P<size>-?\d+)@(?:(?P<const>\$-?\d+)|%(?P<reg>\w+)|(?P<off>-?\d*)\(%(?P<base>\w+)\))$")


def parse_args(text: str) -> list[Arg]:
    args = []
    for spec in text.split():
        m = _ARG.match(spec)
        if m is None:
            raise SymbolError(f"USDT argument {spec!r} is not of a form pybpf reads")
        size = int(m["size"])
        if m["const"]:
            args.append(Arg(size, "const", offset=int(m["const"][1:])))
        elif m["reg"]:
            args.append(Arg(size, "reg", m["reg"]))
        else:
            args.append(Arg(size, "mem", m["base"], int(m["off"] or 0)))
    return args


@dataclass(frozen=True)
class Probe:
    provider: str
    name: str
    pc: int  # virtual address of the probe site
    offset: int  # its file offset (for the uprobe PMU)
    semaphore: int  # virtual address, 0 without one
    semaphore_offset: int  # file offset, 0 without one
    args: tuple[Arg, ...]
    args_text: str


def probes(path: str) -> list[Probe]:
    """Every USDT probe in the ELF file at path."""
    found = []
    with open(path, "rb") as f:
        elf = ELFFile(f)
        notes = elf.get_section_by_name(".note.stapsdt")
        if notes is None:
            return []
        base = elf.get_section_by_name(".stapsdt.base")
        is64 = elf.elfclass == 64
        for note in notes.iter_notes():
            if note["n_name"] != "stapsdt":  # pyelftools names type 3 after the GNU build id note
                continue
            desc = note["n_descdata"]
            fmt, width = ("<QQQ", 24) if is64 else ("<III", 12)
            pc, link_base, sema = struct.unpack_from(fmt, desc)
            provider, name, args_text = desc[width:].split(b"\0")[:3]
            if base is not None and link_base:
                pc += base["sh_addr"] - link_base
            found.append(Probe(provider.decode(), name.decode(), pc, vaddr_to_offset(elf, pc), sema,
                               vaddr_to_offset(elf, sema) if sema else 0,
                               tuple(parse_args(args_text.decode())), args_text.decode()))
    return found


def find_probe(path: str, provider: str, name: str) -> list[Probe]:
    hits = [p for p in probes(path) if p.name == name and provider in (p.provider, "*", "")]
    if not hits:
        raise SymbolError(f"no USDT probe {provider}:{name} in {path}")
    return hits


def layouts(sites: list[Probe]) -> list[tuple[Arg, ...]]:
    """The distinct argument layouts of a probe's sites, in note order: a site's index here is the BPF
    cookie its uprobe carries when they differ (`layout_cookies`), as libbpf's usdt.bpf.h finds its spec."""
    found: list[tuple[Arg, ...]] = []
    for site in sites:
        if site.args not in found:
            found.append(site.args)
    return found


def _semaphore_address(pid: int, path: str, file_offset: int) -> int:
    """Where the semaphore at file_offset of path sits in process pid (its /proc/PID/maps mapping)."""
    import os
    real = os.path.realpath(path)
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == real:
                start, end = (int(x, 16) for x in parts[0].split("-"))
                off = int(parts[2], 16)
                if off <= file_offset < off + (end - start):
                    return start + file_offset - off
    raise SymbolError(f"{path} is not mapped in process {pid}: cannot set its USDT semaphore")


def adjust_semaphore(pid: int, path: str, probe: Probe, delta: int) -> int:
    """Add delta to probe's semaphore in process pid; the address written (0 if the probe has none)."""
    if not probe.semaphore:
        return 0
    addr = _semaphore_address(pid, path, probe.semaphore_offset)
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        mem.seek(addr)
        value = struct.unpack("<H", mem.read(2))[0]
        mem.seek(addr)
        mem.write(struct.pack("<H", max(0, value + delta) & 0xFFFF))
    return addr

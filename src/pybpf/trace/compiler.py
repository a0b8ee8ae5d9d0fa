"""A script, compiled: parse, analyse, generate IR, emit a BPF ELF object (cached by script hash).

llvmlite is imported only when a script is compiled, not when a cached
object is reused; nor is pyelftools: beside each cached object the cache
keeps the loader's reading of it (`elf.load`'s BpfObject, pickled).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from . import ast
from .parser import parse
from .percpu import possible_cpus
from .probes import program_names
from .semantic import Resources, analyse
from .config import apply_map_keys
from .macros import expand_macros
from .source import Diagnostics, Source
from ..source_digest import source_digest

# A cached object is reused only by the compiler that made it, and its pickled reading only by the same loader.
COMPILER_SOURCES = ("trace", "elf", "isa")


@dataclass
class Compiled:
    source: Source
    program: ast.Program
    resources: Resources
    programs: list[tuple[str, ast.AttachPoint]]  # ELF program name, its attach point
    elf: bytes
    ir: str = ""
    reading: Path | None = None  # where the cache keeps elf.load(elf), pickled

    def bpf_object(self):
        """The object as the loader reads it (`elf.load`), from the cache when it has it."""
        if self.reading is not None:
            try:
                return pickle.loads(self.reading.read_bytes())
            except Exception:  # absent, cut short by a full disk, or from another pybpf: read the ELF again
                pass
        from .. import elf
        obj = elf.load(self.elf)
        if self.reading is not None:
            try:
                partial = self.reading.with_suffix(f".{os.getpid()}")
                partial.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
                os.replace(partial, self.reading)
            except (OSError, pickle.PicklingError, TypeError):  # a read-only cache, or an object pickle refuses
                pass
        return obj


def front_end(source: Source, params: list[str] | None = None,
              unsafe: bool = False, kernel: str = "virtual") -> tuple[ast.Program, Resources]:
    program = parse(source)
    diagnostics = Diagnostics(source)
    expand_macros(program, diagnostics)
    diagnostics.check()
    resources = analyse(source, program, params, unsafe, kernel)
    apply_map_keys(program, resources)
    return program, resources


def cache_dir() -> Path:
    """pybpftrace's cache: $XDG_CACHE_HOME/pybpftrace, or ~/.cache/pybpftrace."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybpftrace"


def compile_script(text: str, name: str = "stdin", params: list[str] | None = None, *,
                   cache: bool = True, unsafe: bool = False, kernel: str = "virtual") -> Compiled:
    """Compile a script for a kernel ("virtual" or "linux"); a ScriptError (bpftrace's diagnostics) for a
    mistake in it.  The cache key has what the probes found on the machine (tracepoint formats, USDT specs)
    and the layouts of the structs the script used (a kernel's BTF changes with the kernel)."""
    source = Source(text, name)
    program, resources = front_end(source, params, unsafe, kernel)
    facts = repr(sorted(resources.probe_facts.items()))
    settings = repr(sorted(resources.config.items()))  # BPFTRACE_* variables change the code too
    structs = repr(sorted(resources.structs.items()))  # and so do the kernel's (BTF) layouts of those it used
    cpus = possible_cpus(kernel)  # the bound of the loop that reads a per-CPU aggregation
    key = hashlib.sha256(pickle.dumps((source_digest(*COMPILER_SOURCES), text, params or [], unsafe, kernel, facts,
                                       settings, structs, os.environ.get("BPFTRACE_DUMMY_TS_MAP"), cpus))).hexdigest()
    path = cache_dir() / f"{key}.o"
    if cache and path.exists():
        elf = path.read_bytes()
        return Compiled(source, program, resources, program_names(program), elf,
                        reading=path.with_suffix(".loaded"))
    from .backend import emit_object
    from .codegen import generate
    module, programs = generate(program, resources)
    elf = emit_object(str(module))
    reading = None
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(elf)
            reading = path.with_suffix(".loaded")
        except OSError:
            pass  # a read-only home: compile every time
    return Compiled(source, program, resources, programs, elf, str(module), reading)

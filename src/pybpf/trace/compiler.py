"""A script, compiled: parse, analyse, generate IR, emit a BPF ELF object (cached by script hash).

llvmlite is imported only when a script is compiled, not when a cached
object is reused.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import ast
from .parser import parse
from .percpu import possible_cpus
from .probes import program_names
from .semantic import Resources, analyse
from .config import apply_map_keys
from .macros import expand_macros
from .source import Diagnostics, Source



@lru_cache(maxsize=1)
def _compiler_digest() -> str:
    """A digest of the compiler's own source: a cached object is reused only by the compiler that made it."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Compiled:
    source: Source
    program: ast.Program
    resources: Resources
    programs: list[tuple[str, ast.AttachPoint]]  # ELF program name, its attach point
    elf: bytes
    ir: str = ""


def front_end(source: Source, params: list[str] | None = None,
              unsafe: bool = False, kernel: str = "virtual") -> tuple[ast.Program, Resources]:
    program = parse(source)
    diagnostics = Diagnostics(source)
    expand_macros(program, diagnostics)
    diagnostics.check()
    resources = analyse(source, program, params, unsafe, kernel)
    apply_map_keys(program, resources)
    return program, resources


def _cache_dir() -> Path:
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
    key = hashlib.sha256(pickle.dumps((_compiler_digest(), text, params or [], unsafe, kernel, facts, settings, structs,
                                       os.environ.get("BPFTRACE_DUMMY_TS_MAP"), cpus))).hexdigest()
    path = _cache_dir() / f"{key}.o"
    if cache and path.exists():
        elf = path.read_bytes()
        return Compiled(source, program, resources, program_names(program), elf)
    from .backend import emit_object
    from .codegen import generate
    module, programs = generate(program, resources)
    elf = emit_object(str(module))
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(elf)
        except OSError:
            pass  # a read-only home: compile every time
    return Compiled(source, program, resources, programs, elf, str(module))

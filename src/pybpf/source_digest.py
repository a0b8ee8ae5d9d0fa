"""A digest of some of pybpf's own source files, for caches that must not outlive the code that filled them.

pybpftrace's object cache and the virtual kernel's load cache keep on disk
what a given version of the compiler, loader, verifier or engine produced.
A version number does not change while the code is worked on, so their keys
carry this digest of the sources that decide what is cached.  A file counts
as changed when its size or modification time does, as Python's own
bytecode cache judges a source changed: stat() of a hundred files, not a
read of a megabyte, on every start.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from . import __version__

PACKAGE = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=None)
def source_digest(*subpackages: str) -> str:
    """sha256 of pybpf's version and the name, size and mtime of the .py files in each subpackage ("trace",
    "elf", ...) and its folders."""
    digest = hashlib.sha256(__version__.encode())
    for sub in subpackages:
        for folder, folders, names in os.walk(os.path.join(PACKAGE, sub)):
            folders[:] = sorted(f for f in folders if f != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    stat = os.stat(os.path.join(folder, name))
                    digest.update(f"{os.path.relpath(folder, PACKAGE)}/{name} {stat.st_size} "
                                  f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()

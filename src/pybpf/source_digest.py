"""A digest of some of pybpf's own source files, for caches that must not outlive the code that filled them.

pybpftrace's object cache and the virtual kernel's verdict cache keep on disk
what a given version of the compiler, loader or verifier produced.  A version
number does not change while the code is worked on, so their keys carry the
digest of the sources that decide what is cached (about a millisecond for a
few hundred kilobytes).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from . import __version__

PACKAGE = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=None)
def source_digest(*subpackages: str) -> str:
    """sha256 of pybpf's version and the .py files in each subpackage ("trace", "elf", ...) and its folders."""
    digest = hashlib.sha256(__version__.encode())
    for sub in subpackages:
        top = os.path.join(PACKAGE, sub)
        for folder, folders, names in sorted(os.walk(top)):
            folders[:] = sorted(f for f in folders if f != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    digest.update(f"{os.path.relpath(folder, PACKAGE)}/{name}\0".encode())
                    with open(os.path.join(folder, name), "rb") as handle:
                        digest.update(handle.read())
    return digest.hexdigest()

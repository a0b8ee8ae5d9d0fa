"""The verifier's verdicts kept on disk: a program accepted once is not walked again (a virtual-kernel shortcut).

Linux verifies every program it loads.  The virtual kernel's verifier is
Python, and a bounded loop costs it a walk per iteration (a 5,000-iteration
printf loop: over a second), which a tracer pays again on every run of the
same script.  A `VirtualKernel(verdicts=VerdictCache(folder))` remembers the
programs its verifier accepted, by a key that holds everything the verdict
depends on:

- the verifier's own code (the digest of pybpf's version and the sources of
  `verifier`, `helpers`, `isa`, `maps`), so that any change to them verifies
  afresh;
- the instructions, program type, expected attach type, GPL compatibility of
  the license, and privilege;
- every map reference: its pc and what the verifier is told of the map
  (`VirtualKernel._map_facts`: type, sizes, flags, name, frozen contents,
  inner map), map identities numbered in order of first use;
- the program's BTF and func_info.

Only acceptances are kept, and only loads without a log (a log is the walk
itself); a refused program is verified every time and refused with its log.
The kernel's own verdict cache is off unless asked for: pybpftrace asks
(its object cache's folder), tests of the verifier never see one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from ...source_digest import source_digest

VERIFIER_SOURCES = ("verifier", "helpers", "isa", "maps")


def _relabel(facts: dict, ids: dict[int, int]) -> dict:
    """Map facts with the map's id replaced by its order of first use (ids differ from run to run)."""
    facts = dict(facts)
    facts["fd"] = ids.setdefault(facts["fd"], len(ids))
    return facts


class VerdictCache:
    """Accepted programs by key, one small file each in `folder` (the count of instructions processed)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def key(self, code: bytes, prog_type: int, expected_attach_type: int, gpl: bool, privileged: bool,
            maps: dict[int, dict], btf: dict) -> str:
        """The key of a load: `maps` is the verifier's map facts by lddw pc, `btf` verify()'s btf and func_info."""
        ids: dict[int, int] = {}
        described = [(pc, _relabel(facts, ids)) for pc, facts in sorted(maps.items())]
        blob = btf.get("btf")
        btf_key = (blob.type_data, blob.strings, btf.get("func_info")) if blob is not None else None
        data = pickle.dumps((source_digest(*VERIFIER_SOURCES), code, prog_type, expected_attach_type, gpl,
                             privileged, repr(described), btf_key))
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> int | None:
        """The instructions processed when the program of `key` was accepted, or None."""
        try:
            return int((self.folder / key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, processed: int) -> None:
        """Remember an acceptance; a folder that cannot be written leaves nothing remembered."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / f"{key}.{os.getpid()}"
            partial.write_text(str(processed))
            os.replace(partial, self.folder / key)  # whole or absent, for a concurrent reader
        except OSError:
            pass

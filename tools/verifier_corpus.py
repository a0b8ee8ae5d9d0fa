#!/usr/bin/env python3
"""Replay the Linux verifier's own selftests through pybpf's verifier.

The corpus (../shared/corpus/kernel_verifier) holds the test_verifier tests
(corpus.json) and the verifier_*.c programs (progs_corpus.json), and what
the 6.18 kernel did with each (kernel-6.18-*.json).  For every test the
kernel ran, this compares our verdict with the kernel's, checks the
expected log substrings, and counts unsafe accepts (the kernel rejected,
we accepted).

usage: verifier_corpus.py [CORPUS_DIR] [--mode priv|unpriv|all] [--only SUBSTR] [-v] [--show N]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pybpf.elf.btf import Btf
from pybpf.uapi import MapType
from pybpf.verifier import MapInfo, verify

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "kernel_verifier"
# test_verifier's map fixtures (tools/load_kernel.py MapFactory): kind -> (type, key, value, entries, flags).
FIXTURES = {
    "map_hash_8b": (MapType.BPF_MAP_TYPE_HASH, 8, 8, 1, 1),
    "map_hash_48b": (MapType.BPF_MAP_TYPE_HASH, 8, 48, 1, 1),
    "map_hash_16b": (MapType.BPF_MAP_TYPE_HASH, 8, 16, 1, 1),
    "map_array_48b": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 1, 0),
    "map_array_ro": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 1, 1 << 7),
    "map_array_wo": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 1, 1 << 8),
    "map_array_small": (MapType.BPF_MAP_TYPE_ARRAY, 4, 1, 1, 0),
    "prog1": (MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0),
    "prog2": (MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0),
    "map_in_map": (MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0),
    "cgroup_storage": (MapType.BPF_MAP_TYPE_CGROUP_STORAGE, 16, 64, 0, 0),
    "percpu_cgroup_storage": (MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 64, 0, 0),
    "map_sockmap": (MapType.BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, 0),
    "map_sockhash": (MapType.BPF_MAP_TYPE_SOCKHASH, 4, 4, 1, 0),
    "map_xskmap": (MapType.BPF_MAP_TYPE_XSKMAP, 4, 4, 1, 0),
    "map_stacktrace": (MapType.BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1, 0),
    "map_spin_lock": (MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0),
    "sk_storage_map": (MapType.BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, 1),
    "map_event_output": (MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0),
    "map_reuseport_array": (MapType.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1, 0),
    "map_ringbuf": (MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0),
    "map_timer": (MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0),
    "map_kptr": (MapType.BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0),
}
BPF_F_STRICT_ALIGNMENT = 1
BPF_F_SLEEPABLE = 16


@dataclass
class Outcome:
    name: str
    file: str
    mode: str
    kernel_loaded: bool
    accepted: bool
    errstr_ok: bool
    log: str

    @property
    def agrees(self) -> bool:
        return self.kernel_loaded == self.accepted

    @property
    def unsafe_accept(self) -> bool:
        return self.accepted and not self.kernel_loaded


def in_order(log: str, pieces: list[str]) -> bool:
    at = 0
    for piece in pieces:
        found = log.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def _fixture(kind: str, fd: int) -> MapInfo:
    mtype, key, value, entries, flags = FIXTURES[kind]
    info = MapInfo(mtype, key, value, entries, flags, fd=fd)
    if kind == "map_in_map":
        info.inner = MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1)
    return info


@dataclass
class Case:
    """One corpus test as the kernel loaded it in one mode."""

    name: str
    file: str
    code: bytes
    prog_type: int
    attach: int
    strict: bool
    maps: dict
    kernel_loaded: bool
    pieces: list[str]
    sleepable: bool = False
    btf: Btf | None = None
    func_info: tuple = ()
    fixups: dict = field(default_factory=dict)  # corpus.json: fixture kind -> insn indexes (for running it)
    runs: list = field(default_factory=list)  # [(data, expected retval)] the kernel checked with test_run


def old_style(directory: Path, mode: str):
    """corpus.json tests the kernel ran in `mode`, with what the kernel did."""
    corpus = json.loads((directory / "corpus.json").read_text())
    kernel = {r["index"]: r for r in json.loads((directory / f"kernel-6.18-{mode}.json").read_text())["results"]}
    for test in corpus["tests"]:
        result = kernel.get(test["index"])
        if result is None or result.get("status") == "SKIP" or "loaded" not in result:
            continue
        if test.get("insns_file"):
            continue
        code = bytearray(b"".join(bytes.fromhex(h) for h in test["insns"]))
        maps = {}
        for n, (kind, pcs) in enumerate(test["fixups"].items()):
            info = _fixture(kind, 100 + n)
            for pc in pcs:
                struct.pack_into("<i", code, pc * 8 + 4, info.fd)
                maps[pc] = info
        expect = test["expect_unpriv" if mode == "unpriv" else "expect_priv"]
        pieces = expect["errstr"].split("\t") if expect.get("errstr") else []
        runs = []
        if result["loaded"] and result.get("retvals") and test.get("retval_checked"):
            key = "retval_unpriv" if mode == "unpriv" else "retval"
            for run, got in zip(test["retvals"], result["retvals"]):
                runs.append((bytes.fromhex(run.get("data_hex") or "") or bytes(64), run.get(key, got), got))
        yield Case(test["name"], "corpus.json", bytes(code), test["prog_type_effective"],
                   test.get("expected_attach_type", 0), bool(test["flags"] & 2), maps, result["loaded"], pieces,
                   sleepable=bool(test["flags"] & BPF_F_SLEEPABLE), fixups=test["fixups"], runs=runs)


def new_style(directory: Path, mode: str):
    """progs_corpus.json tests the kernel ran in `mode`."""
    corpus = json.loads((directory / "progs_corpus.json").read_text())
    kernel = {r["index"]: r for r in
              json.loads((directory / f"kernel-6.18-progs-{mode}.json").read_text())["results"]}
    btfs: dict[str, Btf | None] = {}
    for test in corpus["tests"]:
        result = kernel.get(test["index"])
        if result is None or result.get("status") == "SKIP" or "loaded" not in result:
            continue
        obj = corpus["objects"][test["file"]]
        if test["file"] not in btfs:
            btfs[test["file"]] = Btf.parse(bytes.fromhex(obj["btf_hex"])) if obj.get("btf_hex") else None
        infos: dict[str, MapInfo] = {}
        maps = {}
        for ref in test.get("map_refs", []):
            name = ref["map"]
            if name not in infos:
                spec = obj["maps"][name]
                info = MapInfo(spec["type"], spec["key_size"], spec["value_size"], spec["max_entries"],
                               spec.get("map_flags", 0), name=name[:15] if not name.startswith(".") else "",
                               frozen=bool(spec.get("freeze")), fd=100 + len(infos))
                if spec.get("freeze") and spec.get("init_hex") is not None:
                    info.values = bytes.fromhex(spec["init_hex"])
                infos[name] = info
            maps[ref["insn"]] = infos[name]
        code = b"".join(bytes.fromhex(h) for h in test["insns"])
        spec = test["spec"][mode]
        runs = []
        if result["loaded"] and result.get("retval") is not None and spec.get("retval") is not None:
            runs.append((bytes(64), spec["retval"], result["retval"]))
        yield Case(test["name"], "progs_corpus.json", code, test["prog_type"], test.get("expected_attach_type", 0),
                   bool(test["spec"]["flags_set"] & BPF_F_STRICT_ALIGNMENT), maps, result["loaded"],
                   spec.get("msgs") or [], sleepable=bool(test.get("sec_flags", 0) & BPF_F_SLEEPABLE),
                   btf=btfs[test["file"]], func_info=tuple(tuple(f) for f in test.get("func_info") or ()),
                   runs=runs)


def cases(directory: Path = DEFAULT_DIR, modes=("priv", "unpriv"), only: str = ""):
    for mode in modes:
        for source in (old_style, new_style):
            for case in source(directory, mode):
                if not only or only in case.name:
                    yield mode, case


def check(case: Case, mode: str, limit: int = 1_000_000):
    return verify(case.code, case.prog_type, maps=case.maps, privileged=mode == "priv", log_level=1,
                  expected_attach_type=case.attach, strict_alignment=case.strict, complexity_limit=limit,
                  sleepable=case.sleepable, btf=case.btf, func_info=case.func_info)


def replay(directory: Path = DEFAULT_DIR, modes=("priv", "unpriv"), only: str = "",
           limit: int = 1_000_000) -> list[Outcome]:
    outcomes = []
    for mode, case in cases(directory, modes, only):
        result = check(case, mode, limit)
        errstr_ok = not case.pieces or in_order(result.log, case.pieces)
        outcomes.append(Outcome(case.name, case.file, mode, case.kernel_loaded, result.accepted, errstr_ok,
                                result.log))
    return outcomes


def summary(outcomes: list[Outcome]) -> list[str]:
    lines = []
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.file, o.mode), []).append(o)
    for (file, mode), group in sorted(groups.items()):
        n = len(group)
        agree = sum(o.agrees for o in group)
        rejects = [o for o in group if not o.kernel_loaded]
        unsafe = sum(o.unsafe_accept for o in group)
        msgs = [o for o in rejects if not o.accepted]
        msg_ok = sum(o.errstr_ok for o in msgs)
        lines.append(f"{file:18} {mode:6} verdicts {agree}/{n} ({100 * agree / max(n, 1):.1f}%)  "
                     f"unsafe accepts {unsafe}/{len(rejects)}  log substrings {msg_ok}/{len(msgs)}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--mode", choices=("priv", "unpriv", "all"), default="all")
    parser.add_argument("--only", default="")
    parser.add_argument("--limit", type=int, default=1_000_000, help="complexity limit (processed insns)")
    parser.add_argument("--show", type=int, default=0, help="print N disagreements with their logs")
    parser.add_argument("-v", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    modes = ("priv", "unpriv") if args.mode == "all" else (args.mode,)
    outcomes = replay(args.directory, modes, args.only, args.limit)
    for line in summary(outcomes):
        print(line)
    wrong = [o for o in outcomes if not o.agrees]
    if args.v:
        for o in wrong:
            print(f"{'UNSAFE ' if o.unsafe_accept else 'REFUSED'} {o.mode} {o.name}")
    for o in wrong[:args.show]:
        print(f"--- {o.mode} {o.name} (kernel {'accepted' if o.kernel_loaded else 'rejected'})")
        print("\n".join(o.log.splitlines()[-6:]))
    reasons = Counter(o.log.strip().splitlines()[-2][:60] if len(o.log.strip().splitlines()) > 1 else "?"
                      for o in wrong if not o.accepted)
    if args.v:
        print("\nwhy we refused what the kernel accepted:")
        for text, count in reasons.most_common(25):
            print(f"{count:5} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

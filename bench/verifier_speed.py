#!/usr/bin/env python3
"""pybpf's verifier against the Linux verifier: seconds to verify, per group of programs.

Groups:
- corpus: the test_verifier (corpus.json) and verifier_*.c (progs_corpus.json)
  programs the 6.18 kernel loaded in privileged mode and that use no map
  (so that both sides load the same bytes without map fixtures);
- scale: the corpus's fill_progs programs (scale tests 1 and 2, ld_dw test 5:
  each about a million instructions);
- loop 100k / loop 1M: a counting loop bounded at 100,000 iterations (within
  the 1M-insn complexity limit) and at 1,000,000 (beyond it: both reject);
- straight 4096: 4096 ALU instructions and an exit.

The kernel side is BPF_PROG_LOAD (log off) and is skipped, with the reason,
when bpf() is not available.  Each line prints both wall times, ours/kernel,
and our CPU time (steadier than wall time on a shared machine).

The corpus and loop 100k groups take about 10 seconds of our verifier;
loop 1M and scale run with --large (each a minute or more, because our
verifier processes about 100,000 insns per second against the kernel's
millions).

usage: python3 bench/verifier_speed.py [--large] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.verifier import verify

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parents[1] / "shared" / "corpus" / "kernel_verifier"
if not DEFAULT_CORPUS.exists():
    DEFAULT_CORPUS = Path("/work/shared/corpus/kernel_verifier")


def corpus(directory: Path) -> list[tuple[str, int, bytes, int]]:
    """(name, prog type, code, expected attach type) of the map-free programs the kernel loaded (priv)."""
    out = []
    old = json.loads((directory / "corpus.json").read_text())
    loaded = {r["index"] for r in json.loads((directory / "kernel-6.18-priv.json").read_text())["results"]
              if r.get("loaded")}
    for t in old["tests"]:
        if t["index"] in loaded and not t["fixups"] and not t.get("insns_file") and not t.get("kfunc"):
            out.append((t["name"], t["prog_type_effective"], b"".join(bytes.fromhex(h) for h in t["insns"]),
                        t.get("expected_attach_type", 0)))
    new = json.loads((directory / "progs_corpus.json").read_text())
    loaded = {r["index"] for r in json.loads((directory / "kernel-6.18-progs-priv.json").read_text())["results"]
              if r.get("loaded")}
    for t in new["tests"]:
        if t["index"] in loaded and not t.get("map_refs"):
            out.append((t["name"], t["prog_type"], b"".join(bytes.fromhex(h) for h in t["insns"]),
                        t.get("expected_attach_type", 0)))
    return out


def scale(directory: Path) -> list[tuple[str, int, bytes, int]]:
    old = json.loads((directory / "corpus.json").read_text())
    return [(t["name"], t["prog_type_effective"], (directory / "fill_progs" / t["insns_file"]).read_bytes(), 0)
            for t in old["tests"] if t.get("insns_file")]


def loop(n: int) -> list[tuple[str, int, bytes, int]]:
    text = f"r0 = 0\nr1 = 0\nloop:\nr0 += r1\nr1 += 1\nif r1 < {n} goto loop\nexit"
    return [(f"loop {n}", 1, encode(assemble(text, "llvm")), 0)]


def straight(n: int) -> list[tuple[str, int, bytes, int]]:
    text = "r0 = 0\n" + "r0 += 3\nr0 ^= 5\n" * ((n - 2) // 2) + "exit"
    return [(f"straight {n}", 1, encode(assemble(text, "llvm")), 0)]


def time_ours(progs) -> tuple[float, int, float]:
    """Wall seconds, programs accepted, CPU seconds."""
    start, cpu, accepted = time.perf_counter(), time.process_time(), 0
    for _, ptype, code, attach in progs:
        accepted += verify(code, ptype, expected_attach_type=attach).accepted
    return time.perf_counter() - start, accepted, time.process_time() - cpu


def time_kernel(progs) -> tuple[float, int]:
    start, accepted = time.perf_counter(), 0
    for _, ptype, code, attach in progs:
        try:
            loaded = syscall.prog_load(ptype, code, expected_attach_type=attach, log_size=0)
        except syscall.KernelError:
            continue
        accepted += 1
        syscall.close(loaded.fd)
    return time.perf_counter() - start, accepted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--large", action="store_true", help="add loop 1M and the million-instruction scale group")
    args = parser.parse_args(argv)
    groups = {"straight 4096": straight(4096), "loop 100k": loop(100_000)}
    if args.large:
        groups["loop 1M"] = loop(1_000_000)
    if args.corpus.exists():
        groups = {"corpus": corpus(args.corpus), **groups}
        if args.large:
            groups["scale"] = scale(args.corpus)
    else:
        print(f"corpus groups skipped: {args.corpus} does not exist")
    kernel_ok, reason = syscall.kernel_available()
    if not kernel_ok:
        print(f"kernel side skipped: {reason}")
    print(f"{'group':14} {'programs':>8} {'pybpf s':>9} {'accepted':>8} {'kernel s':>9} {'accepted':>8} {'ratio':>8} "
          f"{'pybpf cpu s':>11}")
    for name, progs in groups.items():
        ours, ours_ok, cpu = time_ours(progs)
        line = f"{name:14} {len(progs):8} {ours:9.3f} {ours_ok:8}"
        if kernel_ok:
            theirs, theirs_ok = time_kernel(progs)
            line += f" {theirs:9.3f} {theirs_ok:8} {ours / max(theirs, 1e-9):7.1f}x"
        else:
            line += f" {'':9} {'':8} {'':8}"
        print(f"{line} {cpu:11.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""pybpf's verifier against the live Linux verifier, on generated programs.

Each program from tests/support/vgen.py (seeds START..START+N-1) is loaded
into the running kernel (BPF_PROG_LOAD, privileged: we are root; with
kernel.unprivileged_bpf_disabled=2 no unprivileged load is possible, so
there is no unprivileged oracle) and verified by `pybpf.verifier.verify`
with the same map (created in the kernel; described by a MapInfo for ours).
The verdicts are compared; the report (markdown) counts them per template
and lists every disagreement with the program in kernel syntax, both
verdicts and the first line of each log.

usage: verifier_differential.py [-n N] [--start SEED] [--report FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import vgen  # noqa: E402

from pybpf.isa import encode  # noqa: E402
from pybpf.isa.disasm import disassemble  # noqa: E402
from pybpf.kernel.linux import syscall  # noqa: E402
from pybpf.verifier import MapInfo, verify  # noqa: E402

OUR_MAP_FD = 100


@dataclass
class Verdicts:
    gen: vgen.Generated
    kernel: bool
    ours: bool
    kernel_log: str
    our_log: str

    @property
    def agrees(self) -> bool:
        return self.kernel == self.ours

    @property
    def unsafe_accept(self) -> bool:
        return self.ours and not self.kernel


def _error_line(log: str) -> str:
    """The log's error: the line before "processed N insns" (or the last line)."""
    lines = [line for line in log.strip().splitlines() if line.strip()]
    for n, line in enumerate(lines):
        if line.startswith("processed ") and n:
            return lines[n - 1]
    return lines[-1] if lines else ""


def ours(gen: vgen.Generated) -> tuple[bool, str]:
    maps = {}
    if gen.map_kind:
        mtype, key, value, entries = vgen.MAPS[gen.map_kind]
        maps = {pc: MapInfo(mtype, key, value, entries, 0, fd=OUR_MAP_FD) for pc in gen.map_pcs()}
    result = verify(gen.with_map_fd(OUR_MAP_FD), gen.prog_type, maps=maps, log_level=1)
    return result.accepted, result.log


def kernel(gen: vgen.Generated) -> tuple[bool, str]:
    fd = None
    if gen.map_kind:
        fd = syscall.map_create(*vgen.MAPS[gen.map_kind])
    try:
        loaded = syscall.prog_load(gen.prog_type, encode(gen.with_map_fd(fd or 0)))
    except syscall.KernelError as err:
        return False, err.log or str(err)
    finally:
        if fd is not None:
            syscall.close(fd)
    syscall.close(loaded.fd)
    return True, ""


def compare(gen: vgen.Generated) -> Verdicts:
    k, klog = kernel(gen)
    o, olog = ours(gen)
    return Verdicts(gen, k, o, klog, olog)


def run(n: int, start: int = 0) -> list[Verdicts]:
    return [compare(vgen.program(seed)) for seed in range(start, start + n)]


def known(path: Path = REPO / "tests" / "verifier" / "differential_known.txt") -> dict[str, str]:
    """digest -> reason, from the known-disagreements file (`# comments`, `digest reason...`)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, _, reason = line.partition(" ")
            out[digest] = reason.strip()
    return out


def report(results: list[Verdicts]) -> str:
    n = len(results)
    agree = sum(r.agrees for r in results)
    lines = ["# Verifier differential: pybpf against Linux", "",
             f"{n} programs, kernel accepted {sum(r.kernel for r in results)}, "
             f"verdicts agree {agree}/{n} ({100 * agree / max(n, 1):.1f}%), "
             f"kernel rejects and we accept: {sum(r.unsafe_accept for r in results)}, "
             f"we reject and the kernel accepts: {sum(r.kernel and not r.ours for r in results)}", "",
             "| template | programs | kernel accepts | agree | kernel rejects, we accept | we reject, kernel accepts |",
             "|---|---|---|---|---|---|"]
    by_template: dict[str, list[Verdicts]] = {}
    for r in results:
        by_template.setdefault(r.gen.template, []).append(r)
    for name, group in sorted(by_template.items()):
        lines.append(f"| {name} | {len(group)} | {sum(r.kernel for r in group)} | {sum(r.agrees for r in group)} | "
                     f"{sum(r.unsafe_accept for r in group)} | {sum(r.kernel and not r.ours for r in group)} |")
    causes = Counter(("unsafe accept" if r.unsafe_accept else "refused", _error_line(r.kernel_log if r.unsafe_accept
                                                                                      else r.our_log))
                     for r in results if not r.agrees)
    if causes:
        lines += ["", "## Disagreements by first error line", "", "| kind | error (kernel's for an unsafe accept, "
                  "ours for a refusal) | count |", "|---|---|---|"]
        lines += [f"| {kind} | `{err}` | {count} |" for (kind, err), count in causes.most_common()]
    wrong = [r for r in results if not r.agrees]
    if wrong:
        lines += ["", "## Every disagreement", ""]
    for r in wrong:
        g = r.gen
        lines += [f"### seed {g.seed} digest {g.digest} ({g.template}, prog type {g.prog_type}, map {g.map_kind})", "",
                  f"- kernel: {'accepted' if r.kernel else 'rejected'}: `{_error_line(r.kernel_log)}`",
                  f"- pybpf: {'accepted' if r.ours else 'rejected'}: `{_error_line(r.our_log)}`", "", "```",
                  *disassemble(g.insns, "kernel"), "```", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="programs to generate")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--report", type=Path, help="write the markdown report here (default: stdout)")
    args = parser.parse_args(argv)
    ok, reason = syscall.kernel_available()
    if not ok:
        print(f"verifier_differential: needs the Linux kernel's bpf(): {reason}", file=sys.stderr)
        return 2
    text = report(run(args.n, args.start))
    if args.report:
        args.report.write_text(text)
        print(text.split("\n\n")[1])
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

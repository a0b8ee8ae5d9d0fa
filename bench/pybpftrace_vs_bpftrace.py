"""pybpftrace (virtual kernel) next to bpftrace 0.17 (Linux) on the same machine, in the same run.

Run: python3 bench/pybpftrace_vs_bpftrace.py [--runs N] [--events N]

For each case both tools run the same script as a fresh process, N times;
the figure is the median wall time and the largest peak RSS of those runs.

| case | what it times |
|---|---|
| exit | `BEGIN { exit(); }`: start-up, compile (cached for pybpftrace after the first run), attach, exit |
| hist+printf | a BEGIN loop filling a hist and printing lines, maps printed at exit |
| first output | from process start to the first printf line on stdout |
| printf events | N printf records from one BEGIN loop; events per second: the extra lines over the extra time against the first-output case (the same script without the loop), the two run alternately, median of the pairs |

Besides wall time, each case's CPU time (user + system of the process, its
median) is printed: on a machine shared with other work, wall time mostly
measures the wait for a CPU, CPU time what the tool itself costs.

pybpftrace runs with its object cache and Python's bytecode cache warm (one
untimed run first, PYTHONDONTWRITEBYTECODE unset), as a user's second run of
a script does; `--cold` clears the object cache before each run.
bpftrace needs root and the kernel's bpf(); without them its column says why.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Runs one command and prints its wall time, CPU time and peak RSS (the only child of this process, so RUSAGE_CHILDREN
# is its own).
MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
first = None
lines = 0
for line in proc.stdout:
    if first is None and line.startswith("out"):
        first = time.perf_counter() - start
    lines += line.startswith("out")
err = proc.stderr.read()
rc = proc.wait()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "first": first, "lines": lines, "rc": rc, "err": err[-300:],
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}))
"""


def scripts(events: int) -> dict[str, str]:
    return {
        "exit": "BEGIN { exit(); }",
        "hist+printf": 'BEGIN { $i = 0; while ($i < 200) { @h = hist($i * 37); '
                       'if ($i % 50 == 0) { printf("out %d\\n", $i); } $i++; } exit(); }',
        "first output": 'BEGIN { printf("out first\\n"); exit(); }',
        "printf events": f'BEGIN {{ $i = 0; while ($i < {events}) {{ printf("out %d\\n", $i); $i++; }} exit(); }}',
    }


def sample(argv: list[str], before=None) -> dict:
    """One run of a command: wall time, time to the first line, lines, CPU time, peak RSS, exit status."""
    if before:
        before()
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def failure(samples: list[dict]) -> dict | None:
    failed = [s for s in samples if s["rc"] != 0]
    if failed:
        return {"error": f"exit {failed[0]['rc']}: {failed[0]['err'].strip().splitlines()[-1:]}"}
    return None


def measure(argv: list[str], runs: int, before=None) -> dict:
    samples = [sample(argv, before) for _ in range(runs)]
    if failure(samples):
        return failure(samples)
    firsts = [s["first"] for s in samples if s["first"] is not None]
    return {"wall": statistics.median(s["wall"] for s in samples),
            "cpu": statistics.median(s["cpu"] for s in samples),
            "first": statistics.median(firsts) if firsts else None,
            "lines": samples[0]["lines"],
            "rss_mib": max(s["rss_kib"] for s in samples) / 1024}


def event_rate(base: list[str], events: list[str], runs: int, before=None) -> dict:
    """printf events per second: the events case against the first-output case, which differs from it only by
    its loop, run alternately (a pair at a time, so that the machine's load changes little between the two);
    the median over the pairs of the extra lines over the extra wall time, and over the extra CPU time."""
    pairs = [(sample(base, before), sample(events, before)) for _ in range(runs)]
    error = failure([s for pair in pairs for s in pair])
    if error:
        return error
    extra = [(run["lines"] - first["lines"], run["wall"] - first["wall"], run["cpu"] - first["cpu"])
             for first, run in pairs]
    return {"lines": pairs[0][1]["lines"],
            "wall": statistics.median(lines / max(wall, 1e-3) for lines, wall, _ in extra),
            "cpu": statistics.median(lines / max(cpu, 1e-3) for lines, _, cpu in extra)}


def bpftrace_missing() -> str | None:
    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed (apt install bpftrace)"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=5000, help="printf records in the events case")
    parser.add_argument("--cold", action="store_true", help="clear pybpftrace's object cache before every run")
    args = parser.parse_args()

    cache = tempfile.mkdtemp(prefix="pybpftrace-bench-cache-")
    os.environ["XDG_CACHE_HOME"] = cache  # pybpftrace keeps its objects under $XDG_CACHE_HOME
    # Python's own cache of compiled modules, as a user's second run has it (some shells set this off)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    clear = (lambda: (shutil.rmtree(cache, ignore_errors=True), os.makedirs(cache))) if args.cold else None
    pybpftrace = [sys.executable, "-m", "pybpf.cli.pybpftrace"]
    missing = bpftrace_missing()

    results = {}
    for case, script in scripts(args.events).items():
        subprocess.run([*pybpftrace, "-e", script], capture_output=True)  # warm the cache (and the OS's)
        ours = measure([*pybpftrace, "-e", script], args.runs, clear)
        theirs = {"error": missing} if missing else measure(["bpftrace", "-e", script], args.runs)
        results[case] = (ours, theirs)

    print(f"pybpftrace {'cold' if args.cold else 'cached'} (virtual kernel) vs bpftrace 0.17 (Linux), "
          f"median of {args.runs} runs\n")
    print(f"{'case':<15} {'pybpftrace':>12} {'bpftrace':>12} {'ratio':>7}   {'peak MiB':>9} {'bpftrace':>9} {'ratio':>6}")
    for case, (ours, theirs) in results.items():
        if "error" in ours:
            print(f"{case:<15} pybpftrace failed: {ours['error']}")
            continue
        key = "first" if case == "first output" else "wall"
        if "error" in theirs:
            print(f"{case:<15} {ours[key] * 1e3:>10.1f}ms {'-':>12} {'-':>7}   {ours['rss_mib']:>9.1f}"
                  f"   (bpftrace: {theirs['error']})")
            continue
        print(f"{case:<15} {ours[key] * 1e3:>10.1f}ms {theirs[key] * 1e3:>10.1f}ms {ours[key] / theirs[key]:>6.2f}x"
              f"   {ours['rss_mib']:>9.1f} {theirs['rss_mib']:>9.1f} {ours['rss_mib'] / theirs['rss_mib']:>5.2f}x")

    print(f"\n{'CPU time':<15} {'pybpftrace':>12} {'bpftrace':>12} {'ratio':>7}")
    for case, (ours, theirs) in results.items():
        if "error" in ours or "error" in theirs:
            continue
        print(f"{case:<15} {ours['cpu'] * 1e3:>10.1f}ms {theirs['cpu'] * 1e3:>10.1f}ms "
              f"{ours['cpu'] / theirs['cpu']:>6.2f}x")

    print()
    first, events = scripts(args.events)["first output"], scripts(args.events)["printf events"]
    for name, command in (("pybpftrace", pybpftrace), ("bpftrace", None if missing else ["bpftrace"])):
        if command is None:
            continue
        rate = event_rate([*command, "-e", first], [*command, "-e", events], args.runs,
                          clear if command is pybpftrace else None)
        if "error" in rate:
            print(f"{name:<11} printf events: {rate['error']}")
            continue
        print(f"{name:<11} printf events: {rate['lines']} of {args.events} lines, {rate['wall']:,.0f} events/s of "
              f"wall time, {rate['cpu']:,.0f} of CPU time (over the first-output case, alternated, median of pairs)")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Every execution engine vs. the Linux JIT on micro-benchmarks (bpf-benchmark / llvmbpf style).

Run: python3 bench/engines.py [--min-time SECONDS] [--repeat N] [--only NAME] [--cpu-time]

Each program of bench/engines_programs.py is loaded as XDP into the virtual
kernel once per engine of `pybpf.vm.engines.ENGINES` (a new engine joins by
its entry there) and into the Linux kernel, and run by BPF_PROG_TEST_RUN on
the same packet.  Per program and engine: ns per run (best mean of 15
test_run calls with `repeat` sized to --min-time), ns per executed
instruction (the reference interpreter's step count), the compile time
(prog_load and the first run, with the translation caches emptied; the
tiered engine's is its first tier's) and the ratio to the Linux JIT; then geometric
means over all programs and over the loop programs.  All engines and the
kernel must return the same r0 (low 32 bits) and the same packet.  The
kernel columns are skipped, with the reason, where bpf() is not usable.
Native code runs as prog_load builds it: unchecked, since its verifier
accepted the program.  The loops whose bodies branch on loaded values (log2,
primes, switch) take our verifier seconds to load, where Linux takes
milliseconds: the compile column shows it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines_programs import LOOPS, PROGRAMS, program  # noqa: E402

from pybpf.isa import encode  # noqa: E402
from pybpf.kernel.linux import syscall  # noqa: E402
from pybpf.kernel.virtual import VirtualKernel  # noqa: E402
from pybpf.uapi import MapType, ProgType  # noqa: E402
from pybpf.vm.engines import ENGINES, clear_caches  # noqa: E402

XDP = ProgType.BPF_PROG_TYPE_XDP

SAMPLES = 15  # test_run calls per program and engine; the best mean counts (the machine is shared)


def _cpu_timed(run):
    """run, with duration_ns replaced by this thread's CPU time per run (what other jobs take is not counted)."""
    def timed(repeat: int):
        start = time.thread_time_ns()
        result = run(repeat)
        return dataclasses.replace(result, duration_ns=(time.thread_time_ns() - start) // max(repeat, 1))
    return timed


def _best(run, min_time: float, cpu_time: bool = False) -> tuple[object, float]:
    """(result, best mean ns per run) of SAMPLES calls with repeat sized so that they take about min_time."""
    run = _cpu_timed(run) if cpu_time else run
    result = run(1)
    run(100)
    once = max(run(100).duration_ns, 1) / 1e9
    repeat = max(1, int(min_time / SAMPLES / once))
    best = min(run(repeat).duration_ns for _ in range(SAMPLES))
    return result, float(max(best, 1))


def time_engine(name: str, source: str, packet: bytes, min_time: float, cpu_time: bool = False):
    """(retval, data_out, ns per run, steps, compile ns) of one program on one engine."""
    kernel = VirtualKernel(ncpus=1)
    counts = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 8)
    hashes = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 8)
    insns = program(source, counts, hashes)
    clear_caches()
    start = time.perf_counter_ns()
    fd = kernel.prog_load(XDP, insns, engine=name).fd
    kernel.prog_test_run(fd, packet)  # the native engine compiles before its first run
    compile_ns = time.perf_counter_ns() - start
    if name == "tiered":  # steady state: the runs that make the program hot (a test_run's repeat counts whole)
        from pybpf.vm.tiered import HOT_RUNS
        kernel.prog_test_run(fd, packet, repeat=HOT_RUNS)
    result, ns = _best(lambda repeat: kernel.prog_test_run(fd, packet, repeat=repeat), min_time, cpu_time)
    kernel.prog_test_run(fd, packet)
    steps = kernel.info(fd)["last_run_insns"]  # 0 where the engine does not count (native, unchecked)
    return result.retval, result.data_out, ns, steps, compile_ns


def time_kernel(source: str, packet: bytes, repeat: int):
    """(retval, data_out, best mean ns per run over SAMPLES calls, jited) on the Linux kernel."""
    counts = syscall.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 8)
    hashes = syscall.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 8)
    try:
        loaded = syscall.prog_load(XDP, encode(program(source, counts, hashes)))
        try:
            jited = syscall.prog_info(loaded.fd).jited_prog_len > 0
            runs = [syscall.prog_test_run(loaded.fd, packet, repeat=repeat) for _ in range(SAMPLES)]
            return runs[0].retval, runs[0].data_out, float(max(min(r.duration_ns for r in runs), 1)), jited
        finally:
            syscall.close(loaded.fd)
    finally:
        syscall.close(counts)
        syscall.close(hashes)


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=0.6, help="seconds of runs per program and engine")
    parser.add_argument("--repeat", type=int, default=1000, help="BPF_PROG_TEST_RUN repeat count on Linux")
    parser.add_argument("--only", help="run only the programs whose name contains this")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the virtual kernel's runs by this thread's CPU time, not the wall clock "
                             "(steadier on a loaded machine)")
    args = parser.parse_args()
    available, reason = syscall.kernel_available()
    names = list(ENGINES)
    print(f"engines {', '.join(names)} (virtual kernel, XDP test_run) vs. the Linux JIT (BPF_PROG_TEST_RUN)")
    if not available:
        print(f"kernel columns skipped: {reason}")
    header = f"{'program':24} {'engine':9} {'insns':>6} {'ns/run':>11} {'ns/insn':>8} {'compile us':>11} {'/linux':>8}"
    print(header)
    print("-" * len(header))
    per_engine: dict[str, dict[str, tuple[float, float, float]]] = {n: {} for n in names}
    kernel_ns: dict[str, float] = {}
    for title, (source, packet) in PROGRAMS.items():
        if args.only and args.only not in title:
            continue
        linux = None
        if available:
            try:
                linux = time_kernel(source, packet, args.repeat)
            except syscall.KernelError as err:
                print(f"{title:24} {'linux':9} skipped: {str(err).splitlines()[0]}")
        reference, steps = None, 0
        for name in names:
            retval, data_out, ns, counted, compile_ns = time_engine(name, source, packet, args.min_time,
                                                                    args.cpu_time)
            steps = counted or steps  # every engine executes the reference interpreter's instructions
            if reference is None:
                reference = retval, data_out
            elif (retval, data_out) != reference:
                raise SystemExit(f"{title}: {name} returns {retval:#x}, the reference {reference[0]:#x}")
            ratio = ""
            if linux is not None:
                if (linux[0], linux[1]) != reference:
                    raise SystemExit(f"{title}: Linux returns {linux[0]:#x}, pybpf {reference[0]:#x}")
                ratio = f"{ns / linux[2]:7.2f}x"
                kernel_ns[title] = linux[2]
            per_engine[name][title] = ns, ns / steps, compile_ns
            print(f"{title:24} {name:9} {steps:6d} {ns:11.0f} {ns / steps:8.1f} {compile_ns / 1e3:11.0f} {ratio:>8}")
        if linux is not None:
            print(f"{title:24} {'linux':9} {'':6} {linux[2]:11.0f} {linux[2] / steps:8.2f} {'':11} "
                  f"{'' if linux[3] else '(not JIT-compiled)'}")
    print()
    print("geometric means")
    for name in names:
        rows = per_engine[name]
        loops = [t for t in rows if t in LOOPS]
        line = (f"  {name:9} ns/run {geomean([r[0] for r in rows.values()]):10.0f}  "
                f"ns/insn (loop programs) {geomean([rows[t][1] for t in loops]):7.1f}  "
                f"compile us {geomean([r[2] / 1e3 for r in rows.values()]):7.0f}")
        with_kernel = [t for t in rows if t in kernel_ns]
        if with_kernel:
            line += f"  vs linux {geomean([rows[t][0] / kernel_ns[t] for t in with_kernel]):7.2f}x"
        print(line)
    if kernel_ns:
        print(f"  {'linux':9} ns/run {geomean(list(kernel_ns.values())):10.1f}")


if __name__ == "__main__":
    main()

"""Overhead of a counting probe on a Python function, per engine, next to cProfile on the same workload.

Run: python3 bench/python_probe_overhead.py [--calls N]

The workload calls a small function N times.  It is timed bare, with a BPF
program attached to the function's entry that counts calls in an array map
(once per engine of `pybpf.vm.engines.ENGINES`: the program is loaded with
`engine=`; prog_load verifies it, so native code runs without bounds checks),
and under cProfile.  Printed: ns per call for
each, the added cost per call relative to the bare run, and the slowdown.
"""

from __future__ import annotations

import argparse
import cProfile
import time

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm.engines import ENGINES


def target(a, b):
    return a + b


def workload(calls: int) -> float:
    start = time.perf_counter_ns()
    for i in range(calls):
        target(i, 1)
    return (time.perf_counter_ns() - start) / calls


def probed(engine: str, calls: int) -> tuple[float, str]:
    """(ns per call with the counting probe on `engine`, the engine prog info names after the runs)."""
    kernel = VirtualKernel()
    counts = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_KPROBE, assemble(f"""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{counts}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
    out:
        r0 = 0
        exit
    """, helper_id=helper_id), engine=engine)
    link = kernel.link_create(prog.fd, f"pyfunc:{__name__}:target")
    ns = min(workload(calls) for _ in range(3))
    kernel.close(link)
    counted = int.from_bytes(kernel.map_lookup(counts, bytes(4)), "little")
    assert counted == 3 * calls, counted
    return ns, kernel.info(prog.fd)["engine"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    bare = min(workload(args.calls) for _ in range(3))
    rows = [("bare", bare)]
    for engine in ENGINES:
        ns, ran = probed(engine, args.calls)
        rows.append((f"counting BPF probe ({engine}{'' if ran == engine else ' -> ' + ran})", ns))
    profiler = cProfile.Profile()
    profiler.enable()
    profiled = workload(args.calls)
    profiler.disable()
    rows.append(("cProfile", profiled))

    print(f"{'workload':44} {'ns/call':>10} {'added ns/call':>14} {'slowdown':>9}")
    for name, value in rows:
        print(f"{name:44} {value:10.0f} {value - bare:14.0f} {value / bare:8.1f}x")


if __name__ == "__main__":
    main()

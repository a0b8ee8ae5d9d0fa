"""Ring buffer producers on every engine vs. the Linux JIT: reserve + write + submit, once a run and in a loop.

Run: python3 bench/ringbuf_engines.py [--min-time SECONDS] [--only NAME]

A separate bench from bench/engines.py because a producer needs a consumer:
there, `repeat` runs back to back would fill any ring and then time the
full-ring path.  Here each sample empties the ring (not timed), then times
one BPF_PROG_TEST_RUN whose `repeat` fits in the 16 MiB ring, and checks
that nothing was dropped.  Per program and engine: ns per run and per
record, the virtual kernel's runs timed by this thread's CPU time (the
machine is shared), Linux's by the kernel's own `duration`; the best of
SAMPLES.  Every engine and the kernel must produce the same records.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pybpf.helpers import helper_id  # noqa: E402
from pybpf.isa import encode  # noqa: E402
from pybpf.isa.asm import assemble  # noqa: E402
from pybpf.kernel.linux import syscall  # noqa: E402
from pybpf.kernel.virtual import VirtualKernel  # noqa: E402
from pybpf.uapi import MapType, ProgType  # noqa: E402
from pybpf.vm.engines import ENGINES  # noqa: E402

SOCKET_FILTER = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
RING = 1 << 24
SAMPLES = 9
RECORD = """
    r1 = map[fd:{ring}] ll
    r2 = 16
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto done
    *(u64 *)(r0 + 0) = r6
    r1 = 0x1234
    *(u64 *)(r0 + 8) = r1
    r1 = r0
    r2 = {flags}
    call bpf_ringbuf_submit
"""
# name -> (source, records a run); r6 counts the records of a run
PROGRAMS = {
    "one record a run": ("r6 = 0\n" + RECORD + "done:\n    r0 = 0\n    exit\n", 1),
    "16 records a run (loop)": ("r6 = 0\nloop:\n" + RECORD + """
    r6 += 1
    if r6 < 16 goto loop
done:
    r0 = r6
    exit
""", 16),
}


def program(source: str, ring: int, flags: int):
    return assemble(source.format(ring=ring, flags=flags), helper_id=helper_id)


def repeat_for(records: int) -> int:
    """Runs that fit in the ring twice over (each record is 16 bytes and the header)."""
    return RING // 2 // (24 * records)


def time_engine(name: str, source: str, records: int, min_time: float, flags: int):
    """(ns per run, the first records) on one engine of the virtual kernel."""
    kernel = VirtualKernel(ncpus=1)
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, RING)
    prog = kernel.prog_load(SOCKET_FILTER, program(source, fd, flags), engine=name).fd
    ring = kernel.map(fd)
    ctypes.memset(ring.data.address, 0, ring.data.size)  # fault its pages in, as Linux allocates them at creation
    kernel.prog_test_run(prog, bytes(64))
    first = list(ring.records())
    if name == "tiered":
        from pybpf.vm.tiered import HOT_RUNS
        kernel.prog_test_run(prog, bytes(64), repeat=HOT_RUNS)
    started = time.thread_time_ns()
    kernel.prog_test_run(prog, bytes(64), repeat=100)
    once = max(time.thread_time_ns() - started, 1) / 100
    repeat = max(1, min(repeat_for(records), int(min_time * 1e9 / SAMPLES / once)))
    best = float("inf")
    ring.consume(lambda data: None)
    for _ in range(SAMPLES):
        start = time.thread_time_ns()
        kernel.prog_test_run(prog, bytes(64), repeat=repeat)
        best = min(best, (time.thread_time_ns() - start) / repeat)
        assert ring.consume(lambda data: None) == repeat * records and ring.dropped == 0, f"{name} lost records"
    return best, first


def time_kernel(source: str, records: int, flags: int):
    """(ns per run, the first records) on the Linux kernel."""
    from pybpf.kernel.linux.ringbuf import RingBuffer

    fd = syscall.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, RING)
    try:
        loaded = syscall.prog_load(SOCKET_FILTER, encode(program(source, fd, flags)))
        try:
            first = []
            with RingBuffer(fd, RING, lambda data: len(first) < records and first.append(data)) as reader:
                syscall.prog_test_run(loaded.fd, bytes(64))
                reader.consume()
                best = float("inf")
                for _ in range(SAMPLES):
                    reader.consume()
                    run = syscall.prog_test_run(loaded.fd, bytes(64), repeat=repeat_for(records))
                    best = min(best, run.duration_ns)
                    assert reader.consume() == repeat_for(records) * records, "Linux dropped records"
            return float(max(best, 1)), first
        finally:
            syscall.close(loaded.fd)
    finally:
        syscall.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=0.6, help="seconds of runs per program and engine")
    parser.add_argument("--only", help="run only the programs whose name contains this")
    parser.add_argument("--no-wakeup", action="store_true", help="submit with BPF_RB_NO_WAKEUP")
    args = parser.parse_args()
    flags = 1 if args.no_wakeup else 0
    available, reason = syscall.kernel_available()
    if not available:
        print(f"kernel rows skipped: {reason}")
    print(f"{'program':26} {'engine':9} {'ns/run':>10} {'ns/record':>10} {'/linux':>8}")
    for title, (source, records) in PROGRAMS.items():
        if args.only and args.only not in title:
            continue
        linux = time_kernel(source, records, flags) if available else None
        reference = linux[1] if linux else None
        for name in ENGINES:
            ns, first = time_engine(name, source, records, args.min_time, flags)
            if reference is None:
                reference = first
            elif first != reference:
                raise SystemExit(f"{title}: {name} wrote other records than the reference")
            ratio = f"{ns / linux[0]:7.2f}x" if linux else ""
            print(f"{title:26} {name:9} {ns:10.0f} {ns / records:10.1f} {ratio:>8}")
        if linux:
            print(f"{title:26} {'linux':9} {linux[0]:10.0f} {linux[0] / records:10.1f}")


if __name__ == "__main__":
    main()

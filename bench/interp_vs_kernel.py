"""Reference interpreter vs. the Linux JIT on loop-heavy programs.

Run: python3 bench/interp_vs_kernel.py [--repeat N] [--min-time SECONDS]

For each program: the instructions it executes (`RunResult.steps` of
`pybpf.vm.run`), the interpreter's nanoseconds per run and per executed
instruction (best run of those fitting in --min-time, checking and
compiling included), and the kernel's nanoseconds per run through
BPF_PROG_TEST_RUN with `repeat` (the `duration` field, best of 5 calls),
per instruction, and the ratio interpreter/kernel.  Both sides must return
the same r0 (low 32 bits: all test_run reports).  The peer is measured in
the same run; its column is skipped, with the reason, where bpf() is not
usable.  The kernel runs the program on a 64-byte packet as a socket
filter; its JIT is checked with BPF_OBJ_GET_INFO_BY_FD (jited_prog_len).
"""

from __future__ import annotations

import argparse
import time

from pybpf import vm
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.uapi import ProgType

PEER = "Linux JIT via BPF_PROG_TEST_RUN"

# Loop bounds are constants, so the verifier walks every iteration: its cost
# (not the run's) limits them.  Trial division up to n rather than sqrt(n)
# already fails at n = 150 ("The sequence of 8193 jumps is too complex").
PROGRAMS = {
    "count loop": """
        r0 = 0
        r2 = 20000
    loop:
        r0 += 1
        r2 -= 1
        if r2 != 0 goto loop
        exit
    """,
    "stack array fill + sum": """
        r2 = 0
    fill:
        r3 = r10
        r3 += -64
        r4 = r2
        r4 &= 7
        r4 <<= 3
        r3 += r4
        *(u64 *)(r3 + 0) = r2
        r2 += 1
        if r2 < 4000 goto fill
        r0 = 0
        r2 = 0
    sum:
        r3 = r10
        r3 += -64
        r4 = r2
        r4 &= 7
        r4 <<= 3
        r3 += r4
        r5 = *(u64 *)(r3 + 0)
        r0 += r5
        r2 += 1
        if r2 < 4000 goto sum
        exit
    """,
    "primes below 500 by division": """
        r0 = 0
        r6 = 2
    outer:
        r7 = 2
    inner:
        r9 = r7
        r9 *= r7
        if r9 > r6 goto prime
        r8 = r6
        r8 %= r7
        if r8 == 0 goto next
        r7 += 1
        goto inner
    prime:
        r0 += 1
    next:
        r6 += 1
        if r6 < 500 goto outer
        exit
    """,
    "xor/bswap checksum": """
        r0 = 0
        r2 = 0
    loop:
        r3 = r2
        r3 *= 0x9e3779b1
        r3 = be32 r3
        r0 ^= r3
        r0 = bswap64 r0
        r0 += r2
        r2 += 1
        if r2 < 5000 goto loop
        exit
    """,
    "bounded loop with a call": """
        r6 = 0
        r7 = 0
    loop:
        r1 = r6
        call square
        r7 += r0
        r6 += 1
        if r6 < 3000 goto loop
        r0 = r7
        exit
    square:
        r0 = r1
        r0 *= r1
        exit
    """,
}


def time_interp(insns, min_seconds: float) -> tuple[vm.RunResult, float]:
    """The result of `vm.run(insns)` and its best time in ns over the runs that fit in min_seconds."""
    best, deadline = float("inf"), time.perf_counter() + min_seconds
    while True:
        start = time.perf_counter()
        result = vm.run(insns)
        best = min(best, time.perf_counter() - start)
        if time.perf_counter() >= deadline:
            return result, best * 1e9


def time_kernel(code: bytes, repeat: int) -> tuple[int, float, int]:
    """(retval, best mean ns per run over 5 test_run calls, jited_prog_len)."""
    loaded = syscall.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, code)
    try:
        jited = syscall.prog_info(loaded.fd).jited_prog_len
        runs = [syscall.prog_test_run(loaded.fd, bytes(64), repeat=repeat) for _ in range(5)]
        return runs[0].retval, float(min(run.duration_ns for run in runs)), jited
    finally:
        syscall.close(loaded.fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="BPF_PROG_TEST_RUN repeat count")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of interpreter runs per program")
    args = parser.parse_args()
    available, reason = syscall.kernel_available()
    print(f"reference interpreter (pybpf.vm.run) vs. {PEER}")
    if not available:
        print(f"kernel columns skipped: {reason}")
    print()
    header = (f"{'program':30} {'insns':>7} {'interp ns/run':>14} {'ns/insn':>8} "
              f"{'kernel ns/run':>14} {'ns/insn':>8} {'interp/kernel':>14}")
    print(header)
    print("-" * len(header))
    not_jited = []
    for name, source in PROGRAMS.items():
        insns = assemble(source)
        result, interp_ns = time_interp(insns, args.min_time)
        steps = result.steps
        row = f"{name:30} {steps:7d} {interp_ns:14.0f} {interp_ns / steps:8.1f}"
        if available:
            retval, kernel_ns, jited = time_kernel(encode(insns), args.repeat)
            if retval != result.r0 & 0xFFFFFFFF:
                raise SystemExit(f"{name}: the interpreter returns {result.r0:#x}, the kernel {retval:#x}")
            if not jited:
                not_jited.append(name)
            kernel_ns = max(kernel_ns, 1.0)  # duration is whole ns; a very short run may read 0
            row += f" {kernel_ns:14.0f} {kernel_ns / steps:8.2f} {interp_ns / kernel_ns:13.0f}x"
        else:
            row += f" {'-':>14} {'-':>8} {'-':>14}"
        print(row)
    if not_jited:
        print(f"\nnote: not JIT-compiled (the kernel's interpreter ran them): {', '.join(not_jited)}")


if __name__ == "__main__":
    main()

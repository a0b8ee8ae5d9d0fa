"""Reference interpreter vs. the Linux JIT on loop-heavy programs.

Run: python3 bench/interp_vs_kernel.py [--repeat N]

For each program: the instructions it executes (counted by the interpreter),
the interpreter's nanoseconds per executed instruction, and the kernel's
time per run through BPF_PROG_TEST_RUN with `repeat` (its JIT on x86-64),
per instruction, and the ratio.  The peer is measured in the same run; the
kernel columns are skipped, with the reason, where bpf() is not usable.
"""

from __future__ import annotations

import argparse
import time

from pybpf import vm
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.uapi import ProgType

PROGRAMS = {
    "count loop (3 insns/iter)": """
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
    "primes below 50 by division": """
        r0 = 0
        r6 = 2
    outer:
        r7 = 2
    inner:
        if r7 >= r6 goto prime
        r8 = r6
        r8 %= r7
        if r8 == 0 goto next
        r7 += 1
        goto inner
    prime:
        r0 += 1
    next:
        r6 += 1
        if r6 < 50 goto outer
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


def time_interp(insns, min_seconds: float = 0.3) -> tuple[int, float]:
    interp = vm.Interpreter(insns)
    runs, start = 0, time.perf_counter()
    while True:
        interp.run()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return interp.steps, elapsed / runs * 1e9


def time_kernel(code: bytes, repeat: int) -> tuple[int, float]:
    loaded = syscall.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, code)
    try:
        result = syscall.prog_test_run(loaded.fd, bytes(64), repeat=repeat)
        return result.retval, float(result.duration_ns)
    finally:
        syscall.close(loaded.fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="BPF_PROG_TEST_RUN repeat count")
    args = parser.parse_args()
    available, reason = syscall.kernel_available()
    peer = "Linux JIT via BPF_PROG_TEST_RUN" if available else f"(kernel skipped: {reason})"
    print(f"reference interpreter vs. {peer}\n")
    header = f"{'program':32} {'insns':>8} {'interp ns/run':>14} {'ns/insn':>8} {'kernel ns/run':>14} {'ns/insn':>8} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    for name, source in PROGRAMS.items():
        insns = assemble(source)
        steps, interp_ns = time_interp(insns)
        r0 = vm.run(insns).r0
        row = f"{name:32} {steps:8d} {interp_ns:14.0f} {interp_ns / steps:8.1f}"
        if available:
            retval, kernel_ns = time_kernel(encode(insns), args.repeat)
            assert retval == r0 & 0xFFFFFFFF, (name, retval, r0)
            kernel_ns = max(kernel_ns, 1.0)
            row += f" {kernel_ns:14.0f} {kernel_ns / steps:8.2f} {interp_ns / kernel_ns:7.0f}x"
        print(row)


if __name__ == "__main__":
    main()

"""The seed scenario: a program built in Python prints "BPF tick!" on every timer tick.

    python3 examples/timer_tick.py --hz 100 --seconds 1

Builds a 12-instruction program with the builder, loads it into the virtual
kernel (BPF_PROG_LOAD), attaches it to the timer tick, and copies the trace
pipe's lines to standard output as they arrive, for --seconds seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

from pybpf.helpers import helper_id
from pybpf.isa.builder import R0, R1, R2, R10, Builder
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType

MESSAGE = b"BPF tick!\n\0"


def tick_program():
    """r1 = "BPF tick!\\n" on the stack; bpf_trace_printk(r1, 11); return 0."""
    b = Builder(helper_id=helper_id)  # names helpers: pybpf.isa imports no registry itself
    text = MESSAGE.ljust(16, b"\0")
    b.lddw(R1, int.from_bytes(text[:8], "little"))
    b.stxdw(R10, -16, R1)
    b.lddw(R1, int.from_bytes(text[8:], "little"))
    b.stxdw(R10, -8, R1)
    b.mov(R1, R10)
    b.add(R1, -16)
    b.mov(R2, len(MESSAGE))
    b.call("bpf_trace_printk")
    b.mov(R0, 0)
    b.exit()
    return b.finish()


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hz", type=float, default=100.0, help="timer frequency (default 100)")
    parser.add_argument("--seconds", type=float, default=1.0, help="how long to run (default 1)")
    args = parser.parse_args(argv)
    kernel = VirtualKernel()
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_PERF_EVENT, tick_program(), "GPL")
    link = kernel.link_create(prog.fd, "timer", hz=args.hz)
    end = time.monotonic() + args.seconds
    try:
        while (left := end - time.monotonic()) > 0:
            line = kernel.trace_pipe.read(timeout=left)
            if line is not None:
                out.write(line)
    finally:
        kernel.close(link)
        kernel.close(prog.fd)
    for line in kernel.trace_pipe.drain():
        out.write(line)
    out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        sys.exit(0)

"""`pybpf demo`: pybpftrace tracing a Python workload on the virtual kernel.

A bpftrace script (SCRIPT) is compiled through llvmlite to a BPF object,
loaded into the in-process virtual kernel and attached to functions of this
module; the workload runs under the probes; the maps print as bpftrace
prints them.  `pybpf demo --isa` shows the foundation instead: a program
assembled, shown in three syntaxes and run on the reference interpreter.
"""

from __future__ import annotations

import time

from ..helpers import helper_id, helper_name
from ..isa.asm import assemble
from ..isa.disasm import disassemble
from ..isa.insn import encode
from .. import vm

# Sum the bytes of the buffer at r1 (length r2) in a bounded loop, calling a
# subprogram that folds each byte into a checksum.
SOURCE = """\
    r6 = r1                     // buffer
    r7 = r2                     // length
    r8 = 0                      // index
    r9 = 0                      // checksum
loop:
    if r8 >= r7 goto done
    r3 = r6
    r3 += r8
    r1 = *(u8 *)(r3 + 0)
    r2 = r9
    call fold
    r9 = r0
    r8 += 1
    goto loop
done:
    r0 = r9
    exit
fold:                           // r0 = (r2 << 5) - r2 + r1, 32-bit
    w0 = w2
    w0 <<= 5
    w0 -= w2
    w0 += w1
    exit
"""


SCRIPT = """\
BEGIN { printf("Tracing fib() and handle() in-process on the virtual kernel...\\n"); }
uprobe:pybpf.cli.demo:fib { @calls[arg0] = count(); }
uprobe:pybpf.cli.demo:handle { @start[tid] = nsecs; }
uretprobe:pybpf.cli.demo:handle /@start[tid]/ {
    @usecs = hist((nsecs - @start[tid]) / 1000);
    @handled = count();
    delete(@start[tid]);
}
uretprobe:pybpf.cli.demo:handle /retval > 300/ { printf("handle(%d) returned %d\\n", arg0, retval); }
"""


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def handle(request: int) -> int:
    time.sleep(0.001 * (request % 4))
    return fib(request % 16)


def add_arguments(parser) -> None:
    parser.add_argument("text", nargs="?", default="hello, BPF", help="with --isa: the bytes to checksum")
    parser.add_argument("--isa", action="store_true", help="the instruction-set demo instead")


def run(args) -> int:
    if not args.isa:
        return trace_demo()
    return isa_demo(args)


def trace_demo() -> int:
    from ..trace.compiler import compile_script
    from ..trace.runtime import Session
    print(f"$ pybpftrace -e '<script>' -c 'python workload'   # the script:\n{SCRIPT}")
    session = Session(compile_script(SCRIPT, "demo.bt"))
    session.start()
    for request in range(40):
        handle(request)
    session.poll()
    session.finish()
    return 0


def isa_demo(args) -> int:
    insns = assemble(SOURCE, "llvm", helper_id=helper_id)
    print(f"assembled {len(insns)} instructions, {len(encode(insns))} bytes of bytecode\n")
    for syntax in ("llvm", "kernel", "ubpf"):
        print(f"--- {syntax} syntax")
        for line in disassemble(insns, syntax, helper_name):
            print(line)
        print()
    data = args.text.encode()
    result = vm.run(insns, data)
    expected = 0
    for byte in data:
        expected = (expected * 31 + byte) & 0xFFFFFFFF
    print(f"run on {data!r}: r0 = {result.r0:#x} after {result.steps} instructions "
          f"({'matches' if result.r0 == expected else 'DIFFERS FROM'} Python's {expected:#x})")
    return 0 if result.r0 == expected else 1

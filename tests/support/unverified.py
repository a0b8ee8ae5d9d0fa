"""A refused program in a virtual kernel's program slot, for tests of run-time fault handling.

The virtual kernel's prog_load verifies, and its API has no way around that
(ARCHITECTURE decision 6: a program Linux refuses as unsafe does not run on
the virtual kernel).  What the kernel does when a program faults anyway (a
verifier bug: the run ends, the event is lost, nothing leaks) is still worth
testing, so a test loads a trivial program of the same type and puts the
unsafe program, on the bounds-checked reference interpreter, in its place.
"""

from __future__ import annotations

from pybpf.helpers import REGISTRY
from pybpf.isa.asm import assemble
from pybpf.vm.engines import engine_class


def load_unverified(kernel, prog_type: int, insns, engine: str = "interp", **options) -> int:
    """The fd of a program of `prog_type` whose engine (the reference interpreter unless named) runs `insns`
    unverified."""
    fd = kernel.prog_load(prog_type, assemble("r0 = 0\nexit")).fd
    prog = kernel.prog(fd)
    for region in (prog.interp.code, *prog.interp.stacks):
        kernel.mem.unmap(region)
    interp = engine_class(engine)(list(insns), mem=kernel.mem, helpers=REGISTRY, entry_regs=0b10000000010, **options)
    interp.kernel, interp.prog_type = kernel, prog_type
    prog.interp, prog.insns = interp, list(insns)
    return fd

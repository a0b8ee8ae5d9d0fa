"""Soundness fuzzing: what pybpf's verifier accepts never faults on the bounds-checked interpreter.

Every generated program (support/vgen.py) that `pybpf.verifier.verify`
accepts is loaded into a VirtualKernel, its map filled with random
contents, and run by BPF_PROG_TEST_RUN on random packets of random
lengths.  The reference interpreter checks every access against its
region, so an out-of-bounds access the verifier let through is a VMFault
here: a verifier soundness bug.  Faulting programs the verifier does not
yet catch are listed in differential_known.txt (digest, reason) and xfail
strictly, so the list only shrinks.  kprobe programs have no test run on
the virtual kernel and are verified only.
"""

from __future__ import annotations

import random

import pytest

from pybpf.kernel.virtual import VirtualKernel
from pybpf.verifier import MapInfo, verify
from pybpf.vm import VMFault
from support import vgen
from support.paths import REPO

SEEDS = range(0, 600)
RUNS = 4  # random packets per program
KNOWN_FAULTS = {line.split()[0] for line in (REPO / "tests" / "verifier" / "differential_known.txt").read_text()
                .splitlines() if line.strip() and not line.startswith("#") and "fault" in line}


def _accepted(gen: vgen.Generated) -> bool:
    maps = {}
    if gen.map_kind:
        mtype, key, value, entries = vgen.MAPS[gen.map_kind]
        maps = {pc: MapInfo(mtype, key, value, entries, 0, fd=100) for pc in gen.map_pcs()}
    return verify(gen.with_map_fd(100), gen.prog_type, maps=maps).accepted


def run_virtual(gen: vgen.Generated, rng: random.Random) -> list[int]:
    """r0 of RUNS test runs on random packets, with the map (if any) full of random values."""
    kernel = VirtualKernel()
    fd = 0
    if gen.map_kind:
        mtype, key, value, entries = vgen.MAPS[gen.map_kind]
        fd = kernel.map_create(mtype, key, value, entries)
        for k in (range(entries) if gen.map_kind == "array" else rng.sample(range(8), 4)):
            kernel.map_update(fd, k.to_bytes(key, "little"), rng.randbytes(value))
    # the bounds-checked reference interpreter, not the engine a verified program would get (unchecked native)
    loaded = kernel.prog_load(gen.prog_type, gen.with_map_fd(fd), engine="interp")
    return [kernel.prog_test_run(loaded.fd, rng.randbytes(rng.choice((14, 20, 34, 64, 100)))).retval
            for _ in range(RUNS)]


def _programs():
    for seed in SEEDS:
        gen = vgen.program(seed)
        if gen.prog_type != vgen.KPROBE and _accepted(gen):
            marks = [pytest.mark.xfail(strict=True, reason="known soundness bug")] if gen.digest in KNOWN_FAULTS \
                else []
            yield pytest.param(gen, id=f"{seed}-{gen.template}", marks=marks)


ACCEPTED = list(_programs())


def test_the_generator_feeds_enough_accepted_programs():
    assert len(ACCEPTED) > 200


def test_the_harness_sees_an_out_of_bounds_packet_read():
    """The verifier refuses it (and so does prog_load); run anyway, the interpreter faults."""
    from pybpf.isa.asm import assemble
    from pybpf.kernel.errors import BpfError
    from support.unverified import load_unverified
    unchecked = assemble("r2 = *(u32 *)(r1 + 0)\nr0 = *(u64 *)(r2 + 200)\nexit", "llvm")
    gen = vgen.Generated(0, "control", vgen.XDP, unchecked)
    assert not _accepted(gen)
    with pytest.raises(BpfError, match="invalid access to packet"):
        run_virtual(gen, random.Random(0))
    kernel = VirtualKernel()
    with pytest.raises(VMFault, match="past the end of packet"):
        kernel.prog_test_run(load_unverified(kernel, vgen.XDP, unchecked), bytes(64))


@pytest.mark.parametrize("gen", ACCEPTED)
def test_accepted_program_runs_without_a_fault(gen):
    rng = random.Random(gen.seed)
    try:
        results = run_virtual(gen, rng)
    except VMFault as fault:
        pytest.fail(f"seed {gen.seed} digest {gen.digest}: the verifier accepted a program that faults: {fault}")
    assert len(results) == RUNS

"""Random verified programs agree on every engine, the native one unchecked (as it runs for verified programs).

Each program of support/vgen.py that `pybpf.verifier.verify` accepts is
loaded into one VirtualKernel per engine, its map filled with the same
random contents, and test-run on the same random packets; after every run
r0, the packet, the program's stack frame (pointers in it as region and
offset) and the whole map must equal the reference interpreter's.  Native code runs without bounds checks only where
the interpreter ran the program without a fault (a verifier soundness bug
would otherwise crash the test process: tests/verifier/test_soundness.py
owns those).  bpf_get_prandom_u32 draws the same numbers on every engine.  The tiered engine's HOT_RUNS is lowered so that it switches
from compiled Python to native code between the runs.
"""

from __future__ import annotations

import random

import pytest

from pybpf.helpers import registry
from pybpf.kernel.virtual import VirtualKernel
from pybpf.verifier import MapInfo, verify
from pybpf.vm import MemoryFault, VMFault
from pybpf.vm.engines import ENGINES, rebuild
from support import vgen

SEEDS = range(0, 160)
RUNS = 4
UNCHECKED = [name for name in ("native", "tiered") if name in ENGINES]  # run unchecked, as for verified programs


def _accepted(gen: vgen.Generated) -> bool:
    maps = {}
    if gen.map_kind:
        mtype, key, value, entries = vgen.MAPS[gen.map_kind]
        maps = {pc: MapInfo(mtype, key, value, entries, 0, fd=100) for pc in gen.map_pcs()}
    return verify(gen.with_map_fd(100), gen.prog_type, maps=maps).accepted


class Loaded:
    """One program in its own virtual kernel on one engine; `verified=True` swaps in unchecked native code."""

    def __init__(self, gen: vgen.Generated, seed: int, engine: str, verified: bool = False):
        rng = random.Random(seed)
        self.kernel = kernel = VirtualKernel(ncpus=1)
        self.map_fd = 0
        if gen.map_kind:
            mtype, key, value, entries = vgen.MAPS[gen.map_kind]
            self.map_fd = kernel.map_create(mtype, key, value, entries)
            for k in (range(entries) if gen.map_kind == "array" else rng.sample(range(8), 4)):
                kernel.map_update(self.map_fd, k.to_bytes(key, "little"), rng.randbytes(value))
        self.fd = kernel.prog_load(gen.prog_type, gen.with_map_fd(self.map_fd), engine=engine).fd
        self.prog = kernel.prog(self.fd)
        if verified:  # what prog_load builds once its verifier accepted the program
            self.prog.interp = rebuild(self.prog.interp, engine, verified=True)

    def run(self, packet: bytes):
        """(r0, packet after, stack frame 0, map contents) of one test run, or the fault's pc and reason."""
        try:
            result = self.kernel.prog_test_run(self.fd, packet)
        except VMFault as fault:
            return "fault", fault.pc, fault.reason.split(" at 0x")[0]
        contents = sorted(self.kernel.map(self.map_fd).items()) if self.map_fd else []
        return result.retval, result.data_out, self.stack(), contents

    def stack(self) -> list:
        """Frame 0 as 64 words, with a spilled pointer as (region name, offset): addresses differ between kernels.

        A pointer whose high half a narrower store has overwritten is (region name, offset, the new high half).
        """
        words = []
        frame = self.prog.interp.stacks[0].read()
        highs = {region.start >> 32 for region in self.kernel.mem}
        for at in range(0, len(frame), 8):
            word = int.from_bytes(frame[at:at + 8], "little")
            for high in (None, *(highs if word & 0xFFFFFFFF >= 1 << 16 else ())):
                try:
                    address = word if high is None else (high << 32) | (word & 0xFFFFFFFF)
                    region = self.kernel.mem.find(address, 1)
                    words.append((region.name, address - region.start) + (() if high is None else (word >> 32,)))
                    break
                except MemoryFault:
                    pass
            else:
                words.append(word)
        return words


def _programs():
    for seed in SEEDS:
        gen = vgen.program(seed)
        if gen.prog_type != vgen.KPROBE and _accepted(gen):
            yield pytest.param(seed, gen, id=f"{seed}-{gen.template}")


ACCEPTED = list(_programs())


def test_the_generator_feeds_enough_verified_programs():
    assert len(ACCEPTED) > 50


@pytest.mark.parametrize("seed,gen", ACCEPTED)
def test_verified_programs_agree_on_every_engine(seed, gen, monkeypatch):
    if "tiered" in ENGINES:
        monkeypatch.setattr("pybpf.vm.tiered.HOT_RUNS", 2)
    rng = random.Random(seed)
    packets = [rng.randbytes(rng.choice((14, 20, 34, 64, 100))) for _ in range(RUNS)]

    def outcomes(loaded: Loaded):
        monkeypatch.setattr(registry, "_rng", random.Random(seed))  # bpf_get_prandom_u32: the same numbers
        return [loaded.run(packet) for packet in packets]

    expected = outcomes(Loaded(gen, seed, "interp"))
    runs = {name: Loaded(gen, seed, name) for name in ENGINES if name != "interp"}
    if all(outcome[0] != "fault" for outcome in expected):
        runs.update({f"{name} unchecked": Loaded(gen, seed, name, verified=True) for name in UNCHECKED})
    for name, loaded in runs.items():
        assert outcomes(loaded) == expected, name
    if "tiered unchecked" in runs:
        assert runs["tiered unchecked"].kernel.info(runs["tiered unchecked"].fd)["engine"] == "native"

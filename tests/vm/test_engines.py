"""Every engine agrees with the reference interpreter: random programs, faults, limits, kernel programs.

The fuzz part runs support/randprog.py programs (every ALU, jump, memory and
atomic kind of the opcode table) on each engine of pybpf.vm.engines.ENGINES
and compares the whole outcome with the interpreter's: r0, the final memory,
the executed instruction count, or the fault (pc, reason, count).  Budgets
cut short at random points check the shared instruction limit mid-block.
The virtual-kernel part loads the same programs (maps, helpers, tail calls,
callbacks) once per engine and compares results and map contents.
"""

from __future__ import annotations

import random
import re

import pytest

from pybpf import vm
from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.kernel.errors import BpfError
from pybpf.uapi import MapType, ProgType
from pybpf.vm.engines import ENGINES, choose, engine_name
from support import randprog
from support.programs import bpf_loop_sum

FAST = sorted(name for name in ENGINES if name != "interp")
# The native engine charges the instruction budget once per basic block (docs/jit.md), so a run cut short by
# max_steps stops at the block boundary, not at the interpreter's exact instruction: the limit tests skip it.
EXACT_LIMIT = [name for name in FAST if name not in ("native", "tiered")]
SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


def outcome(insns, memory: bytes, engine: str, **options):
    try:
        result = vm.run(insns, memory, engine=engine, **options)
        return "ok", result.r0, result.memory, result.steps
    except vm.VMFault as fault:
        # Addresses, and so the nearest region a miss names, differ from one address space to the next.
        return "fault", fault.pc, re.sub(r"0x[0-9a-f]+| \(.*\)$", "", fault.reason)


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("seed", range(120))
def test_random_programs_agree(engine, seed):
    insns = randprog.program(seed)
    for state in randprog.inputs(seed, 3):
        expected = outcome(insns, state, "interp")
        assert expected[0] == "ok", expected
        assert outcome(insns, state, engine) == expected, f"seed {seed}"


@pytest.mark.parametrize("engine", EXACT_LIMIT)
@pytest.mark.parametrize("seed", range(40))
def test_instruction_limit_mid_program_agrees(engine, seed):
    insns = randprog.program(seed)
    state = randprog.inputs(seed, 1)[0]
    steps = vm.run(insns, state).steps
    max_steps = random.Random(seed).randrange(1, steps)
    faults = []
    for name in ("interp", engine):
        vm_ = ENGINES[name](list(insns), max_steps=max_steps)
        region = vm_.mem.map("memory", state)
        with pytest.raises(vm.VMFault) as info:
            vm_.run(region.start, len(state))
        faults.append((info.value.pc, info.value.reason, vm_.steps, region.read()))
    assert faults[1] == faults[0]
    assert faults[0][2] == max_steps


FAULTING = {
    "out of bounds load": "r0 = *(u64 *)(r1 + 4096)\nexit",
    "store to code": "r1 = func(f) ll\nr0 = 0\n*(u64 *)(r1 + 0) = r0\nexit\nf:\nr0 = 0\nexit",
    "misaligned atomic": "r0 = 0\nlock *(u64 *)(r1 + 1) += r0\nexit",
    "fault in a subprogram": "r0 = 0\ncall f\nexit\nf:\nr2 = *(u8 *)(r1 + 9999)\nr0 = 1\nexit",
    "recursion too deep": "call f\nr0 = 0\nexit\nf:\ncall f\nexit",
    "unknown helper": "call 999999\nexit",
    "endless loop": "r0 = 0\nl:\nr0 += 1\ngoto l",
    "endless self-loop": "r0 = 0\nl:\nr0 += 1\nr2 = *(u64 *)(r1 + 0)\nif r0 != 0 goto l\nexit",
}


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("name", sorted(FAULTING))
def test_faults_agree(engine, name):
    insns = assemble(FAULTING[name], helper_id=helper_id)
    expected = outcome(insns, bytes(16), "interp", max_steps=10_000)
    assert expected[0] == "fault"
    got = outcome(insns, bytes(16), engine, max_steps=10_000)
    if engine not in EXACT_LIMIT and name.startswith("endless"):  # stops at a block boundary of the loop
        assert (got[0], got[2]) == (expected[0], expected[2])
    else:
        assert got == expected


def test_unknown_engine_is_refused_with_the_choices():
    with pytest.raises(Exception, match="unknown engine 'warp'.*compiled"):
        vm.run(assemble("r0 = 0\nexit"), engine="warp")


def test_policy_defaults_to_compiled_and_honours_requests(monkeypatch):
    monkeypatch.delenv("PYBPF_ENGINE", raising=False)
    assert choose(10) == "compiled"
    assert choose(10, "interp") == "interp"
    monkeypatch.setenv("PYBPF_ENGINE", "interp")
    assert choose(10) == "interp"
    assert choose(10, "compiled") == "compiled"


# Virtual-kernel programs, each run on every engine: text (with {maps}) -> what to compare.
COUNTER = """
    r6 = 0
loop:
    *(u32 *)(r10 - 4) = r6
    r1 = map[fd:{counts}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto next
    r1 = r6
    r1 *= 3
    lock *(u64 *)(r0 + 0) += r1
next:
    r6 += 1
    if r6 < 8 goto loop
    r0 = r6
    exit
"""
LOOP = bpf_loop_sum(50, 30)
TAIL = """
    r6 = r1
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = map[fd:{counts}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = r6
    r2 = map[fd:{jumps}] ll
    r3 = 0
    call bpf_tail_call
out:
    r0 = 1
    exit
"""


def _kernel_run(engine: str, text: str):
    kernel = VirtualKernel(ncpus=1)
    counts = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 8)
    jumps = kernel.map_create(MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1)
    fd = kernel.prog_load(SOCKET, assemble(text.format(counts=counts, jumps=jumps), helper_id=helper_id),
                          engine=engine).fd
    kernel.map_update(jumps, bytes(4), fd.to_bytes(4, "little"))
    retval = kernel.prog_test_run(fd, bytes(64)).retval
    values = [kernel.map_lookup(counts, i.to_bytes(4, "little")) for i in range(8)]
    return kernel.info(fd)["engine"], retval, values


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("text", [COUNTER, LOOP, TAIL], ids=["map-counter", "bpf_loop", "tail-calls"])
def test_kernel_programs_agree(engine, text):
    name, *expected = _kernel_run("interp", text)
    assert name == "interp"
    name, *got = _kernel_run(engine, text)
    assert name == engine or (engine == "tiered" and name in ("compiled", "native"))
    assert got == expected


def test_kernel_reports_the_default_engine_and_refuses_an_unknown_one(monkeypatch):
    monkeypatch.delenv("PYBPF_ENGINE", raising=False)
    kernel = VirtualKernel(ncpus=1)
    fd = kernel.prog_load(SOCKET, assemble("r0 = 3\nexit")).fd
    assert kernel.info(fd)["engine"] == "compiled" and engine_name(kernel._fds[fd].interp) == "compiled"
    with pytest.raises(BpfError, match="unknown engine"):
        kernel.prog_load(SOCKET, assemble("r0 = 3\nexit"), engine="warp")

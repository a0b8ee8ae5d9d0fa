"""Precision tracking and liveness: what pruning may ignore, and what it must keep (precision.py, liveness.py)."""

from __future__ import annotations

import sys

import pytest

from pybpf import api
from pybpf.isa.asm import assemble
from pybpf.verifier.liveness import live_registers
from pybpf.verifier.program import slots_of
from support.paths import REPO

sys.path.insert(0, str(REPO / "bench"))
from engines_programs import PROGRAMS, program  # noqa: E402

# r2 is 0 on the path explored first (the fall-through) and 1000 on the jump's: the checkpoint at insn 4
# holds r2 = 0, and the pointer arithmetic at insn 6 makes r2 precise there, so the second path is not
# covered by it and is walked to its out-of-bounds store.
NEEDS_PRECISE = """
    call 7
    r2 = 1000
    if r0 == 0 goto +1
    r2 = 0
    r1 = r10
    r1 += -8
    r1 += r2
    *(u64 *)(r1 +0) = 0
    r0 = 0
    exit
"""
# The same shape where r3 only becomes the return value of a socket filter (any value is allowed): it stays
# imprecise, so the second path meets the first one's checkpoint at insn 4 and ends there.
IMPRECISE = """
    call 7
    r3 = 1000
    if r0 == 0 goto +1
    r3 = 0
    r0 = r3
    exit
"""


def test_a_value_that_decided_safety_is_not_pruned_away():
    result = api.verify(assemble(NEEDS_PRECISE, "llvm"), "socket_filter", log_level=2)
    assert not result.accepted
    assert "invalid write to stack R1 off=992 size=8" in result.log


def test_an_imprecise_value_is_covered_by_any_other():
    result = api.verify(assemble(IMPRECISE, "llvm"), "socket_filter", log_level=1)
    assert result.accepted, result.log
    assert "\n4: safe\n" in result.log


def test_the_mark_precise_trace_is_the_kernels():
    log = api.verify(assemble(NEEDS_PRECISE, "llvm"), "socket_filter", log_level=2).log
    expected = [
        "mark_precise: frame0: last_idx 6 first_idx 4 subseq_idx -1 ",
        "mark_precise: frame0: regs=r2 stack= before 5: (07) r1 += -8",
        "mark_precise: frame0: regs=r2 stack= before 4: (bf) r1 = r10",
        "mark_precise: frame0: parent state regs=r2 stack=:  R0=scalar(umin=1) R2=P0 R10=fp0",
        "mark_precise: frame0: last_idx 3 first_idx 3 subseq_idx 4 ",
        "mark_precise: frame0: regs=r2 stack= before 3: (b7) r2 = 0",
    ]
    lines = log.splitlines()
    at = [lines.index(line) for line in expected]
    assert at == sorted(at), log


def test_spilled_scalars_are_traced_through_the_stack():
    program = """
        call 7
        r2 = 1000
        if r0 == 0 goto +1
        r2 = 0
        *(u64 *)(r10 -16) = r2
        r3 = *(u64 *)(r10 -16)
        r1 = r10
        r1 += -8
        r1 += r3
        *(u64 *)(r1 +0) = 0
        r0 = 0
        exit
    """
    result = api.verify(assemble(program, "llvm"), "socket_filter", log_level=2)
    assert not result.accepted
    assert "mark_precise: frame0: regs= stack=-16 before 4: (7b) *(u64 *)(r10 -16) = r2" in result.log


def test_a_loop_prunes_with_imprecise_scalars():
    # A loop of 64 iterations whose body branches five times on a value loaded from the packet: the counter
    # decides the loop's exit (precise), the loaded value and the sum do not, so the paths through each body
    # meet again at every join.  With exact scalars the paths would double at every branch.
    result = api.verify(program(PROGRAMS["log2 over an array"][0], counts=0), "xdp")  # bench/engines' log2
    assert result.accepted, result.log
    # 64 iterations of about 30 instructions, each branch's second path ending at the join.
    assert result.stats.processed < 64 * 60


def test_dead_registers_do_not_count():
    # r3 differs on the two paths and is overwritten before any read: liveness lets them meet.
    program = """
        call 7
        r3 = 1000
        if r0 == 0 goto +1
        r3 = 0
        r3 = 1
        r0 = r3
        exit
    """
    result = api.verify(assemble(program, "llvm"), "socket_filter", log_level=1)
    assert result.accepted and "\n4: safe\n" in result.log


@pytest.mark.parametrize("text, pc, live", [
    ("r0 = 0\nexit", 1, {0, 10}),
    ("r2 = r1\nr0 = r2\nexit", 0, {1, 10}),
    ("call 7\nr0 = r6\nexit", 0, {1, 2, 3, 4, 5, 6, 10}),
    ("r1 = 1\nif r2 > 3 goto +1\nr0 = r1\nr0 = 0\nexit", 1, {1, 2, 10}),
    ("r1 = 1\nif r2 > 3 goto +1\nr0 = r1\nr0 = 0\nexit", 3, {10}),
])
def test_live_registers(text, pc, live):
    masks = live_registers(slots_of(assemble(text, "llvm")))
    assert {i for i in range(11) if masks[pc] >> i & 1} == live

"""Stack slot liveness (stack_liveness.py): slots nobody reads again do not keep a state from being covered.

bpftrace's 100-iteration tseries loop spills on error paths into slots it never reads again; before
this, those paths never met and the walk gave up at the 1M-instruction limit (Linux: 23,791 insns)."""

from __future__ import annotations

import pytest

from pybpf.api import verify_object
from pybpf.helpers import helper_id
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.verifier import verify
from pybpf.verifier.program import slots_of
from pybpf.verifier.stack_liveness import ALL_SLOTS, StackLiveness, slot_mask, whole_slots


def code(text: str) -> bytes:
    return encode(assemble(text, "llvm", helper_id=helper_id))


@pytest.mark.parametrize("lo, hi, touched, whole", [
    (-8, 0, 0b1, 0b1), (-16, -8, 0b10, 0b10), (-12, -4, 0b11, 0), (-16, 0, 0b11, 0b11), (-4, 0, 0b1, 0),
    (-8, -8, 0, 0)])
def test_slot_masks(lo, hi, touched, whole):
    assert slot_mask(lo, hi) == touched
    assert whole_slots(lo, hi) == whole


def test_a_slot_is_live_from_its_read_back_to_the_write_that_kills_it():
    slots = slots_of(code("r0 = 0\n*(u64 *)(r10 - 8) = r0\nr1 = *(u64 *)(r10 - 8)\nexit"))
    live = StackLiveness(slots)
    for pc, (reads, writes) in enumerate([(0, 0), (0, 0b1), (0b1, 0), (0, 0)]):
        live.writes = writes
        live.read(pc, reads)
        live.visited(pc)
    assert [live.live_before(pc) for pc in range(4)] == [0, 0, 0b1, 0]


def test_a_write_kills_a_slot_only_if_every_visit_made_it():
    slots = slots_of(code("r0 = 0\n*(u64 *)(r10 - 8) = r0\nr1 = *(u64 *)(r10 - 8)\nexit"))
    live = StackLiveness(slots)
    live.read(2, 0b1)
    for writes in (0b1, 0):  # the second visit wrote elsewhere (say, through another pointer)
        live.writes = writes
        live.visited(1)
    live.visited(0)
    assert live.live_before(0) == 0b1


def test_instructions_not_visited_yet_read_nothing():
    live = StackLiveness(slots_of(code("r0 = 0\nexit")))
    assert live.live_before(0) == 0 and ALL_SLOTS >> 63 == 1


# Two paths meet at `join` holding a pointer (explored first) or a scalar in fp-8; what follows reads
# fp-8, so the slot is live there and the scalar path must be walked (and refused) on its own.
JOIN = """
r6 = r1
call 7
if r0 > 5 goto scalar
*(u64 *)(r10 - 8) = r6
goto join
scalar:
r1 = 7
*(u64 *)(r10 - 8) = r1
join:
{tail}
"""


@pytest.mark.parametrize("tail", [
    "r2 = *(u64 *)(r10 - 8)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit",
    # the read happens in a subprogram, through a pointer to the caller's stack
    "r1 = r10\nr1 += -8\ncall sub\nr0 = 0\nexit\nsub:\nr2 = *(u64 *)(r1 + 0)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit",
    # in a bpf_loop callback, through its context argument
    "r1 = 1\nr2 = func(callback) ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\n"
    "callback:\nr3 = *(u64 *)(r2 + 0)\nr0 = *(u32 *)(r3 + 0)\nr0 = 0\nexit",
])
def test_a_slot_read_later_keeps_the_paths_apart(tail):
    result = verify(code(JOIN.format(tail=tail)), 1)
    assert not result.accepted  # pruned at `join`, the scalar path would have been accepted
    assert result.error.message in ("R2 invalid mem access 'scalar'", "same insn cannot be used with different pointers")


def test_a_slot_nobody_reads_again_lets_the_paths_meet():
    result = verify(code(JOIN.format(tail="r0 = 0\nexit")), 1, log_level=1)
    assert result.accepted
    assert "from 2 to 5" in result.log and "7: safe" in result.log


def test_paths_that_differ_in_a_dead_slot_meet_in_a_loop(monkeypatch):
    # Each iteration spills the helper's result on one side only; nothing reads it.  With every slot
    # compared, the path that never spilled cannot meet the others at the loop head.
    text = ("r8 = 0\nloop:\nr8 += 1\nif r8 == 60 goto out\ncall 7\nif r0 != 0 goto skip\n"
            "r1 = r10\n*(u64 *)(r10 - 16) = r1\nskip:\ngoto loop\nout:\nr0 = 0\nexit")
    with_liveness = verify(code(text), 1).stats.processed
    monkeypatch.setattr(StackLiveness, "live_before", lambda self, pc: ALL_SLOTS)
    every_slot = verify(code(text), 1).stats.processed
    assert with_liveness < every_slot


TSERIES = ("BEGIN { @ts = (uint64)0; } i:ms:1 { $us = (uint64)1000; $ms = 1000*$us; $s = 1000*$ms; "
           "$i = (uint64)0; $interval = 100 * $ms; @ts /= $interval; @ts *= $interval; while ($i < 100) { "
           "@a = tseries($i % 10, 100ms, 5); @ts += 10 * $ms; $i++; } clear(@ts); exit(); }")


def test_bpftraces_100_iteration_tseries_loop_verifies_as_on_linux(monkeypatch):
    from pybpf.trace.compiler import compile_script
    monkeypatch.setenv("BPFTRACE_DUMMY_TS_MAP", "@ts")
    elf = compile_script(TSERIES, cache=False).elf
    results = verify_object(elf, name="tseries.o", complexity_limit=100_000)
    assert all(r.accepted for r in results.values()), [r.log[-300:] for r in results.values()]

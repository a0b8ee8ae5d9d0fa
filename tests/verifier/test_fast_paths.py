"""The verifier's shortcuts give what the general code gives.

Known-operand ALU (scalar_alu.CONST_OPS) skips the tnum and range functions; bounds.sync() returns early
for a known value whose views agree; precision backtracking stops where an earlier walk from the same
path started (State.traced).  Each is checked here against the general path it shortcuts."""

from __future__ import annotations

import random

import pytest

from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.verifier import scalar_alu, verify
from pybpf.verifier.bounds import Bounds
from pybpf.verifier.tnum import Tnum

VALUES = [0, 1, 2, 5, 31, 32, 63, 64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, (1 << 63) - 1, 1 << 63,
          (1 << 64) - 1, 0xDEADBEEFCAFEBABE]


def known(value: int) -> Bounds:
    b = Bounds()
    b.set_const(value)
    return b


def general(op: str, a: int, b: int, bits: int, monkeypatch) -> tuple:
    with monkeypatch.context() as m:
        m.setattr(scalar_alu, "CONST_OPS", {})
        dst = known(a)
        scalar_alu.alu(op, dst, known(b), bits)
    return dst.key()


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("op", sorted(scalar_alu.CONST_OPS))
def test_known_operands_give_what_the_tnum_and_range_functions_give(op, bits, monkeypatch):
    rng = random.Random(op + str(bits))
    pairs = [(a, b) for a in VALUES for b in VALUES] + [(rng.getrandbits(64), rng.getrandbits(64)) for _ in range(50)]
    for a, b in pairs:
        if op in scalar_alu.SHIFTS:
            b %= bits
        dst = known(a)
        scalar_alu.alu(op, dst, known(b), bits)
        assert dst.key() == general(op, a, b, bits, monkeypatch), (op, bits, hex(a), hex(b))


def test_sync_of_a_known_value_changes_nothing_and_still_finds_contradictions():
    b = known(0x1234)
    b.sync()
    assert b.key() == known(0x1234).key()
    contradicted = known(7)
    contradicted.umin = 9  # a refinement proved the value is at least 9: the path is impossible
    contradicted.sync()
    assert not contradicted.is_sane()
    assert Bounds(Tnum(5, 0)).key() != known(5).key()  # a known tnum with unbounded ranges is still narrowed
    narrowed = Bounds(Tnum(5, 0))
    narrowed.sync()
    assert narrowed.key() == known(5).key()


def test_the_precision_walk_stops_where_the_last_one_started(monkeypatch):
    # A counting loop marks its counter precise at every bound check; each walk back would otherwise go
    # through every instruction since the loop's last checkpoint.
    from pybpf.verifier import precision
    code = encode(assemble("r0 = 0\nr1 = 0\nloop:\nr0 += r1\nr1 += 1\nif r1 < 3000 goto loop\nexit", "llvm"))
    calls = 0
    original = precision.backtrack_insn

    def counting(*args):
        nonlocal calls
        calls += 1
        return original(*args)

    monkeypatch.setattr(precision, "backtrack_insn", counting)
    fast = verify(code, 1)
    fast_calls, calls = calls, 0
    slow = verify(code, 1, log_level=2)  # level 2 logs every walk whole, as the kernel does
    assert fast.accepted and slow.accepted and fast.stats.processed == slow.stats.processed
    assert fast_calls * 4 < calls


BRANCHY = """
r6 = 0
r7 = 0
loop:
call 7
r0 &= 7
if r0 > 3 goto big
r7 += r0
goto next
big:
r7 -= 1
next:
r1 = r10
r1 += -8
*(u64 *)(r10 - 8) = r6
r6 += 1
if r6 < 40 goto loop
r0 = r7
exit
"""


@pytest.mark.parametrize("text", [BRANCHY, "r0 = 0\nr1 = 0\nloop:\nr0 += r1\nr1 += 1\nif r1 < 300 goto loop\nexit"])
def test_the_stopped_walks_mark_what_the_whole_walks_mark(text, monkeypatch):
    # Level 1 prints each popped state, P before every precise scalar: the marks and the pruning they
    # allow are the same with the shortcut and without it.
    from pybpf.verifier import precision
    code = encode(assemble(text, "llvm"))
    fast = verify(code, 1, log_level=1)
    monkeypatch.setattr(precision.Backtrack, "covered_by", lambda self, memo: False)
    whole = verify(code, 1, log_level=1)
    assert fast.accepted and fast.log == whole.log

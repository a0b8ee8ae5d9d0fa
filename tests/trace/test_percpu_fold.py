"""Per-CPU map values folded into one, as bpftrace prints them (trace/percpu.py, no kernel needed)."""

import struct

import pytest

from pybpf.trace.percpu import fold


def copies(*values: tuple[int, ...]) -> bytes:
    return b"".join(struct.pack(f"<{len(v)}q", *v) for v in values)


@pytest.mark.parametrize("kind, size, per_cpu, folded", [
    ("count", 8, [(3,), (4,), (0,)], (7,)),
    ("sum", 8, [(-5,), (2,)], (2**64 - 3,)),  # a negative sum, as the u64 the map holds
    ("hist", 8, [(1,), (10,)], (11,)),
    ("avg", 16, [(30, 3), (12, 1)], (42, 4)),  # {total, count}
    ("min", 16, [(9, 1), (0, 0), (-2, 1)], (-2, 1)),  # {value, set}: a copy never set does not count
    ("max", 16, [(9, 1), (50, 0), (4, 1)], (9, 1)),
])
def test_per_cpu_copies_fold_as_bpftrace_folds_them(kind, size, per_cpu, folded):
    value = fold(copies(*per_cpu), size, len(per_cpu), kind)
    assert struct.unpack(f"<{size // 8}{'q' if kind in ('min', 'max') else 'Q'}", value) == folded


def tseries(*states: tuple[int, int, int]) -> bytes:
    return b"".join(struct.pack("<qqQ", *s) for s in states)


@pytest.mark.parametrize("aggregator, per_cpu, folded", [
    ("sum", [(5, 0, 7), (6, 0, 7)], (11, 0, 7)),  # the same epoch: added
    ("sum", [(5, 0, 7), (6, 0, 8)], (6, 0, 8)),  # a CPU's copy of an older epoch does not count
    ("avg", [(30, 3, 4), (10, 1, 4), (0, 0, 0)], (40, 4, 4)),  # {total, count}; epoch 0: never used
    ("min", [(5, 1, 2), (-3, 1, 2)], (-3, 1, 2)),
    ("max", [(5, 1, 2), (-3, 1, 2)], (5, 1, 2)),
    ("none", [(5, 100, 2), (9, 200, 2)], (9, 200, 2)),  # the last value assigned (meta: its time)
    ("none", [(0, 0, 0), (0, 0, 0)], (0, 0, 0)),
])
def test_tseries_copies_fold_by_epoch_as_bpftrace_folds_them(aggregator, per_cpu, folded):
    value = fold(tseries(*per_cpu), 24, len(per_cpu), "tseries", aggregator)
    assert struct.unpack("<qqQ", value) == folded

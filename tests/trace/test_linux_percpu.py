"""Per-CPU map values folded into one, as bpftrace prints them (trace/runtime.py, no kernel needed)."""

import struct

import pytest

from pybpf.trace.runtime import _per_cpu_total


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
    value = _per_cpu_total(copies(*per_cpu), size, len(per_cpu), kind)
    assert struct.unpack(f"<{size // 8}{'q' if kind in ('min', 'max') else 'Q'}", value) == folded

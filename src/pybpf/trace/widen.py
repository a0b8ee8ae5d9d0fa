"""Strings in tuples: a slot keeps the widest type assigned to it.

`$a = ("hi", 1); $a = ("hellolongstr", 2)` leaves $a a (string[13], int64):
as bpftrace resizes strings, element by element through nested tuples.
codegen's `convert` stores a narrower value into the wider layout.
"""

from __future__ import annotations

from .types import Type, tuple_of


def widest(a: Type, b: Type) -> Type | None:
    """The type holding values of both, or None when they do not fit one slot."""
    if a.kind != b.kind:
        return None
    if a.kind in ("str", "buffer"):
        return a if a.size >= b.size else b
    if a.kind == "tuple":
        if len(a.items) != len(b.items):
            return None
        items = [widest(x, y) for x, y in zip(a.items, b.items)]
        return None if any(t is None for t in items) else tuple_of(items)
    return a

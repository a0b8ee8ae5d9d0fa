"""Strings in tuples, integers: a slot keeps the widest type assigned to it.

`$a = ("hi", 1); $a = ("hellolongstr", 2)` leaves $a a (string[13], int64):
(records too, matched by field name: `(a=1, b=2)` then `(b=3, a=4)` keeps a first);
as bpftrace resizes strings, element by element through nested tuples.
codegen's `convert` stores a narrower value into the wider layout.
"""

from __future__ import annotations

from .types import Type, promoted, record_of, tuple_of


def widest(a: Type, b: Type) -> Type | None:
    """The type holding values of both, or None when they do not fit one slot."""
    if {a.kind, b.kind} == {"int", "enum"}:  # an enum mixed with integers is an integer (and prints as one)
        return a if a.kind == "int" else b
    if a.kind != b.kind:
        return None
    if a.kind in ("str", "buffer"):
        return a if a.size >= b.size else b
    if a.kind == "tuple":
        if len(a.items) != len(b.items):
            return None
        items = [widest(x, y) for x, y in zip(a.items, b.items)]
        return None if any(t is None for t in items) else tuple_of(items)
    if a.kind == "record":  # the same names, in any order: a's order (a record assigned keeps its layout)
        if sorted(a.names) != sorted(b.names):
            return None
        items = [widest(x, b.items[b.names.index(name)]) for name, x in zip(a.names, a.items)]
        return None if any(t is None for t in items) else record_of(list(a.names), items)
    if a.kind == "int":  # `$x = 1; $x = 1000`: an int16 (bpftrace's integer promotion)
        return promoted(a, b)
    if a.kind in ("struct", "array"):
        return a if a == b else None
    return a

"""Strings in tuples: a slot keeps the widest type assigned to it, and values are copied across layouts.

`$a = ("hi", 1); $a = ("hellolongstr", 2)` leaves $a a (string[13], int64):
as bpftrace resizes strings, element by element through nested tuples.  A
value of a narrower type is then stored element by element (its items sit
at other offsets), never as raw bytes.  A map with several keys takes a
tuple of them too: `@a[1, (2, 3)]` and `@a[$t]` name the same element.
"""

from __future__ import annotations

import dataclasses

from .types import Type, slot_size, tuple_of


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


def store(gen, dest, value, source: Type, target: Type) -> None:
    """Store a value of type source into zeroed memory laid out for target."""
    i64 = gen.i64(0).type
    if source.is_scalar:
        gen.b.store(value, gen.at(dest, 0, i64))
    elif source.kind == "tuple" and source != target and target.kind == "tuple":
        source_offset = target_offset = 0
        for item, wide in zip(source.items, target.items):
            item_value = gen.at(value, source_offset)
            if item.is_scalar:
                item_value = gen.b.load(gen.at(value, source_offset, i64))
            store(gen, gen.at(dest, target_offset), item_value, item, wide)
            source_offset += slot_size(item)
            target_offset += slot_size(wide)
    else:
        gen.copy(dest, value, min(source.size, target.size))


def variables(node, name: str):
    """Every use of scratch variable `name` under node (a syntax tree node or a list of them)."""
    from . import ast
    if isinstance(node, ast.Variable) and node.name == name:
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from variables(item, name)
    elif isinstance(node, ast.Node):
        for field in dataclasses.fields(node):
            child = getattr(node, field.name)
            if isinstance(child, (ast.Node, list)):
                yield from variables(child, name)

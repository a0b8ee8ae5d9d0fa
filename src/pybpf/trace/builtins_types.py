"""Type-level functions: offsetof(type, field[.field...]), a constant like sizeof (bpftrace's
reference guide, "offsetof").  The type may be `struct Foo`, `typeof(...)` or an expression whose
type is a struct or record; a path `a.b` adds the offsets of nested fields."""

from __future__ import annotations

from . import ast
from .builtins import Function, function
from .structs import complete
from .types import UINT64, slot_offset


def _path(e: ast.Expr) -> list[str] | None:
    """`bar.x` as ["bar", "x"]; None when it is not a field path."""
    if isinstance(e, ast.Builtin):
        return [e.name]
    if isinstance(e, ast.FieldAccess) and not e.arrow:
        base = _path(e.base)
        return None if base is None else base + [e.member]
    return None


@function
class Offsetof(Function):
    name = "offsetof"
    args = (2, 2)

    def check(self, analyser, call, statement):
        if len(call.args) != 2:
            return super().check(analyser, call, statement)
        t = analyser.expr(call.args[0])
        path = _path(call.args[1])
        if path is None:
            analyser.diagnostics.error(call.args[1].span, "offsetof() takes a field name or a path of fields "
                                                          "(a.b.c)")
            return UINT64
        offset = 0
        for member in path:
            t = complete(t, analyser.structs)
            if t.kind not in ("struct", "record"):
                analyser.diagnostics.error(call.span, f"'{t}' is not a C type.")
                return UINT64
            if member not in t.names:
                analyser.diagnostics.error(call.span, f"'{t}' has no field named '{member}'")
                return UINT64
            index = t.names.index(member)
            offset += t.offsets[index] if t.kind == "struct" else slot_offset(t, index)
            t = t.items[index]
        call.constant = offset
        return UINT64

    def emit(self, gen, call):
        return gen.i64(call.constant)

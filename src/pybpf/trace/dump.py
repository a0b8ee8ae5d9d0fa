"""The syntax tree as indented text, for `pybpftrace -d ast` (types shown once analysed)."""

from __future__ import annotations

from dataclasses import fields

from . import ast


def _label(node: ast.Node) -> str:
    kind = type(node).__name__.lower()
    detail = {ast.Integer: "value", ast.String: "value", ast.Builtin: "name", ast.Variable: "name", ast.Map: "name",
              ast.Call: "name", ast.Unary: "op", ast.Binary: "op", ast.Cast: "target", ast.Jump: "kind",
              ast.AttachPoint: "text", ast.Assign: "op", ast.FieldAccess: "member", ast.TypeName: "spec",
              ast.Record: "names", ast.StructDecl: "name", ast.FieldDecl: "name"}.get(type(node))
    if isinstance(node, ast.Cast) and not isinstance(node.target, str):
        detail = None  # `(typeof(e))x`: the typeof node follows as a child
    text = kind if detail is None else f"{kind}: {getattr(node, detail)!r}" if detail == "value" else \
        f"{kind} {_detail(getattr(node, detail))}".rstrip()
    if isinstance(node, ast.Expr) and node.type is not None:
        text += f" :: [{node.type}]"
    return text


def _detail(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def ast_lines(node: ast.Node, depth: int = 0) -> list[str]:
    lines = [" " * depth + _label(node)]
    for f in fields(node):
        if f.name in ("span", "type", "name_span"):
            continue
        value = getattr(node, f.name)
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, ast.Node):
                lines += ast_lines(child, depth + 1)
    return lines

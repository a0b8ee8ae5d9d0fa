"""The syntax tree as indented text, for `pybpftrace -d ast` (types shown once analysed)."""

from __future__ import annotations

from dataclasses import fields

from . import ast


def _label(node: ast.Node) -> str:
    kind = type(node).__name__.lower()
    detail = {ast.Integer: "value", ast.String: "value", ast.Builtin: "name", ast.Variable: "name", ast.Map: "name",
              ast.Call: "name", ast.Unary: "op", ast.Binary: "op", ast.Cast: "target", ast.Jump: "kind",
              ast.AttachPoint: "text", ast.Assign: "op"}.get(type(node))
    text = kind if detail is None else f"{kind}: {getattr(node, detail)!r}" if detail == "value" else \
        f"{kind} {getattr(node, detail)}".rstrip()
    if isinstance(node, ast.Expr) and node.type is not None:
        text += f" :: [{node.type}]"
    return text


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

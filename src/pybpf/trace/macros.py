"""Macro expansion: every call of a script's `macro` becomes a block expression at the call site.

As bpftrace's MacroExpansion pass (src/ast/passes/macro_expansion.cpp):
a call `f(args)` (or a bare `f` for a macro without parameters) takes the
macro of that name whose parameters fit (a `$x` parameter wants a
variable, `@m` a map, `x` anything).  The body is copied: `$x` and `@m`
become the caller's variable and map, each use of `x` a fresh copy of the
argument expression (a variable or map argument wrapped in a block so that
the body cannot assign it), and the variables the body assigns or declares
are renamed (`$$f_$y`) so that they cannot meet the caller's.  A body may
touch no other map.  Expansion runs before semantic analysis; the macro
definitions leave the program with it.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace

from . import ast
from .builtins import FUNCTIONS, VARIABLES
from .source import Diagnostics, Span


def _fits(param: ast.Expr, arg: ast.Expr) -> bool:
    if isinstance(param, ast.Map):
        return isinstance(arg, ast.Map) and not arg.keys
    if isinstance(param, ast.Variable):
        return isinstance(arg, ast.Variable)
    return True


def _distance(macro: ast.Macro, args: list[ast.Expr]) -> int:
    """0 for a macro that takes these arguments; a wrong count weighs far more than a wrong kind."""
    return 1024 * abs(len(macro.params) - len(args)) + sum(not _fits(p, a) for p, a in zip(macro.params, args))


def _mark_expanded(node: ast.Node, site: Span) -> None:
    """Note on every span of a copied macro body that the call at `site` put it there (before the arguments
    go in: they keep the caller's place)."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Span) and type(value) is Span:
            setattr(node, f.name, replace(value, expanded_from=site))
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.Node):
                _mark_expanded(item, site)


class Expander:
    """Expands the macro calls in one piece of code: the probes (depth 0), or one macro body."""

    def __init__(self, registry: dict[str, list[ast.Macro]], diagnostics: Diagnostics,
                 stack: list[ast.Macro], rename: bool = True):
        self.registry, self.diagnostics, self.stack, self.rename = registry, diagnostics, stack, rename
        self.variables: dict[str, str] = {}  # a `$x` parameter -> the caller's variable
        self.maps: dict[str, str] = {}  # an `@m` parameter -> the caller's map
        self.passed: dict[str, ast.Expr] = {}  # an `x` parameter -> the argument expression
        self.renamed: set[str] = set()  # variables the body assigns or declares

    @property
    def in_macro(self) -> bool:
        return bool(self.stack) and self.rename

    def statements(self, node: ast.Node) -> None:
        """Walk a statement (or any node): note the variables it introduces before renaming them."""
        if self.in_macro:
            target = getattr(node, "target", None) if isinstance(node, ast.Assign) else \
                node.variable if isinstance(node, ast.VarDecl) else None
            if isinstance(node, ast.VarDecl) and node.variable.name in self.variables:
                self.diagnostics.error(node.span, f"Variable declaration shadows macro arg {node.variable.name}")
            if isinstance(target, ast.Variable) and target.name not in self.variables:
                self.renamed.add(target.name)
        for f in fields(node):
            value = getattr(node, f.name)
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if isinstance(item, ast.Expr):
                    items[i] = self.expr(item)
                elif isinstance(item, ast.Node):
                    self.statements(item)
            if not isinstance(value, list) and isinstance(value, ast.Node):
                setattr(node, f.name, items[0])

    def expr(self, e: ast.Expr) -> ast.Expr:
        if isinstance(e, ast.Variable):
            if self.in_macro:
                if e.name in self.variables:
                    e.name = self.variables[e.name]
                elif e.name in self.renamed:
                    e.name = self.new_name(e.name)
            return e
        if isinstance(e, ast.Map):
            if self.in_macro:
                if e.name in self.maps:
                    e.name = self.maps[e.name]
                else:
                    self.diagnostics.error(e.span, f"Unhygienic access to map: {e.name}. Maps must be passed into "
                                                   "the macro as arguments.")
            self.statements(e)
            return e
        if isinstance(e, ast.Builtin) and e.name in self.passed:
            clone = copy.deepcopy(self.passed[e.name])
            return Expander(self.registry, self.diagnostics, self.stack, rename=False).expr(clone)
        if isinstance(e, ast.Call):
            e.args = [self.expr(a) for a in e.args]
            return self.call(e, e.name, e.args)
        if isinstance(e, ast.Builtin):
            return self.call(e, e.name, [])
        self.statements(e)
        return e

    def call(self, e: ast.Expr, name: str, args: list[ast.Expr]) -> ast.Expr:
        macros = self.registry.get(name)
        if not macros:
            return e
        macro = min(macros, key=lambda m: _distance(m, args))
        if _distance(macro, args):
            if name in FUNCTIONS or name in VARIABLES:
                return e  # a builtin of that name (bpftrace's standard library macros) takes these arguments
            self.mismatch(e, macro, name, args)
            return e
        if macro in self.stack:
            chain = " > ".join(m.name for m in self.stack[self.stack.index(macro):])
            self.diagnostics.error(e.span, f"Recursive macro call detected. Call chain: {chain} > {macro.name}")
            return e
        inner = Expander(self.registry, self.diagnostics, self.stack + [macro])
        for param, arg in zip(macro.params, args):
            if isinstance(param, ast.Variable):
                inner.variables[param.name] = arg.name
            elif isinstance(param, ast.Map):
                inner.maps[param.name] = arg.name
            elif isinstance(arg, (ast.Variable, ast.Map)):
                inner.passed[param.name] = ast.BlockExpr(arg.span, [], arg)
            else:
                inner.passed[param.name] = arg
        body = copy.deepcopy(macro.body)
        _mark_expanded(body, e.span)
        inner.statements(body)
        body.span = e.span
        if not body.body and isinstance(body.value, (ast.String, ast.Integer)):
            return body.value  # a literal stays one: `printf(fmt())` with `macro fmt() { "..." }`
        return body

    def mismatch(self, e: ast.Expr, macro: ast.Macro, name: str, args: list[ast.Expr]) -> None:
        self.diagnostics.error(e.span, f"Call to {name}() has arguments that do not match any definition.")
        if len(macro.params) != len(args):
            self.diagnostics.error(macro.span, f"The closest definition of {name}() has a different number of "
                                               f"arguments. Expected: {len(macro.params)} but got {len(args)}")
            return
        for param, arg in zip(macro.params, args):
            if _fits(param, arg):
                continue
            wanted = "a map" if isinstance(param, ast.Map) else "a variable"
            got = "a variable" if isinstance(arg, ast.Variable) else "a map" if isinstance(arg, ast.Map) \
                else "an expression"
            self.diagnostics.error(arg.span, f"Mismatched arg. {name}() expects {wanted} for arg "
                                             f"{param.name} but got {got}.")
            self.diagnostics.error(param.span, "This is the argument in the closest definition.")

    def new_name(self, name: str) -> str:
        macro = self.stack[-1]
        depth = f"_{len(self.stack)}" if len(self.stack) != 1 else ""
        return f"$${macro.name}{depth}_{name}"


def _registry(program: ast.Program, diagnostics: Diagnostics) -> dict[str, list[ast.Macro]]:
    registry: dict[str, list[ast.Macro]] = {}
    for macro in program.macros:
        same = [m for m in registry.get(macro.name, []) if _distance(m, macro.params) == 0
                and [type(p) for p in m.params] == [type(p) for p in macro.params]]
        if same:
            diagnostics.error(macro.span, f"Redefinition of macro: {macro.name}")
            diagnostics.error(same[0].span, "This is the original definition.")
            continue
        seen: set[tuple[type, str]] = set()
        for param in macro.params:
            kind = {ast.Variable: "Variable", ast.Map: "Map", ast.Builtin: "Ident"}[type(param)]
            if (type(param), param.name) in seen:
                diagnostics.error(param.span, f"{kind} for macro argument has already been used: {param.name}")
                break
            seen.add((type(param), param.name))
        else:
            registry.setdefault(macro.name, []).append(macro)
    return registry


def expand_macros(program: ast.Program, diagnostics: Diagnostics) -> None:
    """Expand every macro call in the program's probes, in place; errors go to `diagnostics`."""
    if not program.macros:
        return
    expander = Expander(_registry(program, diagnostics), diagnostics, [])
    for probe in program.probes:
        expander.statements(probe)
    program.macros = []

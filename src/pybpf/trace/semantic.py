"""Semantic analysis: every expression gets a type, every misuse a diagnostic.

Checks what bpftrace's semantic analyser checks for the language pybpftrace
supports: known probes, builtins and functions (the registry in
builtins.py), argument counts and types, printf formats against their
arguments, scratch variables assigned before use and never changing type,
and maps keeping one key and one value type across the whole script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from .builtins import FUNCTIONS, VARIABLES, division_warning
from .probes import expand_wildcards, field_type, providers
from .source import Diagnostics, Source, Span
from .widen import widest
from .types import BOOL, CAST_TYPES, INT64, NONE, UINT64, Type, integer, kind_name, string, tuple_of


# Map kinds a declaration may name.  The virtual kernel keeps per-CPU kinds in shared maps updated
# atomically: they print the same.
MAP_KINDS = ("hash", "lruhash", "percpuhash", "percpulruhash")


@dataclass
class MapInfo:
    name: str
    keys: list[Type] | None = None  # None until the first use says
    value: Type | None = None
    index: int = 0  # its number among the script's maps
    kind: str = "hash"  # a `let @m = KIND(N)` declaration's map kind
    entries: int = 4096  # max_entries


@dataclass(frozen=True)
class Output:
    """A record kind the programs send with its arguments: printf, print, time, cat, system."""

    kind: str
    fmt: str
    types: tuple[Type, ...]
    span: Span | None = None  # warnf/errorf: where the message says it comes from


@dataclass
class Resources:
    """What user space needs to decode what the programs send: outputs (record id = index), maps."""

    outputs: list[Output] = field(default_factory=list)
    maps: dict[str, MapInfo] = field(default_factory=dict)
    needs_elapsed: bool = False
    kernel: str = "virtual"  # the kernel the programs are for: probes.providers(kernel)
    probe_facts: dict = field(default_factory=dict)  # attach point text -> what its provider found (probes.py)
    uses_exit: bool = False  # exit() sets a flag the other probes check first (codegen.EXIT_MAP)
    warnings: list = field(default_factory=list)  # source.Diagnostic

    def add_output(self, kind: str, fmt: str, types, span: Span | None = None) -> int:
        self.outputs.append(Output(kind, fmt, tuple(types), span))
        return len(self.outputs) - 1


class Analyser:
    def __init__(self, source: Source, program: ast.Program, params: list[str] | None = None,
                 unsafe: bool = False, kernel: str = "virtual"):
        self.source, self.program, self.unsafe = source, program, unsafe
        self.diagnostics = Diagnostics(source)
        self.resources = Resources(kernel=kernel)
        self.params = params or []
        self.variables: dict[str, Type] = {}
        self.probe: ast.Probe | None = None
        self.loop_depth = 0

    def run(self) -> Resources:
        for declaration in self.program.declarations:
            if declaration.kind not in MAP_KINDS:
                self.diagnostics.error(declaration.span, f"Invalid map type: {declaration.kind} "
                                                         f"(one of {', '.join(MAP_KINDS)})")
            elif declaration.entries < 1:
                self.diagnostics.error(declaration.span, "Map size must be positive")
            self.resources.maps[declaration.name] = MapInfo(declaration.name, index=len(self.resources.maps),
                                                            kind=declaration.kind, entries=declaration.entries)
        seen: dict[str, ast.AttachPoint] = {}
        for point in (p for probe in self.program.probes for p in probe.attach_points):
            if point.provider in ("BEGIN", "END"):
                if point.provider in seen:
                    self.diagnostics.error(point.span, f"More than one {point.provider} probe defined")
                seen[point.provider] = point
        for probe in self.program.probes:
            self.probe, self.variables = probe, {}
            probe.attach_points = expand_wildcards(self, probe.attach_points)
            if not probe.attach_points:  # missing_probes = warn|ignore skipped every one
                self.diagnostics.warning(probe.span, "Probe has no valid attach points. It is being removed "
                                                     "which may cause issues with program behavior.")
                continue
            for point in probe.attach_points:
                provider = providers(self.resources.kernel).get(point.provider)
                if provider is None:
                    self.diagnostics.error(point.span, f"Invalid probe type: {point.provider}")
                else:
                    provider.check(self, point)
            if probe.predicate is not None:
                if not self.expr(probe.predicate).is_int:
                    self.diagnostics.error(probe.predicate.span, "Invalid type for predicate: "
                                           f"{probe.predicate.type}")
            self.block(probe.body)
        self.program.probes = [probe for probe in self.program.probes if probe.attach_points]
        if not self.program.probes and not self.diagnostics.errors:
            self.diagnostics.error(self.program.span, "No probes to attach")
        for declaration in self.program.declarations:
            info = self.resources.maps[declaration.name]
            if info.value is None and info.keys is None:
                self.diagnostics.warning(declaration.span, f"Unused map: {declaration.name}")
        for info in self.resources.maps.values():
            if info.value is None:
                info.value = INT64
            if info.keys is None:
                info.keys = []
        self.diagnostics.check()
        self.resources.warnings = list(self.diagnostics.warnings)
        return self.resources

    def probe_provider(self, node: ast.Node):
        """The probe type of the probe being checked (its first attach point's)."""
        return providers(self.resources.kernel).get(self.probe.attach_points[0].provider)

    # -- statements ---------------------------------------------------------------
    def block(self, statements: list[ast.Stmt]) -> None:
        for i, statement in enumerate(statements):
            self.statement(statement)
            if i + 1 < len(statements) and _ends_flow(statement):
                self.diagnostics.warning(statements[i + 1].span, "Unreachable statement.")
                for dead in statements[i + 1:]:  # still checked, as bpftrace types its dead code
                    self.statement(dead)
                del statements[i + 1:]
                return

    def statement(self, s: ast.Stmt) -> None:
        if isinstance(s, ast.ExprStmt):
            self.expr(s.expr, statement=True)
        elif isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.If):
            self.condition(s.cond)
            self.block(s.then)
            self.block(s.otherwise)
        elif isinstance(s, ast.While):
            self.condition(s.cond, "while()")
            self.loop_depth += 1
            self.block(s.body)
            self.loop_depth -= 1
        elif isinstance(s, ast.ForRange):
            for bound in (s.start, s.end):
                if not self.expr(bound).is_int:
                    self.diagnostics.error(bound.span, f"Loop range requires an integer ({bound.type} provided)")
            previous = self.variables.get(s.variable.name)
            if previous is not None and not previous.is_int:
                self.diagnostics.error(s.variable.span, f"Loop variable {s.variable.name} already holds a "
                                                        f"{previous}")
            self.variables[s.variable.name] = s.variable.type = INT64
            self.loop_depth += 1
            self.block(s.body)
            self.loop_depth -= 1
        elif isinstance(s, ast.Unroll):
            if not 1 <= s.count <= 100:
                self.diagnostics.error(s.span, "unroll maximum value is 100" if s.count > 100 else
                                       "unroll minimum value is 1")
            self.block(s.body)
        elif isinstance(s, ast.Jump):
            if s.kind != "return" and not self.loop_depth:
                self.diagnostics.error(s.span, f"{s.kind} used outside of a loop")

    def condition(self, cond: ast.Expr, where: str = "if()") -> None:
        if not self.expr(cond).is_int:
            self.diagnostics.error(cond.span, f"Invalid condition in {where}: {kind_name(cond.type)}")

    def assign(self, s: ast.Assign) -> None:
        value = self.expr(s.value)
        if s.op:  # @x += e is @x = @x + e, and for a map a sum when nothing else was assigned
            if not value.is_int:
                self.diagnostics.error(s.value.span, f"Invalid operand for {s.op}=: {value}")
            if s.op in ("/", "%"):
                s.by_zero = division_warning(self, s.span)
            value = INT64
        if value.kind == "none":
            self.diagnostics.error(s.value.span, "Value has no type and cannot be assigned")
            return
        if isinstance(s.target, ast.Variable):
            previous = self.variables.get(s.target.name)
            if value.is_aggregation:
                self.diagnostics.error(s.value.span, "Aggregations cannot be assigned to scratch variables")
            elif previous is not None and (previous.kind != value.kind or widest(previous, value) is None):
                self.diagnostics.error(s.op_span or s.span, f"Type mismatch for {s.target.name}: trying to assign value of "
                                               f"type '{value}' when variable already contains a value of "
                                               f"type '{previous}'")
            elif previous is not None and value.kind in ("str", "tuple", "buffer"):
                self.variables[s.target.name] = widest(previous, value)
            elif previous is None:
                self.variables[s.target.name] = value
            s.target.type = self.variables.get(s.target.name, value)
            return
        self.map_use(s.target, value)

    def map_use(self, target: ast.Map, value: Type | None) -> Type:
        """Record a map's key and (when assigned) value types; the map's value type."""
        info = self.resources.maps.get(target.name)
        if info is None:
            info = self.resources.maps[target.name] = MapInfo(target.name, index=len(self.resources.maps))
        keys = [self.expr(k) for k in target.keys]
        for key, t in zip(target.keys, keys):
            if t.kind not in ("int", "bool", "str", "tuple", "buffer", "usym", "ksym", "kstack", "ustack", "inet",
                              "timestamp"):
                self.diagnostics.error(key.span, f"{t} cannot be a map key")
        keys = [integer(8, t.signed) if t.kind == "int" else t for t in keys]
        if len(keys) == 1 and keys[0].kind == "tuple" and info.keys and len(info.keys) > 1:
            keys = list(keys[0].items)  # @m[$t] names the element @m[$t.0, $t.1, ...]
        if info.keys is None:
            info.keys = keys
        elif len(info.keys) != len(keys) or any(widest(a, b) is None for a, b in zip(info.keys, keys)):
            self.diagnostics.error(target.span, f"Argument mismatch for {target.name}: trying to access with "
                                                f"arguments: [{', '.join(map(str, keys))}] when map expects "
                                                f"arguments: [{', '.join(map(str, info.keys))}]")
        else:
            info.keys = [widest(a, b) for a, b in zip(info.keys, keys)]
        if value is not None:
            stored = integer(8, value.signed) if value.kind == "int" else value
            if info.value is None:
                info.value = stored
            elif info.value.kind != stored.kind or info.value.params != stored.params:
                self.diagnostics.error(target.span, f"Type mismatch for {target.name}: trying to assign value of "
                                                    f"type '{stored}' when map already contains a value of type "
                                                    f"'{info.value}'")
            elif widest(info.value, stored) is None:
                self.diagnostics.error(target.span, f"Type mismatch for {target.name}: trying to assign value of "
                                                    f"type '{stored}' when map already contains a value of type "
                                                    f"'{info.value}'")
            else:
                info.value = widest(info.value, stored)
        target.type = info.value or INT64
        return target.type

    # -- expressions -----------------------------------------------------------------
    def expr(self, e: ast.Expr, statement: bool = False) -> Type:
        e.type = self._expr(e, statement)
        return e.type

    def _expr(self, e: ast.Expr, statement: bool) -> Type:
        if isinstance(e, ast.Integer):
            if e.value >= 1 << 63:
                return UINT64
            return INT64
        if isinstance(e, ast.String):
            return string(len(e.value.encode()) + 1)
        if isinstance(e, ast.Variable):
            t = self.variables.get(e.name)
            if t is None:
                self.diagnostics.error(e.span, f"Undefined or undeclared variable: {e.name}")
                return INT64
            return t
        if isinstance(e, ast.PositionalParam):
            if e.index == 0:
                e.value = len(self.params)
                return INT64
            text = self.params[e.index - 1] if e.index <= len(self.params) else ""
            if not text or text.lstrip("-").isdigit():
                e.value = int(text or 0)
                return INT64
            e.value = text
            return string(len(text.encode()) + 1)
        if isinstance(e, ast.Map):
            info = self.resources.maps.get(e.name)
            if info is None or info.value is None:
                if info is None:
                    self.map_use(e, None)
                    self.diagnostics.error(e.span, f"Undefined map: {e.name}")
                return INT64
            self.map_use(e, None)
            if info.value.is_aggregation and info.value.kind not in ("count", "sum", "min", "max", "avg"):
                self.diagnostics.error(e.span, f"{info.value} maps cannot be read in an expression")
            return info.value if not info.value.is_aggregation else INT64
        if isinstance(e, ast.Builtin):
            builtin = VARIABLES.get(e.name)
            if builtin is None:
                self.diagnostics.error(e.span, f"Unknown identifier: '{e.name}'")
                return INT64
            return builtin.check(self, e)
        if isinstance(e, ast.FieldAccess):
            return field_type(self, e)
        if isinstance(e, ast.Call):
            function = FUNCTIONS.get(e.name)
            if function is None and e.name in VARIABLES and not e.args:  # comm() is comm
                return VARIABLES[e.name].check(self, e)
            if function is None:
                self.diagnostics.error(e.name_span or e.span, f"Unknown function: {e.name}")
                return NONE
            return function.check(self, e, statement)
        if isinstance(e, ast.Unary):
            t = self.expr(e.operand)
            if not t.is_int:
                self.diagnostics.error(e.span, f"The {e.op} operator can not be used on expressions of type {t}")
            return BOOL if e.op == "!" else t
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Ternary):
            self.condition(e.cond, "ternary")
            then, otherwise = self.expr(e.then, statement), self.expr(e.otherwise, statement)  # c ? printf() : ...
            if then.kind != otherwise.kind:
                self.diagnostics.error(e.span, f"Ternary operator must return the same type: have '{then}' and "
                                               f"'{otherwise}'")
            return then if then.kind not in ("str", "buffer") else Type(then.kind, max(then.size, otherwise.size))
        if isinstance(e, ast.Cast):
            t = self.expr(e.operand)
            if not t.is_int:
                self.diagnostics.error(e.span, f"Cannot cast from \"{t}\" to \"{e.target}\"")
            return CAST_TYPES[e.target]
        if isinstance(e, ast.TupleAccess):
            t = self.expr(e.tuple)
            if t.kind != "tuple":
                self.diagnostics.error(e.span, f"Can not access index {e.index} on expression of type '{t}'")
                return INT64
            if e.index >= len(t.items):
                self.diagnostics.error(e.span, f"Invalid tuple index: {e.index}. Found {len(t.items)} elements "
                                               f"in tuple.")
                return INT64
            return t.items[e.index]
        if isinstance(e, ast.Tuple):
            items = [self.expr(item) for item in e.items]
            return tuple_of([integer(8, t.signed) if t.kind == "int" else t for t in items])
        raise AssertionError(f"unhandled expression {e!r}")  # pragma: no cover

    def binary(self, e: ast.Binary) -> Type:
        left, right = self.expr(e.left), self.expr(e.right)
        if left.kind == right.kind and left.kind in ("str", "buffer") and e.op in ("==", "!="):
            return BOOL
        if not (left.is_int and right.is_int):
            self.diagnostics.error(e.span, f"Type mismatch for '{e.op}': comparing '{left}' with '{right}'")
            return INT64
        if e.op in ("/", "%"):
            e.by_zero = division_warning(self, e.span)
        if e.op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            return BOOL  # current bpftrace: comparisons are bools (0.17 printed them as 0/1)
        return integer(8, left.signed and right.signed)


def _ends_flow(s: ast.Stmt) -> bool:
    """Whether nothing after s runs: a jump, exit(), or an if whose branches both end so (bpftrace's
    control_flow_analyser)."""
    if isinstance(s, ast.Jump):
        return True
    if isinstance(s, ast.ExprStmt):
        return isinstance(s.expr, ast.Call) and s.expr.name == "exit"
    if isinstance(s, ast.If):
        return bool(s.then and s.otherwise and _ends_flow(s.then[-1]) and _ends_flow(s.otherwise[-1]))
    return False


def analyse(source: Source, program: ast.Program, params: list[str] | None = None,
            unsafe: bool = False, kernel: str = "virtual") -> Resources:
    return Analyser(source, program, params, unsafe, kernel).run()

"""Semantic analysis: every expression gets a type, every misuse a diagnostic.

Checks what bpftrace's semantic analyser checks for the language pybpftrace
supports: known probes, builtins and functions (the registry in
builtins.py), argument counts and types, printf formats against their
arguments, scratch variables assigned before use and never changing type,
and maps keeping one key and one value type across the whole script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast, composite, percpu
from .builtins import FUNCTIONS, VARIABLES, division_warning
from .config import resolve as resolve_config
from .builtins_types import kernel_structs
from .probes import expand_wildcards, field_type, providers
from .source import Diagnostics, Source, Span
from .types import (BOOL, INT64, NONE, UINT64, Type, arithmetic_result, enum_of, fits, fits_into, integer, kind_name,
                    literal, pointer_to, promoted, string, tuple_of)
from .structs import StructTable, complete, derive, layout, resolve
from .widen import widest


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
    variables: dict[str, Type] = field(default_factory=dict)  # a scratch variable's binding -> its final type
    config: dict[str, object] = field(default_factory=dict)  # every setting: config.resolve()
    warnings: list = field(default_factory=list)  # source.Diagnostic
    structs: StructTable = field(default_factory=StructTable)  # the script's struct declarations by name

    def add_output(self, kind: str, fmt: str, types, span: Span | None = None) -> int:
        self.outputs.append(Output(kind, fmt, tuple(types), span))
        return len(self.outputs) - 1


@dataclass
class Binding:
    """A scratch variable's declaration: its type (None for `let $x;` until assigned) and unique key."""

    type: Type | None
    key: str
    sized: bool = False  # `let $x: T`: its type stays T (bpftrace's sized_decl_vars); else integers widen


class Analyser:
    def __init__(self, source: Source, program: ast.Program, params: list[str] | None = None,
                 unsafe: bool = False, kernel: str = "virtual"):
        self.source, self.program, self.unsafe = source, program, unsafe
        self.diagnostics = Diagnostics(source)
        self.resources = Resources(kernel=kernel)
        self.params = params or []
        self.scopes: list[dict[str, Binding]] = [{}]
        self.callback_loops: list[tuple[ast.ForMap | ast.ForRange, int]] = []  # loops compiled to callbacks
        self.enums: dict[str, Type] = {}  # `enum NAME { ... }`
        self.enum_constants: dict[str, tuple[int, Type]] = {}  # each variant: its value and enum type
        self.structs = self.resources.structs  # `struct Foo { ... }`: "struct Foo" -> its type
        self.probe: ast.Probe | None = None
        self.loop_depth = 0

    # -- scratch variables: block scoped, as current bpftrace -------------------------------
    def lookup(self, name: str) -> Binding | None:
        for depth in range(len(self.scopes) - 1, -1, -1):
            binding = self.scopes[depth].get(name)
            if binding is not None:
                for loop, loop_depth in self.callback_loops:  # an outer variable a loop's callback reaches by pointer
                    if depth < loop_depth and binding.key not in loop.captures:
                        loop.captures.append(binding.key)
                return binding
        return None

    def declare(self, var: ast.Variable, t: Type | None) -> Binding:
        binding = Binding(t, f"{var.name}#{len(self.resources.variables)}")
        self.scopes[-1][var.name] = binding
        self.resources.variables[binding.key] = t or INT64
        return binding

    def bind(self, var: ast.Variable, binding: Binding) -> None:
        var.binding, var.type = binding.key, binding.type or INT64
        if binding.type is not None:
            self.resources.variables[binding.key] = binding.type

    def scoped_block(self, statements: list[ast.Stmt]) -> None:
        self.scopes.append({})
        self.block(statements)
        self.scopes.pop()

    def run(self) -> Resources:
        self.structs.kernel = kernel_structs(self.resources.kernel)  # `struct foo { struct task_struct t; }`
        declared = set()
        for decl in self.program.structs:
            t = layout(decl, self.structs, self.diagnostics)
            if t.name in declared:
                self.diagnostics.error(decl.span, f"Redefinition of {t.name}")
            declared.add(t.name)
            self.structs[t.name] = t  # the script's declaration wins over the kernel's
        for decl in self.program.enums:
            t = enum_of(tuple(decl.variants))
            if decl.name:
                self.enums[decl.name] = t
            for name, value in decl.variants:
                self.enum_constants[name] = (value, t)
        self.resources.config = resolve_config(self.program.config, self.source.text, self.diagnostics)
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
            self.probe, self.scopes = probe, [{}]
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
                if not (self.expr(probe.predicate).is_int or probe.predicate.type.kind == "ptr"):
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
            elif declaration.kind in MAP_KINDS and info.value is not None and \
                    not percpu.compatible(declaration.kind, info.value.is_aggregation):
                self.diagnostics.error(declaration.span, "Incompatible map types. Type from declaration: "
                                       f"{declaration.kind}. Type from value/key type: "
                                       f"{percpu.NEEDED_KIND[info.value.is_aggregation]}")
        for info in self.resources.maps.values():
            if info.value is None:
                info.value = INT64
            if info.keys is None:
                info.keys = []
        self.diagnostics.check()
        self.resources.warnings = list(self.diagnostics.warnings)
        return self.resources

    @staticmethod
    def constant(e: ast.Expr) -> int | None:
        return constant(e)

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
            self.scoped_block(s.then)
            self.scoped_block(s.otherwise)
        elif isinstance(s, ast.While):
            self.condition(s.cond, "while()")
            self.loop_depth += 1
            self.scoped_block(s.body)
            self.loop_depth -= 1
        elif isinstance(s, ast.ForRange):
            for bound in (s.start, s.end):
                if not self.expr(bound).is_int:
                    self.diagnostics.error(bound.span, f"Loop range requires an integer ({bound.type} provided)")
            self.scopes.append({})
            self.callback_loops.append((s, len(self.scopes) - 1))
            both_int = s.start.type.kind == s.end.type.kind == "int"  # bpftrace's range type: `0..5` is an int8
            self.bind(s.variable, self.declare(s.variable, promoted(s.start.type, s.end.type) if both_int else INT64))
            self.loop_depth += 1
            self.block(s.body)
            self.loop_depth -= 1
            self.callback_loops.pop()
            self.scopes.pop()
        elif isinstance(s, ast.ForMap):
            self.for_map(s)
        elif isinstance(s, ast.Unroll):
            if s.count > 100:
                self.diagnostics.error(s.span, "unroll maximum value is 100")
            elif s.count < 1:
                self.diagnostics.error(s.span, "unroll minimum value is 1")
            self.scoped_block(s.body)
        elif isinstance(s, ast.Jump):
            if not self.loop_depth:
                self.diagnostics.error(s.span, f"{s.kind} used outside of a loop")
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.expr(s.value)
        elif isinstance(s, ast.VarDecl):
            self.var_declaration(s)

    def resolve_type(self, spec: "str | ast.Expr", span: Span) -> Type | None:
        """The type a cast, `let $x: T` or `sizeof(T)` names (`typeof(e)` is e's type); None (and an error)
        when unknown."""
        if isinstance(spec, ast.Expr):
            return self.expr(spec)
        t = self.enums.get(spec[5:]) if spec.startswith("enum ") else resolve(spec, self.structs)
        if t is None:
            self.diagnostics.error(span, f"Unknown type: {spec}")
        return t

    def var_declaration(self, s: ast.VarDecl) -> None:
        declared = None
        if s.type_name is not None:
            declared = self.resolve_type(s.type_name, s.span)
        value = self.expr(s.value) if s.value is not None else None
        if value is not None and value.kind == "none":
            self.diagnostics.error(s.value.span, "Value has no type and cannot be assigned")
            value = None
        if declared is not None and value is not None and declared.kind != value.kind:
            self.diagnostics.error(s.span, f"Type mismatch for {s.variable.name}: trying to assign value of type "
                                           f"'{value}' when variable already has a type '{declared}'")
        elif declared is not None and value is not None and declared.kind == "int":
            self.sized_store(s, declared, value)
        if self.scopes[-1].get(s.variable.name) is not None:
            self.diagnostics.error(s.variable.span, f"Variable {s.variable.name} was already declared")
        binding = self.declare(s.variable, declared or value)
        binding.sized = declared is not None
        self.bind(s.variable, binding)

    def sized_store(self, s: "ast.Assign | ast.VarDecl", declared: Type, value: Type) -> None:
        """An integer into a `let $x: T` variable is cast to T (codegen truncates), as bpftrace's CastCreator:
        a literal that does not fit is an error, any other value that may not fit a warning."""
        written = constant(s.value) if isinstance(s.value, ast.Integer) or (
            isinstance(s.value, ast.Unary) and isinstance(s.value.operand, ast.Integer)) else None
        name = s.variable.name if isinstance(s, ast.VarDecl) else s.target.name
        if written is not None:
            if not fits(written, declared):
                self.diagnostics.error(s.span, f"Type mismatch for {name}: trying to assign value of type '{value}' "
                                               f"when variable already has a type '{declared}'")
        elif not fits_into(value, declared):
            self.diagnostics.warning(s.value.span, f"Expression of type: {value} being cast to type: {declared}. "
                                                   "This may cause unexpected results. Use an explicit cast to "
                                                   "suppress this warning.")

    def for_map(self, s: ast.ForMap) -> None:
        info = self.resources.maps.get(s.map.name)
        if info is None or info.value is None:
            self.diagnostics.error(s.map.span, f"Undefined map: {s.map.name}")
            key, value = INT64, INT64
        else:
            if info.value.kind in ("hist", "lhist", "stats"):
                self.diagnostics.error(s.map.span, f"Loop expression does not support type: {info.value}")
            keys = info.keys or [INT64]
            key = keys[0] if len(keys) == 1 else tuple_of(keys)
            value = INT64 if info.value.is_aggregation else info.value
        s.map.type = info.value if info is not None and info.value is not None else INT64
        self.scopes.append({})
        self.callback_loops.append((s, len(self.scopes) - 1))
        self.bind(s.variable, self.declare(s.variable, tuple_of([key, value])))
        self.loop_depth += 1
        self.block(s.body)
        self.loop_depth -= 1
        self.callback_loops.pop()
        self.scopes.pop()

    def condition(self, cond: ast.Expr, where: str = "if()") -> None:
        t = self.expr(cond)
        if not (t.is_int or t.kind == "ptr"):
            self.diagnostics.error(cond.span, f"Invalid condition in {where}: {kind_name(cond.type)}")

    def assign(self, s: ast.Assign) -> None:
        if percpu.check_copy(self, s):  # `@x = @count_map`: bpftrace's rules for aggregations read whole
            return
        value = self.expr(s.value)
        if s.op:  # @x += e is @x = @x + e, and for a map a sum when nothing else was assigned
            if not value.is_int:
                self.diagnostics.error(s.value.span, f"Invalid operand for {s.op}=: {value}")
            if s.op in ("/", "%"):
                s.by_zero = division_warning(self, s.span)
            value = INT64
            current = self.lookup(s.target.name) if isinstance(s.target, ast.Variable) else \
                self.resources.maps.get(s.target.name)
            current = current.type if isinstance(s.target, ast.Variable) and current else \
                current.value if current else None
            if current is not None and current.kind == "ptr" and s.op in ("+", "-"):
                value = current  # pointer arithmetic keeps the pointer type
        if value.kind == "none":
            self.diagnostics.error(s.value.span, "Value has no type and cannot be assigned")
            return
        if isinstance(s.target, ast.Variable):
            binding = self.lookup(s.target.name)
            previous = binding.type if binding is not None else None
            if value.is_aggregation:
                self.diagnostics.error(s.value.span, "Aggregations cannot be assigned to scratch variables")
            elif previous is not None and (previous.kind != value.kind or widest(previous, value) is None):
                self.diagnostics.error(s.span, f"Type mismatch for {s.target.name}: trying to assign value of type "
                                               f"'{value}' when variable already has a type '{previous}'")
            elif previous is not None and value.kind in ("int", "str", "tuple", "buffer", "record") and \
                    not (binding.sized and value.kind == "int"):
                binding.type = widest(previous, value)
            elif binding is not None and binding.sized and previous.kind == value.kind == "int":
                self.sized_store(s, previous, value)
            elif binding is None:
                binding = self.declare(s.target, value)
            elif previous is None:
                binding.type = value
            self.bind(s.target, binding)
            return
        self.map_use(s.target, value, s.value.span if value.is_aggregation else s.span)

    def map_use(self, target: ast.Map, value: Type | None, span: Span | None = None) -> Type:
        """Record a map's key and (when assigned) value types; the map's value type.  A value that does not
        fit is an error at `span` (the assignment, or an aggregation's call, as current bpftrace marks it)."""
        info = self.resources.maps.get(target.name)
        if info is None:
            info = self.resources.maps[target.name] = MapInfo(target.name, index=len(self.resources.maps))
        keys = [self.expr(k) for k in target.keys]
        for key, t in zip(target.keys, keys):
            if t.kind not in ("int", "bool", "str", "tuple", "buffer", "usym", "ksym", "kstack", "ustack", "inet",
                              "timestamp", "enum", "record", "struct", "array"):
                self.diagnostics.error(key.span, f"{t} cannot be a map key")
        if info.keys is not None and len(keys) == 1 and keys[0].kind == "tuple" and len(info.keys) > 1 and \
                [_kind(t) for t in keys[0].items] == [_kind(t) for t in info.keys]:
            keys = list(keys[0].items)  # @m[$t] with $t = (k1, k2): the tuple is the keys
        if info.keys is None:
            info.keys = keys
        elif bool(info.keys) != bool(keys):
            keyed, scalar = "with an explicit key (non-scalar map)", "without an explicit key (scalar map)"
            now, before = (keyed, scalar) if keys else (scalar, keyed)
            self.diagnostics.error(target.span, f"{target.name} used as a map {now}, previously used {before}")
        elif len(info.keys) != len(keys) or any(_kind(a) != _kind(b) or (a.kind == b.kind and widest(a, b) is None)
                                                for a, b in zip(info.keys, keys)):
            self.diagnostics.error(target.span, f"Argument mismatch for {target.name}: trying to access with "
                                                f"arguments: '{_keys_text(keys)}' when map expects "
                                                f"arguments: '{_keys_text(info.keys)}'")
        else:
            info.keys = [widest(a, b) or a for a, b in zip(info.keys, keys)]
        if value is not None:
            if info.value is None:
                info.value = value
            elif _kind(info.value) != _kind(value) or info.value.params != value.params or \
                    widest(info.value, value) is None:
                self.diagnostics.error(span or target.span, f"Type mismatch for {target.name}: trying to assign "
                                                            f"value of type '{value}' when map already has a type "
                                                            f"'{info.value}'")
            else:
                info.value = widest(info.value, value)
        target.type = info.value or INT64
        return target.type

    # -- expressions -----------------------------------------------------------------
    def expr(self, e: ast.Expr, statement: bool = False) -> Type:
        e.type = self._expr(e, statement)
        return e.type

    def _expr(self, e: ast.Expr, statement: bool) -> Type:
        if isinstance(e, ast.Integer):
            return literal(e.value)
        if isinstance(e, ast.String):
            return string(len(e.value.encode()) + 1)
        if isinstance(e, ast.Variable):
            binding = self.lookup(e.name)
            if binding is None:
                self.diagnostics.error(e.span, f"Undefined or undeclared variable: {e.name}")
                return INT64
            if binding.type is None:  # `let $x;` read before any assignment: an integer 0
                binding.type = INT64
            self.bind(e, binding)
            return binding.type
        if isinstance(e, ast.BlockExpr):
            self.scopes.append({})
            self.block(e.body)
            t = self.expr(e.value, statement) if e.value is not None else NONE
            self.scopes.pop()
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
        if isinstance(e, ast.Builtin) and e.name in self.enum_constants:
            e.enum_value, t = self.enum_constants[e.name]
            return t
        if isinstance(e, ast.Builtin):
            builtin = VARIABLES.get(e.name)
            if builtin is None:
                self.diagnostics.error(e.span, f"Unknown identifier: '{e.name}'")
                return INT64
            return builtin.check(self, e)
        if isinstance(e, ast.FieldAccess):
            if not (isinstance(e.base, ast.Builtin) and e.base.name == "args"):
                t = composite.field_type(self, e)
                if t is not None:
                    return t
            return field_type(self, e)
        if isinstance(e, ast.Record):
            return composite.record_type(self, e)
        if isinstance(e, ast.TypeName):
            return self.resolve_type(e.spec, e.span) or INT64
        if isinstance(e, ast.TypeOf):
            operand = e.operand
            info = self.resources.maps.get(operand.name) if isinstance(operand, ast.Map) else None
            if info is not None and not operand.keys and info.value is not None:  # typeof(@m): its value type
                operand.type = info.value
                return info.value
            t = self.expr(operand)
            derived = derive(t, e.suffix) if e.suffix else t
            if derived is None:
                self.diagnostics.error(e.span, f"Unknown type: {t}{e.suffix}")
            return derived or t
        if isinstance(e, ast.Call):
            function = FUNCTIONS.get(e.name)
            if function is None and e.name in VARIABLES and not e.args:  # comm() is comm
                return VARIABLES[e.name].check(self, e)
            if function is None:
                self.diagnostics.error(e.name_span or e.span, f"Unknown function: {e.name}")
                return NONE
            return function.check(self, e, statement)
        if isinstance(e, ast.Unary) and e.op in ("++", "--"):
            t = self.expr(e.operand)
            if not isinstance(e.operand, ast.Variable) or not (t.is_int or t.kind == "ptr"):
                self.diagnostics.error(e.span, f"The {e.op} operator needs an integer or pointer scratch variable")
                return t
            binding = self.lookup(e.operand.name)
            if t.kind != "int" or binding.sized:
                return t
            binding.type = promoted(t, INT64 if t.signed or e.op == "--" else UINT64)  # `$i = 0; $i++` counts
            self.bind(e.operand, binding)                                              # past 127: an int64
            return binding.type
        if isinstance(e, ast.Unary) and e.op == "&":
            t = self.expr(e.operand)
            if not isinstance(e.operand, ast.Variable):
                self.diagnostics.error(e.span, "The & operator takes the address of a scratch variable")
            return pointer_to(t)
        if isinstance(e, ast.Unary) and e.op == "*":
            t = self.expr(e.operand)
            if t.kind != "ptr":
                self.diagnostics.error(e.span, f"The * operator can not be used on expressions of type {t}")
                return INT64
            pointee = complete(t.items[0], self.structs)
            if pointee.kind == "struct" and not pointee.names:
                self.diagnostics.error(e.span, f"Unknown struct/union: '{pointee.name}'")
            return pointee
        if isinstance(e, ast.Unary):
            t = self.expr(e.operand)
            if not (t.is_int or (t.kind == "ptr" and e.op == "!")):
                self.diagnostics.error(e.span, f"The {e.op} operator can not be used on expressions of type {t}")
            if e.op == "-" and isinstance(e.operand, ast.Integer) and e.operand.value <= 1 << 63:
                return literal(-e.operand.value)  # bpftrace's NegativeInteger: -1 is an int8
            if e.op == "!":
                return BOOL
            return integer(8, t.signed) if t.kind == "int" else t  # -$x, ~$x: 64-bit, as bpftrace's Unop
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Ternary):
            self.condition(e.cond, "ternary")
            then = self.expr(e.then, statement) if e.then is not None else e.cond.type  # `a ?: b`
            otherwise = self.expr(e.otherwise, statement)
            if then.kind == "none" and otherwise.kind == "none":
                return NONE
            if then.kind != otherwise.kind:
                self.diagnostics.error(e.span, f"Ternary operator must return the same type: have '{then}' and "
                                               f"'{otherwise}'")
            if then.kind == otherwise.kind == "int":
                return promoted(then, otherwise)  # `c ? (uint8)1 : (int32)-1` is an int32
            return then if then.kind not in ("str", "buffer") else Type(then.kind, max(then.size, otherwise.size))
        if isinstance(e, ast.Cast):
            t = self.expr(e.operand)
            target = self.resolve_type(e.target, e.span)
            if target is None:
                return INT64
            if target.kind == "array":
                return composite.cast_to_array(self, e, target, t)
            if target.kind in ("struct", "record", "tuple", "str") or t.kind in ("struct", "record", "array"):
                self.diagnostics.error(e.span, f"Cannot cast from \"{t}\" to \"{target}\"")
                return target
            if not (t.is_int or t.kind == "ptr" or (target.kind == "bool" and t.is_scalar)):
                written = e.target if isinstance(e.target, str) else target
                self.diagnostics.error(e.span, f"Cannot cast from \"{t}\" to \"{written}\"")
            return target
        if isinstance(e, ast.TupleAccess):
            t = self.expr(e.tuple)
            if e.index_expr is not None and t.kind in ("array", "ptr", "str"):
                return composite.index_type(self, e, t)
            if e.index_expr is not None and t.kind != "tuple":
                self.expr(e.index_expr)
                self.diagnostics.error(e.span, "The array index operator [] can only be used on arrays, pointers, "
                                               f"and tuples, found {t}.")
                return INT64
            if e.index_expr is not None:
                self.expr(e.index_expr)
                index = constant(e.index_expr)
                if index is None or index < 0:
                    self.diagnostics.error(e.index_expr.span, "The index of a tuple must be a non-negative "
                                                              "integer literal")
                    return INT64
                e.index = index
            if t.kind != "tuple":
                self.diagnostics.error(e.span, f"Can not access index '{e.index}' on expression of type '{t}'")
                return INT64
            if e.index >= len(t.items):
                self.diagnostics.error(e.span, f"Invalid tuple index: {e.index}. Found {len(t.items)} elements "
                                               f"in tuple.")
                return INT64
            return t.items[e.index]
        if isinstance(e, ast.Tuple):
            return tuple_of([self.expr(item) for item in e.items])
        raise AssertionError(f"unhandled expression {e!r}")  # pragma: no cover

    def binary(self, e: ast.Binary) -> Type:
        left, right = self.expr(e.left), self.expr(e.right)
        if left.kind == right.kind and left.kind in ("str", "buffer") and e.op in ("==", "!="):
            return BOOL
        if left.kind == "array" and e.op in ("==", "!="):
            if left != right:
                self.diagnostics.error(e.span, f"Type mismatch for '{e.op}': comparing '{left}' with '{right}'")
            return BOOL
        if "ptr" in (left.kind, right.kind):
            return self.pointer_binary(e, left, right)
        if not (left.is_int and right.is_int):
            self.diagnostics.error(e.span, f"Type mismatch for '{e.op}': comparing '{left}' with '{right}'")
            return INT64
        if e.op in ("/", "%"):
            e.by_zero = division_warning(self, e.span)
        if e.op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            e.signed = promoted(left, right).signed if left.kind == right.kind == "int" else \
                left.signed and right.signed
            return BOOL  # current bpftrace: comparisons are bools (0.17 printed them as 0/1)
        return arithmetic_result(e.op, left, right)


    def pointer_binary(self, e: ast.Binary, left: Type, right: Type) -> Type:
        """C's rules: pointer +/- integer steps by the pointee size; pointers compare with pointers and integers."""
        operands = all(t.is_int or t.kind == "ptr" for t in (left, right))
        if operands and e.op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            return BOOL
        if e.op in ("+", "-") and left.kind == "ptr" and right.is_int:
            return left
        if e.op == "+" and right.kind == "ptr" and left.is_int:
            return right
        self.diagnostics.error(e.span, f"The {e.op} operator can not be used on expressions of types {left}, "
                                       f"{right}")
        return INT64


def _keys_text(keys: list[Type]) -> str:
    """A map's keys as current bpftrace names them in messages: `int8`, or several as a tuple `(int8,string[3])`."""
    return str(keys[0]) if len(keys) == 1 else str(tuple_of(keys))


def _kind(t: Type) -> str:
    """A type's kind for map consistency: an enum value is an integer."""
    return "int" if t.kind == "enum" else t.kind


def constant(e: ast.Expr) -> int | None:
    """The value of an integer expression made of literals (`1 + 1`), else None."""
    if isinstance(e, ast.Integer):
        return e.value
    if isinstance(e, ast.Unary) and e.op == "-":
        value = constant(e.operand)
        return None if value is None else -value
    if isinstance(e, ast.Binary) and e.op in ("+", "-", "*"):
        left, right = constant(e.left), constant(e.right)
        if left is None or right is None:
            return None
        return left + right if e.op == "+" else left - right if e.op == "-" else left * right
    return None


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

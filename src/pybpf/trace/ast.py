"""The syntax tree of a script.  Semantic analysis fills each expression's `type`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span
from .types import Type


@dataclass(eq=False)
class Node:
    span: Span


@dataclass(eq=False)
class Expr(Node):
    type: Type | None = field(default=None, init=False)


@dataclass(eq=False)
class Integer(Expr):
    value: int


@dataclass(eq=False)
class String(Expr):
    value: str


@dataclass(eq=False)
class Builtin(Expr):
    """A bare name: pid, comm, nsecs, arg0, retval, ..."""

    name: str


@dataclass(eq=False)
class FieldAccess(Expr):
    """`args->member` (or `args.member`): a field of the probe's arguments (a tracepoint's record)."""

    base: Expr
    member: str


@dataclass(eq=False)
class PositionalParam(Expr):
    index: int  # $1 is 1; $# is 0 (the count)
    value: int | str | None = field(default=None, init=False)  # set by semantic analysis


@dataclass(eq=False)
class Variable(Expr):
    """A scratch variable, `$name`."""

    name: str


@dataclass(eq=False)
class Map(Expr):
    """`@name` or `@name[keys]` (`@` alone is the map named "@")."""

    name: str
    keys: list[Expr]


@dataclass(eq=False)
class Call(Expr):
    name: str
    args: list[Expr]
    name_span: Span | None = None
    output: int | None = field(default=None, init=False)  # the record id of printf, print, time... (semantic)
    constant: int | None = field(default=None, init=False)  # what sizeof() found (semantic)


@dataclass(eq=False)
class Unary(Expr):
    op: str  # - ! ~
    operand: Expr


@dataclass(eq=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass(eq=False)
class Cast(Expr):
    target: str  # int8 ... uint64
    operand: Expr


@dataclass(eq=False)
class Tuple(Expr):
    items: list[Expr]


@dataclass(eq=False)
class TupleAccess(Expr):
    """`$t.0`: an element of a tuple."""

    tuple: Expr
    index: int


@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(eq=False)
class Assign(Stmt):
    """`@x = e`, `$x = e`, and `@x += e` (op is the operator, "" for plain assignment)."""

    target: Map | Variable
    value: Expr
    op: str = ""
    op_span: Span | None = None  # the `=` (or `+=` ...)


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    then: list[Stmt]
    otherwise: list[Stmt]


@dataclass(eq=False)
class While(Stmt):
    cond: Expr
    body: list[Stmt]


@dataclass(eq=False)
class ForRange(Stmt):
    """`for ($i : start..end) { ... }`: $i from start up to (not including) end."""

    variable: Variable
    start: Expr
    end: Expr
    body: list[Stmt]


@dataclass(eq=False)
class Unroll(Stmt):
    count: int
    body: list[Stmt]


@dataclass(eq=False)
class Jump(Stmt):
    kind: str  # break, continue, return


@dataclass(eq=False)
class AttachPoint(Node):
    provider: str  # BEGIN, END, interval, profile, uprobe, uretprobe, usdt, tracepoint
    target: str = ""  # e.g. the unit of interval/profile, a module, a provider
    func: str = ""  # e.g. the rate, a function, a probe name
    text: str = ""  # as written


@dataclass(eq=False)
class Probe(Node):
    attach_points: list[AttachPoint]
    predicate: Expr | None
    body: list[Stmt]
    index: int = 0


@dataclass(eq=False)
class MapDeclaration(Node):
    """`let @name = hash(N);` before the probes: the map's kind and size."""

    name: str
    kind: str
    entries: int


@dataclass(eq=False)
class Program(Node):
    probes: list[Probe]
    config: dict[str, Expr] = field(default_factory=dict)
    declarations: list[MapDeclaration] = field(default_factory=list)

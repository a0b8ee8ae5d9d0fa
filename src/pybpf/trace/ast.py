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
    """A bare name: pid, comm, nsecs, arg0, retval, ... or an enum variant (its value set by semantic)."""

    name: str
    enum_value: int | None = field(default=None, init=False)
    lowered: Expr | None = field(default=None, init=False)  # the code a stdlib builtin stands for (semantic)


@dataclass(eq=False)
class FieldAccess(Expr):
    """`args->member` (or `args.member`): a field of the probe's arguments (a tracepoint's record);
    `$s.member` of a struct or record value, `$p->member` of a struct a pointer points to."""

    base: Expr
    member: str
    arrow: bool = False  # written `->` (through a pointer) rather than `.`


@dataclass(eq=False)
class PositionalParam(Expr):
    index: int  # $1 is 1; $# is 0 (the count)
    value: int | str | None = field(default=None, init=False)  # set by semantic analysis


@dataclass(eq=False)
class Variable(Expr):
    """A scratch variable, `$name`.  `binding` names its declaration (semantic): two blocks may each
    have their own `$x`, and codegen gives each binding its own stack slot."""

    name: str
    binding: str = field(default="", init=False)


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
    lowered: Expr | None = field(default=None, init=False)  # the code a stdlib builtin stands for (semantic)


@dataclass(eq=False)
class Unary(Expr):
    op: str  # - ! ~
    operand: Expr


@dataclass(eq=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    signed: bool = field(default=True, init=False)  # a comparison: whether its operands compare signed (semantic)


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    then: Expr | None  # None for `cond ?: otherwise` (the condition's value)
    otherwise: Expr


@dataclass(eq=False)
class Cast(Expr):
    target: "str | TypeOf"  # int8 ... uint64, bool, a type as written: "int8*", "struct Foo*", "int8[]"
    operand: Expr


@dataclass(eq=False)
class TypeName(Expr):
    """A type where an expression may stand: `sizeof(struct Foo)`, `typeof(uint64)`; never evaluated."""

    spec: str


@dataclass(eq=False)
class TypeOf(Expr):
    """`typeof(expr)` or `typeof(type)`: the type of its operand (never evaluated), usable wherever a
    type is: casts, `let $x: typeof(...)`, `sizeof`.  In a macro, `sizeof(t*)` and `(t[2])x` of a
    parameter t are a TypeOf of t with the `suffix` ("*", "[2]") applied."""

    operand: Expr
    suffix: str = ""


@dataclass(eq=False)
class Record(Expr):
    """`(a = 1, b = "x")`: a tuple whose elements have names, read as `$r.a`."""

    names: list[str]
    items: list[Expr]


@dataclass(eq=False)
class BlockExpr(Expr):
    """`{ stmt; ...; expr }`: the statements run in their own scope, then `value` (if any) is the result.
    A macro call expands to one."""

    body: list["Stmt"]
    value: Expr | None = None


@dataclass(eq=False)
class Tuple(Expr):
    items: list[Expr]


@dataclass(eq=False)
class TupleAccess(Expr):
    """`$t.0`: an element of a tuple; `$a[i]`: an element of an array, or what `$p + i` points to."""

    tuple: Expr
    index: int  # -1 until semantic analysis folds index_expr (and for an array index known only at run time)
    index_expr: Expr | None = None  # `$t[1 + 1]`, `$a[$i]`


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
class VarDecl(Stmt):
    """`let $x;`, `let $x: type;` or `let $x = e;`: declares $x in the current block."""

    variable: Variable
    type_name: "str | TypeOf | None" = None
    value: Expr | None = None


@dataclass(eq=False)
class Return(Stmt):
    """`return;` or `return e;` (the value is evaluated, and ignored by BEGIN/END/interval probes)."""

    value: Expr | None = None


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
    """`for ($i : start..end) { ... }`: $i from start up to (not including) end, the bounds read once.
    `captures` (semantic) are the outer variables the body uses: its bpf_loop callback reaches them by pointer."""

    variable: Variable
    start: Expr
    end: Expr
    body: list[Stmt]
    captures: list[str] = field(default_factory=list, init=False)


@dataclass(eq=False)
class ForMap(Stmt):
    """`for ($kv : @map) { ... }`: $kv is (key, value) of each entry (the key a tuple for several keys).
    `captures` (semantic) are the outer variables the body uses: the callback reaches them by pointer."""

    variable: Variable
    map: "Map"
    body: list[Stmt]
    captures: list[str] = field(default_factory=list, init=False)


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
class EnumDecl(Node):
    """`enum [Name] { A = 1, B, ... };`: named integer constants (B is A + 1, as in C)."""

    name: str
    variants: list[tuple[str, int]]


@dataclass(eq=False)
class FieldDecl(Node):
    """One member of a struct declaration: `int x;`, `char name[16];`, `struct Bar *next;`, `int f:3;`."""

    type_spec: "str | StructDecl"  # a type as `structs.resolve` reads it ("int32[4]"), or an inline struct
    name: str
    bits: int | None = None  # a bitfield's width


@dataclass(eq=False)
class StructDecl(Node):
    """`struct Foo { ... }` (or `union`) before the probes; `__attribute__((packed))` after it packs it."""

    kind: str  # struct or union
    name: str  # "" for an anonymous struct inside another
    fields: list[FieldDecl]
    packed: bool = False


@dataclass(eq=False)
class Macro(Node):
    """`macro name(params) { body }`.  A parameter is a Variable ($x: the caller's variable, which
    the body may change), a Map (@m: the caller's map) or a Builtin (x: an expression, substituted)."""

    name: str
    params: list[Expr]
    body: BlockExpr


@dataclass(eq=False)
class Program(Node):
    probes: list[Probe]
    config: dict[str, Expr] = field(default_factory=dict)
    declarations: list[MapDeclaration] = field(default_factory=list)
    macros: list[Macro] = field(default_factory=list)
    enums: list[EnumDecl] = field(default_factory=list)
    structs: list[StructDecl] = field(default_factory=list)

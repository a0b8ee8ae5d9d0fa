"""Types of expressions and map values, as bpftrace's SizedType sees them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

AGGREGATIONS = ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist", "tseries")


@dataclass(frozen=True)
class Type:
    kind: str  # int, str, none, tuple, or an aggregation kind
    size: int = 8  # bytes in BPF memory (a string's buffer size)
    signed: bool = False
    items: tuple["Type", ...] = ()  # tuple elements
    params: tuple[int, ...] = ()  # lhist: min, max, step
    variants: tuple[tuple[str, int], ...] = ()  # an enum's names and values
    names: tuple[str, ...] = ()  # a record's or struct's field names (items are their types)
    offsets: tuple[int, ...] = ()  # a struct's field offsets in bytes (C layout)
    bitfields: tuple[tuple[int, int], ...] = ()  # a struct's fields: (bit offset, bit width), width 0 if none
    name: str = ""  # a struct's name as written: "struct Foo", "union U"
    align: int = 1  # a struct's alignment
    # A non-negative integer literal's type (and what holds only such literals): it takes the sign of
    # whatever it meets (bpftrace's SetSignFlexible).  Not part of the type's identity.
    flexible: bool = field(default=False, compare=False)

    @property
    def is_int(self) -> bool:
        """Usable as an integer: ints, and bools (0 and 1)."""
        return self.kind in ("int", "bool", "enum")

    @property
    def is_scalar(self) -> bool:
        """Held in a register as a u64 (an integer, a timestamp)."""
        return self.kind in ("int", "bool", "timestamp", "username", "strerror", "signal_name", "usym",
                             "ksym", "ptr", "enum")

    @property
    def is_aggregation(self) -> bool:
        return self.kind in AGGREGATIONS

    def __str__(self) -> str:
        if self.kind == "int":
            return f"{'' if self.signed else 'u'}int{self.size * 8}"
        if self.kind == "str":
            return f"string[{self.size}]"
        if self.kind == "ptr":
            return f"{self.items[0]} *"
        if self.kind == "enum":
            return "enum"
        if self.kind == "tuple":
            return "(" + ",".join(str(t) for t in self.items) + ")"
        if self.kind == "record":
            return "record { " + ", ".join(f".{n} = {t}" for n, t in zip(self.names, self.items)) + " }"
        if self.kind == "struct":
            return self.name
        if self.kind == "array":
            return f"{self.items[0]}[{self.params[0]}]"
        if self.kind == "lhist":
            return "lhist_t"
        if self.is_aggregation:
            return f"{self.kind}_t" if self.kind != "count" else "count_t"
        return self.kind


def kind_name(t: "Type") -> str:
    """How bpftrace names a type's kind in messages: integer, string, ..."""
    return {"int": "integer", "str": "string", "bool": "bool"}.get(t.kind, str(t))


def integer(size: int = 8, signed: bool = True) -> Type:
    return Type("int", size, signed)


def literal(value: int) -> Type:
    """An integer literal's type, as current bpftrace types it (ast/integer_types.cpp): the smallest signed
    integer holding the value (`3` is an int8, `1000` an int16), sign-flexible; past INT64_MAX a uint64.
    A negative literal (`-1`) is the smallest signed type holding it, and not flexible."""
    if value >= 1 << 63:
        return UINT64
    size = next(n for n in (1, 2, 4, 8) if -(1 << (n * 8 - 1)) <= value < 1 << (n * 8 - 1))
    return Type("int", size, True, flexible=value >= 0)


def promoted(current: Type, new: Type) -> Type:
    """The integer type holding values of both (bpftrace's get_promoted_int): a variable, map value or key
    assigned both, the operands of a comparison.  A flexible side takes the other's sign; otherwise mixed
    signs widen to a signed type big enough for both (int64 at most)."""
    flexible = current.flexible and new.flexible
    if current.signed != new.signed:
        if current.flexible or new.flexible:
            signed = (not current.flexible and current.signed) or (not new.flexible and new.signed)
            return Type("int", max(current.size, new.size), signed, flexible=flexible)
        if current.signed and current.size > new.size:
            return integer(current.size, True)
        if new.signed and new.size > current.size:
            return integer(new.size, True)
        return integer(min(max(current.size, new.size) * 2, 8), True)
    return Type("int", max(current.size, new.size), current.signed, flexible=flexible)


def fits(value: int, t: Type) -> bool:
    """Whether an integer literal's value is one of t's (a literal stored into a `let $x: uint8`)."""
    bits = t.size * 8
    return (-(1 << (bits - 1)) <= value < 1 << (bits - 1)) if t.signed else 0 <= value < 1 << bits


def fits_into(source: Type, target: Type) -> bool:
    """Whether every value of integer type source is one of target's (bpftrace's SizedType::FitsInto)."""
    if source.signed == target.signed or source.flexible:
        return source.size <= target.size
    return not source.signed and source.size < target.size


def arithmetic_result(op: str, left: Type, right: Type) -> Type:
    """The type of `left op right` on integers (bpftrace's get_binop_int): always 64 bits; signed when a
    side is (a flexible literal taking the other side's sign), and for `-`."""
    if left.flexible and not right.flexible:
        left = replace(left, signed=right.signed, flexible=False)
    elif right.flexible and not left.flexible:
        right = replace(right, signed=left.signed, flexible=False)
    return integer(8, left.signed or right.signed or op == "-")


def string(size: int) -> Type:
    return Type("str", size)


def tuple_of(items: list[Type]) -> Type:
    return Type("tuple", sum(_slot(t) for t in items), items=tuple(items))


def record_of(names: list[str], items: list[Type]) -> Type:
    """`(a=1, b="x")`: a tuple whose elements have names (same slots as a tuple)."""
    return Type("record", sum(_slot(t) for t in items), items=tuple(items), names=tuple(names))


def array_of(element: Type, count: int) -> Type:
    """`int32[4]`: count elements of element's size, back to back (C layout)."""
    return Type("array", element.size * count, element.signed, items=(element,), params=(count,))


def slot_offset(t: Type, index: int) -> int:
    """Where element `index` of a tuple or record sits in its slots."""
    return sum(_slot(item) for item in t.items[:index])


def c_layout(t: Type) -> tuple[int, int]:
    """(size, alignment) of a type as C (and bpftrace's sizeof) lays it out: tuples and records are
    structs of their elements (llvm::StructLayout), strings char arrays, bools one byte."""
    if t.kind in ("tuple", "record"):
        offset, align = 0, 1
        for item in t.items:
            size, item_align = c_layout(item)
            offset = -(-offset // item_align) * item_align + size
            align = max(align, item_align)
        return -(-offset // align) * align, align
    if t.kind == "struct":
        return t.size, t.align
    if t.kind == "array":
        size, align = c_layout(t.items[0])
        return size * t.params[0], align
    if t.kind in ("str", "buffer"):
        return t.size, 1
    if t.kind == "bool":
        return 1, 1
    if t.kind == "int":
        return t.size, t.size
    return 8, 8


def _slot(t: Type) -> int:
    """Bytes a value takes in a record or key: 8 for an int, a string's size rounded up to 8 (slots stay
    8-aligned, as the verifier wants for the stores that fill them)."""
    return 8 if t.is_scalar else -(-t.size // 8) * 8


def slot_size(t: Type) -> int:
    return _slot(t)


INT64, UINT64, NONE, BOOL = integer(8, True), integer(8, False), Type("none", 0), Type("bool", 8)
CAST_TYPES = {f"{'' if signed else 'u'}int{bits}": integer(bits // 8, signed)
              for bits in (8, 16, 32, 64) for signed in (True, False)}


def pointer_to(t: Type) -> Type:
    return Type("ptr", 8, items=(t,))


def named_type(name: str) -> Type | None:
    """The type a cast or `let $x: T` names: `uint32`, `bool`, `int8*`; None when unknown."""
    stars = len(name) - len(name.rstrip("*"))
    base = name.rstrip("*")
    t = CAST_TYPES.get(base) or (BOOL if base == "bool" else None)
    if t is None:
        return None
    for _ in range(stars):
        t = pointer_to(t)
    return t


def pointee_size(t: Type) -> int:
    """What pointer arithmetic steps by: the size of what a pointer points to."""
    return c_layout(t.items[0])[0] if t.items[0].kind != "ptr" else 8


class Pointer(int):
    """A pointer's value: bpftrace prints pointers in hex (0x33); printf's %d and JSON still see the number."""

    def __str__(self) -> str:
        return hex(self)


class EnumValue(int):
    """An enum-typed value: bpftrace prints the variant's name (FOO), or the number when no variant has it."""

    def __new__(cls, value: int, variants: tuple[tuple[str, int], ...]):
        self = super().__new__(cls, value)
        self.label = next((name for name, v in variants if v == value), None)
        return self

    def __str__(self) -> str:
        return self.label if self.label is not None else int.__repr__(self)


def enum_of(variants: tuple[tuple[str, int], ...]) -> Type:
    return Type("enum", 8, False, variants=variants)


def _text(value) -> str:
    """An element of a record or array as bpftrace prints it (tuples in parentheses, bools as words)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_text(v) for v in value) + ")"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RecordValue(dict):
    """A struct's or record's value: bpftrace prints `{ .a = 1, .b = str }`, and JSON an object."""

    def __str__(self) -> str:
        return "{ " + ", ".join(f".{name} = {_text(v)}" for name, v in self.items()) + " }"

    def __hash__(self) -> int:
        return hash(tuple(self.items()))

    def __lt__(self, other) -> bool:
        return tuple(self.values()) < tuple(other.values())


class ArrayValue(list):
    """An integer array's value: bpftrace prints `[1,2,3]`, and JSON a list."""

    def __str__(self) -> str:
        return "[" + ",".join(_text(v) for v in self) + "]"

    def __hash__(self) -> int:
        return hash(tuple(self))

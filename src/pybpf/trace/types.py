"""Types of expressions and map values, as bpftrace's SizedType sees them."""

from __future__ import annotations

from dataclasses import dataclass

AGGREGATIONS = ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist", "tseries")


@dataclass(frozen=True)
class Type:
    kind: str  # int, str, none, tuple, or an aggregation kind
    size: int = 8  # bytes in BPF memory (a string's buffer size)
    signed: bool = False
    items: tuple["Type", ...] = ()  # tuple elements
    params: tuple[int, ...] = ()  # lhist: min, max, step
    variants: tuple[tuple[str, int], ...] = ()  # an enum's names and values
    names: tuple[str, ...] = ()  # a record's field names (a tuple whose items have names: args)

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


def string(size: int) -> Type:
    return Type("str", size)


def tuple_of(items: list[Type]) -> Type:
    return Type("tuple", sum(_slot(t) for t in items), items=tuple(items))


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
    return t.items[0].size if t.items[0].kind != "ptr" else 8


class Pointer(int):
    """A pointer's value: bpftrace prints pointers in hex (0x33); printf's %d and JSON still see the number."""

    def __str__(self) -> str:
        return hex(self)


class Record(tuple):
    """A record's value (`args` as a whole): bpftrace prints it `{ .name = value, ... }`."""

    def __new__(cls, values, names: tuple[str, ...]):
        record = super().__new__(cls, values)
        record.names = names
        return record


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

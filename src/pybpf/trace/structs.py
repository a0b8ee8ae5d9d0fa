"""C types declared in a script: `struct Foo { int x; char name[16]; struct Bar *next; }`.

bpftrace reads such declarations with clang; here a struct's layout is C's
(System V): each field at the next offset aligned to its type, bitfields
packed into units of their declared type without crossing one, the size
rounded up to the alignment; `__attribute__((packed))` aligns every field
at 1; a union puts every field at 0.  `char x[N]` is a string, other arrays
are arrays.  A struct named before it is complete (`struct Node *next`
inside struct Node) is a placeholder that `resolve` fills by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import ast
from .types import ArrayValue, RecordValue, Type, array_of, c_layout, named_type, pointer_to, slot_offset, string

# C's integer spellings, as the sorted words of the type: `unsigned long long` is ("long", "long", "unsigned").
C_INTEGERS = {("char",): "int8", ("char", "signed"): "int8", ("char", "unsigned"): "uint8",
              ("short",): "int16", ("short", "unsigned"): "uint16", ("int",): "int32", ("signed",): "int32",
              ("int", "unsigned"): "uint32", ("unsigned",): "uint32", ("long",): "int64",
              ("long", "unsigned"): "uint64", ("long", "long"): "int64", ("long", "long", "unsigned"): "uint64",
              ("int", "short"): "int16", ("int", "short", "unsigned"): "uint16", ("int", "long"): "int64",
              ("int", "long", "unsigned"): "uint64", ("int", "long", "long"): "int64",
              ("int", "long", "long", "unsigned"): "uint64", ("_Bool",): "bool", ("size_t",): "uint64",
              ("ssize_t",): "int64", ("uintptr_t",): "uint64", ("intptr_t",): "int64", ("void",): "void"}
C_WORDS = {"char", "short", "int", "long", "signed", "unsigned", "_Bool", "size_t", "ssize_t", "uintptr_t",
           "intptr_t", "void"}
QUALIFIERS = {"const", "volatile", "restrict"}
_DIMENSION = re.compile(r"\[(\d*)\]$")


def c_integer(words: list[str]) -> str | None:
    """The bpftrace name of a C integer type written as words (`unsigned long long` -> uint64)."""
    return C_INTEGERS.get(tuple(sorted(w for w in words if w not in QUALIFIERS)))


def resolve(spec: str, structs: dict[str, Type]) -> Type | None:
    """The type a name written in the script stands for: `uint32`, `int8*`, `struct Foo *`, `int32[4]`,
    `char[16]` (a string); None when unknown.  `int8[]` is an array of 0 elements (a cast sizes it)."""
    dimensions = []
    while _DIMENSION.search(spec):
        match = _DIMENSION.search(spec)
        dimensions.insert(0, int(match.group(1) or 0))
        spec = spec[:match.start()].rstrip()
    stars = len(spec) - len(spec.rstrip("*"))
    base = spec.rstrip("*").strip()
    if base.startswith(("struct ", "union ")):
        t = structs.get(base)
        if t is None and not stars:
            return None
        t = t or Type("struct", 0, name=base)  # a pointer to a struct not (yet) complete
    elif base == "void":
        t = Type("int", 1, False) if stars else None
        if t is None:
            return None
    else:
        t = named_type("int8" if base == "char" else base)
        if t is None:
            return None
    for _ in range(stars):
        t = pointer_to(t)
    for count in reversed(dimensions):
        t = string(count) if base == "char" and not stars and t.kind == "int" else array_of(t, count)
    return t


def derive(t: Type, suffix: str) -> Type | None:
    """t with a declarator's suffix applied: `*` a pointer to it, `[N]` an array of N of it (`**[2]`: an
    array of 2 pointers to pointers); None when the suffix is malformed."""
    stars = len(suffix) - len(suffix.lstrip("*"))
    for _ in range(stars):
        t = pointer_to(t)
    rest = suffix[stars:]
    dimensions = [int(n) for n in re.findall(r"\[(\d+)\]", rest)]
    if "".join(f"[{n}]" for n in dimensions) != rest:
        return None
    for count in reversed(dimensions):
        t = array_of(t, count)
    return t


class StructTable(dict):
    """The structs a script can name: its own declarations, then the kernel's (`kernel`:
    builtins_types.kernel_structs, BTF on Linux), looked up and kept on first use.  A script's
    declaration wins: it replaces the kernel's, and the script's fields may hold the kernel's structs."""

    def __init__(self):
        super().__init__()
        self.kernel: Mapping[str, Type] = {}

    def __missing__(self, name: str) -> Type:
        t = self.kernel.get(name)
        if t is None:
            raise KeyError(name)
        self[name] = t
        return t

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self.kernel

    def get(self, name: str, default=None):
        return self[name] if name in self else default


def complete(t: Type, structs: dict[str, Type]) -> Type:
    """A struct placeholder (a pointer's target named before its body) as declared since."""
    if t.kind == "struct" and not t.names and t.name in structs:
        return structs[t.name]
    return t


def layout(decl: ast.StructDecl, structs: dict[str, Type], diagnostics) -> Type:
    """The struct (or union) type of a declaration, fields at C's offsets."""
    names, items, offsets, bitfields = [], [], [], []
    bit, end, align = 0, 0, 1  # the next free bit; the bit after the last field; the struct's alignment
    for f in decl.fields:
        t = layout(f.type_spec, structs, diagnostics) if isinstance(f.type_spec, ast.StructDecl) else \
            resolve(f.type_spec, structs)
        if t is None:
            diagnostics.error(f.span, f"Unknown type: {f.type_spec}")
            t = Type("int", 4, True)
        size, field_align = c_layout(t)
        if decl.packed:
            field_align = 1
        if decl.kind == "union":
            bit = 0
        if f.bits is not None:
            if not (t.kind == "int" and 0 < f.bits <= size * 8):
                diagnostics.error(f.span, f"Invalid bitfield width {f.bits} for type {t}")
                f.bits = min(max(f.bits, 1), size * 8)
            unit = size * 8
            if not decl.packed and bit // unit != (bit + f.bits - 1) // unit:
                bit = -(-bit // unit) * unit  # a bitfield does not cross a unit of its type
            offsets.append(bit // 8)
            bitfields.append((bit % 8, f.bits))
            bit += f.bits
        else:
            bit = -(-bit // (field_align * 8)) * field_align * 8
            offsets.append(bit // 8)
            bitfields.append((0, 0))
            bit += size * 8
        end, align = max(end, bit), max(align, field_align)
        names.append(f.name)
        items.append(t)
    size = -(-(-(-end // 8)) // align) * align
    name = f"{decl.kind} {decl.name}" if decl.name else f"{decl.kind} (anonymous)"
    return Type("struct", size, items=tuple(items), names=tuple(names), offsets=tuple(offsets),
                bitfields=tuple(bitfields), name=name, align=align)


def decode_composite(data: bytes, t: Type, decode) -> object:
    """A record's, struct's or array's value from its bytes (decode: the runtime's decoder of one value)."""
    if t.kind == "array":
        element = t.items[0]
        step = c_layout(element)[0]
        return ArrayValue(decode(data[i * step:(i + 1) * step], element) for i in range(t.params[0]))
    if t.kind == "record":
        return RecordValue((name, decode(data[slot_offset(t, i):], item))
                           for i, (name, item) in enumerate(zip(t.names, t.items)))
    value = RecordValue()
    for name, item, offset, (shift, width) in zip(t.names, t.items, t.offsets, t.bitfields):
        if width:
            raw = int.from_bytes(data[offset:offset + (shift + width + 7) // 8], "little")
            value[name] = (raw >> shift) & ((1 << width) - 1)
        else:  # a field's bytes only: an int32 field is 4 bytes, not the u64 slot of a variable
            value[name] = decode(data[offset:offset + c_layout(item)[0]], item)
    return value

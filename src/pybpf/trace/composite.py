"""Records, structs and arrays: their typing (semantic) and code (codegen) side by side.

- a record `(a = 1, b = "x")` is laid out as a tuple (8-byte slots) with
  names; `$r.a` reads a slot;
- a struct value (`*(struct Foo *)p`, a struct field of one) is its C bytes
  in a stack buffer; `$s.f` reads the field at its offset (bitfields
  shifted and masked); `$p->f` (or `$p.f`: bpftrace looks through any
  number of pointers) reads just the field with probe_read_kernel;
- an array (`int32[4]`, `(int8[])"hi"`) is its elements back to back;
  `$a[i]` reads one, a constant index checked against the size at compile
  time, any other clamped at run time (the verifier wants the read inside
  the buffer).
Errors are bpftrace's (type_resolver.cpp, type_checker.cpp).
"""

from __future__ import annotations

from llvmlite import ir

from . import ast
from .structs import complete
from .types import INT64, Type, c_layout, integer, record_of, slot_offset, slot_size

INT8 = integer(1, True)  # a string's element (bpftrace: `$s[0]` is an int8)

i64 = ir.IntType(64)


# -- typing -------------------------------------------------------------------------------------
def record_type(analyser, e: ast.Record) -> Type:
    items = [analyser.expr(item) for item in e.items]
    return record_of(e.names, items)


def field_type(analyser, e: ast.FieldAccess) -> Type | None:
    """The type of `$s.f` / `$p->f` / `$r.f`; None when the base is not a struct or record (the caller
    then tries the probe's `args`)."""
    base = analyser.expr(e.base)
    target = base
    while target.kind == "ptr":
        target = complete(target.items[0], analyser.structs)
    if target.kind == "record":
        if e.member not in target.names:
            analyser.diagnostics.error(e.span, f"Record does not contain a field named '{e.member}'")
            return INT64
        return target.items[target.names.index(e.member)]
    if target.kind != "struct":
        return None
    if not target.names:
        analyser.diagnostics.error(e.span, f"Unknown struct/union: '{target.name}'")
        return INT64
    if e.member not in target.names:
        analyser.diagnostics.error(e.span, f"Struct/union of type '{target.name}' does not contain a field "
                                           f"named '{e.member}'")
        return INT64
    return complete(target.items[target.names.index(e.member)], analyser.structs)


def index_type(analyser, e: ast.TupleAccess, base: Type) -> Type:
    """`$a[i]` of an array, a string (a byte) or a pointer (`$p[i]` is `*($p + i)`)."""
    index = analyser.expr(e.index_expr)
    value = analyser.constant(e.index_expr)
    e.index = value if value is not None else -1  # -1: known only at run time
    if base.kind == "ptr" and c_layout(base.items[0])[0] == 0:
        analyser.diagnostics.error(e.span, "The array index operator [] cannot be used on a pointer to an "
                                           "unsized type (void *).")
    count = base.size if base.kind == "str" else base.params[0] if base.kind == "array" else 0
    if value is not None:
        if count and not 0 <= value < count:
            analyser.diagnostics.error(e.span, f"the index {value} is out of bounds for array of size {count}")
    elif not index.is_int:
        analyser.diagnostics.error(e.span, "The array index operator [] only accepts non-negative integer "
                                           f"indices. Got: {index}")
    return INT8 if base.kind == "str" else complete(base.items[0], analyser.structs)


def cast_to_array(analyser, e: ast.Cast, target: Type, operand: Type) -> Type:
    """`(int8[])"hi"`, `(uint32[2])$x`: the operand's bytes read as elements; `[]` takes the count from the
    operand's size."""
    element = target.items[0]
    size = operand.size if operand.kind in ("str", "buffer", "array", "struct", "record", "tuple") else \
        c_layout(operand)[0]
    count = target.params[0] or size // max(element.size, 1)
    if not (element.kind == "int" and count * element.size == size) or operand.kind == "ptr":
        analyser.diagnostics.error(e.span, f"Cannot cast from \"{operand}\" to \"{target}\"")
    return Type("array", element.size * count, element.signed, items=(element,), params=(count,))


# -- code ---------------------------------------------------------------------------------------
def emit_record(gen, e: ast.Record) -> ir.Value:
    """The items in the order written, each stored at its slot in the record's layout."""
    buffer = gen.alloca_bytes(e.type.size)
    gen.zero(buffer, e.type.size)
    for name, item in zip(e.names, e.items):
        index = e.type.names.index(name)
        gen.store_value(gen.at(buffer, slot_offset(e.type, index)), e.type.items[index], gen.expr(item), item.type)
    return buffer


def load_scalar(gen, place: ir.Value, t: Type, bits: tuple[int, int] = (0, 0)) -> ir.Value:
    """A scalar of type t at place (a C field: its own size, sign-extended; a bitfield shifted, masked)."""
    shift, width = bits
    if width:
        size = (shift + width + 7) // 8
        raw = gen.b.zext(gen.b.load(gen.at(place, 0, ir.IntType(size * 8))), i64) if size in (1, 2, 4, 8) else \
            load_bytes(gen, place, size)
        return gen.b.and_(gen.b.lshr(raw, gen.i64(shift)), gen.i64((1 << width) - 1))
    size = t.size if t.kind == "int" else 8
    if size == 8:
        return gen.b.load(gen.at(place, 0, i64))
    narrow = gen.b.load(gen.at(place, 0, ir.IntType(size * 8)))
    return (gen.b.sext if t.signed else gen.b.zext)(narrow, i64)


def load_bytes(gen, place: ir.Value, size: int) -> ir.Value:
    value = gen.i64(0)
    for i in range(size):
        byte = gen.b.zext(gen.b.load(gen.at(place, i)), i64)
        value = gen.b.or_(value, gen.b.shl(byte, gen.i64(8 * i)))
    return value


def in_buffer(gen, place: ir.Value, t: Type, bits: tuple[int, int] = (0, 0)) -> ir.Value:
    """The value of type t that sits at place in a stack buffer: a scalar loaded, else a copy in a buffer
    of its own (8-aligned, as the slots that hold values are)."""
    if t.is_scalar:
        return load_scalar(gen, place, t, bits)
    buffer = gen.alloca_bytes(slot_size(t))
    gen.zero(buffer, slot_size(t))
    gen.copy(buffer, place, t.size)
    return buffer


def emit_field(gen, e: ast.FieldAccess) -> ir.Value:
    base = gen.expr(e.base)
    t = e.base.type
    while t.kind == "ptr":  # through pointers: read the struct's field (or the next pointer) from memory
        target = complete(t.items[0], gen.resolver)
        if target.kind == "ptr":
            base, t = gen.dereference(base, target), target
            continue
        index = target.names.index(e.member)
        offset, bits = _field_place(target, index)
        if bits[1]:
            size = (bits[0] + bits[1] + 7) // 8
            raw = gen.dereference(gen.b.add(base, gen.i64(offset)), Type("struct", size, name="bits"))
            return load_scalar(gen, raw, e.type, bits)
        return gen.dereference(gen.b.add(base, gen.i64(offset)), e.type)
    index = t.names.index(e.member)
    offset, bits = _field_place(t, index)
    return in_buffer(gen, gen.at(base, offset), e.type, bits)


def _field_place(t: Type, index: int) -> tuple[int, tuple[int, int]]:
    if t.kind == "record":
        return slot_offset(t, index), (0, 0)
    return t.offsets[index], t.bitfields[index]


def emit_index(gen, e: ast.TupleAccess) -> ir.Value:
    """`$a[i]` of an array value, or `$p[i]` of a pointer (read from memory)."""
    base, t = gen.expr(e.tuple), e.tuple.type
    index = gen.expr(e.index_expr)
    step = c_layout(e.type)[0]
    if t.kind == "ptr":
        return gen.dereference(gen.b.add(base, gen.b.mul(index, gen.i64(step))), e.type)
    count = t.size if t.kind == "str" else t.params[0]
    if e.index < 0:  # not a constant: the verifier wants the read inside the buffer, so clamp
        index = gen.b.select(gen.b.icmp_unsigned("<", index, gen.i64(count)), index, gen.i64(max(count - 1, 0)))
    place = gen.b.gep(gen.at(base), [gen.b.mul(index, gen.i64(step))])
    return in_buffer(gen, place, e.type)


def equal_bytes(gen, left: ir.Value, right: ir.Value, size: int) -> ir.Value:
    """1 when two values of `size` bytes are equal (arrays, records compare as their bytes)."""
    differ = gen.i64(0)
    for offset in range(0, size - size % 8, 8):
        a, b = gen.b.load(gen.at(left, offset, i64)), gen.b.load(gen.at(right, offset, i64))
        differ = gen.b.or_(differ, gen.b.xor(a, b))
    for offset in range(size - size % 8, size):
        a, b = gen.b.load(gen.at(left, offset)), gen.b.load(gen.at(right, offset))
        differ = gen.b.or_(differ, gen.b.zext(gen.b.xor(a, b), i64))
    return gen.b.zext(gen.b.icmp_unsigned("==", differ, gen.i64(0)), i64)

"""buf(data[, length]): raw bytes, printed with non-printable bytes escaped (`%r`, `%rx`, `%rh`).

bpftrace reference guide, "buf".  A buffer is `{u64 length; u8 data[N]}`
(N the length, a literal): bytes copied from a string, or read from an
address with probe_read.  User space decodes it as a `Buffer`
(output/text.py), which prints as bpftrace's hex_format_buffer does.
"""

from __future__ import annotations

from llvmlite import ir

from . import ast
from .builtins import Function, function
from .types import Type, kind_name

BUFFER_MAX = 1024  # bpftrace's default max_strlen bounds a buffer's length


def buffer(length: int) -> Type:
    return Type("buffer", 8 + length)


@function
class Buf(Function):
    name = "buf"
    args = (1, 2)

    def result(self, analyser, call):
        if not call.args or call.args[0].type is None:
            return buffer(1)
        data = call.args[0]
        if not (data.type.kind == "str" or data.type.is_int):
            analyser.diagnostics.error(data.span, f"buf() expects an integer or array argument "
                                                  f"({kind_name(data.type)} provided)")
            return buffer(1)
        if len(call.args) == 1:
            if data.type.kind != "str":
                analyser.diagnostics.error(call.span, "buf() expects a length argument for non-array type "
                                                      f"{data.type}")
                return buffer(1)
            return buffer(data.type.size)
        length = call.args[1]
        if not isinstance(length, ast.Integer):
            analyser.diagnostics.error(length.span, "buf() expects an integer literal length")
            return buffer(1)
        if not 1 <= length.value <= BUFFER_MAX:
            analyser.diagnostics.error(length.span, f"buf() length must be between 1 and {BUFFER_MAX} "
                                                    f"({length.value} provided)")
            return buffer(1)
        return buffer(length.value)

    def emit(self, gen, call):
        data = call.args[0]
        length = call.type.size - 8
        result = gen.alloca_bytes(call.type.size)
        gen.zero(result, call.type.size)
        gen.b.store(gen.i64(length), gen.at(result, 0, gen.i64(0).type))
        source = gen.expr(data)
        if data.type.kind == "str":
            gen.copy(gen.at(result, 8), source, min(length, data.type.size))
        else:
            gen.helper("probe_read", [gen.at(result, 8), gen.i64(length), gen.b.inttoptr(source, gen.ptr)])
        return result

    def equal(self, gen, e: ast.Binary):
        """`a == b` / `a != b` of buffers: the same length and the same bytes."""
        left, right = gen.expr(e.left), gen.expr(e.right)
        i1 = ir.IntType(1)
        same = ir.Constant(i1, int(e.left.type.size == e.right.type.size))
        for offset in range(min(e.left.type.size, e.right.type.size)):
            same = gen.b.and_(same, gen.b.icmp_unsigned("==", gen.b.load(gen.at(left, offset)),
                                                        gen.b.load(gen.at(right, offset))))
        equal = gen.b.zext(same, ir.IntType(64))
        return equal if e.op == "==" else gen.b.xor(equal, gen.i64(1))

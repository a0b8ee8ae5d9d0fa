"""String functions of bpftrace's standard library: strlen(s), strerror(errno), signal_name(signo),
and usym(addr)/ksym(addr) (printed as 0xADDR: no symbol table of the traced program yet).

strlen counts in BPF (bytes before the first NUL).  strerror and
signal_name keep the number in BPF and user space prints the text
(output/text.py NUMBER_NAMES), as username does: "Invalid argument",
"Interrupt"; a signal number past the table prints "N/A" as in bpftrace.
"""

from __future__ import annotations

from llvmlite import ir

from . import string_loops
from .builtins import Function, function
from .types import UINT64, Type, kind_name


@function
class Strlen(Function):
    name = "strlen"
    args = (1, 1)

    def result(self, analyser, call):
        if call.args and call.args[0].type is not None and call.args[0].type.kind != "str":
            analyser.diagnostics.error(call.args[0].span, f"strlen() expects a string "
                                                          f"({kind_name(call.args[0].type)} provided)")
        return UINT64

    def emit(self, gen, call):
        text, size = gen.expr(call.args[0]), call.args[0].type.size
        if size > string_loops.UNROLLED:
            return string_loops.length(gen, text, size)
        i1, i64 = ir.IntType(1), ir.IntType(64)
        ended, count = ir.Constant(i1, 0), gen.i64(0)
        for offset in range(size):  # unrolled: string buffers are small and of known size
            nul = gen.b.icmp_unsigned("==", gen.b.load(gen.at(text, offset)), ir.Constant(ir.IntType(8), 0))
            ended = gen.b.or_(ended, nul)
            count = gen.b.add(count, gen.b.zext(gen.b.not_(ended), i64))
        return count


class NumberName(Function):
    """A number that prints as its name: the value stays an integer in BPF."""

    args = (1, 1)

    def result(self, analyser, call):
        if call.args and call.args[0].type is not None and not call.args[0].type.is_int:
            analyser.diagnostics.error(call.args[0].span, f"{self.name}() expects an integer "
                                                          f"({kind_name(call.args[0].type)} provided)")
        return Type(self.name, 8)

    def emit(self, gen, call):
        return gen.expr(call.args[0])


for _name in ("strerror", "signal_name", "usym", "ksym"):
    function(type(f"{_name.title().replace('_', '')}Function", (NumberName,), {"name": _name}))

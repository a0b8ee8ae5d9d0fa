"""Functions of a whole map: len(@m).

bpftrace reference guide, "len": the number of elements of a map with
keys.  Counted in BPF with bpf_for_each_map_elem and a callback that
returns 0 (go on) for every element: the helper returns how many it visited.
"""

from __future__ import annotations

from llvmlite import ir

from . import ast
from .builtins import Function, function
from .types import INT64

COUNT_CALLBACK = "len_count_callback"


@function
class Len(Function):
    name = "len"
    args = (1, 1)

    def check(self, analyser, call, statement):
        target = call.args[0] if len(call.args) == 1 else None
        if not (isinstance(target, ast.Map) and not target.keys):
            super().check(analyser, call, statement)
            if target is not None:
                analyser.diagnostics.error(call.span, "len() expects a map, e.g. len(@x)")
            return INT64
        info = analyser.resources.maps.get(target.name)
        if info is None:
            analyser.diagnostics.error(target.span, f"Undefined map: {target.name}")
        elif info.keys == []:
            analyser.diagnostics.error(call.span, "call to len() expects a map with explicit keys (non-scalar map)")
        return INT64

    def emit(self, gen, call):
        callback = gen.module.globals.get(COUNT_CALLBACK)
        if callback is None:
            i64, ptr = ir.IntType(64), gen.ptr
            callback = ir.Function(gen.module, ir.FunctionType(i64, [ptr, ptr, ptr, ptr]), COUNT_CALLBACK)
            callback.linkage = "internal"
            ir.IRBuilder(callback.append_basic_block("entry")).ret(ir.Constant(i64, 0))
        return gen.helper("for_each_map_elem", [gen.map_ptr(call.args[0].name), gen.b.bitcast(callback, gen.ptr),
                                                ir.Constant(gen.ptr, None), gen.i64(0)])

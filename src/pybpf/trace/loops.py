"""`for ($kv : @map) { ... }` as bpftrace compiles it: a bpf_for_each_map_elem callback.

The body becomes a static function `long cb(map, key, value, ctx)` that
the helper calls once per entry.  It copies the entry into `$kv` (the key
slots, then the value, which is the tuple layout), and reaches the
variables of the enclosing code it uses (ForMap.captures) through
pointers in the context on the caller's stack:

    ctx = { u64 returned; void *captured[n]; }

A count/sum/min/max/avg map's value is folded over the CPUs' copies
(percpu.read_all_cpus: the helper passes only this CPU's).
`continue` returns 0 (the next entry), `break` 1 (stop); `return` and
exit() set `returned` and stop, and the caller then returns from the
program.  The verifier checks the callback as a subprogram of its caller.
"""

from __future__ import annotations

from llvmlite import ir

from . import ast, percpu
from .types import slot_size

i8, i64 = ir.IntType(8), ir.IntType(64)
PTR = i8.as_pointer()


def for_map(gen, s: ast.ForMap) -> None:
    layout = gen.layouts[s.map.name]
    captured = [gen.variables.get(key) or _outer_slot(gen, key) for key in s.captures]
    ctx = gen.alloca_bytes(8 + 8 * len(captured), stack=True)  # the helper wants the callback's context there
    gen.b.store(gen.i64(0), gen.at(ctx, 0, i64))
    for i, slot in enumerate(captured):
        gen.b.store(slot, gen.at(ctx, 8 + 8 * i, PTR))
    callback = _callback(gen, s, layout)
    gen.helper("for_each_map_elem", [gen.map_ptr(s.map.name), gen.b.bitcast(callback, PTR), ctx, gen.i64(0)])
    with gen.b.if_then(gen.b.icmp_unsigned("!=", gen.b.load(gen.at(ctx, 0, i64)), gen.i64(0))):
        gen.leave()


def _outer_slot(gen, key: str) -> ir.Value:
    size = slot_size(gen.resources.variables[key])
    slot = gen.variables[key] = gen.alloca_bytes(size)
    gen.zero_at_start(slot, size)
    return slot


def _callback(gen, s: ast.ForMap, layout) -> ir.Function:
    saved = gen.variables, gen.loops, gen.callback_flag
    name = f"{gen.fn.name}_for_{len([f for f in gen.module.functions if '_for_' in f.name])}"
    fn = ir.Function(gen.module, ir.FunctionType(i64, [PTR] * 4), name)
    fn.linkage = "internal"
    _, key, value, ctx = fn.args
    body, caller = gen.open_function(fn)
    gen.variables = {k: gen.b.load(gen.at(ctx, 8 + 8 * i, PTR)) for i, k in enumerate(s.captures)}
    gen.loops, gen.callback_flag = [None], gen.at(ctx, 0, i64)
    kv_type = gen.variable_type(s.variable)
    key_type, value_type = kv_type.items
    kv = gen.variable_slot(s.variable)
    gen.copy(kv, key, min(layout.key_size, slot_size(key_type)))
    kind = gen.resources.maps[s.map.name].value.kind
    if kind in percpu.CASTABLE:  # the helper passes this CPU's copy: fold them all, as bpftrace does
        folded = percpu.read_all_cpus(gen, gen.map_ptr(s.map.name), key, kind,
                                      percpu.possible_cpus(gen.resources.kernel))
        gen.b.store(folded, gen.at(kv, slot_size(key_type), i64))
    else:
        gen.copy(gen.at(kv, slot_size(key_type)), value, min(layout.value_size, slot_size(value_type)))
    gen.block(s.body)
    if not gen.b.block.is_terminated:
        gen.b.ret(gen.i64(0))
    gen.close_function(body, caller)
    gen.variables, gen.loops, gen.callback_flag = saved
    return fn


def add_btf_functions(module: ir.Module) -> None:
    """Debug info for every function, from which LLVM's BPF backend writes .BTF and .BTF.ext.

    Linux refuses a program with subprograms (our callbacks) whose load
    carries no BTF func_info ("missing btf func_info"); a DISubprogram per
    function is all the backend needs to write one FUNC record each.
    """
    file = module.add_debug_info("DIFile", {"filename": "stdin", "directory": "."})
    unit = module.add_debug_info("DICompileUnit", {
        "language": ir.DIToken("DW_LANG_C99"), "file": file, "producer": "pybpftrace", "isOptimized": True,
        "runtimeVersion": 0, "emissionKind": ir.DIToken("FullDebug")}, is_distinct=True)
    module.add_named_metadata("llvm.dbg.cu", unit)
    i32 = ir.IntType(32)
    module.add_named_metadata("llvm.module.flags", [i32(7), "Dwarf Version", i32(5)])
    module.add_named_metadata("llvm.module.flags", [i32(2), "Debug Info Version", i32(3)])
    long = module.add_debug_info("DIBasicType", {"name": "long", "size": 64,
                                                 "encoding": ir.DIToken("DW_ATE_signed")})
    pointer = module.add_debug_info("DIDerivedType", {"tag": ir.DIToken("DW_TAG_pointer_type"), "baseType": None,
                                                      "size": 64})
    for fn in module.functions:
        if fn.is_declaration:
            continue
        signature = module.add_debug_info("DISubroutineType", {
            "types": module.add_metadata([long, *[pointer] * len(fn.args)])})
        local = fn.linkage == "internal"
        program = module.add_debug_info("DISubprogram", {
            "name": fn.name, "scope": file, "file": file, "line": 1, "type": signature, "scopeLine": 1,
            "spFlags": ir.DIToken("DISPFlagDefinition" + (" | DISPFlagLocalToUnit" if local else "")),
            "unit": unit}, is_distinct=True)
        # Linux refuses a FUNC whose parameters have no names ("Invalid arg#1"): the backend names them
        # from the parameter variables the subprogram retains, which are scoped in it (a cycle, so the
        # retainedNodes operand is added once the variables exist)
        params = [module.add_debug_info("DILocalVariable", {
            "name": f"arg{i}", "arg": i + 1, "scope": program, "file": file, "line": 1, "type": pointer})
            for i in range(len(fn.args))]
        program.operands = (*program.operands, ("retainedNodes", module.add_metadata(params)))
        fn.set_metadata("dbg", program)

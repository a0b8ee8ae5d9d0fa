"""`for` loops as bpftrace compiles them: the body a callback of a looping helper.

`for ($kv : @map) { ... }` calls bpf_for_each_map_elem with a static
function `long cb(map, key, value, ctx)`, which copies the entry into `$kv`
(the key slots, then the value, which is the tuple layout).
`for ($i : start..end) { ... }` evaluates both bounds once and calls
bpf_loop(end - start, cb, ctx, 0) when that is positive, with
`long cb(u64 index, ctx)` setting `$i = start + index`: the verifier checks
the body once, whatever the bounds (a map value, a parameter), where an
open-coded loop would be walked iteration by iteration, or refused.

Either callback reaches the variables of the enclosing code it uses
(`captures`) through pointers in a context on the caller's stack:

    ctx = { u64 returned; void *captured[n]; [i64 start] }

A count/sum/min/max/avg map's value is folded over the CPUs' copies
(percpu.read_all_cpus: the helper passes only this CPU's).
`continue` returns 0 (the next entry or index), `break` 1 (stop); `return`
and exit() set `returned` and stop, and the caller then returns from the
program.  The verifier checks the callback as a subprogram of its caller.
"""

from __future__ import annotations

from llvmlite import ir

from . import ast, percpu
from .types import slot_size

i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = i8.as_pointer()


def for_map(gen, s: ast.ForMap) -> None:
    layout = gen.layouts[s.map.name]
    ctx = _context(gen, s.captures, 0)

    def bind_entry(args):
        _, key, value, _ = args
        key_type, value_type = gen.variable_type(s.variable).items
        kv = gen.variable_slot(s.variable)
        gen.copy(kv, key, min(layout.key_size, slot_size(key_type)))
        kind = gen.resources.maps[s.map.name].value.kind
        if kind in percpu.CASTABLE:  # the helper passes this CPU's copy: fold them all, as bpftrace does
            folded = percpu.read_all_cpus(gen, gen.map_ptr(s.map.name), key, kind,
                                          percpu.possible_cpus(gen.resources.kernel))
            gen.b.store(folded, gen.at(kv, slot_size(key_type), i64))
        else:
            gen.copy(gen.at(kv, slot_size(key_type)), value, min(layout.value_size, slot_size(value_type)))

    callback = _callback(gen, s, "for", [PTR] * 4, bind_entry)
    gen.helper("for_each_map_elem", [gen.map_ptr(s.map.name), gen.b.bitcast(callback, PTR), ctx, gen.i64(0)])
    _return_if_returned(gen, ctx)


def for_range(gen, s: ast.ForRange) -> None:
    start, end = gen.expr(s.start), gen.expr(s.end)
    start_at = 8 + 8 * len(s.captures)
    ctx = _context(gen, s.captures, 8)
    gen.b.store(start, gen.at(ctx, start_at, i64))

    def bind_index(args):
        index, ctx = args
        first = gen.b.load(gen.at(ctx, start_at, i64))
        gen.b.store(gen.b.add(first, index), gen.at(gen.variable_slot(s.variable), 0, i64))

    callback = _callback(gen, s, "loop", [i64, PTR], bind_index)
    iterations = gen.b.trunc(gen.b.sub(end, start), i32)  # bpf_loop's u32 count, as bpftrace's
    with gen.b.if_then(gen.b.icmp_signed(">", iterations, ir.Constant(i32, 0))):
        gen.helper("loop", [gen.b.zext(iterations, i64), gen.b.bitcast(callback, PTR), ctx, gen.i64(0)])
    _return_if_returned(gen, ctx)


def _context(gen, captures: list[str], extra: int) -> ir.Value:
    """The callback's context on the caller's stack: `returned` cleared, the captured variables' slots,
    then `extra` bytes for the caller to fill."""
    captured = [gen.variables.get(key) or _outer_slot(gen, key) for key in captures]
    ctx = gen.alloca_bytes(8 + 8 * len(captured) + extra, stack=True)  # the helper wants the context there
    gen.b.store(gen.i64(0), gen.at(ctx, 0, i64))
    for i, slot in enumerate(captured):
        gen.b.store(slot, gen.at(ctx, 8 + 8 * i, PTR))
    return ctx


def _return_if_returned(gen, ctx: ir.Value) -> None:
    with gen.b.if_then(gen.b.icmp_unsigned("!=", gen.b.load(gen.at(ctx, 0, i64)), gen.i64(0))):
        gen.leave()


def _outer_slot(gen, key: str) -> ir.Value:
    size = slot_size(gen.resources.variables[key])
    slot = gen.variables[key] = gen.alloca_bytes(size)
    gen.zero_at_start(slot, size)
    return slot


def _callback(gen, s, kind: str, params: list[ir.Type], bind) -> ir.Function:
    """The loop body as `static long NAME(params...)` whose last parameter is the context: `bind(args)`
    sets the loop variable, then the body runs with the captured variables reached through the context."""
    saved = gen.variables, gen.loops, gen.callback_flag
    name = f"{gen.fn.name}_{kind}_{len([f for f in gen.module.functions if f'_{kind}_' in f.name])}"
    fn = ir.Function(gen.module, ir.FunctionType(i64, params), name)
    fn.linkage = "internal"
    ctx = fn.args[-1]
    body, caller = gen.open_function(fn)
    gen.variables = {k: gen.b.load(gen.at(ctx, 8 + 8 * i, PTR)) for i, k in enumerate(s.captures)}
    gen.loops, gen.callback_flag = [None], gen.at(ctx, 0, i64)
    bind(fn.args)
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
    module.add_named_metadata("llvm.module.flags", [i32(7), "Dwarf Version", i32(5)])
    module.add_named_metadata("llvm.module.flags", [i32(2), "Debug Info Version", i32(3)])
    long = module.add_debug_info("DIBasicType", {"name": "long", "size": 64,
                                                 "encoding": ir.DIToken("DW_ATE_signed")})
    pointer = module.add_debug_info("DIDerivedType", {"tag": ir.DIToken("DW_TAG_pointer_type"), "baseType": None,
                                                      "size": 64})
    for fn in module.functions:
        if fn.is_declaration:
            continue
        types = [long if isinstance(arg.type, ir.IntType) else pointer for arg in fn.args]
        signature = module.add_debug_info("DISubroutineType", {"types": module.add_metadata([long, *types])})
        local = fn.linkage == "internal"
        program = module.add_debug_info("DISubprogram", {
            "name": fn.name, "scope": file, "file": file, "line": 1, "type": signature, "scopeLine": 1,
            "spFlags": ir.DIToken("DISPFlagDefinition" + (" | DISPFlagLocalToUnit" if local else "")),
            "unit": unit}, is_distinct=True)
        # Linux refuses a FUNC whose parameters have no names ("Invalid arg#1"): the backend names them
        # from the parameter variables the subprogram retains, which are scoped in it (a cycle, so the
        # retainedNodes operand is added once the variables exist)
        params = [module.add_debug_info("DILocalVariable", {
            "name": f"arg{i}", "arg": i + 1, "scope": program, "file": file, "line": 1, "type": t})
            for i, t in enumerate(types)]
        program.operands = (*program.operands, ("retainedNodes", module.add_metadata(params)))
        fn.set_metadata("dbg", program)

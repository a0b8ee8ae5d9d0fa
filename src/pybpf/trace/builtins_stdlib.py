"""Builtins that current bpftrace writes as macros of its standard library (src/stdlib/*.bt):
`assert(cond, msg)`, `ppid([task])`, `probetype`, `signal(sig)`, `signal_thread(sig)`, `kaddr(name)`,
`join(argv[, sep])`, `config` (also `config()`, `__builtin_config`).

`assert` is lowered, as bpftrace's macro expands, to bpftrace code
(`if (!cond) { errorf("assert failed: %s", msg); exit(1); }`) that is then
checked and compiled like the script's own.  Its message names the place
in the library, `stdlib/base.bt:6:5-37: ERROR: assert failed: ...`, as
bpftrace's does: the errorf's span is one in STDLIB, pybpftrace's own text
of that macro, kept at bpftrace's line and column.
"""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass

from . import ast
from .builtins import Function, Variable, function, variable
from .source import Source, Span
from .types import CAST_TYPES, NONE, UINT64, kind_name, slot_size, string

STDLIB = Source("""\
// pybpftrace's standard library: what current bpftrace's stdlib/base.bt
// defines as macros, at the same lines (diagnostics name them).
macro assert(cond, msg)
{
  if (!cond) {
    errorf("assert failed: %s", msg);
    exit(1);
  }
}
""", "stdlib/base.bt")


@dataclass(frozen=True)
class LibrarySpan(Span):
    """A span in a library's text rather than the script's: diagnostics render it against `source`."""

    source: Source | None = None


def library_span(source: Source, text: str) -> LibrarySpan:
    start = source.text.index(text)
    return LibrarySpan(start, start + len(text), source=source)


ASSERT_ERRORF = library_span(STDLIB, 'errorf("assert failed: %s", msg)')


class Lowered(Function):
    """A builtin that stands for bpftrace code: `lower` builds it from the call, the analyser checks it
    (its diagnostics point at the call) and the code generator compiles it in the call's place."""

    def check(self, analyser, call, statement):
        low, high = self.args
        if not low <= len(call.args) <= high:
            return super().check(analyser, call, statement)
        call.lowered = self.lower(analyser, call)
        return analyser.expr(call.lowered, statement)

    def lower(self, analyser, call: ast.Call) -> ast.Expr:
        raise NotImplementedError

    def emit(self, gen, call):
        return gen.expr(call.lowered)


@function
class Assert(Lowered):
    """assert(cond, msg): when cond is false, `ERROR: assert failed: msg` and exit(1)."""

    name = "assert"
    args = (2, 2)

    def lower(self, analyser, call):
        cond, message = call.args
        span = call.span
        report = ast.Call(ASSERT_ERRORF, "errorf", [ast.String(span, "assert failed: %s"), message])
        leave = ast.Call(span, "exit", [ast.Integer(span, 1)])
        failed = ast.If(span, ast.Unary(span, "!", cond), [ast.ExprStmt(span, report), ast.ExprStmt(span, leave)],
                        [])
        return ast.BlockExpr(span, [failed], None)


@function
class Ppid(Function):
    """ppid() / ppid(task): the parent process's id, `task->real_parent->pid` (bpftrace's stdlib macro).

    On Linux it is lowered to that code, on the struct task_struct of the kernel's BTF (btf_structs).
    On the virtual kernel `curtask` is the calling thread's task record and its parent's tgid is the
    u32 at offset 24 (kernel.virtual: {u32 pid; u32 tgid; char comm[16]; u32 ppid})."""

    name = "ppid"
    args = (0, 1)
    PPID_OFFSET = 24

    def check(self, analyser, call, statement):
        if analyser.resources.kernel == "virtual" or len(call.args) > 1:
            return super().check(analyser, call, statement)
        span = call.span
        task = ast.Cast(span, "struct task_struct*", call.args[0] if call.args else ast.Builtin(span, "curtask"))
        parent = ast.FieldAccess(span, task, "real_parent", arrow=True)
        call.lowered = ast.Cast(span, "uint32", ast.FieldAccess(span, parent, "pid", arrow=True))
        return analyser.expr(call.lowered, statement)

    def result(self, analyser, call):
        if call.args and call.args[0].type is not None and not call.args[0].type.is_int \
                and call.args[0].type.kind != "ptr":
            analyser.diagnostics.error(call.args[0].span, f"ppid() expects a task (curtask) "
                                                          f"({kind_name(call.args[0].type)} provided)")
        return CAST_TYPES["uint32"]

    def emit(self, gen, call):
        if call.lowered is not None:
            return gen.expr(call.lowered)
        task = gen.expr(call.args[0]) if call.args else gen.helper("get_current_task", [])
        buffer = gen.alloca_bytes(8)
        gen.zero(buffer, 8)
        gen.helper("probe_read_kernel", [buffer, gen.i64(4), gen.b.add(task, gen.i64(self.PPID_OFFSET))])
        return gen.b.load(gen.at(buffer, 0, gen.i64(0).type))


# config's record: bpftrace's fields in its order (ast/passes/builtins.cpp), and where a setting's name here
# differs from the field's.
CONFIG_FIELDS = ("cpp_demangle", "lazy_symbolication", "print_maps_on_exit", "use_blazesym", "show_debug_info",
                 "log_size", "max_bpf_progs", "max_cat_bytes", "max_map_keys", "max_probes", "max_strlen",
                 "on_stack_limit", "perf_rb_pages", "str_trunc_trailer", "unstable_import_statement",
                 "unstable_tseries", "unstable_typeinfo", "unstable_dw_ustack", "missing_probes", "stack_mode",
                 "license")
CONFIG_SETTING = {"unstable_import_statement": "unstable_import"}
UNSTABLE = {"1": "enable", "0": "error"}


@variable
class Config(Variable):
    """config: the settings as a record of constants (`config.max_strlen`, `config().stack_mode`), as
    bpftrace's stdlib macro `config()` expands to its `__builtin_config`."""

    name = "config"

    def check(self, analyser, node):
        span, items = node.span, []
        for name in CONFIG_FIELDS:
            value = analyser.resources.config[CONFIG_SETTING.get(name, name)]
            if isinstance(value, bool):
                items.append(ast.Builtin(span, "true" if value else "false"))
            elif isinstance(value, int):
                items.append(ast.Integer(span, value))
            else:
                items.append(ast.String(span, UNSTABLE.get(value, value) if name.startswith("unstable_") else value))
        node.lowered = ast.Record(span, list(CONFIG_FIELDS), items)
        return analyser.expr(node.lowered)

    def emit(self, gen, node):
        return gen.expr(node.lowered)


@variable
class ProbeType(Variable):
    """probetype: the probe's type by bpftrace's names ("special" for BEGIN and END)."""

    name = "probetype"
    NAMES = {"BEGIN": "special", "END": "special"}

    def text(self, point: ast.AttachPoint) -> str:
        return self.NAMES.get(point.provider, point.provider)

    def check(self, analyser, node):
        return string(max(len(self.text(p)) for p in analyser.probe.attach_points) + 1)

    def emit(self, gen, node):
        return gen.string_constant(self.text(gen.attach_point), node.type.size)


def signal_number(name: str) -> int:
    """bpftrace's signal_name_to_num: "KILL", "sigkill" or "SIGKILL" -> 9; -1 for no such signal."""
    name = name.upper()
    if not name.startswith("S"):
        name = "SIG" + name
    number = getattr(signals, name, None)
    return int(number) if isinstance(number, signals.Signals) else -1


@function
class Signal(Function):
    """signal(sig): send a signal (a name "KILL"/"SIGKILL" or a number 1..64) to the current process
    with bpf_send_signal.  Unsafe, and only in probes that run in a task's context."""

    name = "signal"
    args = (1, 1)
    helper = "send_signal"
    PROBE_TYPES = ("kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "tracepoint", "profile", "fentry",
                   "fexit", "rawtracepoint")

    def result(self, analyser, call):
        provider = analyser.probe.attach_points[0].provider
        kind = ProbeType.NAMES.get(provider, provider)
        if kind not in self.PROBE_TYPES:
            analyser.diagnostics.error(call.span, f"{self.name}() can not be used for this probetype {kind}")
        elif not analyser.unsafe:
            analyser.diagnostics.error(call.span, f"{self.name}() is unsafe. To use you need the --unsafe flag")
        if not call.args:
            return NONE
        sig = call.args[0]
        if isinstance(sig, ast.String):
            number = signal_number(sig.value)
            if number < 1:
                analyser.diagnostics.error(sig.span, f"Invalid string for signal: {sig.value}")
            call.constant = number
        elif isinstance(sig, ast.Integer):
            if not 1 <= sig.value <= 64:
                analyser.diagnostics.error(call.span, f"{self.name}() accepts a string literal or an integer "
                                                      "between 1 and 64 (inclusive)")
            call.constant = sig.value
        elif not sig.type.is_int:
            analyser.diagnostics.error(call.span, f"{self.name}() accepts a string literal or an integer")
        return NONE

    def emit(self, gen, call):
        number = gen.i64(call.constant) if call.constant is not None else gen.expr(call.args[0])
        gen.helper(self.helper, [number])


@function
class SignalThread(Signal):
    """signal_thread(sig): signal() to the current thread only (bpf_send_signal_thread)."""

    name = "signal_thread"
    helper = "send_signal_thread"



@function
class Kaddr(Function):
    """kaddr("name"): the address of a kernel symbol, resolved when the script is compiled (/proc/kallsyms
    on --kernel linux; the virtual kernel has no kernel symbols, so there it is always the error)."""

    name = "kaddr"
    args = (1, 1)

    def result(self, analyser, call):
        symbol = call.args[0] if call.args else None
        if not isinstance(symbol, ast.String):
            if symbol is not None:
                analyser.diagnostics.error(call.span, "kaddr() expects a string literal")
            return UINT64
        address = None
        if analyser.resources.kernel == "linux":
            from ..kernel.linux.ksyms import kallsyms_address
            address = kallsyms_address(symbol.value)
        if address is None:
            analyser.diagnostics.error(call.span, f"Failed to resolve kernel symbol: {symbol.value}")
        call.constant = address or 0
        analyser.resources.probe_facts[f"kaddr:{symbol.value}"] = call.constant  # a reboot moves it: cache key
        return UINT64

    def emit(self, gen, call):
        return gen.i64(call.constant)


JOIN_ARGS = 16  # the most strings join() reads (bpftrace's join_argnum); each is max_strlen bytes


@function
class Join(Function):
    """join(argv[, sep]): the strings of a NULL-terminated array of string pointers, on one line separated
    by sep (" " by default), as bpftrace prints an execve's argv.

    The record (count, then JOIN_ARGS strings) is too big for the BPF stack: it is written in place in the
    ring buffer (ringbuf_reserve, probe_read_str into it, ringbuf_submit).  The count stops at the first
    NULL pointer; user space joins that many."""

    name = "join"
    args = (1, 2)
    statement_only = True

    def result(self, analyser, call):
        if call.args and call.args[0].type is not None and not (call.args[0].type.is_int or
                                                                call.args[0].type.kind == "ptr"):
            analyser.diagnostics.error(call.args[0].span, f"join() expects an array of string pointers "
                                                          f"({kind_name(call.args[0].type)} provided)")
        separator = call.args[1] if len(call.args) == 2 else ast.String(call.span, " ")
        if not isinstance(separator, ast.String):
            analyser.diagnostics.error(separator.span, "join() expects a string literal as its separator")
            separator = ast.String(call.span, " ")
        each = string(analyser.resources.config.get("max_strlen", 64))
        call.output = analyser.resources.add_output("join", separator.value, [UINT64] + [each] * JOIN_ARGS)
        return NONE

    def emit(self, gen, call):
        from llvmlite import ir
        from .codegen import PTR, RINGBUF_MAP
        each = gen.resources.outputs[call.output].types[1]
        size = 16 + JOIN_ARGS * slot_size(each)
        array = gen.expr(call.args[0])
        record = gen.helper("ringbuf_reserve", [gen.global_ptr(RINGBUF_MAP), gen.i64(size), gen.i64(0)])
        with gen.if_nonnull(record):
            base = gen.b.inttoptr(record, PTR)
            i64 = ir.IntType(64)
            gen.b.store(gen.i64(call.output), gen.at(base, 0, i64))
            slot = gen.alloca_bytes(8)
            going, count = ir.Constant(ir.IntType(1), 1), gen.i64(0)
            for index in range(JOIN_ARGS):
                gen.zero(slot, 8)
                gen.helper("probe_read", [slot, gen.i64(8), gen.b.inttoptr(gen.b.add(array, gen.i64(8 * index)),
                                                                          PTR)])
                pointer = gen.b.load(gen.at(slot, 0, i64))
                going = gen.b.and_(going, gen.b.icmp_unsigned("!=", pointer, gen.i64(0)))
                count = gen.b.add(count, gen.b.zext(going, i64))
                gen.helper("probe_read_str", [gen.at(base, 16 + index * slot_size(each)), gen.i64(each.size),
                                              gen.b.inttoptr(gen.b.select(going, pointer, gen.i64(0)), PTR)])
            gen.b.store(count, gen.at(base, 8, i64))
            gen.helper("ringbuf_submit", [base, gen.i64(0)])

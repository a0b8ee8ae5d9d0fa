"""kstack and ustack, bare or as kstack(mode[, limit]): the stack where the probe fired.

bpftrace reference guide, "kstack"/"ustack".  As bpftrace does, the value
is a stack id from bpf_get_stackid (ustack with BPF_F_USER_STACK) into a
stack trace map per limit (`stack_LIMIT`); user space reads the ips there.
On the virtual kernel the stack is the traced Python code's
(kernel/virtual/stacks.py); user space symbolises the ips back
(output/stacks.py) in bpftrace's modes: bpftrace (a symbol a line,
indented), perf (`\\tADDR symbol`), raw (addresses), build_id (`BUILDID
0xOFFSET` on Linux, raw on the virtual kernel).  On Linux the frames are the
kernel's and the process's symbols (kernel/linux/symbols.StackSymbols).

A ustack value carries the process as well, as bpftrace's {stack id, pid}
does (the same user addresses mean different code in two processes): the
stack id in the low 32 bits, the tgid in the high 32.
"""

from __future__ import annotations

from . import ast
from .builtins import FUNCTIONS, VARIABLES, Function, Variable
from .types import Type

MODES = ("bpftrace", "perf", "raw", "build_id")
DEFAULT_LIMIT, MAX_LIMIT = 127, 127  # PERF_MAX_STACK_DEPTH
BPF_F_USER_STACK = 1 << 8
BPF_MAP_TYPE_STACK_TRACE, STACK_MAP_ENTRIES = 7, 4096


def stack_type(kind: str, mode: str = "bpftrace", limit: int = DEFAULT_LIMIT) -> Type:
    return Type(kind, 8, params=(MODES.index(mode), limit))


def stack_map(limit: int) -> str:
    return f"stack_{limit}"


def emit_stack(gen, kind: str, t: Type):
    limit = t.params[1]
    symbol = stack_map(limit)
    if symbol not in gen.globals:
        gen._map_global(symbol, BPF_MAP_TYPE_STACK_TRACE, 4, 8 * limit, STACK_MAP_ENTRIES)
    flags = BPF_F_USER_STACK if kind == "ustack" else 0
    stack_id = gen.helper("get_stackid", [gen.ctx, gen.global_ptr(symbol), gen.i64(flags)])
    if kind == "ustack":
        tgid = gen.b.and_(gen.helper("get_current_pid_tgid", []), gen.i64(-1 << 32))
        stack_id = gen.b.or_(tgid, gen.b.and_(stack_id, gen.i64(0xFFFFFFFF)))
    result = gen.alloca_bytes(8)
    gen.b.store(stack_id, gen.at(result, 0, stack_id.type))  # a negative errno prints as an empty stack
    return result


class StackVariable(Variable):
    def __init__(self, kind: str):
        self.name, self.type = kind, stack_type(kind)

    def check(self, analyser, node):
        """kstack alone: in the config's stack_mode (config = { stack_mode = perf }, BPFTRACE_STACK_MODE)."""
        mode = analyser.resources.config.get("stack_mode", "bpftrace")
        return stack_type(self.name, "raw" if mode == "build_id" and self.name == "kstack" else mode)

    def emit(self, gen, node):
        return emit_stack(gen, self.name, node.type)


class StackFunction(Function):
    """kstack(mode), kstack(limit), kstack(mode, limit)."""

    args = (0, 2)

    def __init__(self, kind: str):
        self.name = kind

    def check(self, analyser, call, statement):
        mode, limit = analyser.resources.config.get("stack_mode", "bpftrace"), DEFAULT_LIMIT
        if len(call.args) > 2:
            analyser.diagnostics.error(call.span, f"{self.name}() takes a mode and a limit "
                                                  f"({len(call.args)} arguments provided)")
        for arg in call.args[:2]:
            if isinstance(arg, ast.Builtin) and arg.name in MODES and arg is call.args[0]:
                mode = arg.name
            elif isinstance(arg, ast.Integer):
                limit = arg.value
            else:
                analyser.diagnostics.error(arg.span, f"{self.name}() expects a stack mode "
                                                     f"({', '.join(MODES)}) and an integer literal limit")
        if mode == "build_id" and self.name == "kstack":
            analyser.diagnostics.error(call.span, "build_id stack mode can only be used for ustack")
        if not 1 <= limit <= MAX_LIMIT:
            analyser.diagnostics.error(call.span, f"{self.name}() limit must be between 1 and {MAX_LIMIT} "
                                                  f"({limit} provided)")
            limit = DEFAULT_LIMIT
        return stack_type(self.name, mode, limit)

    def emit(self, gen, call):
        return emit_stack(gen, self.name, call.type)


for _kind in ("kstack", "ustack"):
    VARIABLES[_kind] = VARIABLES[f"__builtin_{_kind}"] = StackVariable(_kind)
    FUNCTIONS[_kind] = StackFunction(_kind)

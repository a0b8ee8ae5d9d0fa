"""Type-level builtins.

- offsetof(type, field[.field...]): a constant like sizeof (bpftrace's reference guide,
  "offsetof").  The type may be `struct Foo`, `typeof(...)` or an expression whose type is a
  struct or record; a path `a.b` adds the offsets of nested fields.
- typeinfo(expr | type): current bpftrace's (unstable, `config = { unstable_typeinfo = enable }`)
  record `(btf_id = 0, base_type = "int", full_type = "uint8")` of its operand's type, which is
  never evaluated: a constant the script can compare (`typeinfo($x).base_type == "string"`).
- curtask: a `struct task_struct *`, as in bpftrace.  Its fields are the script's declaration of
  `struct task_struct` when it has one; else, as bpftrace, the running kernel's BTF on Linux, and
  on the virtual kernel the virtual task's own layout {u32 pid; u32 tgid; char comm[16]}.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import ast
from .builtins import VARIABLES, Function, Variable, function
from .builtins_stdlib import Lowered
from .btf_structs import vmlinux_structs
from .structs import complete
from .types import UINT64, Type, integer, literal, pointer_to, slot_offset, string

# The virtual kernel's task (helpers/registry.py get_current_task).
VIRTUAL_TASK = Type("struct", 24, items=(integer(4, False), integer(4, False), string(16)),
                    names=("pid", "tgid", "comm"), offsets=(0, 4, 8), bitfields=((0, 0),) * 3,
                    name="struct task_struct", align=4)


def _path(e: ast.Expr) -> list[str] | None:
    """`bar.x` as ["bar", "x"]; None when it is not a field path."""
    if isinstance(e, ast.Builtin):
        return [e.name]
    if isinstance(e, ast.FieldAccess) and not e.arrow:
        base = _path(e.base)
        return None if base is None else base + [e.member]
    return None


@function
class Offsetof(Function):
    name = "offsetof"
    args = (2, 2)

    def check(self, analyser, call, statement):
        if len(call.args) != 2:
            return super().check(analyser, call, statement)
        t = analyser.expr(call.args[0])
        path = _path(call.args[1])
        if path is None:
            analyser.diagnostics.error(call.args[1].span, "offsetof() takes a field name or a path of fields "
                                                          "(a.b.c)")
            return UINT64
        offset = 0
        for member in path:
            t = complete(t, analyser.structs)
            if t.kind not in ("struct", "record"):
                analyser.diagnostics.error(call.span, f"'{t}' is not a C type.")
                return UINT64
            if member not in t.names:
                analyser.diagnostics.error(call.span, f"'{t}' has no field named '{member}'")
                return UINT64
            index = t.names.index(member)
            offset += t.offsets[index] if t.kind == "struct" else slot_offset(t, index)
            t = t.items[index]
        call.constant = offset
        return literal(offset)  # bpftrace puts an integer literal in its place

    def emit(self, gen, call):
        return gen.i64(call.constant)


# bpftrace's name of each type's kind (types.cpp typestr(Type)): typeinfo's base_type.
BASE_TYPES = {"int": "int", "enum": "int", "bool": "bool", "str": "string", "ptr": "pointer", "struct": "c_type",
              "tuple": "tuple", "record": "record", "array": "array", "buffer": "buffer", "inet": "inet",
              "timestamp": "timestamp", "username": "username_t", "ksym": "ksym_t", "usym": "usym_t",
              "kstack": "kstack", "ustack": "ustack", "none": "none"}
UNSTABLE_TYPEINFO = ("typeinfo feature is not enabled by default. To enable this unstable feature, set the config "
                     "flag to enable. unstable_typeinfo=enable")


@function
class Typeinfo(Lowered):
    """typeinfo(x): the record `(btf_id, base_type, full_type)` of x's type, as bpftrace's AstTransformer
    writes it in the call's place (btf_id is 0 there too: it has no global numbering of types yet)."""

    name = "typeinfo"
    args = (1, 1)

    def lower(self, analyser, call):
        setting = analyser.resources.config.get("unstable_typeinfo", "error")
        if setting in ("error", "0"):
            analyser.diagnostics.error(call.span, UNSTABLE_TYPEINFO)
        elif setting == "warn":
            analyser.diagnostics.warning(call.span, "Script is using an unstable feature: typeinfo. To prevent "
                                                    "this warning you must explicitly enable it in the config e.g. "
                                                    "unstable_typeinfo=enable")
        t = analyser.expr(ast.TypeOf(call.span, call.args[0]))  # typeof's rules: typeinfo(@m) is its value's
        base = BASE_TYPES.get(t.kind, t.kind if not t.is_aggregation else str(t))
        span = call.span
        return ast.Record(span, ["btf_id", "base_type", "full_type"],
                          [ast.Integer(span, 0), ast.String(span, base), ast.String(span, str(t))])


def kernel_structs(kernel: str) -> Mapping[str, Type]:
    """The structs a kernel defines that a script may use without declaring them: the virtual task's
    layout on the virtual kernel; on Linux, as bpftrace, every struct and union of the running
    kernel's BTF (converted on first use: btf_structs)."""
    if kernel == "virtual":
        return {"struct task_struct": VIRTUAL_TASK}
    return vmlinux_structs()


class Curtask(Variable):
    name = "curtask"

    def check(self, analyser, node):
        return pointer_to(analyser.structs.get("struct task_struct") or Type("struct", 0, name="struct task_struct"))

    def emit(self, gen, node):
        return gen.helper("get_current_task", [])


VARIABLES["curtask"] = VARIABLES["__builtin_curtask"] = Curtask()  # after builtins.py's __builtin_ aliases


class Ctx(Variable):
    """ctx: the address of the probe's context (bpftrace gives it a probe-specific struct type; here a
    `uint8 *` to cast to the struct the script declares: `((struct x *)ctx).x`)."""

    name = "ctx"

    def check(self, analyser, node):
        return pointer_to(integer(1, False))

    def emit(self, gen, node):
        from llvmlite import ir
        return gen.b.ptrtoint(gen.ctx, ir.IntType(64))


VARIABLES["ctx"] = VARIABLES["__builtin_ctx"] = Ctx()

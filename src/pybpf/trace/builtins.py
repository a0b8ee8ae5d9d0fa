"""Builtins and functions: one registered object each, its check next to its code generation.

A variable builtin (`pid`, `comm`, `arg0`) has `check(analyser, node) -> Type`
and `emit(gen, node) -> value`.  A function (`printf`, `count`, `str`) has
`check(analyser, call, statement) -> Type` and `emit(gen, call)`.  The
semantic analyser and the code generator look names up here and nowhere
else; adding a builtin is adding an entry.
"""

from __future__ import annotations

import dataclasses
import os

from . import ast
from .format import check_format
from .scratch import ELEMENT_MAX
from .types import BOOL, CAST_TYPES, INT64, NONE, UINT64, Type, c_layout, kind_name, literal, string

VARIABLES: dict[str, "Variable"] = {}
FUNCTIONS: dict[str, "Function"] = {}
ACTIONS = {"exit": 30000, "print": 30001, "clear": 30002, "zero": 30003,  # record ids past the output ids
           "map_full": 30004, "div_zero": 30005}
STRLEN = 64  # bpftrace's default string size for str()


DIVIDE_BY_ZERO = ("Divide or modulo by 0 detected. This can lead to unexpected results. "
                  "1 is being used as the result.")


def division_warning(analyser, span) -> int:
    """The record id of current bpftrace's runtime warning for `a / 0` and `a % 0`, at the operation's place."""
    return analyser.resources.add_output("warnf", DIVIDE_BY_ZERO, [], span)


def variable(cls):
    VARIABLES[cls.name] = cls()
    return cls


def function(cls):
    FUNCTIONS[cls.name] = cls()
    return cls


class Variable:
    name = ""
    type: Type = UINT64

    def check(self, analyser, node: ast.Builtin) -> Type:
        return self.type


class Function:
    name = ""
    args: tuple[int, int] = (0, 0)  # least and most arguments
    statement_only = False

    def check(self, analyser, call: ast.Call, statement: bool) -> Type:
        low, high = self.args
        if not low <= len(call.args) <= high:
            words = {0: "no arguments", 1: "one argument"}
            expected = words.get(low, f"{low} arguments") if low == high else \
                f"at least {words.get(low, f'{low} arguments')}" if high >= 99 else f"{low} or {high} arguments"
            analyser.diagnostics.error(call.span, f"{self.name}() requires {expected} ({len(call.args)} provided)")
        for arg in call.args:
            analyser.expr(arg)
        if self.statement_only and not statement:
            analyser.diagnostics.error(call.span, f"{self.name}() should not be used in an expression")
        return self.result(analyser, call)

    def result(self, analyser, call: ast.Call) -> Type:
        return NONE


# -- variables ---------------------------------------------------------------------------------

class HelperVariable(Variable):
    """A builtin read from a helper's result: (result >> shift) & mask."""

    def __init__(self, name: str, helper: str, shift: int = 0, mask: int = 0):
        self.name, self.helper, self.shift, self.mask = name, helper, shift, mask

    def emit(self, gen, node):
        value = gen.helper(self.helper, [])
        if self.shift:
            value = gen.b.lshr(value, gen.i64(self.shift))
        return gen.b.and_(value, gen.i64(self.mask)) if self.mask else value


for _name, _helper, _shift, _mask in (
        ("pid", "get_current_pid_tgid", 32, 0), ("tid", "get_current_pid_tgid", 0, 0xFFFFFFFF),
        ("uid", "get_current_uid_gid", 0, 0xFFFFFFFF), ("gid", "get_current_uid_gid", 32, 0),
        ("nsecs", "ktime_get_ns", 0, 0), ("cpu", "get_smp_processor_id", 0, 0),
        ("numaid", "get_numa_node_id", 0, 0), ("rand", "get_prandom_u32", 0, 0),
        ("cgroup", "get_current_cgroup_id", 0, 0), ("jiffies", "jiffies64", 0, 0)):  # curtask: builtins_types.py
    VARIABLES[_name] = HelperVariable(_name, _helper, _shift, _mask)


class Constant(Variable):
    """A builtin known when the script is compiled."""

    def __init__(self, name: str, value: int, type: Type = UINT64):
        self.name, self.value, self.type = name, value, type

    def emit(self, gen, node):
        return gen.i64(self.value)


VARIABLES["ncpus"] = Constant("ncpus", os.cpu_count() or 1)
VARIABLES["true"], VARIABLES["false"] = Constant("true", 1, BOOL), Constant("false", 0, BOOL)
VARIABLES["usermode"] = Constant("usermode", 1)  # probes of the virtual kernel fire in the traced program


@variable
class Username(Variable):
    """The user running the traced program: its uid in BPF, printed as the name (from pwd) by user space."""

    name = "username"
    type = Type("username", 8)

    def emit(self, gen, node):
        return gen.b.and_(gen.helper("get_current_uid_gid", []), gen.i64(0xFFFFFFFF))


@variable
class Elapsed(Variable):
    name = "elapsed"

    def check(self, analyser, node):
        analyser.resources.needs_elapsed = True
        return self.type

    def emit(self, gen, node):
        return gen.b.sub(gen.helper("ktime_get_ns", []), gen.start_time())


@variable
class Comm(Variable):
    name = "comm"
    type = string(16)

    def emit(self, gen, node):
        buffer = gen.alloca_bytes(16)
        gen.helper("get_current_comm", [buffer, gen.i64(16)])
        return buffer


class Arg(Variable):
    def __init__(self, index: int):
        self.name, self.index = f"arg{index}", index

    def check(self, analyser, node):
        provider = analyser.probe_provider(node)
        if provider is not None and not provider.has_args:
            analyser.diagnostics.error(node.span, f"The {self.name} builtin can only be used with probes that "
                                                  "have arguments (uprobe, uretprobe, usdt, tracepoint)")
        return getattr(provider, "arg_type", UINT64)  # usdt: int64, as bpftrace

    def emit(self, gen, node):
        return gen.provider.arg(gen, self.index)


for _i in range(8):
    VARIABLES[f"arg{_i}"] = Arg(_i)


@variable
class Args(Variable):
    """args as a whole (print(args), @x = args): a record of the probe's arguments, as current bpftrace
    prints it ({ .field = value, ... }); every attach point of the probe must have the same record."""

    name = "args"

    def check(self, analyser, node):
        from .probes import providers
        table = providers(analyser.resources.kernel)
        found = None
        for point in analyser.probe.attach_points:
            provider = table.get(point.provider)
            t = provider.record(analyser, point) if provider is not None else None
            if isinstance(t, str):
                analyser.diagnostics.error(node.span, t)
                return INT64
            if found is not None and t is not None and t != found:
                analyser.diagnostics.error(node.span, "args: the attach points of this probe have different "
                                                      f"records ({point.text} differs); use args.FIELD")
                return INT64
            found = found or t
        return found or INT64

    def emit(self, gen, node):
        return gen.provider.emit_record(gen, node.type)


@variable
class Retval(Variable):
    name = "retval"

    def check(self, analyser, node):
        provider = analyser.probe_provider(node)
        if provider is not None and not provider.has_retval:
            analyser.diagnostics.error(node.span, "The retval builtin can only be used with uretprobe probes")
        return UINT64

    def emit(self, gen, node):
        return gen.provider.retval(gen)


@variable
class ProbeName(Variable):
    name = "probe"
    type = string(64)

    def check(self, analyser, node):
        return string(max(len(p.text) for p in analyser.probe.attach_points) + 1)

    def emit(self, gen, node):
        return gen.string_constant(gen.attach_point.text, node.type.size)


@variable
class Func(Variable):
    name = "func"

    def check(self, analyser, node):
        return string(max(len(p.func) for p in analyser.probe.attach_points) + 1)

    def emit(self, gen, node):
        return gen.string_constant(gen.attach_point.func, node.type.size)


# -- functions ---------------------------------------------------------------------------------

@function
class Printf(Function):
    name = "printf"
    args = (1, 99)
    statement_only = True
    level = None  # printf writes to the output; warnf/errorf report a diagnostic

    def result(self, analyser, call):
        fmt = call.args[0] if call.args else None
        if not isinstance(fmt, ast.String):
            if fmt is not None:
                analyser.diagnostics.error(call.span, f"printf() expects a string literal "
                                                      f"({kind_name(fmt.type)} provided)")
            return NONE
        error = check_format(fmt.value, [a.type for a in call.args[1:]])
        if error:
            analyser.diagnostics.error(call.span, f"{self.name}: {error}")
        call.output = analyser.resources.add_output(self.name, fmt.value, [a.type for a in call.args[1:]],
                                                    call.span if self.level else None)
        return NONE

    def emit(self, gen, call):
        gen.record(call.output, call.args[1:])


@function
class Warnf(Printf):
    """warnf(fmt, ...): printf's message as a warning at the call's place (`stdin:1:9-20: WARNING: ...`)."""

    name = "warnf"
    level = "WARNING"


@function
class Errorf(Printf):
    """errorf(fmt, ...): printf's message as an error at the call's place; tracing goes on."""

    name = "errorf"
    level = "ERROR"


@function
class Exit(Function):
    """exit([code]): stop tracing (END runs, maps print); pybpftrace exits with the code."""

    name = "exit"
    args = (0, 1)
    statement_only = True

    def result(self, analyser, call):
        if call.args and not call.args[0].type.is_int:
            analyser.diagnostics.error(call.args[0].span, "exit() expects an integer exit code")
        analyser.resources.uses_exit = True
        return NONE

    def emit(self, gen, call):
        code = gen.expr(call.args[0]) if call.args else gen.i64(0)
        flag = gen.exit_flag()
        with gen.if_nonnull(flag):
            gen.b.store(gen.i64(1), gen.b.inttoptr(flag, gen.i64(0).type.as_pointer()))
        gen.record(ACTIONS["exit"], [], extra=code)
        gen.leave()


def _assigned(node, name: str) -> bool:
    """Whether the script assigns map `name` anywhere under node."""
    if isinstance(node, ast.Assign) and isinstance(node.target, ast.Map) and node.target.name == name:
        return True
    if isinstance(node, list):
        return any(_assigned(item, name) for item in node)
    if dataclasses.is_dataclass(node) and isinstance(node, ast.Node):
        return any(_assigned(getattr(node, f.name), name) for f in dataclasses.fields(node)
                   if isinstance(getattr(node, f.name), (ast.Node, list)))
    return False


class MapAction(Function):
    """print(@m), clear(@m), zero(@m): user space acts on the whole map when the record arrives."""

    args = (1, 1)
    statement_only = True

    def check(self, analyser, call, statement):
        target = call.args[0] if len(call.args) == 1 else None
        if not (isinstance(target, ast.Map) and not target.keys):  # a whole map: its keys are not checked
            return super().check(analyser, call, statement)
        if target.name not in analyser.resources.maps:
            if _assigned(analyser.program, target.name):  # in a later probe: its types come from there
                from .semantic import MapInfo
                info = MapInfo(target.name, index=len(analyser.resources.maps))
                analyser.resources.maps[target.name] = info
            else:
                analyser.diagnostics.error(target.span, f"Undefined map: {target.name}")
        if not statement:
            analyser.diagnostics.error(call.span, f"{self.name}() should not be used in an expression")
        return NONE

    def result(self, analyser, call):
        analyser.diagnostics.error(call.span, f"{self.name}() expects a map, e.g. {self.name}(@x)")
        return NONE

    def emit(self, gen, call):
        gen.record(ACTIONS[self.name], [], extra=gen.map_index(call.args[0].name))


for _name in ("clear", "zero"):
    FUNCTIONS[_name] = type(f"{_name.title()}Action", (MapAction,), {"name": _name})()


@function
class Print(MapAction):
    """print(@map) prints the map now; print(value) prints a value on a line of its own."""

    name = "print"

    def check(self, analyser, call, statement):
        """print(@m, top, div): the top entries only, values divided by div (integer literals)."""
        if 2 <= len(call.args) <= 3 and isinstance(call.args[0], ast.Map) and not call.args[0].keys:
            for extra in call.args[1:]:
                if not (isinstance(extra, ast.Integer) and extra.value >= 0):
                    analyser.diagnostics.error(extra.span, "print(): top and div must be non-negative integer "
                                                           "literals")
            if len(call.args) == 3 and isinstance(call.args[2], ast.Integer) and call.args[2].value == 0:
                analyser.diagnostics.error(call.args[2].span, "print(): div must not be 0")
            call.constant = tuple(a.value if isinstance(a, ast.Integer) else 0 for a in call.args[1:])
            call.args = call.args[:1]
        return super().check(analyser, call, statement)

    def result(self, analyser, call):
        if call.args and call.args[0].type is not None and call.args[0].type.kind == "none":
            analyser.diagnostics.error(call.args[0].span, "print() cannot print a value with no type")
            return NONE
        call.output = analyser.resources.add_output("print", "", [call.args[0].type])
        return NONE

    def emit(self, gen, call):
        if call.output is not None:
            gen.record(call.output, call.args)
        elif call.constant:
            top, div = (call.constant + (1,))[:2]  # a print record with top and div after the map index
            gen.record(ACTIONS["print"], [], extra=gen.map_index(call.args[0].name) | top << 24 | div << 44)
        else:
            super().emit(gen, call)


class Formatted(Function):
    """time(fmt), cat(fmt, ...), system(fmt, ...): a record user space acts on with the formatted text."""

    args = (1, 99)
    statement_only = True
    unsafe = False
    default = None

    def check(self, analyser, call, statement):
        if not call.args and self.default is not None:
            call.args = [ast.String(call.span, self.default)]
        return super().check(analyser, call, statement)

    def result(self, analyser, call):
        if self.unsafe and not analyser.unsafe:
            analyser.diagnostics.error(call.span, f"{self.name}() is an unsafe function being used in safe mode")
        fmt = call.args[0] if call.args else None
        if not isinstance(fmt, ast.String):
            if fmt is not None:
                analyser.diagnostics.error(call.span, f"{self.name}() expects a string literal "
                                                      f"({kind_name(fmt.type)} provided)")
            return NONE
        types = [a.type for a in call.args[1:]]
        error = check_format(fmt.value, types) if self.name != "time" else None
        if error:
            analyser.diagnostics.error(call.span, f"{self.name}: {error}")
        call.output = analyser.resources.add_output(self.name, fmt.value, types)
        return NONE

    def emit(self, gen, call):
        gen.record(call.output, call.args[1:])


@function
class Time(Formatted):
    name = "time"
    args = (0, 1)
    default = "%H:%M:%S\n"


@function
class Cat(Formatted):
    name = "cat"


@function
class System(Formatted):
    name = "system"
    unsafe = True


@function
class Strftime(Function):
    """strftime(fmt, nsecs): a timestamp that %s prints as local time in fmt."""

    name = "strftime"
    args = (2, 2)

    def result(self, analyser, call):
        if call.args and not isinstance(call.args[0], ast.String):
            analyser.diagnostics.error(call.span, "strftime() expects a string literal as its format")
            return Type("timestamp", 8, params=(0,))
        if len(call.args) == 2 and not call.args[1].type.is_int:
            analyser.diagnostics.error(call.args[1].span, "strftime() expects an integer timestamp (nsecs)")
        index = analyser.resources.add_output("strftime", call.args[0].value, [])
        return Type("timestamp", 8, params=(index,))

    def emit(self, gen, call):
        return gen.expr(call.args[1])


@function
class Strncmp(Function):
    """strncmp(a, b, n): 0 when the first n bytes (to the first NUL) are equal, else 1."""

    name = "strncmp"
    args = (3, 3)

    def result(self, analyser, call):
        if len(call.args) == 3:
            if not all(a.type.kind == "str" for a in call.args[:2]):
                analyser.diagnostics.error(call.span, "strncmp() expects two strings")
            if not isinstance(call.args[2], ast.Integer):
                analyser.diagnostics.error(call.args[2].span, "strncmp() expects an integer literal length")
        return INT64

    def emit(self, gen, call):
        a, b, n = call.args
        return gen.b.xor(gen.compare_strings(gen.expr(a), a.type.size, gen.expr(b), b.type.size, n.value),
                         gen.i64(1))


@function
class Strcontains(Function):
    """strcontains(haystack, needle): whether needle occurs in haystack."""

    name = "strcontains"
    args = (2, 2)

    def result(self, analyser, call):
        if len(call.args) == 2 and not all(a.type.kind == "str" for a in call.args):
            analyser.diagnostics.error(call.span, "strcontains() expects two strings")
        return BOOL

    def emit(self, gen, call):
        haystack, needle = call.args
        return gen.string_contains(gen.expr(haystack), haystack.type.size, gen.expr(needle), needle.type.size)


@function
class Sizeof(Function):
    name = "sizeof"
    args = (1, 1)

    def check(self, analyser, call, statement):
        if len(call.args) == 1 and isinstance(call.args[0], ast.Builtin) and call.args[0].name in CAST_TYPES:
            call.constant = CAST_TYPES[call.args[0].name].size
            return literal(call.constant)
        super().check(analyser, call, statement)
        call.constant = c_layout(call.args[0].type)[0] if call.args else 8  # C's size: tuples as structs
        return literal(call.constant)  # bpftrace puts an integer literal in its place

    def emit(self, gen, call):
        return gen.i64(call.constant)


class ElementFunction(Function):
    """delete() and has_key(): of a map element, written `@m[k1, k2]` or `@m, (k1, k2)` (current bpftrace)."""

    args = (1, 2)
    scalar_form = ""  # delete(@): the message when @ has keys ("" when f(@) is no form of this function)

    def check(self, analyser, call, statement):
        target = call.args[0] if len(call.args) == 1 else None
        if self.scalar_form and isinstance(target, ast.Map) and not target.keys:
            info = analyser.resources.maps.get(target.name)
            if info is not None and info.keys:
                analyser.diagnostics.error(call.span, self.scalar_form)
                return self.type_of_result
            return super().check(analyser, call, statement)
        if len(call.args) == 2 and isinstance(call.args[0], ast.Map) and not call.args[0].keys:
            target, key = call.args
            info = analyser.resources.maps.get(target.name)
            if info is not None and info.keys == []:
                analyser.diagnostics.error(call.span, f"call to {self.name}() expects a map with explicit keys "
                                                      f"(non-scalar map)")
                return self.type_of_result
            keys = key.items if isinstance(key, ast.Tuple) and info is not None and len(info.keys or []) > 1 \
                else [key]
            call.args = [ast.Map(target.span.to(key.span), target.name, keys)]
        elif call.args and not (isinstance(call.args[0], ast.Map) and call.args[0].keys):
            super().check(analyser, call, statement)
            analyser.diagnostics.error(call.args[0].span, f"{self.name}() expects a map element, e.g. "
                                                          f"{self.name}(@x[1]) or {self.name}(@x, 1)")
            return self.type_of_result
        return super().check(analyser, call, statement)

    def result(self, analyser, call):
        return self.type_of_result


@function
class HasKey(ElementFunction):
    name = "has_key"
    type_of_result = BOOL

    def emit(self, gen, call):
        target = call.args[0]
        found = gen.helper("map_lookup_elem", [gen.map_ptr(target.name), gen.map_key(target)])
        return gen.b.zext(gen.b.icmp_unsigned("!=", found, gen.i64(0)), found.type)


@function
class Delete(ElementFunction):
    """delete(@m, key), delete(@m[key]), delete(@scalar): true when there was an element to delete."""

    name = "delete"
    type_of_result = BOOL
    scalar_form = "call to delete() with a single argument expects a map without explicit keys (scalar map)"

    def emit(self, gen, call):
        target = call.args[0]
        result = gen.helper("map_delete_elem", [gen.map_ptr(target.name), gen.map_key(target)])
        return gen.b.zext(gen.b.icmp_unsigned("==", result, gen.i64(0)), result.type)


@function
class Str(Function):
    name = "str"
    args = (1, 2)

    def result(self, analyser, call):
        if call.args and call.args[0].type is not None and call.args[0].type.kind == "str":
            return call.args[0].type
        # config = { max_strlen = N } sets the size (64 by default, as bpftrace 0.17); a string bigger than
        # on_stack_limit lives in scratch memory (scratch.py), as current bpftrace keeps it
        longest = analyser.resources.config.get("max_strlen", STRLEN)
        if longest > ELEMENT_MAX:  # LLVM would stop the process on a stack buffer that size
            analyser.diagnostics.error(call.span, f"str: max_strlen {longest} is more than the {ELEMENT_MAX} "
                                                  "bytes a per-CPU scratch buffer holds")
            longest = ELEMENT_MAX
        size = longest
        if len(call.args) == 2:
            if not isinstance(call.args[1], ast.Integer):
                analyser.diagnostics.error(call.args[1].span, "str: length must be an integer literal")
            else:
                size = min(max(call.args[1].value, 1), max(longest, 1024)) + 1
        return string(min(size, ELEMENT_MAX))

    def emit(self, gen, call):
        source = gen.expr(call.args[0])
        if call.args[0].type.kind == "str":
            return source
        buffer = gen.alloca_bytes(call.type.size)
        gen.zero(buffer, call.type.size)
        gen.helper("probe_read_str", [buffer, gen.i64(call.type.size), gen.b.inttoptr(source, gen.ptr)])
        return buffer


class Aggregation(Function):
    """count(), sum(x) ...: only as the value assigned to a map; codegen.Gen.aggregate updates it."""

    def check(self, analyser, call, statement):
        result = super().check(analyser, call, statement)
        if statement:
            analyser.diagnostics.error(call.span, f"{self.name}() should be directly assigned to a map")
        if call.args and call.args[0].type is not None and not call.args[0].type.is_int:
            analyser.diagnostics.error(call.span, f"{self.name}() only supports integer arguments "
                                                  f"({kind_name(call.args[0].type)} provided)")
        return result

    def result(self, analyser, call):
        return Type(self.name, 16 if self.name in ("avg", "stats", "min", "max") else 8, params=self.params(call))

    def params(self, call) -> tuple[int, ...]:
        return ()


for _name, _args in (("count", (0, 0)), ("sum", (1, 1)), ("min", (1, 1)), ("max", (1, 1)), ("avg", (1, 1)),
                     ("stats", (1, 1))):
    FUNCTIONS[_name] = type(f"{_name.title()}Aggregation", (Aggregation,), {"name": _name, "args": _args})()


@function
class Hist(Aggregation):
    """hist(n[, k]): power-of-2 buckets, each split into 2^k (k 0..5, a literal; the type's param)."""

    name = "hist"
    args = (1, 2)

    def params(self, call):
        k = call.args[1] if len(call.args) == 2 else None
        return (k.value if isinstance(k, ast.Integer) and 0 <= k.value <= 5 else 0,)

    def result(self, analyser, call):
        if len(call.args) == 2:
            k = call.args[1]
            if not isinstance(k, ast.Integer) or not 0 <= k.value <= 5:
                analyser.diagnostics.error(k.span, "hist: bits argument must be an integer literal 0-5")
        return super().result(analyser, call)


@function
class Lhist(Aggregation):
    name = "lhist"
    args = (4, 4)

    def params(self, call):
        values = [a.value if isinstance(a, ast.Integer) else None for a in call.args[1:]]
        return tuple(v if v is not None else 0 for v in values)

    def result(self, analyser, call):
        if len(call.args) == 4:
            low, high, step = call.args[1:]
            if not all(isinstance(a, ast.Integer) for a in (low, high, step)):
                analyser.diagnostics.error(call.span, "lhist() expects integer literals for min, max and step")
            elif step.value < 1:
                analyser.diagnostics.error(call.span, f"lhist() step must be >= 1 ({step.value} provided)")
            elif high.value <= low.value:
                analyser.diagnostics.error(call.span, "lhist() max must be greater than min "
                                                      f"({low.value} and {high.value} provided)")
        return super().result(analyser, call)


TAI_OFFSET_MAP = "tai_offset"  # an array of one i64: CLOCK_TAI - CLOCK_MONOTONIC, written by user space


@function
class Nsecs(Function):
    """nsecs(monotonic | boot | sw_tai): the clock by name (nsecs alone is monotonic).

    sw_tai is the monotonic clock plus the TAI offset user space measured when the script started (the
    virtual kernel has no ktime_get_tai_ns)."""

    name = "nsecs"
    args = (0, 1)
    CLOCKS = {"monotonic": "ktime_get_ns", "boot": "ktime_get_boot_ns", "sw_tai": "ktime_get_ns"}

    def check(self, analyser, call, statement):
        clock = call.args[0] if call.args else None
        if clock is not None and not (isinstance(clock, ast.Builtin) and clock.name in self.CLOCKS):
            what = clock.name if isinstance(clock, ast.Builtin) else "an expression"
            analyser.diagnostics.error(call.span, f"nsecs() takes a clock: {', '.join(self.CLOCKS)} "
                                                  f"({what} provided)")
        elif len(call.args) > 1:
            return super().check(analyser, call, statement)
        return UINT64

    def emit(self, gen, call):
        clock = call.args[0].name if call.args else "monotonic"
        now = gen.helper(self.CLOCKS[clock], [])
        if clock != "sw_tai":
            return now
        return gen.b.add(now, gen.user_word(TAI_OFFSET_MAP))


CPID_MAP = "cpid"  # an array of one u64: the pid of -c's command, written by user space before it runs


@variable
class Cpid(Variable):
    """cpid: the pid of the command -c started (0 without one).  bpftrace compiles it as a constant, having
    forked the command first; here the command is forked after compiling, so user space writes its pid into
    a one-element array before any probe is attached."""

    name = "cpid"

    def emit(self, gen, node):
        return gen.user_word(CPID_MAP)


# Builtin families in modules of their own register into the same tables.
from . import builtins_tseries  # noqa: E402,F401
from . import builtins_buffers  # noqa: E402,F401
from . import builtins_maps  # noqa: E402,F401
from . import builtins_strings  # noqa: E402,F401
from . import builtins_types  # noqa: E402,F401
from . import builtins_stacks  # noqa: E402,F401
from . import builtins_net  # noqa: E402,F401
from . import builtins_stdlib  # noqa: E402,F401

# Every builtin also answers to __builtin_NAME (what bpftrace's macros use) and to NAME() with no arguments.
for _name, _variable in list(VARIABLES.items()):
    VARIABLES[f"__builtin_{_name}"] = _variable

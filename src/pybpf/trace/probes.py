"""Probe types: what each attach point means on a kernel, one registered object each.

`providers(kernel)` is the registry for "virtual" (this module's objects, below)
or "linux" (trace/linux_probes.py: tracefs tracepoints, raw tracepoints,
uprobes on ELF binaries, USDT notes, perf events).  A provider checks its
attach points, says where each one's program goes (`attach`) and how the
program reads its arguments (`arg`, `retval`, `args->field`).

On the virtual kernel:

| probe | fires | virtual kernel target |
|---|---|---|
| `BEGIN`, `END` | before all other probes, at exit | `oneshot:BEGIN`, `oneshot:END` |
| `interval:UNIT:N` (s, ms, us, hz) | every period, on one CPU | `interval` |
| `profile:UNIT:N` (hz, s, ms, us) | at the rate on every virtual CPU | `profile` |
| `uprobe:MODULE:QUALNAME` | entry of a Python function (arg0..) | `pyfunc:MODULE:QUALNAME` |
| `uretprobe:MODULE:QUALNAME` | its return (retval) | `pyfunc.return:MODULE:QUALNAME` |
| `usdt:PROVIDER:NAME` | a static probe the application fires (pybpf.usdt) | `usdt:PROVIDER:NAME` |
| `tracepoint:audit:EVENT` | a Python audit event (sys.audit) | `audit:EVENT` |
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast

NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass(frozen=True)
class Attach:
    """Where one attach point's program goes: the virtual kernel's target and its options."""

    target: str
    options: dict
    section: str  # the ELF section of its program (the program type libbpf would give it)


class Provider:
    name = ""
    has_args = False
    has_retval = False

    def expand(self, analyser, point: ast.AttachPoint) -> list[ast.AttachPoint]:
        """The attach points a wildcard stands for (the point itself when it has none)."""
        return [point]

    def check(self, analyser, point: ast.AttachPoint) -> None:
        pass

    def attach(self, point: ast.AttachPoint, facts=None) -> Attach:
        """Where the program goes; `facts` is what check() stored in resources.probe_facts[point.text]."""
        raise NotImplementedError

    # -- how a program of this probe reads its context (codegen calls these) --------------
    def arg(self, gen, index: int):
        return gen.ctx_u64(8 * index)

    def retval(self, gen):
        return gen.ctx_u64(64)

    def field(self, analyser, point: ast.AttachPoint, member: str):
        """The Type of args->member at this attach point, or an error message (str)."""
        return "the args builtin can only be used with tracepoint probes"

    def emit_field(self, gen, e: ast.FieldAccess):
        raise AssertionError(f"{self.name} has no args fields")  # pragma: no cover (semantic refuses)

    def record(self, analyser, point: ast.AttachPoint):
        """The Type of `args` as a whole at this attach point (a tuple with field names), or an error (str)."""
        return f"args as a whole record is not available for {self.name} probes (args.FIELD may be)"

    def emit_record(self, gen, t):
        raise AssertionError(f"{self.name} has no args record")  # pragma: no cover (semantic refuses)


class OneShot(Provider):
    def __init__(self, name: str):
        self.name = name

    def check(self, analyser, point):
        if point.text.upper() != self.name:
            analyser.diagnostics.error(point.span, f"{self.name} probes take no arguments")

    def attach(self, point, facts=None):
        return Attach(f"oneshot:{self.name}", {}, "uprobe")


def _rate(analyser, point: ast.AttachPoint, units: tuple[str, ...]) -> None:
    if point.target not in units:
        analyser.diagnostics.error(point.span, f"{point.provider} unit must be one of {', '.join(units)}"
                                   + ("" if point.target else f", e.g. {point.provider}:{units[0]}:1"))
    elif not point.func.isdigit() or int(point.func) == 0:
        analyser.diagnostics.error(point.span, f"{point.provider} rate must be a positive integer, "
                                               f"not '{point.func}'")


class Interval(Provider):
    name = "interval"
    UNITS = ("s", "ms", "us", "hz")

    def check(self, analyser, point):
        _rate(analyser, point, self.UNITS)

    def attach(self, point, facts=None):
        count = int(point.func)
        period = 1_000_000_000 // count if point.target == "hz" else count * NS[point.target]
        return Attach("interval", {"period_ns": period}, "perf_event")


class Profile(Provider):
    name = "profile"
    UNITS = ("hz", "s", "ms", "us")

    def check(self, analyser, point):
        _rate(analyser, point, self.UNITS)

    def attach(self, point, facts=None):
        count = int(point.func)
        hz = count if point.target == "hz" else 1e9 / (count * NS[point.target])
        return Attach("profile", {"hz": hz}, "perf_event")


def python_functions(module_name: str) -> list[str]:
    """The functions a `uprobe:MODULE:...` can name: those MODULE defines, and its classes' methods
    (`Class.method`), sorted.  ImportError when MODULE does not import."""
    import importlib
    import inspect
    module = importlib.import_module(module_name)
    names = []
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported from elsewhere: traced under its own module
        if inspect.isfunction(obj):
            names.append(name)
        elif inspect.isclass(obj):
            names += [f"{name}.{member}" for member, value in vars(obj).items()
                      if inspect.isfunction(getattr(value, "__func__", value))]
    return sorted(names)


class PythonFunction(Provider):
    has_args = True

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind
        self.has_retval = kind == "pyfunc.return"

    def expand(self, analyser, point):
        """`uprobe:MODULE:get*`: one attach point per function of MODULE the pattern matches."""
        if not any(c in point.func for c in "*?["):
            return [point]
        import fnmatch
        try:
            names = [name for name in python_functions(point.target) if fnmatch.fnmatchcase(name, point.func)]
        except ImportError as err:
            analyser.diagnostics.error(point.span, f"cannot import module {point.target}: {err}")
            return [point]
        if not names:
            analyser.diagnostics.error(point.span, f"No probes to attach: {point.target} has no function "
                                                   f"matching {point.func}")
            return [point]
        return [ast.AttachPoint(point.span, point.provider, point.target, name,
                                f"{point.provider}:{point.target}:{name}") for name in names]

    def check(self, analyser, point):
        if not point.target or not point.func:
            analyser.diagnostics.error(point.span, f"{self.name} needs MODULE:FUNCTION, e.g. "
                                                   f"{self.name}:myapp.server:Handler.get")

    def attach(self, point, facts=None):
        return Attach(f"{self.kind}:{point.target}:{point.func}", {}, "uprobe")


class Usdt(Provider):
    name = "usdt"
    has_args = True

    def check(self, analyser, point):
        if not point.target or not point.func:
            analyser.diagnostics.error(point.span, "usdt needs PROVIDER:NAME, e.g. usdt:myapp:request")

    def attach(self, point, facts=None):
        return Attach(f"usdt:{point.target}:{point.func}", {}, "uprobe")


class Tracepoint(Provider):
    name = "tracepoint"
    has_args = True

    def check(self, analyser, point):
        if point.target != "audit" or not point.func:
            analyser.diagnostics.error(point.span, "the virtual kernel's tracepoints are Python audit events: "
                                                   "tracepoint:audit:EVENT (e.g. tracepoint:audit:open)")

    def attach(self, point, facts=None):
        return Attach(f"audit:{point.func}", {}, "uprobe")


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    OneShot("BEGIN"), OneShot("END"), Interval(), Profile(), PythonFunction("uprobe", "pyfunc"),
    PythonFunction("uretprobe", "pyfunc.return"), Usdt(), Tracepoint())}
# Other spellings bpftrace accepts: current bpftrace's begin/end, and the one- and two-letter short forms.
ALIASES = {"begin": "BEGIN", "end": "END", "i": "interval", "p": "profile", "u": "uprobe", "ur": "uretprobe",
           "U": "usdt", "t": "tracepoint", "rt": "rawtracepoint", "s": "software", "h": "hardware",
           "k": "kprobe", "kr": "kretprobe", "f": "fentry", "fr": "fexit"}
KERNELS = ("virtual", "linux")


def providers(kernel: str = "virtual") -> dict[str, Provider]:
    """The probe types of a kernel: "virtual" (PROVIDERS) or "linux" (linux_probes.LINUX_PROVIDERS)."""
    if kernel == "linux":
        from .linux_probes import LINUX_PROVIDERS
        return LINUX_PROVIDERS
    return PROVIDERS


def expand_wildcards(analyser, points: list[ast.AttachPoint]) -> list[ast.AttachPoint]:
    """Each attach point, a wildcard replaced by the points it matches (semantic analysis, first)."""
    table = providers(analyser.resources.kernel)
    return [each for point in points
            for each in (table[point.provider].expand(analyser, point) if point.provider in table else [point])]


def field_type(analyser, e: ast.FieldAccess):
    """The type of `args->member`: the field of every attach point of the probe (bpftrace's args)."""
    from .types import INT64
    if not (isinstance(e.base, ast.Builtin) and e.base.name == "args"):
        t = e.base.type or analyser.expr(e.base)  # composite.field_type analysed it (once: once its errors)
        if t.kind != "none":  # a call that is no function said so already
            analyser.diagnostics.error(e.span, f"Can not access field '{e.member}' on expression of type '{t}'")
        return INT64
    found = None
    for point in analyser.probe.attach_points:
        provider = providers(analyser.resources.kernel).get(point.provider)
        t = provider.field(analyser, point, e.member) if provider is not None else None
        if isinstance(t, str):
            analyser.diagnostics.error(e.span, t)
            return INT64
        found = found or t
    return found or INT64


def program_names(program: ast.Program) -> list[tuple[str, ast.AttachPoint]]:
    """The ELF program name of each attach point, in the order `generate` makes them."""
    points = [point for probe in program.probes for point in probe.attach_points]
    return [(f"{''.join(c if c.isalnum() else '_' for c in p.provider)}_{i}", p) for i, p in enumerate(points)]

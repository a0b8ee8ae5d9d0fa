"""Probe types: what each attach point means on the virtual kernel, one registered object each.

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

    def check(self, analyser, point: ast.AttachPoint) -> None:
        pass

    def attach(self, point: ast.AttachPoint) -> Attach:
        raise NotImplementedError


class OneShot(Provider):
    def __init__(self, name: str):
        self.name = name

    def check(self, analyser, point):
        if point.text.upper() != self.name:
            analyser.diagnostics.error(point.span, f"{self.name} probes take no arguments")

    def attach(self, point):
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

    def attach(self, point):
        count = int(point.func)
        period = 1_000_000_000 // count if point.target == "hz" else count * NS[point.target]
        return Attach("interval", {"period_ns": period}, "perf_event")


class Profile(Provider):
    name = "profile"
    UNITS = ("hz", "s", "ms", "us")

    def check(self, analyser, point):
        _rate(analyser, point, self.UNITS)

    def attach(self, point):
        count = int(point.func)
        hz = count if point.target == "hz" else 1e9 / (count * NS[point.target])
        return Attach("profile", {"hz": hz}, "perf_event")


class PythonFunction(Provider):
    has_args = True

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind
        self.has_retval = kind == "pyfunc.return"

    def check(self, analyser, point):
        if not point.target or not point.func:
            analyser.diagnostics.error(point.span, f"{self.name} needs MODULE:FUNCTION, e.g. "
                                                   f"{self.name}:myapp.server:Handler.get")

    def attach(self, point):
        return Attach(f"{self.kind}:{point.target}:{point.func}", {}, "uprobe")


class Usdt(Provider):
    name = "usdt"
    has_args = True

    def check(self, analyser, point):
        if not point.target or not point.func:
            analyser.diagnostics.error(point.span, "usdt needs PROVIDER:NAME, e.g. usdt:myapp:request")

    def attach(self, point):
        return Attach(f"usdt:{point.target}:{point.func}", {}, "uprobe")


class Tracepoint(Provider):
    name = "tracepoint"
    has_args = True

    def check(self, analyser, point):
        if point.target != "audit" or not point.func:
            analyser.diagnostics.error(point.span, "the virtual kernel's tracepoints are Python audit events: "
                                                   "tracepoint:audit:EVENT (e.g. tracepoint:audit:open)")

    def attach(self, point):
        return Attach(f"audit:{point.func}", {}, "uprobe")


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    OneShot("BEGIN"), OneShot("END"), Interval(), Profile(), PythonFunction("uprobe", "pyfunc"),
    PythonFunction("uretprobe", "pyfunc.return"), Usdt(), Tracepoint())}
# Other spellings bpftrace accepts: current bpftrace's begin/end, and the one- and two-letter short forms.
ALIASES = {"begin": "BEGIN", "end": "END", "i": "interval", "p": "profile", "u": "uprobe", "ur": "uretprobe",
           "U": "usdt", "t": "tracepoint"}


def program_names(program: ast.Program) -> list[tuple[str, ast.AttachPoint]]:
    """The ELF program name of each attach point, in the order `generate` makes them."""
    points = [point for probe in program.probes for point in probe.attach_points]
    return [(f"{''.join(c if c.isalnum() else '_' for c in p.provider)}_{i}", p) for i, p in enumerate(points)]

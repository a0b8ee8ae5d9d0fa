"""Attach points of the virtual kernel: what makes a loaded program run.

Each attachment starts on `start()` and stops for good on `stop()`; a link
owns one.  `ATTACH_POINTS` maps a target's kind (the part of the target
string before the first `:`) to its class:

| target | fires | context |
|---|---|---|
| `timer` (hz=, cpu=) | at hz on one CPU, real clock | none |
| `interval` (period_ns=) | every period on CPU 0 | none |
| `profile` (hz=) | at hz on every virtual CPU | none |
| `oneshot:NAME` | when the tool calls kernel.trigger(NAME) (BEGIN/END) | none |
| `usdt:PROVIDER:NAME` | when the application calls probe.fire(...) | probe args |
| `pyfunc:MODULE:QUALNAME` | on entry to a Python function | its arguments |
| `pyfunc.return:MODULE:QUALNAME` | on return from it | its arguments and retval |
| `audit:EVENT` | on sys.audit(EVENT, ...) | the event's arguments |

Contexts are `struct pybpf_probe_ctx` (probe_ctx.py).
"""

from __future__ import annotations

import errno
import importlib
import sys
import threading
import time

from ..errors import BpfError
from . import usdt


class Attachment:
    def __init__(self, kernel, prog, spec: str, options: dict):
        self.kernel, self.prog, self.spec, self.options = kernel, prog, spec, options

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def fields(self, form: str) -> list[str]:
        """The spec's colon-separated fields, as many as `form` has ("usdt:PROVIDER:NAME"), or EINVAL naming it."""
        count = form.count(":") + 1
        parts = self.spec.split(":", count - 1)
        if len(parts) != count or not all(parts):
            raise BpfError("BPF_LINK_CREATE", errno.EINVAL, f"attach target {self.spec!r} is not {form}")
        return parts


class _Periodic(Attachment):
    """A thread a CPU that fires at a fixed period by the monotonic clock, skipping missed ticks.
    The first firing is one period after the start, as a perf event's first sample (bpftrace's
    `interval:s:1` first runs a second after it is attached)."""

    def cpus_and_period(self) -> tuple[list[int], float]:
        raise NotImplementedError

    def start(self) -> None:
        cpus, period = self.cpus_and_period()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._tick, args=(period, cpu), daemon=True,
                                          name=f"bpf-{self.spec}-cpu{cpu}") for cpu in cpus]
        for thread in self._threads:
            thread.start()

    def _tick(self, period: float, cpu: int) -> None:
        deadline = time.monotonic() + period
        while not self._stop.wait(max(0.0, deadline - time.monotonic())):
            self.kernel.fire(self.prog, cpu=cpu)
            deadline += period
            if deadline < time.monotonic():  # missed ticks are skipped
                deadline = time.monotonic() + period

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)


def _frequency(value: float, what: str) -> float:
    if not 0 < value <= 100_000:
        raise BpfError("BPF_LINK_CREATE", errno.EINVAL, f"{what} {value} is out of range (0, 100000] Hz")
    return value


class Timer(_Periodic):
    def cpus_and_period(self):
        return [self.options.get("cpu", 0)], 1.0 / _frequency(self.options.get("hz", 100.0), "timer frequency")


class Interval(_Periodic):
    def cpus_and_period(self):
        period_ns = self.options.get("period_ns", 1_000_000_000)
        _frequency(1e9 / max(period_ns, 1), "interval rate")
        return [0], period_ns / 1e9


class Profile(_Periodic):
    def cpus_and_period(self):
        return list(range(self.kernel.ncpus)), 1.0 / _frequency(self.options.get("hz", 99.0), "profile frequency")


class OneShot(Attachment):
    def start(self) -> None:
        self.name = self.fields("oneshot:NAME")[1]
        self.kernel.oneshots.setdefault(self.name, []).append(self)

    def stop(self) -> None:
        self.kernel.oneshots.get(self.name, []).remove(self)


class Usdt(Attachment):
    def start(self) -> None:
        _, provider, name = self.fields("usdt:PROVIDER:NAME")
        self.probe = usdt.find(provider, name)
        if self.probe is None:
            raise BpfError("BPF_LINK_CREATE", errno.ENOENT, f"no USDT probe {provider}:{name} is declared")
        self.probe.attach(self._fire)

    def _fire(self, args) -> None:
        self.kernel.fire(self.prog, args, func_ip=id(self.probe))

    def stop(self) -> None:
        self.probe.detach(self._fire)


def resolve_function(module_name: str, qualname: str):
    """The function object MODULE:QUALNAME, or a BpfError naming what is missing."""
    try:
        obj = importlib.import_module(module_name)
    except ImportError as err:
        raise BpfError("BPF_LINK_CREATE", errno.ENOENT, f"cannot import module {module_name!r}: {err}") from None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise BpfError("BPF_LINK_CREATE", errno.ENOENT, f"{module_name} has no function {qualname!r}")
    code = getattr(getattr(obj, "__func__", obj), "__code__", None)
    if code is None:
        raise BpfError("BPF_LINK_CREATE", errno.EINVAL, f"{module_name}:{qualname} is not a Python function")
    return code


class PyFunc(Attachment):
    """Entry or return of one Python function, through the shared function tracer (pyfunc.py)."""

    def start(self) -> None:
        from . import pyfunc

        kind, module_name, qualname = self.fields(f"{self.spec.split(':')[0]}:MODULE:FUNCTION")
        self.code = resolve_function(module_name, qualname)
        self.on_return = kind == "pyfunc.return"
        pyfunc.TRACER.attach(self.code, self.on_return, self._fire)

    def _fire(self, args, retval=None) -> None:
        self.kernel.fire(self.prog, args, retval=retval, func_ip=id(self.code))

    def stop(self) -> None:
        from . import pyfunc

        pyfunc.TRACER.detach(self.code, self.on_return, self._fire)


class Audit(Attachment):
    """sys.audit events; the hook is installed once per process (audit hooks cannot be removed)."""

    listeners: dict[str, list] = {}
    _installed = False
    _guard = threading.local()

    @classmethod
    def _hook(cls, event: str, args) -> None:
        targets = cls.listeners.get(event)
        if not targets or getattr(cls._guard, "busy", False):
            return
        cls._guard.busy = True  # events raised while a program runs are not traced again
        try:
            for fire in list(targets):
                fire(args)
        finally:
            cls._guard.busy = False

    def start(self) -> None:
        self.event = self.fields("audit:EVENT")[1]
        if not Audit._installed:
            sys.addaudithook(Audit._hook)
            Audit._installed = True
        Audit.listeners.setdefault(self.event, []).append(self._fire)

    def _fire(self, args) -> None:
        self.kernel.fire(self.prog, args)

    def stop(self) -> None:
        Audit.listeners.get(self.event, []).remove(self._fire)


ATTACH_POINTS: dict[str, type[Attachment]] = {
    "timer": Timer, "interval": Interval, "profile": Profile, "oneshot": OneShot, "usdt": Usdt,
    "pyfunc": PyFunc, "pyfunc.return": PyFunc, "audit": Audit,
}

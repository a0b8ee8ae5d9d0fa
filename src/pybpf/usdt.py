"""Static probes for applications: the USDT of the virtual kernel.

An application declares a named probe once and fires it where the event
happens; a tracer attaches BPF programs to it (`usdt:PROVIDER:NAME`).  With
nothing attached, `fire` is one attribute test and a return:

    from pybpf import usdt
    REQUEST = usdt.probe("myapp", "request")

    def handle(path, size):
        REQUEST.fire(path, size)      # arg0 = pointer to the path, arg1 = size
        ...

This module imports nothing else of pybpf, so declaring probes costs an
application nothing but this file.
"""

from __future__ import annotations

import threading


class Probe:
    __slots__ = ("provider", "name", "_listeners", "_lock")

    def __init__(self, provider: str, name: str):
        self.provider, self.name = provider, name
        self._listeners: tuple = ()
        self._lock = threading.Lock()

    def fire(self, *args) -> None:
        """Hand `args` (at most 8 are seen) to every attached program."""
        if self._listeners:
            for listener in self._listeners:
                listener(args)

    @property
    def enabled(self) -> bool:
        """Whether anything is attached: guard an expensive argument computation with it."""
        return bool(self._listeners)

    def attach(self, listener) -> None:
        with self._lock:
            self._listeners = self._listeners + (listener,)

    def detach(self, listener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x != listener)

    def __repr__(self) -> str:
        return f"usdt:{self.provider}:{self.name}"


_PROBES: dict[tuple[str, str], Probe] = {}


def probe(provider: str, name: str) -> Probe:
    """Declare (or get) the probe PROVIDER:NAME."""
    key = (provider, name)
    if key not in _PROBES:
        _PROBES[key] = Probe(provider, name)
    return _PROBES[key]


def find(provider: str, name: str) -> Probe | None:
    return _PROBES.get((provider, name))


def probes() -> list[Probe]:
    """Every declared probe, for listings (`-l`)."""
    return list(_PROBES.values())

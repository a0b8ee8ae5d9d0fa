"""What helpers see as `m.kernel` when a program runs without a kernel.

`vm.run` and `pybpf run` execute bare instructions: there are no maps, ring
buffers or tasks.  Helpers reach such services through `m.kernel`; here that
is a `NoKernel`, which gives bpf_trace_printk a sink for its lines and turns
any other service into `NeedsKernel`, which the interpreter reports as a
fault naming the pc and the helper (never an AttributeError traceback).
"""

from __future__ import annotations

from typing import Callable

TraceSink = Callable[[bytes], None]


class NeedsKernel(AttributeError):
    """A helper asked for a kernel service (`name`) that a bare run does not have.

    An AttributeError, so that `hasattr(m.kernel, ...)` and `getattr(..., default)` work.
    """

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _TraceLines:
    """The trace pipe of a bare run: each bpf_trace_printk message goes to `sink` (or nowhere)."""

    def __init__(self, sink: TraceSink | None):
        self.sink = sink

    def write(self, message: bytes, cpu: int = 0) -> None:
        if self.sink is not None:
            self.sink(message)


class NoKernel:
    """`m.kernel` of a bare run: a trace pipe, and NeedsKernel for everything else."""

    def __init__(self, trace: TraceSink | None = None):
        self.trace_pipe = _TraceLines(trace)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsKernel(name)

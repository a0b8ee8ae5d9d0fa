"""pybpftrace: the bpftrace language, compiled through llvmlite to BPF, run on a kernel.

`pybpf.trace(script)` is a context manager that traces the code in its body:

    import pybpf
    with pybpf.trace('uprobe:myapp:handle { @calls = count(); }'):
        myapp.handle(...)
    # on leaving: END runs, the maps print as bpftrace prints them

The stages are modules of this package: source (spans, diagnostics),
lexer, parser, ast, types, semantic, builtins (the registry), probes,
format (printf), codegen and backend (llvmlite), compiler (with the cache),
runtime (attach, records, maps) and output (bpftrace's text layout).
"""

from __future__ import annotations

import io
import sys
import types


class Tracing:
    """A script running on a kernel for the duration of a `with` block."""

    def __init__(self, script: str, *, params: list[str] | None = None, out=None, capture: bool = False,
                 kernel=None, pid: int | None = None):
        """kernel: "virtual" (the default), "linux", "auto" (Linux when bpf() works here), or a kernel object."""
        from .compiler import compile_script
        from .runtime import choose_kernel, new_kernel
        if kernel is None or isinstance(kernel, str):
            kind = choose_kernel(kernel or "virtual")
            kernel = new_kernel(kind)
        else:
            kind = "linux" if type(kernel).__name__ == "LinuxKernel" else "virtual"
        self.compiled = compile_script(script, "stdin", params, kernel=kind)
        self._buffer = io.StringIO() if capture else None
        self.out = self._buffer if capture else out or sys.stdout
        self.kernel, self.pid = kernel, pid
        self.session = None

    def __enter__(self) -> "Tracing":
        from .runtime import Session
        self.session = Session(self.compiled, kernel=self.kernel, out=self.out, err=io.StringIO(), pid=self.pid)
        self.session.start()
        return self

    def __exit__(self, *exc) -> None:
        self.session.poll()
        self.session.finish()

    def poll(self) -> None:
        """Deliver what the probes sent so far (printf lines, print())."""
        self.session.poll()

    @property
    def output(self) -> str:
        """Everything printed so far, when created with capture=True."""
        return self._buffer.getvalue() if self._buffer is not None else ""

    @property
    def exited(self) -> bool:
        """Whether a probe called exit()."""
        return self.session is not None and self.session.exiting.is_set()


class _TraceModule(types.ModuleType):
    """Lets `pybpf.trace(script)` be called while `pybpf.trace.parser` and friends stay importable."""

    def __call__(self, script: str, **options) -> Tracing:
        return Tracing(script, **options)


sys.modules[__name__].__class__ = _TraceModule

"""pybpf: eBPF in Python.

The instruction set (`pybpf.isa`), the ELF loader (`pybpf.elf`), helpers,
maps, the execution engines (`pybpf.vm`), the Kernel protocol with its virtual
and Linux implementations (`pybpf.kernel`) and a bpftrace-compatible tracer
(`pybpf.trace`).  `pybpf.api` is the facade a user imports.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `pybpf.trace(script)` without importing the compiler (or llvmlite) before it is used
    if name == "trace":
        import importlib
        return importlib.import_module(".trace", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


"""pybpf: eBPF in Python.

The instruction set (`pybpf.isa`), the ELF loader (`pybpf.elf`), helpers,
maps, the execution engines (`pybpf.vm`), the Kernel protocol with its virtual
and Linux implementations (`pybpf.kernel`) and a bpftrace-compatible tracer
(`pybpf.trace`).  `pybpf.api` is the facade a user imports.
"""

__version__ = "0.1.0"

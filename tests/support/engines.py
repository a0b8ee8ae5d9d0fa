"""The engines every engine-parametrized test runs on: add a fast engine with one entry.

Each entry is `run(insns, memory=b"", **options) -> RunResult` with the
signature and the options of `pybpf.vm.run` (max_steps, helpers, packet,
resolver, trace).
"""

from pybpf import vm

ENGINES = {
    "interp": vm.run,
}

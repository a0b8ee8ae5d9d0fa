"""The engines every engine-parametrized test runs on: add a fast engine with one entry."""

from pybpf import vm

# name -> run(insns, memory) -> RunResult
ENGINES = {
    "interp": vm.run,
}

"""The engines every engine-parametrized test runs on: one entry per name of `pybpf.vm.engines.ENGINES`.

Each entry is `run(insns, memory=b"", **options) -> RunResult` with the
signature and the options of `pybpf.vm.run` (max_steps, helpers, packet,
resolver, trace), bound to that engine; a new engine in ENGINES joins the
conformance suite and the differential tests without a change here.
"""

from functools import partial

from pybpf import vm
from pybpf.vm.engines import ENGINES as VM_ENGINES

ENGINES = {name: partial(vm.run, engine=name) for name in VM_ENGINES}

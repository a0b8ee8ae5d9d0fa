"""The kernel verifier corpus's test runs on every engine: each engine returns what the interpreter returns.

The test_verifier programs of /work/shared/corpus/kernel_verifier/corpus.json
that Linux 6.18 accepted (privileged) and test-ran, without map fixups, of a
program type the virtual kernel test-runs, are loaded once per engine of
ENGINES and run on each recorded input (64 bytes of data, zeros unless the
test gives `data_hex`).  Every engine must give the reference interpreter's
r0 and data, or its fault (pc and reason); where the interpreter ran every
input without a fault, native code also runs unchecked, as for a verified
program.  How often the interpreter's r0 is Linux's is pinned as a floor
(the virtual kernel's contexts are not Linux's in every field).  A program
whose r0 is an address (it differs between two interpreter runs) is skipped.
"""

from __future__ import annotations

import json

import pytest

from pybpf.isa.insn import decode
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType
from pybpf.vm import VMFault
from pybpf.vm.engines import ENGINES, rebuild
from support.paths import CORPUS

RUNNABLE = {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_XDP}
FLOOR = 0.90  # the share of programs whose every r0 is Linux's (173 of 188 when written)
UNCHECKED = [name for name in ("native", "tiered") if name in ENGINES]


POINTER_VALUE = 0xCAFE4A  # test_verifier.c: the retval of a test whose r0 is a pointer (any value passes)


def _cases():
    corpus, verdicts = CORPUS / "kernel_verifier" / "corpus.json", CORPUS / "kernel_verifier" / "kernel-6.18-priv.json"
    if not corpus.exists() or not verdicts.exists():
        return []
    linux = {r["index"]: r for r in json.loads(verdicts.read_text())["results"]}
    cases = []
    for test in json.loads(corpus.read_text())["tests"]:
        ran = linux.get(int(test["index"]))
        if (ran and ran.get("loaded") and ran.get("retvals") and not test["fixups"] and test["retvals"]
                and test["retval"] != POINTER_VALUE
                and int(test["prog_type_effective"]) in RUNNABLE and test["fill_helper"] in (False, "False")):
            inputs = [bytes.fromhex(r.get("data_hex") or "00" * 64) for r in test["retvals"]]
            cases.append(pytest.param(test, inputs, ran["retvals"], id=f"{test['index']}-{test['name']}"))
    return cases


CASES = _cases()


def _outcomes(test, inputs, engine: str, verified: bool = False, keep: list | None = None):
    """The outcome per input on a fresh kernel (kept alive in `keep`, so that no two share addresses)."""
    kernel = VirtualKernel(ncpus=1)
    if keep is not None:
        keep.append(kernel)
    insns = decode(b"".join(bytes.fromhex(h) for h in test["insns"]))
    try:
        fd = kernel.prog_load(int(test["prog_type_effective"]), insns, engine=engine).fd
    except BpfError as err:
        return ["refused", err.errno]
    if verified:  # what prog_load builds once its verifier accepted the program
        kernel.prog(fd).interp = rebuild(kernel.prog(fd).interp, engine, verified=True)
    out = []
    for data in inputs:
        try:
            result = kernel.prog_test_run(fd, data)
            out.append((result.retval, result.data_out))
        except VMFault as fault:
            out.append(("fault", fault.pc, fault.reason.split(" at 0x")[0]))
        except BpfError as err:
            out.append(("error", err.errno))
    return out


def test_the_corpus_feeds_enough_programs():
    if not (CORPUS / "kernel_verifier").is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    assert len(CASES) > 150


@pytest.mark.parametrize("test,inputs,linux", CASES)
def test_every_engine_returns_the_interpreters_retval(test, inputs, linux):
    alive: list = []
    expected = _outcomes(test, inputs, "interp", keep=alive)
    if _outcomes(test, inputs, "interp", keep=alive) != expected :
        pytest.skip("r0 depends on where the kernel's regions are (a pointer is returned)")
    for name in ENGINES:
        if name != "interp":
            assert _outcomes(test, inputs, name) == expected, name
    if expected and all(isinstance(o, tuple) and o[0] not in ("fault", "error") for o in expected):
        for name in UNCHECKED:
            assert _outcomes(test, inputs, name, verified=True) == expected, f"{name} unchecked"


def _retvals(test, inputs) -> list:
    return [o[0] if isinstance(o, tuple) else o for o in _outcomes(test, inputs, "interp")]


def test_the_interpreter_returns_linuxs_retval_mostly():
    if not CASES:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    agree = sum(1 for case in CASES if _retvals(case.values[0], case.values[1]) == case.values[2])
    assert agree / len(CASES) >= FLOOR, f"{agree} of {len(CASES)}"

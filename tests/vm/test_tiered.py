"""The engine policy: which engine `choose` names, and when the tiered engine moves a program to native code.

Counts, not times: a small verified program runs as compiled Python for
HOT_RUNS - 1 runs and natively from the HOT_RUNS-th on (a test_run's repeat
counts whole), a large one natively from its first run; prog info names the
tier that ran.  Native code is unchecked only for verified programs.
"""

from __future__ import annotations

import pytest

from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType
from pybpf.vm import VMFault
from pybpf.vm.engines import ENGINES, choose, options, rebuild
from support.unverified import load_unverified

pytestmark = pytest.mark.skipif("tiered" not in ENGINES, reason="the native engine is not available here")
XDP = ProgType.BPF_PROG_TYPE_XDP
SMALL = assemble("r0 = 2\nr0 += 1\nexit")


def _large():
    from pybpf.vm import tiered
    return assemble("r0 = 0\n" + "r0 += 1\n" * tiered.NATIVE_MIN_INSNS + "exit")


def _load(insns, verified=True):
    """A program loaded on the tiered engine, rebuilt as prog_load builds it for a verified program."""
    kernel = VirtualKernel(ncpus=1)
    fd = kernel.prog_load(XDP, insns, engine="tiered").fd
    kernel.prog(fd).interp = rebuild(kernel.prog(fd).interp, "tiered", verified=verified)
    return kernel, fd


def test_choose_names_tiered_for_verified_programs_only(monkeypatch):
    monkeypatch.delenv("PYBPF_ENGINE", raising=False)
    assert choose(3, verified=True) == "tiered"
    assert choose(3) == choose(500) == "compiled"
    assert choose(500, "interp", verified=True) == "interp"
    monkeypatch.setenv("PYBPF_ENGINE", "native")
    assert choose(3) == "native"


def test_native_code_is_unchecked_only_when_verified():
    assert options("tiered", verified=True) == options("native", verified=True) == {"checked": False}
    assert options("tiered", verified=False) == options("native", verified=False) == {"checked": True}
    assert options("compiled", verified=True) == options("interp", verified=False) == {}


def test_a_small_program_goes_native_on_its_hot_run():
    from pybpf.vm import tiered
    kernel, fd = _load(SMALL)
    for _ in range(tiered.HOT_RUNS - 1):
        assert kernel.prog_test_run(fd, bytes(64)).retval == 3
    assert kernel.info(fd)["engine"] == "compiled"
    assert kernel.prog_test_run(fd, bytes(64)).retval == 3
    assert kernel.info(fd)["engine"] == "native"
    assert kernel.info(fd)["run_cnt"] == tiered.HOT_RUNS


def test_a_test_run_repeat_counts_every_run():
    from pybpf.vm import tiered
    kernel, fd = _load(SMALL)
    assert kernel.prog_test_run(fd, bytes(64), repeat=tiered.HOT_RUNS - 1).retval == 3
    assert kernel.info(fd)["engine"] == "compiled"
    assert kernel.prog_test_run(fd, bytes(64), repeat=2).retval == 3
    assert kernel.info(fd)["engine"] == "native"


def test_a_large_program_is_native_from_its_first_run():
    from pybpf.vm import tiered
    kernel, fd = _load(_large())
    assert kernel.info(fd)["engine"] == "native"
    assert kernel.prog_test_run(fd, bytes(64)).retval == tiered.NATIVE_MIN_INSNS


def test_checked_native_tier_counts_instructions_and_faults():
    kernel, fd = _load(_large(), verified=False)
    kernel.prog_test_run(fd, bytes(64))
    assert kernel.info(fd)["last_run_insns"] == len(_large())
    kernel = VirtualKernel(ncpus=1)  # a refused program, run as if a verifier bug had let it through
    fd = load_unverified(kernel, XDP, assemble("r0 = *(u64 *)(r1 + 4096)\n" + "r0 += 1\n" * 70 + "exit"),
                         engine="tiered", checked=True)
    with pytest.raises(VMFault, match="pc 0.*invalid read of 8 byte"):
        kernel.prog_test_run(fd, bytes(64))

"""One loader, two kernels: every clang-built test object gets the same verdict from Linux and the virtual
kernel, and the programs both accept return the same BPF_PROG_TEST_RUN results."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf import elf
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel]
DATA = Path(__file__).parent.parent / "data" / "elf"
OBJECTS = sorted(p.name for p in DATA.glob("*.o"))
# Where the virtual kernel's load path differs from Linux's.
KNOWN_DISAGREEMENTS = {
    "core.o": "CO-RE: Linux 6.18 has no enum task_state, so the lddw of TASK_DEAD is poisoned (as libbpf "
              "does) and the verifier stops there; the virtual kernel applies no CO-RE",
}
PACKET_TYPES = {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_XDP,
                ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT}
PACKETS = [bytes(64), bytes(range(64)), bytes([0xff] * 14) + bytes(range(100))]


def verdict(kernel, name: str):
    """("ok", None, {program: [test_run retvals]}) or ("refused", errno)."""
    try:
        loaded = load_object(kernel, elf.load(DATA / name))
    except BpfError as err:
        return ("refused", err.errno), {}
    runs = {}
    try:
        for prog in loaded.obj.programs:
            if prog.prog_type in PACKET_TYPES:
                runs[prog.name] = [kernel.prog_test_run(loaded.prog_fds[prog.name], p).retval for p in PACKETS]
    finally:
        for fd in loaded.fds():
            kernel.close(fd)
    return ("ok", None), runs


@pytest.mark.parametrize("name", OBJECTS)
def test_both_kernels_agree(name):
    from pybpf.kernel.linux import LinuxKernel

    if name in KNOWN_DISAGREEMENTS:
        pytest.xfail(KNOWN_DISAGREEMENTS[name])
    linux, linux_runs = verdict(LinuxKernel(), name)
    virtual, virtual_runs = verdict(VirtualKernel(), name)
    assert linux == virtual
    assert linux_runs == virtual_runs


def test_linux_refuses_the_known_disagreements_with_a_log():
    from pybpf.kernel.linux import LinuxKernel

    with pytest.raises(BpfError) as err:
        load_object(LinuxKernel(), elf.load(DATA / "calls.o"))
    assert "pointer *= pointer prohibited" in str(err.value)


def test_an_unsatisfied_core_relocation_is_explained():
    from pybpf.kernel.linux import LinuxKernel

    with pytest.raises(BpfError) as err:
        load_object(LinuxKernel(), elf.load(DATA / "core.o"))
    assert "CO-RE relocation found no match" in str(err.value) and "unknown#195896080" in err.value.log


def test_rodata_is_frozen_and_globals_are_loaded():
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    obj = elf.load(DATA / "globals.o")
    loaded = load_object(kernel, obj)
    try:
        for m in obj.maps:
            if m.section.startswith(".rodata"):
                fd = loaded.map_fds[m.name]
                assert kernel.map_lookup(fd, bytes(4)) == m.data
                with pytest.raises(BpfError):
                    kernel.map_update(fd, bytes(4), m.data)
    finally:
        for fd in loaded.fds():
            kernel.close(fd)

"""One loader, two kernels: every clang-built test object gets the same verdict from Linux and the virtual
kernel, and the programs both accept return the same BPF_PROG_TEST_RUN results (retval, data out, and for
programs without packets the object's writable globals after the run).

The objects: every committed one (tests/data/elf, tests/data/packet), and the sources of tests/kernel/data
built with clang -g -O2 -target bpf at test time (global functions verified against their BTF, CO-RE,
.kconfig values), skipped with the reason where clang is missing."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pybpf import elf
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType
from support.kernel import needs_kernel, skip_if_kernel_lacks_helper

pytestmark = [needs_kernel, pytest.mark.kernel]
TESTS = Path(__file__).parent.parent
DATA = TESTS / "data" / "elf"
COMMITTED = sorted([*DATA.glob("*.o"), *(TESTS / "data" / "packet").glob("*.o")])
SOURCES = sorted((Path(__file__).parent / "data").glob("*.c"))
OBJECTS = [p.name for p in COMMITTED] + [p.name for p in SOURCES]
CLANG = shutil.which("clang-14") or shutil.which("clang")
# Where the virtual kernel's load path differs from Linux's.
KNOWN_DISAGREEMENTS = {
    # the loader passes numa_node to Linux, as libbpf does
    "map_attrs.o": "Linux: EINVAL, its map 'flows' asks for NUMA node 1 and this machine has node 0 only; the "
                   "virtual kernel (one node, no numa_node argument) refuses the map's BPF_F_NO_PREALLOC on an LRU "
                   "map first: ENOTSUPP",
}
PACKET_TYPES = {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_XDP,
                ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT}
PACKETS = [bytes(64), bytes(range(64)), bytes([0xff] * 14) + bytes(range(100))]


@functools.cache
def object_path(name: str) -> Path:
    """A committed object, or a tests/kernel/data source built with clang -g into a temporary directory."""
    committed = {p.name: p for p in COMMITTED}
    if name in committed:
        return committed[name]
    if CLANG is None:
        pytest.skip(f"needs clang-14 to build tests/kernel/data/{name}")
    out = Path(tempfile.mkdtemp(prefix="pybpf-loader-")) / name.replace(".c", ".o")
    subprocess.run([CLANG, "-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-I", str(DATA), "-c",
                    str(Path(__file__).parent / "data" / name), "-o", str(out)], check=True)
    return out


def writable_globals(kernel, loaded) -> dict[str, bytes]:
    return {m.name: kernel.map_lookup(loaded.map_fds[m.name], bytes(4)) for m in loaded.obj.maps
            if m.section.startswith((".data", ".bss"))}


def verdict(kernel, name: str):
    """(("ok", None), {program: [test_run results]}) or (("refused", errno), {})."""
    try:
        loaded = load_object(kernel, elf.load(object_path(name)))
    except BpfError as err:
        skip_if_kernel_lacks_helper(getattr(err, "log", ""))
        return ("refused", err.errno), {}
    runs = {}
    try:
        for prog in loaded.obj.programs:
            fd = loaded.prog_fds[prog.name]
            if prog.prog_type in PACKET_TYPES:
                runs[prog.name] = [(r.retval, r.data_out) for r in (kernel.prog_test_run(fd, p) for p in PACKETS)]
            elif prog.prog_type == ProgType.BPF_PROG_TYPE_SYSCALL:
                runs[prog.name] = [(kernel.prog_test_run(fd).retval, writable_globals(kernel, loaded))]
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


def test_the_parity_objects_are_the_ones_expected():
    """Every committed object and built source is in the comparison, and most of them load and run."""
    assert {"progs.o", "maps.o", "core.o", "packet.o", "global_funcs.c", "core_exists.c", "core_task.c",
            "kconfig_values.c", "btf_attach.c"} <= set(OBJECTS)
    assert len(OBJECTS) == len(COMMITTED) + len(SOURCES) >= 20


def test_linux_refuses_the_known_disagreements_with_a_log():
    from pybpf.kernel.linux import LinuxKernel

    with pytest.raises(BpfError) as err:
        load_object(LinuxKernel(), elf.load(DATA / "calls.o"))
    assert "pointer *= pointer prohibited" in str(err.value)


def test_an_unsatisfied_core_relocation_is_explained_on_both_kernels():
    from pybpf.kernel.linux import LinuxKernel

    with pytest.raises(BpfError) as err:
        load_object(LinuxKernel(), elf.load(DATA / "core.o"))
    assert "unknown#195896080" in err.value.log  # the poisoned call the verifier stopped at
    assert str(err.value).splitlines()[0].endswith(
        "CO-RE relocation at pc 39, enumval_value enum task_state::TASK_DEAD (1): the kernel has no enum "
        "task_state; the program reaches it (libbpf poisons it the same way)")
    assert "program 'trace_exit'" in str(err.value)
    with pytest.raises(BpfError) as err:  # the virtual kernel has no mm_struct: an error, not a made-up offset
        load_object(VirtualKernel(), elf.load(DATA / "core.o"))
    assert str(err.value).startswith("CO-RE: EINVAL") and "program 'trace_exit'" in str(err.value)
    assert "field_byte_offset struct mm_struct.total_vm (0:0)" in str(err.value)


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


def test_map_extra_reaches_both_kernels():
    """map_attrs.o's bloom filter asks for 3 hash functions (map_extra); its LRU map is refused by both
    kernels (BPF_F_NO_PREALLOC), so the map is created alone here."""
    from pybpf.kernel.linux import LinuxKernel
    from pybpf.kernel.loader import _create_map

    seen = elf.load(DATA / "map_attrs.o").get_map("seen")
    assert seen.map_extra == 3
    for kernel in (LinuxKernel(), VirtualKernel()):
        fd = _create_map(kernel, seen, {}, None, "map_attrs.o")
        try:
            info = kernel.info(fd)
            map_extra = info["map_extra"] if "map_extra" in info else kernel.map(fd).attrs.map_extra
            assert map_extra == 3, type(kernel).__name__
        finally:
            kernel.close(fd)


@pytest.mark.parametrize("section, btf_kind, btf_name", [
    ("fentry/do_unlinkat", "FUNC", "do_unlinkat"),
    ("fexit/do_unlinkat", "FUNC", "do_unlinkat"),
    ("fmod_ret/do_unlinkat", "FUNC", "do_unlinkat"),
    ("tp_btf/sched_switch", "TYPEDEF", "btf_trace_sched_switch"),
    ("lsm.s/file_open", "FUNC", "bpf_lsm_file_open"),
    ("iter/task", "FUNC", "bpf_iter_task"),
])
def test_attach_btf_ids_are_found_as_libbpf_finds_them(section, btf_kind, btf_name):
    from pybpf.elf.obj import Program
    from pybpf.kernel.linux import LinuxKernel
    from pybpf.kernel.linux.btf_vmlinux import vmlinux_btf

    expected = vmlinux_btf().candidates(btf_kind, btf_name)
    if not expected:
        pytest.skip(f"this kernel's BTF has no {btf_name}")
    prog = Program("p", section, 26, 0, section.split("/", 1)[1], False, [])
    assert LinuxKernel().attach_btf_id(prog) == expected[0]


def test_a_missing_attach_target_is_an_error_naming_it():
    from pybpf.kernel.linux import LinuxKernel

    obj = elf.load(object_path("btf_attach.c"))
    obj.programs[0].attach_target = "no_such_tracepoint_pybpf"
    with pytest.raises(BpfError) as err:
        load_object(LinuxKernel(), obj)
    assert str(err.value) == ("BPF_PROG_LOAD: ESRCH (No such process): program 'on_switch' (tp_btf/sched_switch): "
                              "the kernel's BTF has no typedef btf_trace_no_such_tracepoint_pybpf to attach to")


def test_numa_node_reaches_linux():
    """With BPF_F_NUMA_NODE the map's numa_node goes to BPF_MAP_CREATE: node 0 exists, node 4095 does not."""
    from pybpf.elf.maps import MapDef
    from pybpf.kernel.linux import LinuxKernel
    from pybpf.kernel.loader import BPF_F_NUMA_NODE, _create_map

    kernel = LinuxKernel()
    fd = _create_map(kernel, MapDef("numa", 1, 4, 8, 16, BPF_F_NUMA_NODE, numa_node=0), {}, None, "test")
    kernel.close(fd)
    with pytest.raises(BpfError) as err:
        _create_map(kernel, MapDef("numa", 1, 4, 8, 16, BPF_F_NUMA_NODE, numa_node=4095), {}, None, "test")
    assert err.value.errno == 22

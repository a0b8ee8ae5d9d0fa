"""The native engine (pybpf.vm.jit) against the reference interpreter.

bpf_conformance runs in checked mode (the files are not verified); random
programs from support.randprog and virtual-kernel programs (maps, helpers,
tail calls, bpf_loop and for_each_map_elem callbacks, local calls) run on
both engines and must give the same r0 and memory.
"""

from __future__ import annotations

import pytest

from pybpf import vm
from pybpf.errors import PybpfError
from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.kernel.virtual.kernel import ProgObject
from pybpf.uapi import MapType, ProgType
from support import randprog
from support.programs import bpf_loop_sum
from support.conformance_data import BadTestFile, parse
from support.paths import CORPUS

jit = pytest.importorskip("pybpf.vm.jit")
if not jit.available():
    pytest.skip(jit.available().reason, allow_module_level=True)

ROOT = CORPUS / "bpf_conformance"
TESTS = sorted((ROOT / "tests").glob("*.data"))
NEGATIVE = sorted(p for p in (ROOT / "negative").glob("*.data") if "-- error" in p.read_text())
MISSING = f"bpf_conformance corpus not found under {ROOT}"


def outcome(run, insns, memory=b"", **options):
    """(r0, memory) of a run, or the fault's text."""
    try:
        result = run(insns, memory, **options)
        return result.r0, result.memory
    except PybpfError as err:
        return f"{type(err).__name__}: {err}"


@pytest.mark.skipif(not TESTS, reason=MISSING)
@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.stem)
def test_conformance_in_checked_mode(path):
    test = parse(path)
    got = outcome(jit.run, test.program(), test.memory)
    assert got == outcome(vm.run, test.program(), test.memory)
    assert got[0] == test.result


@pytest.mark.skipif(not NEGATIVE, reason=MISSING)
@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.stem)
def test_negative_conformance_is_rejected(path):
    with pytest.raises((PybpfError, BadTestFile)):
        test = parse(path)
        jit.run(test.program(), test.memory)


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_agree_with_the_interpreter(seed):
    insns = randprog.program(seed)
    for state in randprog.inputs(seed, 3):
        native = outcome(jit.run, insns, state)
        assert native == outcome(vm.run, insns, state), seed
        assert native == outcome(jit.run, insns, state, checked=False), seed


def test_checked_mode_faults_with_the_pc():
    insns = assemble("r1 = 0x1000\nr0 = *(u64 *)(r1 + 8)\nexit")
    with pytest.raises(vm.VMFault) as fault:
        jit.run(insns)
    assert fault.value.pc == 1 and "invalid read of 8 byte(s) at 0x1008" in str(fault.value)
    stack_write = assemble("*(u64 *)(r10 + 0) = r1\nr0 = 0\nexit")
    with pytest.raises(vm.VMFault, match="pc 0"):
        jit.run(stack_write)


def test_checked_mode_stops_an_infinite_loop():
    insns = assemble("r0 = 0\nloop:\nr0 += 1\ngoto loop")
    with pytest.raises(vm.VMFault, match="instruction limit of 1000 reached"):
        jit.run(insns, max_steps=1000)


def test_checked_mode_faults_a_straight_line_run_over_the_limit():
    # the count is checked at loop heads, helper calls and exits: this run faults at its exit
    with pytest.raises(vm.VMFault, match="instruction limit of 2 reached"):
        jit.run(assemble("r0 = 1\nr0 += 1\nexit"), max_steps=2)
    assert jit.run(assemble("r0 = 1\nr0 += 1\nexit"), max_steps=3).steps == 3


def test_local_calls_and_call_depth():
    insns = assemble("""
        r1 = 5
        call add_one
        r0 += 100
        exit
    add_one:
        r0 = r1
        r0 += 1
        exit
    """)
    assert jit.run(insns).r0 == vm.run(insns).r0 == 106
    deep = assemble("call f\nr0 = 0\nexit\nf:\ncall f\nexit")
    with pytest.raises(vm.VMFault, match="call depth exceeds 8 frames"):
        jit.run(deep)


def test_compile_once_per_program():
    insns = randprog.program(7)
    first = jit.NativeEngine(insns, checked=True)
    again = jit.NativeEngine(insns, checked=True)
    first.compile()
    again.compile()
    assert first.entry_addresses == again.entry_addresses and all(first.entry_addresses.values())  # the cache by digest


# -- virtual kernel programs ---------------------------------------------------------
SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


def native(kernel: VirtualKernel, fd: int, checked: bool) -> None:
    """Swap the program's interpreter for a NativeEngine built as prog_load builds it."""
    prog = kernel._get(fd, ProgObject, "test")
    old = prog.interp
    engine = jit.NativeEngine(prog.insns, mem=kernel.mem, helpers=old.helpers, entry_regs=0b10000000010,
                              resolver=old.resolver, checked=checked)
    engine.kernel, engine.prog_type = old.kernel, old.prog_type
    prog.interp = engine


PROGRAMS = {
    "array_map_counter": ("""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{array}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 3
        lock *(u64 *)(r0 + 0) += r1
        r0 = *(u64 *)(r0 + 0)
    out:
        exit
    """),
    "hash_map_update": ("""
        r1 = 7
        *(u32 *)(r10 - 4) = r1
        r1 = 99
        *(u64 *)(r10 - 16) = r1
        r1 = map[fd:{hash}] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r1 = map[fd:{hash}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
    out:
        exit
    """),
    "bpf_loop": bpf_loop_sum(100, 9),
    "for_each_map_elem": ("""
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = map[fd:{array}] ll
        r2 = func(callback) ll
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_for_each_map_elem
        r1 = *(u64 *)(r10 - 8)
        r0 <<= 16
        r0 |= r1
        exit
    callback:
        r6 = *(u64 *)(r3 + 0)
        r7 = *(u64 *)(r4 + 0)
        r7 += r6
        *(u64 *)(r4 + 0) = r7
        r0 = 0
        exit
    """),
    "tail_call": ("""
        r6 = r1
        r1 = r6
        r2 = map[fd:{jumps}] ll
        r3 = 0
        call bpf_tail_call
        r0 = 7
        exit
    """),
    "local_call_and_ktime": ("""
        call bpf_ktime_get_ns
        r6 = r0
        r1 = 20
        call twice
        r0 += 2
        if r6 != 0 goto out
        r0 = 0
    out:
        exit
    twice:
        r0 = r1
        r0 <<= 1
        exit
    """),
}


def _kernel_and_maps():
    kernel = VirtualKernel(ncpus=1)
    maps = {"array": kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4),
            "hash": kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 16),
            "jumps": kernel.map_create(MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1)}
    for i in range(4):
        kernel.map_update(maps["array"], i.to_bytes(4, "little"), (i * 10).to_bytes(8, "little"))
    target = kernel.prog_load(SOCKET, assemble("r0 = 42\nexit", helper_id=helper_id)).fd
    kernel.map_update(maps["jumps"], bytes(4), target.to_bytes(4, "little"))
    return kernel, maps


def _runs(name: str, engine: str | None):
    kernel, maps = _kernel_and_maps()
    fd = kernel.prog_load(SOCKET, assemble(PROGRAMS[name].format(**maps), helper_id=helper_id)).fd
    if engine is not None:
        native(kernel, fd, checked=engine == "checked")
    results = [kernel.prog_test_run(fd, bytes(64)).retval for _ in range(3)]
    state = [kernel.map_lookup(maps["array"], i.to_bytes(4, "little")) for i in range(4)]
    return results, state, _lookup(kernel, maps["hash"], (7).to_bytes(4, "little"))


def _lookup(kernel, fd, key):
    try:
        return kernel.map_lookup(fd, key)
    except PybpfError as err:
        return str(err)


@pytest.mark.parametrize("mode", ["checked", "unchecked"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_virtual_kernel_programs_agree(name, mode):
    expected = _runs(name, None)
    assert _runs(name, mode) == expected


def test_available_says_why_not():
    assert jit.available() and jit.available().reason == ""


def test_array_map_lookup_is_inline():
    """bpf_map_lookup_elem on an array map never reaches the Python helper (which here would fault)."""
    import dataclasses

    kernel, maps = _kernel_and_maps()
    fd = kernel.prog_load(SOCKET, assemble(PROGRAMS["array_map_counter"].format(**maps), helper_id=helper_id)).fd
    native(kernel, fd, checked=False)
    engine = kernel._get(fd, ProgObject, "test").interp
    lookup = helper_id("map_lookup_elem")
    engine.helpers = dict(engine.helpers)
    engine.helpers[lookup] = dataclasses.replace(engine.helpers[lookup], impl=None)
    assert [kernel.prog_test_run(fd, bytes(64)).retval for _ in range(2)] == [3, 6]

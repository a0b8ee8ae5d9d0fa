"""Attach points that fire on events of the running Python program and of the tool."""

import errno
import time

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from support import testapp
from support.unverified import load_unverified

KPROBE = ProgType.BPF_PROG_TYPE_KPROBE


@pytest.fixture
def kernel():
    return VirtualKernel(ncpus=2)


def sum_into(map_fd: int, load: str) -> str:
    """A program: value = <load from ctx in r6>; map[0] += value; count in map[1]."""
    def bump(index: int, source: str) -> str:
        return f"""
        r1 = {index}
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        {source}
        lock *(u64 *)(r0 + 0) += r1
        """
    return f"""
        r6 = r1
        {load}
        r7 = r1
        {bump(0, "r1 = r7")}
        {bump(1, "r1 = 1")}
    out:
        r0 = 0
        exit
    """


def attach(kernel, target: str, text: str) -> int:
    prog = kernel.prog_load(KPROBE, assemble(text, helper_id=helper_id))
    return kernel.link_create(prog.fd, target)


def totals(kernel, fd):
    return [int.from_bytes(kernel.map_lookup(fd, i.to_bytes(4, "little")), "little") for i in (0, 1)]


def test_function_entry_sees_arguments_and_return_sees_retval(kernel):
    entry = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    ret = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    links = [attach(kernel, "pyfunc:support.testapp:add",
                    sum_into(entry, "r1 = *(u64 *)(r6 + 0)\nr2 = *(u64 *)(r6 + 8)\nr1 += r2")),
             attach(kernel, "pyfunc.return:support.testapp:add", sum_into(ret, "r1 = *(u64 *)(r6 + 64)"))]
    try:
        expected = sum(testapp.add(i, 2 * i) for i in range(100))
    finally:
        for link in links:
            kernel.close(link)
    testapp.add(1000, 1000)  # after detaching: not counted
    assert totals(kernel, entry) == [expected, 100]
    assert totals(kernel, ret) == [expected, 100]


def test_latency_through_entry_and_return(kernel):
    stats = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    start = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 8, 8, 64)
    on_entry = f"""
        call bpf_get_current_pid_tgid
        *(u64 *)(r10 - 8) = r0
        call bpf_ktime_get_ns
        *(u64 *)(r10 - 16) = r0
        r1 = map[fd:{start}] ll
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r0 = 0
        exit
    """
    on_return = sum_into(stats, f"""
        call bpf_get_current_pid_tgid
        *(u64 *)(r10 - 16) = r0
        r1 = map[fd:{start}] ll
        r2 = r10
        r2 += -16
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r8 = *(u64 *)(r0 + 0)
        call bpf_ktime_get_ns
        r0 -= r8
        r1 = r0
    """)
    links = [attach(kernel, "pyfunc:support.testapp:slow", on_entry),
             attach(kernel, "pyfunc.return:support.testapp:slow", on_return)]
    try:
        began = time.monotonic_ns()
        for _ in range(10):
            testapp.slow(5)
        elapsed = time.monotonic_ns() - began
    finally:
        for link in links:
            kernel.close(link)
    total_ns, calls = totals(kernel, stats)
    assert calls == 10
    assert 10 * 5_000_000 <= total_ns <= elapsed


def test_usdt_probe_arguments_and_strings(kernel):
    stats = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    load = """
        r1 = r10
        r1 += -32
        r2 = 16
        r3 = *(u64 *)(r6 + 0)
        call bpf_probe_read_user_str
        r1 = *(u8 *)(r10 - 32)
        r2 = *(u64 *)(r6 + 8)
        r1 += r2
    """
    assert not testapp.REQUEST.enabled
    link = attach(kernel, "usdt:testapp:request", sum_into(stats, load))
    assert testapp.REQUEST.enabled
    for size in range(5):
        testapp.handle("/index.html", size)
    kernel.close(link)
    assert not testapp.REQUEST.enabled
    assert totals(kernel, stats) == [5 * ord("/") + sum(range(5)), 5]


def test_audit_events(kernel, tmp_path):
    stats = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    load = """
        r1 = r10
        r1 += -32
        r2 = 16
        r3 = *(u64 *)(r6 + 0)
        call bpf_probe_read_user_str
        r1 = *(u8 *)(r10 - 32)
    """
    link = attach(kernel, "audit:open", sum_into(stats, load))
    path = tmp_path / "f.txt"
    try:
        for _ in range(3):
            with open(path, "w"):
                pass
    finally:
        kernel.close(link)
    open(path).close()
    assert totals(kernel, stats) == [3 * ord("/"), 3]


def test_oneshot_begin_and_end(kernel):
    stats = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    link = attach(kernel, "oneshot:BEGIN", sum_into(stats, "r1 = 5"))
    assert kernel.trigger("BEGIN") == 1 and kernel.trigger("END") == 0
    kernel.close(link)
    assert kernel.trigger("BEGIN") == 0
    assert totals(kernel, stats) == [5, 1]


def test_profile_fires_on_every_cpu(kernel):
    per_cpu = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    text = f"""
        call bpf_get_smp_processor_id
        *(u32 *)(r10 - 4) = r0
        r1 = map[fd:{per_cpu}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
    out:
        r0 = 0
        exit
    """
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_PERF_EVENT, assemble(text, helper_id=helper_id))
    link = kernel.link_create(prog.fd, "profile", hz=200)
    time.sleep(0.3)
    kernel.close(link)
    counts = totals(kernel, per_cpu)
    assert all(20 <= c <= 70 for c in counts), counts


@pytest.mark.parametrize("target,err", [
    ("pyfunc:support.testapp:nope", errno.ENOENT),
    ("pyfunc:no.such.module:f", errno.ENOENT),
    ("usdt:testapp:nope", errno.ENOENT),
    ("kprobe:do_sys_open", errno.EINVAL),
    ("oneshot", errno.EINVAL),
])
def test_missing_targets_are_clear_errors_and_attach_nothing(kernel, target, err):
    prog = kernel.prog_load(KPROBE, assemble("r0 = 0\nexit"))
    with pytest.raises(BpfError) as raised:
        kernel.link_create(prog.fd, target)
    assert raised.value.errno == err
    assert kernel.get_next_id("link") is None


def test_a_faulting_probe_program_does_not_break_the_application(kernel):
    """prog_load refuses the program; if a verifier bug let it through, the traced call would go on."""
    unsafe = assemble("r1 = 4096\nr0 = *(u64 *)(r1 + 0)\nexit")
    with pytest.raises(BpfError) as refused:
        kernel.prog_load(KPROBE, unsafe)
    assert refused.value.errno == errno.EACCES and "R1 invalid mem access 'scalar'" in refused.value.log
    link = kernel.link_create(load_unverified(kernel, KPROBE, unsafe), "pyfunc:support.testapp:add")
    try:
        assert testapp.add(2, 3) == 5
    finally:
        kernel.close(link)
    assert len(kernel.faults) == 1 and "pc 1" in str(kernel.faults[0])

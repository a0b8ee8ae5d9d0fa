"""Helpers on the virtual kernel: tail calls, bpf_loop callbacks, probe reads, strings."""


import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType

from support.programs import bpf_loop_sum

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


@pytest.fixture
def kernel():
    return VirtualKernel(ncpus=1)


def load(kernel, text):
    return kernel.prog_load(SOCKET, assemble(text, helper_id=helper_id)).fd


def run(kernel, fd):
    return kernel.prog_test_run(fd, bytes(64)).retval


def test_tail_call_replaces_the_program_and_falls_through_on_an_empty_slot(kernel):
    jumps = kernel.map_create(MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4)
    target = load(kernel, "r0 = 42\nexit")
    caller = load(kernel, f"""
        r6 = r1
        r1 = r6
        r2 = map[fd:{jumps}] ll
        r3 = 1
        call bpf_tail_call
        r0 = 7
        exit
    """)
    assert run(kernel, caller) == 7  # empty slot: the call returns and the program goes on
    kernel.map_update(jumps, (1).to_bytes(4, "little"), target.to_bytes(4, "little"))
    assert run(kernel, caller) == 42
    assert kernel.map_lookup(jumps, (1).to_bytes(4, "little")) == kernel.info(target)["id"].to_bytes(4, "little")


def test_tail_calls_stop_after_33(kernel):
    jumps = kernel.map_create(MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1)
    counter = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    looper = load(kernel, f"""
        r6 = r1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{counter}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r1 = r6
        r2 = map[fd:{jumps}] ll
        r3 = 0
        call bpf_tail_call
    out:
        r0 = 1
        exit
    """)
    kernel.map_update(jumps, bytes(4), looper.to_bytes(4, "little"))
    assert run(kernel, looper) == 1
    assert kernel.map_lookup(counter, bytes(4)) == (34).to_bytes(8, "little")  # the first run and 33 tail calls


def test_bpf_loop_calls_back_until_told_to_stop(kernel):
    fd = load(kernel, bpf_loop_sum(100, 9))
    # iterations 0..9 run, the callback asks to stop at i == 9: 10 iterations, sum 45
    assert run(kernel, fd) == (10 << 16) | 45


def test_probe_read_str_and_strncmp(kernel):
    # bpf_strncmp's string must be a constant of a frozen read-only map, as Linux's verifier wants.
    hello = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 1 << 7)  # BPF_F_RDONLY_PROG
    kernel.map_update(hello, bytes(4), b"hello\0\0\0")
    kernel.map_freeze(hello)
    fd = load(kernel, f"""
        r1 = 0x6f6c6c6568 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -24
        r2 = 16
        r3 = r10
        r3 += -8
        call bpf_probe_read_kernel_str
        r6 = r0
        r1 = r10
        r1 += -24
        r2 = 5
        r3 = map[fd:{hello}][0]+0 ll
        call bpf_strncmp
        r0 <<= 8
        r0 |= r6
        exit
    """)
    assert run(kernel, fd) == 6  # "hello" and its NUL; strncmp of equal strings is 0


def test_probe_read_of_a_bad_address_zeroes_and_fails(kernel):
    fd = load(kernel, """
        r1 = -1
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -8
        r2 = 8
        r3 = 4096
        call bpf_probe_read_kernel
        r1 = *(u64 *)(r10 - 8)
        if r1 != 0 goto bad
        exit
    bad:
        r0 = 1
        exit
    """)
    assert run(kernel, fd) == (-14) & 0xFFFFFFFF


def test_get_current_comm(kernel):
    fd = load(kernel, """
        r1 = r10
        r1 += -16
        r2 = 16
        call bpf_get_current_comm
        r0 = *(u8 *)(r10 - 16)
        exit
    """)
    from pybpf.kernel.virtual.trace_pipe import task_comm
    assert run(kernel, fd) == task_comm().encode()[0]


def test_snprintf(kernel):
    out = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 32, 1)
    fmt = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 1 << 7)  # the format: read-only, frozen
    kernel.map_update(fmt, bytes(4), b"%x%x %d\n".ljust(16, b"\0"))
    kernel.map_freeze(fmt)
    fd = load(kernel, f"""
        r1 = 255
        *(u64 *)(r10 - 40) = r1
        r1 = 16
        *(u64 *)(r10 - 32) = r1
        r1 = -3
        *(u64 *)(r10 - 24) = r1
        r1 = 0
        *(u32 *)(r10 - 44) = r1
        r1 = map[fd:{out}] ll
        r2 = r10
        r2 += -44
        call bpf_map_lookup_elem
        if r0 == 0 goto fail
        r1 = r0
        r2 = 32
        r3 = map[fd:{fmt}][0]+0 ll
        r4 = r10
        r4 += -40
        r5 = 24
        call bpf_snprintf
        exit
    fail:
        r0 = 0
        exit
    """)
    # the format on the stack reads "%x%x %d\n"
    assert run(kernel, fd) == len(b"ff10 -3\n") + 1
    assert kernel.map_lookup(out, bytes(4)).split(b"\0")[0] == b"ff10 -3\n"


def test_for_each_map_elem_visits_until_told_to_stop(kernel):
    m = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 5)
    for i in range(5):
        kernel.map_update(m, i.to_bytes(4, "little"), (i * 10).to_bytes(8, "little"))
    fd = load(kernel, f"""
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = map[fd:{m}] ll
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
        r5 = *(u32 *)(r2 + 0)
        r6 = *(u64 *)(r3 + 0)
        r7 = *(u64 *)(r4 + 0)
        r7 += r6
        *(u64 *)(r4 + 0) = r7
        r0 = 0
        if r5 != 3 goto next
        r0 = 1
    next:
        exit
    """)
    assert run(kernel, fd) == (4 << 16) | (0 + 10 + 20 + 30)


def test_skb_load_bytes_and_task(kernel):
    fd = load(kernel, """
        r6 = r1
        r1 = r6
        r2 = 2
        r3 = r10
        r3 += -8
        r4 = 2
        call bpf_skb_load_bytes
        if r0 != 0 goto out
        r0 = *(u16 *)(r10 - 8)
        exit
    out:
        r0 = 1
        exit
    """)
    # a socket filter's offsets count from the network header, past the 14-byte Ethernet header
    assert kernel.prog_test_run(fd, bytes(14) + bytes([0, 1, 2, 3]) + bytes(60)).retval == 0x0302
    task = load(kernel, """
        call bpf_get_current_task
        r3 = r0
        r3 += 4
        r1 = r10
        r1 += -8
        r2 = 4
        call bpf_probe_read_kernel
        r0 = *(u32 *)(r10 - 8)
        exit
    """)  # the task pointer is a scalar to the verifier: read through it with probe_read, as in Linux
    import os
    assert run(kernel, task) == os.getpid()

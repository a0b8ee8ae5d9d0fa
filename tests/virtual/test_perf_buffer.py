"""Perf event arrays and perf buffers: samples per CPU, exact lost counts."""

import errno

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType


def output_program(map_fd: int, flags: int = 0xFFFFFFFF) -> list:
    return assemble(f"""
        r6 = r1
        call bpf_get_prandom_u32
        *(u64 *)(r10 - 8) = r0
        r1 = r6
        r2 = map[fd:{map_fd}] ll
        r3 = {flags:#x} ll
        r4 = r10
        r4 += -8
        r5 = 8
        call bpf_perf_event_output
        exit
    """, helper_id=helper_id)


def setup(pages=1, ncpus=2):
    kernel = VirtualKernel(ncpus=ncpus)
    events = kernel.map_create(MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, ncpus)
    buffer = kernel.perf_buffer(events, pages)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, output_program(events))
    return kernel, buffer, prog


def test_samples_arrive_on_the_current_cpu():
    kernel, buffer, prog = setup()
    for _ in range(10):
        assert kernel.prog_test_run(prog.fd, bytes(64)).retval == 0
    got = []
    assert buffer.poll(lambda cpu, data: got.append((cpu, len(data)))) == 10
    assert got == [(0, 8)] * 10 and buffer.lost == 0


def test_a_full_ring_loses_samples_and_says_how_many():
    kernel, buffer, prog = setup(pages=1)
    results = [kernel.prog_test_run(prog.fd, bytes(64)).retval for _ in range(300)]
    fits = 4096 // 24
    assert results.count(0) == fits and results.count((-errno.ENOSPC) & 0xFFFFFFFF) == 300 - fits
    samples, lost = [], []
    buffer.poll(lambda cpu, data: samples.append(data), lambda cpu, n: lost.append(n))
    assert len(samples) == fits and lost == [300 - fits] and buffer.lost == 300 - fits
    # after a loss, the next sample is preceded by the count
    kernel.prog_test_run(prog.fd, bytes(64))
    assert buffer.poll(lambda cpu, data: samples.append(data)) == 1


def test_output_errors():
    kernel = VirtualKernel(ncpus=2)
    events = kernel.map_create(MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2)
    empty = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, output_program(events))
    assert kernel.prog_test_run(empty.fd, bytes(64)).retval == (-errno.ENOENT) & 0xFFFFFFFF
    bad_index = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, output_program(events, 7))
    assert kernel.prog_test_run(bad_index.fd, bytes(64)).retval == (-errno.E2BIG) & 0xFFFFFFFF
    with pytest.raises(BpfError) as err:
        kernel.map_lookup(events, bytes(4))
    assert err.value.errno == 524
    with pytest.raises(BpfError) as err:
        kernel.map_update(events, bytes(4), empty.fd.to_bytes(4, "little"))
    assert err.value.errno == errno.EBADF
    with pytest.raises(BpfError):
        kernel.perf_event_open(5)

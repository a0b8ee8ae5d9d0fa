"""Stacks: bpf_get_stackid and bpf_get_stack see the Python call stack at the event."""

import errno

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from support import testapp


def test_stackid_of_a_python_function_probe_symbolizes_to_its_callers():
    kernel = VirtualKernel()
    stacks = kernel.map_create(MapType.BPF_MAP_TYPE_STACK_TRACE, 4, 8 * 16, 64)
    ids = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_KPROBE, assemble(f"""
        r6 = r1
        r1 = r6
        r2 = map[fd:{stacks}] ll
        r3 = 256
        call bpf_get_stackid
        r7 = r0
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{ids}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        *(u64 *)(r0 + 0) = r7
    out:
        r0 = 0
        exit
    """, helper_id=helper_id))
    link = kernel.link_create(prog.fd, "pyfunc:support.testapp:add")

    def caller():
        return testapp.add(1, 2)

    try:
        caller()
    finally:
        kernel.close(link)
    stack_id = int.from_bytes(kernel.map_lookup(ids, bytes(4)), "little", signed=True)
    assert stack_id >= 0
    raw = kernel.map_lookup(stacks, stack_id.to_bytes(4, "little"))
    ips = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
    frames = [kernel.stacks.symbolize(ip) for ip in ips if ip]
    assert frames[0].startswith("testapp.add (")
    assert frames[1].startswith("test_stacks.test_stackid_of_a_python_function_probe_symbolizes_to_its_callers.<locals>.caller")


def test_stack_map_rules():
    kernel = VirtualKernel()
    import pytest
    from pybpf.kernel.errors import BpfError

    with pytest.raises(BpfError) as err:
        kernel.map_create(MapType.BPF_MAP_TYPE_STACK_TRACE, 4, 12, 8)
    assert err.value.errno == errno.EINVAL
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_STACK_TRACE, 4, 16, 8)
    with pytest.raises(BpfError) as err:
        kernel.map_update(fd, bytes(4), bytes(16))
    assert err.value.errno == errno.EINVAL
    assert kernel.map(fd).get_stackid([1, 2, 3], 0) >= 0
    assert kernel.map(fd).get_stackid([], 0) == -errno.EFAULT

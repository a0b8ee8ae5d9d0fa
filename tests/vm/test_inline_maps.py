"""Array map helpers the fast engines run inline agree with the helper implementations.

bpf_map_update_elem on a plain array map runs in native code (verified
programs, vm/jit/codegen.py inline_array_update); every flag, an index past
the end and a percpu or hash map beside it must give the interpreter's r0
and leave the same map contents.
"""

from __future__ import annotations

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm.engines import ENGINES

FAST = sorted(name for name in ENGINES if name != "interp")
# r6 = the key (0..9, two past the end of an 8-entry array), the flags cycle through 0..3; r7 sums the r0s.
UPDATES = """
    r6 = 0
    r7 = 0
loop:
    *(u32 *)(r10 - 4) = r6
    r1 = r6
    r1 *= 0x01010101
    *(u64 *)(r10 - 16) = r1
    r1 = map[fd:{counts}] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = r6
    r4 &= 3
    call bpf_map_update_elem
    r7 += r0
    r6 += 1
    if r6 < 10 goto loop
    r0 = r7
    exit
"""


def _run(engine: str, map_type: int, value_size: int):
    kernel = VirtualKernel(ncpus=1)
    counts = kernel.map_create(map_type, 4, value_size, 8)
    fd = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
                          assemble(UPDATES.format(counts=counts), helper_id=helper_id), engine=engine).fd
    retval = kernel.prog_test_run(fd, bytes(64)).retval
    values = []
    for key in range(8):
        try:
            values.append(kernel.map_lookup(counts, key.to_bytes(4, "little")))
        except OSError:
            values.append(None)
    return retval, values


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("map_type, value_size", [
    (MapType.BPF_MAP_TYPE_ARRAY, 8), (MapType.BPF_MAP_TYPE_ARRAY, 5), (MapType.BPF_MAP_TYPE_PERCPU_ARRAY, 8),
    (MapType.BPF_MAP_TYPE_HASH, 8)], ids=["array", "array-odd-size", "percpu", "hash"])
def test_updates_agree_with_the_helper(engine, map_type, value_size):
    expected = _run("interp", map_type, value_size)
    assert expected[0] != 0  # some updates fail: -EEXIST, -EINVAL, -E2BIG
    assert _run(engine, map_type, value_size) == expected

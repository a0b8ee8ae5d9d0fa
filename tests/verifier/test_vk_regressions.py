"""Verifier fixes found when the virtual kernel's prog_load started to verify.

Each test is a program the virtual kernel loads in some test, with the
verdict and errno Linux 6.18 gives it (checked on the live kernel).
"""

import errno

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.uapi import MapType, ProgType
from pybpf.verifier import MapInfo, verify


def test_a_map_of_the_wrong_type_for_a_helper_is_einval():
    """check_map_func_compatibility fails with -EINVAL (an array passed to bpf_ringbuf_reserve)."""
    insns = assemble("r1 = map[fd:5] ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nr0 = 0\nexit", helper_id=helper_id)
    result = verify(insns, ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
                    maps={0: MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, fd=5)})
    assert not result.accepted
    assert result.errno == errno.EINVAL
    assert "cannot pass map_type 2 into func bpf_ringbuf_reserve#131" in result.log

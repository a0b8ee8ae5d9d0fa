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


def _verify(source: str, map_info: MapInfo | None = None, **options):
    insns = assemble(source, helper_id=helper_id)
    maps = {}
    if map_info is not None:
        pc = 0
        for insn in insns:
            if insn.code == 0x18 and insn.src == 1:
                maps[pc] = map_info
            pc += insn.size
    return verify(insns, ProgType.BPF_PROG_TYPE_SOCKET_FILTER, maps=maps, log_level=1, **options)


def test_a_leaked_reference_names_the_exit_and_is_einval():
    """check_resource_leak: "Unreleased reference ..." then "BPF_EXIT instruction in main prog would lead
    to reference leak", -EINVAL (Linux 6.18's log for a ring buffer record never submitted)."""
    result = _verify("r1 = map[fd:5] ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nr0 = 0\nexit",
                     MapInfo(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, fd=5))
    assert result.errno == errno.EINVAL
    lines = result.log.splitlines()
    assert lines[-3].startswith("Unreleased reference id=") and lines[-3].endswith("alloc_insn=4")
    assert lines[-2] == "BPF_EXIT instruction in main prog would lead to reference leak"


def _array_lookup(store: str, key_off: int) -> str:
    return (f"{store}\nr1 = map[fd:5] ll\nr2 = r10\nr2 += {key_off}\ncall bpf_map_lookup_elem\n"
            "r0 = *(u64 *)(r0 + 0)\nexit")


PAIR = MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2, fd=5)


def test_an_array_lookup_with_a_constant_key_in_range_is_not_null():
    """can_elide_value_nullness (Linux 6.13+): a STACK_ZERO key, or a scalar spill of exactly key_size,
    known and below max_entries (the privileged verdicts are compared with Linux 6.18 in
    tests/virtual/test_prog_load_verifies.py; unprivileged loads never elide: !bpf_capable)."""
    assert _verify(_array_lookup("r1 = 0\n*(u32 *)(r10 - 4) = r1", -4), PAIR).accepted
    assert _verify(_array_lookup("r1 = 1\n*(u32 *)(r10 - 8) = r1", -8), PAIR).accepted
    assert _verify(_array_lookup("*(u32 *)(r10 - 8) = 1", -8), PAIR).accepted


def test_an_array_lookup_keeps_its_null_otherwise():
    null_deref = "R0 invalid mem access 'map_value_or_null'"
    assert null_deref in _verify(_array_lookup("r1 = 2\n*(u32 *)(r10 - 8) = r1", -8), PAIR).log  # out of range
    assert null_deref in _verify(_array_lookup("r1 = 1\n*(u32 *)(r10 - 4) = r1", -4), PAIR).log  # not a spill
    hashed = MapInfo(MapType.BPF_MAP_TYPE_HASH, 4, 8, 2, fd=5)
    assert null_deref in _verify(_array_lookup("r1 = 0\n*(u32 *)(r10 - 4) = r1", -4), hashed).log
    unprivileged = _verify(_array_lookup("r1 = 0\n*(u32 *)(r10 - 4) = r1", -4), PAIR, privileged=False)
    assert null_deref in unprivileged.log

"""The loops of bench/engines.py whose bodies branch on loaded values load on the virtual kernel.

Without precision tracking every path through a body stayed apart (the summed values differ), and the
verifier gave up after minutes ("BPF program is too large"); Linux loads them in milliseconds.  These load
through `VirtualKernel.prog_load` exactly as the bench does, and return what the reference interpreter
computes on the bench's packet."""

from __future__ import annotations

import struct
import sys

import pytest

from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from support.paths import REPO

sys.path.insert(0, str(REPO / "bench"))
from engines_programs import PROGRAMS, program  # noqa: E402

@pytest.mark.parametrize("title", ["log2 over an array", "primes by division", "switch dispatch"])
def test_branchy_loop_loads_on_the_virtual_kernel(title):
    source, packet = PROGRAMS[title]
    kernel = VirtualKernel(ncpus=1)
    counts = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 8)
    insns = program(source, counts)
    fd = kernel.prog_load(ProgType.BPF_PROG_TYPE_XDP, insns, engine="interp").fd
    result = kernel.prog_test_run(fd, packet)
    assert result.retval == EXPECTED[title](packet)


def _log2_sum(packet: bytes) -> int:
    words = struct.unpack_from("<64I", packet)
    return sum(max(w.bit_length() - 1, 0) for w in words)


SWITCH_CASES = (lambda r: r + 1, lambda r: r * 3, lambda r: r ^ 0x55, lambda r: r - 7, lambda r: r << 1,
                lambda r: r >> 1, lambda r: r | 0x100, lambda r: r ^ 0x77)


def _switch(packet: bytes) -> int:
    r0 = 0
    for byte in packet[:256]:
        r0 = SWITCH_CASES[byte & 7](r0) & 0xFFFFFFFFFFFFFFFF
    return r0 & 0xFFFFFFFF


EXPECTED = {"log2 over an array": _log2_sum, "primes by division": lambda packet: 95, "switch dispatch": _switch}

"""BPF_PROG_LOAD's log buffer rules, as Linux 6.18 has them (bpf_vlog_init, bpf_vlog_finalize), on both
kernels: no minimum size (a log that does not fit is ENOSPC), log_level bits 1, 2, 4 and BPF_LOG_FIXED (8,
which keeps the head of a log too long for its buffer instead of its tail), nothing outside them."""

from __future__ import annotations

import errno

import pytest

from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from support.kernel import needs_kernel

SOCKET_FILTER = 1
GOOD = assemble("r0 = 0\nexit")
BAD = assemble("r0 = r5\nexit")
STATS = "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"


@pytest.fixture(params=["virtual", pytest.param("linux", marks=[needs_kernel, pytest.mark.kernel])])
def kernel(request):
    if request.param == "virtual":
        return VirtualKernel()
    from pybpf.kernel.linux import LinuxKernel
    return LinuxKernel()


def load(kernel, program, **options):
    """(errno, log): 0 and the load's log, or the refusal's errno and log."""
    try:
        loaded = kernel.prog_load(SOCKET_FILTER, program, **options)
    except BpfError as err:
        return err.errno, err.log
    kernel.close(loaded.fd)
    return 0, loaded.log


@pytest.mark.parametrize("level", [1, 8, 9, 15])
def test_levels_up_to_fifteen_are_taken(kernel, level):
    assert load(kernel, GOOD, log_level=level, log_size=4096)[0] == 0


@pytest.mark.parametrize("level, size", [(16, 4096), (0x20, 4096), (0, 4096)])
def test_other_levels_and_a_buffer_without_a_level_are_einval(kernel, level, size):
    assert load(kernel, GOOD, log_level=level, log_size=size)[0] == errno.EINVAL


def test_a_small_buffer_is_enospc_with_the_logs_tail(kernel):
    err, log = load(kernel, GOOD, log_level=1, log_size=10)
    assert (err, log) == (errno.ENOSPC, STATS[-9:])


def test_log_fixed_keeps_the_head(kernel):
    err, log = load(kernel, GOOD, log_level=8, log_size=20)
    assert (err, log) == (errno.ENOSPC, STATS[:19])
    err, log = load(kernel, BAD, log_level=9, log_size=64)
    assert err == errno.ENOSPC and log.startswith("0: ") and len(log) == 63


def test_log_fixed_alone_logs_the_verdict(kernel):
    assert load(kernel, GOOD, log_level=8, log_size=4096) == (0, STATS)
    err, log = load(kernel, BAD, log_level=8, log_size=4096)
    assert err == errno.EACCES and log.startswith("R5 !read_ok\n")

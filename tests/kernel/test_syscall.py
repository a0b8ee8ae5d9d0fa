"""The bpf() syscall layer against the running kernel: results and errnos."""

from __future__ import annotations

import errno

import pytest

from pybpf.isa.asm import assemble
from pybpf.isa import encode
from pybpf.kernel.linux import syscall
from pybpf.uapi import MapType, ProgType
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel]


def test_hash_map_operations_and_errnos():
    fd = syscall.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 2, name="t")
    try:
        key, value = (1).to_bytes(4, "little"), (42).to_bytes(8, "little")
        with pytest.raises(syscall.KernelError) as err:
            syscall.map_lookup(fd, key, 8)
        assert err.value.errno == errno.ENOENT
        syscall.map_update(fd, key, value)
        assert syscall.map_lookup(fd, key, 8) == value
        with pytest.raises(syscall.KernelError) as err:
            syscall.map_update(fd, key, value, 1)  # BPF_NOEXIST
        assert err.value.errno == errno.EEXIST
        syscall.map_update(fd, (2).to_bytes(4, "little"), value)
        with pytest.raises(syscall.KernelError) as err:
            syscall.map_update(fd, (3).to_bytes(4, "little"), value)
        assert err.value.errno == errno.E2BIG
        keys = []
        k = syscall.map_get_next_key(fd, None, 4)
        while k is not None:
            keys.append(int.from_bytes(k, "little"))
            k = syscall.map_get_next_key(fd, k, 4)
        assert sorted(keys) == [1, 2]
        syscall.map_delete(fd, key)
        with pytest.raises(syscall.KernelError):
            syscall.map_delete(fd, key)
    finally:
        syscall.close(fd)


def test_prog_load_failure_carries_the_verifier_log():
    code = encode(assemble("r0 = r5\nexit"))
    with pytest.raises(syscall.KernelError) as err:
        syscall.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, code)
    assert err.value.errno == errno.EACCES
    assert "R5 !read_ok" in err.value.log
    assert "BPF_PROG_LOAD" in str(err.value)


def test_test_run_returns_r0_and_duration():
    loaded = syscall.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, encode(assemble("r0 = 7\nexit")))
    try:
        result = syscall.prog_test_run(loaded.fd, bytes(64), repeat=100)
        assert result.retval == 7
        assert result.duration_ns >= 0
        assert len(result.data_out) == 64
    finally:
        syscall.close(loaded.fd)


def test_bad_fd_is_ebadf():
    with pytest.raises(syscall.KernelError) as err:
        syscall.map_lookup(10_000, b"\0" * 4, 4)
    assert err.value.errno == errno.EBADF

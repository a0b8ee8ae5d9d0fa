"""The bpf() syscall layer against the running kernel: results, errnos and the messages they carry."""

from __future__ import annotations

import errno

import pytest

from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.uapi import MapType, ProgType
from support.kernel import needs_kernel

SOCKET_FILTER, XDP = ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_XDP
BPF_NOEXIST, BPF_EXIST = 1, 2
SIZEOF_SK_BUFF = 192  # struct __sk_buff, the socket filter's ctx


def key(i: int) -> bytes:
    return i.to_bytes(4, "little")


def errno_of(call, *args, **kwargs) -> int:
    with pytest.raises(syscall.KernelError) as err:
        call(*args, **kwargs)
    return err.value.errno


@pytest.fixture
def hash_map():
    fd = syscall.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 2, name="hash")
    yield fd
    syscall.close(fd)


@pytest.fixture
def array_map():
    fd = syscall.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 3, name="array")
    yield fd
    syscall.close(fd)


def load(source: str, prog_type=SOCKET_FILTER, **kwargs) -> syscall.Loaded:
    return syscall.prog_load(prog_type, encode(assemble(source)), **kwargs)


# -- errors without a kernel -------------------------------------------------

def test_kernel_error_names_the_command_the_errno_and_the_remedy():
    err = syscall.KernelError("BPF_PROG_LOAD", errno.EPERM)
    assert err.errno == errno.EPERM and err.cmd == "BPF_PROG_LOAD"
    assert str(err).startswith("BPF_PROG_LOAD failed: EPERM")
    assert "CAP_BPF" in str(err) and "root" in err.advice
    assert "no bpf() system call" in str(syscall.KernelError("bpf", errno.ENOSYS))
    assert "ENOTSUPP" in str(syscall.KernelError("BPF_PROG_LOAD", syscall.ENOTSUPP))


def test_the_log_follows_the_message():
    err = syscall.KernelError("BPF_PROG_LOAD", errno.EACCES, "0: R0 !read_ok\n")
    assert str(err).splitlines() == ["BPF_PROG_LOAD failed: EACCES (Permission denied): "
                                     "the verifier refused the program (see the log)", "0: R0 !read_ok"]


def test_kernel_available_gives_a_reason():
    available, reason = syscall.kernel_available()
    assert isinstance(available, bool) and reason


def test_elsewhere_the_reason_names_the_system(monkeypatch):
    monkeypatch.setattr(syscall.platform, "system", lambda: "Darwin")
    assert syscall.kernel_available() == (False, "bpf() needs Linux (this is Darwin)")


# -- maps ----------------------------------------------------------------------

@needs_kernel
@pytest.mark.kernel
def test_hash_map_update_lookup_delete(hash_map):
    value = (42).to_bytes(8, "little")
    assert errno_of(syscall.map_lookup, hash_map, key(1), 8) == errno.ENOENT
    assert errno_of(syscall.map_update, hash_map, key(1), value, BPF_EXIST) == errno.ENOENT
    syscall.map_update(hash_map, key(1), value, BPF_NOEXIST)
    assert syscall.map_lookup(hash_map, key(1), 8) == value
    assert errno_of(syscall.map_update, hash_map, key(1), value, BPF_NOEXIST) == errno.EEXIST
    syscall.map_update(hash_map, key(1), bytes(8), BPF_EXIST)
    assert syscall.map_lookup(hash_map, key(1), 8) == bytes(8)
    syscall.map_delete(hash_map, key(1))
    assert errno_of(syscall.map_delete, hash_map, key(1)) == errno.ENOENT


@needs_kernel
@pytest.mark.kernel
def test_a_full_hash_map_is_e2big(hash_map):
    syscall.map_update(hash_map, key(1), bytes(8))
    syscall.map_update(hash_map, key(2), bytes(8))
    with pytest.raises(syscall.KernelError) as err:
        syscall.map_update(hash_map, key(3), bytes(8))
    assert err.value.errno == errno.E2BIG and "full" in err.value.advice
    syscall.map_update(hash_map, key(2), bytes(8))  # replacing needs no room


@needs_kernel
@pytest.mark.kernel
def test_get_next_key_walks_every_key_once(hash_map):
    assert syscall.map_get_next_key(hash_map, None, 4) is None
    syscall.map_update(hash_map, key(7), bytes(8))
    syscall.map_update(hash_map, key(9), bytes(8))
    keys, k = [], syscall.map_get_next_key(hash_map, None, 4)
    while k is not None:
        keys.append(int.from_bytes(k, "little"))
        k = syscall.map_get_next_key(hash_map, k, 4)
    assert sorted(keys) == [7, 9]
    # A key that is not in the map restarts the walk at the first key.
    assert syscall.map_get_next_key(hash_map, key(1), 4) == key(keys[0])


@needs_kernel
@pytest.mark.kernel
def test_array_map_semantics(array_map):
    assert syscall.map_lookup(array_map, key(2), 8) == bytes(8)  # preallocated, zeroed
    assert errno_of(syscall.map_lookup, array_map, key(3), 8) == errno.ENOENT
    assert errno_of(syscall.map_update, array_map, key(3), bytes(8)) == errno.E2BIG
    assert errno_of(syscall.map_update, array_map, key(0), bytes(8), BPF_NOEXIST) == errno.EEXIST
    assert errno_of(syscall.map_delete, array_map, key(0)) == errno.EINVAL
    assert syscall.map_get_next_key(array_map, key(1), 4) == key(2)
    assert syscall.map_get_next_key(array_map, key(2), 4) is None
    assert syscall.map_get_next_key(array_map, key(99), 4) == key(0)


@needs_kernel
@pytest.mark.kernel
def test_map_create_errors():
    assert errno_of(syscall.map_create, 9999, 4, 4, 1) == errno.EINVAL
    assert errno_of(syscall.map_create, MapType.BPF_MAP_TYPE_HASH, 0, 4, 1) == errno.EINVAL
    assert errno_of(syscall.map_create, MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 0) == errno.EINVAL


@needs_kernel
@pytest.mark.kernel
def test_map_info(hash_map):
    info = syscall.map_info(hash_map)
    assert (info.type, info.name, info.key_size, info.value_size, info.max_entries) == (
        MapType.BPF_MAP_TYPE_HASH, "hash", 4, 8, 2)
    assert info.id > 0


@needs_kernel
@pytest.mark.kernel
def test_bad_fd_is_ebadf():
    assert errno_of(syscall.map_lookup, 10_000, key(0), 4) == errno.EBADF
    assert errno_of(syscall.prog_test_run, 10_000, bytes(64)) == errno.EBADF


# -- programs ------------------------------------------------------------------

@needs_kernel
@pytest.mark.kernel
def test_a_refused_program_carries_the_verifier_log():
    with pytest.raises(syscall.KernelError) as err:
        load("r0 = r5\nexit")
    assert err.value.errno == errno.EACCES and err.value.cmd == "BPF_PROG_LOAD"
    assert "R5 !read_ok" in err.value.log
    assert "BPF_PROG_LOAD failed: EACCES" in str(err.value) and "R5 !read_ok" in str(err.value)


@needs_kernel
@pytest.mark.kernel
def test_prog_load_errors():
    unknown_opcode = bytes.fromhex("ff00000000000000" "9500000000000000")
    with pytest.raises(syscall.KernelError) as err:
        syscall.prog_load(SOCKET_FILTER, unknown_opcode)
    assert err.value.errno == errno.EINVAL and "unknown opcode ff" in err.value.log
    assert errno_of(syscall.prog_load, SOCKET_FILTER, b"") == errno.E2BIG
    assert errno_of(syscall.prog_load, 9999, encode(assemble("r0 = 0\nexit"))) == errno.EINVAL
    # A log buffer too small for the log: the kernel keeps its tail and says ENOSPC.
    with pytest.raises(syscall.KernelError) as err:
        load("r0 = r5\nexit", log_level=1, log_size=32)
    assert err.value.errno == errno.ENOSPC and len(err.value.log) < 32


@needs_kernel
@pytest.mark.kernel
def test_a_program_too_complex_to_verify_carries_the_log():
    # Trial division of 2..149 with constant bounds: the verifier walks every iteration and gives up
    # (the log is fetched by a retry at level 1). 6.18.44 says E2BIG, as our verifier does; earlier
    # 6.18 builds said EFAULT.
    with pytest.raises(syscall.KernelError) as err:
        load("""
            r6 = 2
        outer:
            r7 = 2
        inner:
            if r7 >= r6 goto next
            r8 = r6
            r8 %= r7
            if r8 == 0 goto next
            r7 += 1
            goto inner
        next:
            r6 += 1
            if r6 < 150 goto outer
            r0 = 0
            exit
        """)
    assert err.value.errno in (errno.E2BIG, errno.EFAULT) and "see the log" in err.value.advice
    assert "jumps is too complex" in err.value.log


@needs_kernel
@pytest.mark.kernel
def test_an_accepted_program_returns_its_log_when_asked():
    loaded = load("r0 = 0\nexit", log_level=2)
    try:
        assert "processed 2 insns" in loaded.log
    finally:
        syscall.close(loaded.fd)
    loaded = load("r0 = 0\nexit")
    syscall.close(loaded.fd)
    assert loaded.log == ""


@needs_kernel
@pytest.mark.kernel
def test_prog_info():
    code = encode(assemble("r0 = 7\nexit"))
    loaded = syscall.prog_load(SOCKET_FILTER, code, name="seven")
    try:
        info = syscall.prog_info(loaded.fd, xlated=True)
    finally:
        syscall.close(loaded.fd)
    assert (info.type, info.name, info.xlated) == (SOCKET_FILTER, "seven", code)
    assert info.xlated_prog_len == 16 and info.verified_insns == 2 and len(info.tag) == 16


@needs_kernel
@pytest.mark.kernel
def test_test_run_returns_retval_duration_and_data_out():
    loaded = load("r0 = 7\nexit")
    try:
        result = syscall.prog_test_run(loaded.fd, bytes(range(64)), repeat=100)
    finally:
        syscall.close(loaded.fd)
    assert result.retval == 7 and result.duration_ns >= 0
    # A socket filter sees the packet from the network header: the kernel hands
    # back the 14-byte Ethernet header zeroed (bpf_prog_test_run_skb, !is_l2).
    assert result.data_out == bytes(14) + bytes(range(14, 64))


@needs_kernel
@pytest.mark.kernel
def test_test_run_retval_is_the_low_32_bits_of_r0():
    loaded = load("r0 = 0x123456789abcdef0 ll\nexit")
    try:
        assert syscall.prog_test_run(loaded.fd, bytes(64)).retval == 0x9ABCDEF0
    finally:
        syscall.close(loaded.fd)


@needs_kernel
@pytest.mark.kernel
def test_an_xdp_program_writes_the_packet():
    loaded = load("""
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 8
        if r4 > r3 goto out
        r5 = 0x1122334455667788 ll
        *(u64 *)(r2 + 0) = r5
    out:
        r0 = 2
        exit
    """, XDP)
    try:
        result = syscall.prog_test_run(loaded.fd, bytes(32))
    finally:
        syscall.close(loaded.fd)
    assert result.retval == 2  # XDP_PASS
    assert result.data_out == (0x1122334455667788).to_bytes(8, "little") + bytes(24)


@needs_kernel
@pytest.mark.kernel
def test_test_run_ctx_in_and_out():
    loaded = load("r0 = *(u32 *)(r1 + 8)\nexit")  # skb->mark
    ctx = (bytes(8) + (7).to_bytes(4, "little")).ljust(SIZEOF_SK_BUFF, b"\0")
    try:
        result = syscall.prog_test_run(loaded.fd, bytes(64), ctx=ctx, ctx_out_size=SIZEOF_SK_BUFF)
        assert result.retval == 7 and result.ctx_out[8:12] == (7).to_bytes(4, "little")
        with pytest.raises(syscall.KernelError) as err:
            syscall.prog_test_run(loaded.fd, bytes(64), ctx=ctx, ctx_out_size=16)
        assert err.value.errno == errno.ENOSPC and "too small" in err.value.advice
    finally:
        syscall.close(loaded.fd)

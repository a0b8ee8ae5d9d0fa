"""LinuxKernel answers every Kernel protocol call on the running kernel, with the virtual kernel's shapes."""

from __future__ import annotations

import errno
import os

import pytest

from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.protocol import Kernel
from pybpf.uapi import MapType, ProgType
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel]
SOCKET_FILTER = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


def key(i: int) -> bytes:
    return i.to_bytes(4, "little")


@pytest.fixture
def kernel():
    from pybpf.kernel.linux import LinuxKernel
    return LinuxKernel()


@pytest.fixture
def hash_fd(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 16, name="h")
    yield fd
    kernel.close(fd)


def test_it_is_a_kernel(kernel):
    assert isinstance(kernel, Kernel) and kernel.ncpus >= 1


def test_element_calls(kernel, hash_fd):
    kernel.map_update(hash_fd, key(1), bytes([1] * 8))
    kernel.map_update(hash_fd, key(2), bytes([2] * 8))
    assert kernel.map_lookup(hash_fd, key(1)) == bytes([1] * 8)
    with pytest.raises(BpfError) as err:
        kernel.map_update(hash_fd, key(1), bytes(8), 1)  # BPF_NOEXIST
    assert err.value.errno == errno.EEXIST
    first = kernel.map_get_next_key(hash_fd, None)
    second = kernel.map_get_next_key(hash_fd, first)
    assert {first, second} == {key(1), key(2)} and kernel.map_get_next_key(hash_fd, second) is None
    assert kernel.map_lookup_and_delete(hash_fd, key(2)) == bytes([2] * 8)
    kernel.map_delete(hash_fd, key(1))
    with pytest.raises(BpfError) as err:
        kernel.map_lookup(hash_fd, key(1))
    assert err.value.errno == errno.ENOENT and "BPF_MAP_LOOKUP_ELEM" in str(err.value)


def test_batch_calls(kernel, hash_fd):
    pairs = [(key(i), i.to_bytes(8, "little")) for i in range(10)]
    assert kernel.map_update_batch(hash_fd, pairs) == 10
    got, token = kernel.map_lookup_batch(hash_fd, None, 4)
    rest, _ = kernel.map_lookup_batch(hash_fd, token, 100)
    assert token is not None and sorted(got + rest) == pairs
    assert kernel.map_delete_batch(hash_fd, [key(0), key(1)]) == 2
    drained, _ = kernel.map_lookup_batch(hash_fd, None, 100, delete=True)
    assert sorted(drained) == pairs[2:] and kernel.map_get_next_key(hash_fd, None) is None


def test_percpu_values_span_every_possible_cpu(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1)
    try:
        assert len(kernel.map_lookup(fd, key(0))) == 8 * kernel.ncpus
    finally:
        kernel.close(fd)


def test_freeze_makes_the_map_read_only(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1)
    try:
        kernel.map_update(fd, key(0), key(5))
        kernel.map_freeze(fd)
        assert kernel.map_lookup(fd, key(0)) == key(5)
        with pytest.raises(BpfError) as err:
            kernel.map_update(fd, key(0), key(6))
        assert err.value.errno == errno.EPERM and "frozen" in str(err.value)
    finally:
        kernel.close(fd)


def test_map_view_is_a_mapping(kernel, hash_fd):
    view = kernel.map(hash_fd)
    view[key(3)] = bytes(range(8))
    assert view.items() == [(key(3), bytes(range(8)))] and key(3) in view and len(view) == 1
    del view[key(3)]
    assert view.get(key(3)) is None and view.key_size == 4 and view.value_size == 8


def test_prog_load_test_run_and_log(kernel):
    code = assemble("r0 = 42\nexit")
    loaded = kernel.prog_load(SOCKET_FILTER, code, log_level=1, log_size=4096, name="answer")
    try:
        assert "processed 2 insns" in loaded.log
        assert kernel.prog_test_run(loaded.fd, bytes(64)).retval == 42
        info = kernel.info(loaded.fd)
        assert info["name"] == "answer" and info["type"] == SOCKET_FILTER and len(info["tag"]) == 16
        assert kernel.get_next_id("prog", info["id"] - 1) == info["id"]
        again = kernel.get_fd_by_id("prog", info["id"])
        assert kernel.info(again)["id"] == info["id"]
        kernel.close(again)
    finally:
        kernel.close(loaded.fd)


def test_log_buffer_rules_match_the_protocol(kernel):
    code = assemble("r0 = 0\nexit")
    for level, size in ((16, 4096), (0, 4096)):
        with pytest.raises(BpfError) as err:
            kernel.prog_load(SOCKET_FILTER, code, log_level=level, log_size=size)
        assert err.value.errno == errno.EINVAL
    with pytest.raises(BpfError) as err:
        kernel.prog_load(SOCKET_FILTER, assemble("r0 = 0\n" * 30 + "exit"), log_level=2, log_size=128)
    assert err.value.errno == errno.ENOSPC


def test_a_refused_program_carries_the_verifier_log(kernel):
    with pytest.raises(BpfError) as err:
        kernel.prog_load(SOCKET_FILTER, assemble("exit"))
    assert err.value.errno == errno.EACCES and "R0 !read_ok" in str(err.value)


def test_bad_map_flags_say_what_is_wrong(kernel):
    with pytest.raises(BpfError) as err:
        kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 1 << 30)
    assert err.value.errno == errno.EINVAL and "map_flags" in str(err.value)


def test_pin_and_get(kernel, hash_fd):
    if not os.path.isdir("/sys/fs/bpf"):
        pytest.skip("no bpffs at /sys/fs/bpf")
    if os.geteuid() == 0 and not os.path.ismount("/sys/fs/bpf"):
        import subprocess
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], capture_output=True)
    path = f"/sys/fs/bpf/pybpf_test_{os.getpid()}"
    try:
        kernel.obj_pin(hash_fd, path)
    except BpfError as err:
        pytest.skip(f"bpffs not usable: {err}")
    try:
        with pytest.raises(BpfError) as err:
            kernel.obj_pin(hash_fd, path)
        assert err.value.errno == errno.EEXIST and "unlink it first" in str(err.value)
        fd = kernel.obj_get(path)
        assert kernel.info(fd)["id"] == kernel.info(hash_fd)["id"]
        kernel.close(fd)
    finally:
        kernel.unpin(path)


def test_btf_load_and_info(kernel):
    import struct
    strings = b"\0int\0"
    types = struct.pack("<III", 1, 0x01000000, 4) + struct.pack("<I", 32 | (1 << 24))  # int, signed, 32 bits
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    fd = kernel.btf_load(header + types + strings)
    try:
        info = kernel.info(fd)
        assert info["btf_size"] == len(header + types + strings) and info["id"] > 0
    finally:
        kernel.close(fd)


def test_begin_runs_through_test_run(kernel):
    array = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    from pybpf.isa.insn import Insn
    from pybpf.isa.opcodes import BPF_PSEUDO_MAP_FD
    store_key = assemble("r1 = 0\n*(u32 *)(r10 - 4) = r1")
    lddw = [Insn(0x18, 1, BPF_PSEUDO_MAP_FD, 0, array, 0)]
    body = assemble("r2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto +2\nr1 = 7\n*(u64 *)(r0 + 0) = r1\n"
                    "r0 = 0\nexit")
    head, body = store_key + lddw, body
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SYSCALL, head + body).fd
    try:
        link = kernel.link_create(prog, "oneshot:BEGIN")
        assert kernel.trigger("BEGIN") == 1 and kernel.trigger("END") == 0
        assert kernel.map(array)[key(0)] == (7).to_bytes(8, "little")
        kernel.close(link)
        assert kernel.trigger("BEGIN") == 0
    finally:
        kernel.close(prog)
        kernel.close(array)


def test_a_pybpftrace_begin_probe_runs_on_linux(kernel):
    """bpftrace's BEGIN is a uprobe program; trigger runs its raw-tracepoint twin with BPF_PROG_TEST_RUN."""
    from pybpf import elf
    from pybpf.kernel.loader import load_object
    from pybpf.trace.compiler import compile_script

    compiled = compile_script("BEGIN { @a = 5; @b[3] = count(); }", cache=False)
    loaded = load_object(kernel, elf.load(compiled.elf))
    try:
        links = [kernel.link_create(loaded.prog_fds[name], "oneshot:BEGIN") for name, _ in compiled.programs]
        assert kernel.trigger("BEGIN") == 1
        plain = [v for _, v in kernel.map(loaded.map_fds["AT_a"]).items()]
        assert plain == [(5).to_bytes(8, "little")]
        assert kernel.info(loaded.map_fds["AT_b"])["type"] == MapType.BPF_MAP_TYPE_PERCPU_HASH  # count()
        (per_cpu,) = [v for _, v in kernel.map(loaded.map_fds["AT_b"]).items()]  # one u64 a possible CPU
        assert sum(int.from_bytes(per_cpu[i:i + 8], "little") for i in range(0, len(per_cpu), 8)) == 1
        for link in links:
            kernel.close(link)
    finally:
        for fd in loaded.fds():
            kernel.close(fd)

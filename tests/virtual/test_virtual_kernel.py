"""The virtual kernel's bpf() commands: results, errnos, and objects left consistent after errors."""

import errno

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm import VMFault
from support.unverified import load_unverified

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


@pytest.fixture
def kernel():
    return VirtualKernel(ncpus=2)


def errno_of(call, *args, **kw):
    with pytest.raises(BpfError) as err:
        call(*args, **kw)
    return err.value.errno


def counter_program(map_fd: int):
    return assemble(f"""
        r1 = 7
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto init
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        goto out
    init:
        r1 = 1
        *(u64 *)(r10 - 16) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
    out:
        r0 = 0
        exit
    """, helper_id=helper_id)


def test_programs_and_user_space_share_map_values(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 16, name="counts")
    prog = kernel.prog_load(SOCKET, counter_program(fd))
    for _ in range(5):
        assert kernel.prog_test_run(prog.fd, bytes(64)).retval == 0
    assert kernel.map_lookup(fd, (7).to_bytes(4, "little")) == (5).to_bytes(8, "little")
    assert dict(kernel.map(fd).items()) == {(7).to_bytes(4, "little"): (5).to_bytes(8, "little")}
    info = kernel.info(prog.fd)
    assert info["run_cnt"] == 5 and info["map_ids"] == [kernel.info(fd)["id"]]


def test_map_command_errnos(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    assert errno_of(kernel.map_create, 999, 4, 4, 1) == errno.EINVAL
    assert errno_of(kernel.map_create, MapType.BPF_MAP_TYPE_ARRAY, 8, 4, 1) == errno.EINVAL
    assert errno_of(kernel.map_lookup, 99, bytes(4)) == errno.EBADF
    assert errno_of(kernel.map_lookup, fd, bytes(8)) == errno.EINVAL
    assert errno_of(kernel.map_update, fd, (5).to_bytes(4, "little"), bytes(8)) == errno.E2BIG
    assert errno_of(kernel.map_update, fd, bytes(4), bytes(3)) == errno.EINVAL
    assert errno_of(kernel.map_delete, fd, bytes(4)) == errno.EINVAL
    kernel.map_update(fd, bytes(4), b"x" * 8)
    assert kernel.map_lookup(fd, bytes(4)) == b"x" * 8  # nothing stored was lost to the errors
    assert kernel.map_get_next_key(fd, (1).to_bytes(4, "little")) is None
    prog = kernel.prog_load(SOCKET, assemble("r0 = 0\nexit"))
    assert errno_of(kernel.map_lookup, prog.fd, bytes(4)) == errno.EINVAL


def test_prog_load_log_semantics(kernel):
    good = assemble("r0 = 1\nexit")
    bad = assemble("r0 = r5\nexit")
    assert errno_of(kernel.prog_load, SOCKET, good, log_level=1, log_size=16) == errno.ENOSPC  # no minimum size
    assert errno_of(kernel.prog_load, SOCKET, good, log_level=0, log_size=4096) == errno.EINVAL
    loaded = kernel.prog_load(SOCKET, good, log_level=1, log_size=4096)
    assert loaded.log.startswith("processed 2 insns (limit 1000000) max_states_per_insn")  # level 1: no trace
    with pytest.raises(BpfError) as err:
        kernel.prog_load(SOCKET, bad, log_level=1, log_size=4096)
    assert err.value.errno == errno.EACCES and "R5 !read_ok" in err.value.log
    assert errno_of(kernel.prog_load, SOCKET, bad, log_level=1, log_size=128) in (errno.ENOSPC, errno.EACCES)
    assert errno_of(kernel.prog_load, 999, good) == errno.EINVAL
    assert errno_of(kernel.prog_load, SOCKET, b"\x95\x00\x00\x00\x01\x00\x00\x00") == errno.EINVAL
    assert errno_of(kernel.prog_load, SOCKET, assemble("r1 = map[fd:42] ll\nr0 = 0\nexit")) == errno.EBADF


def test_test_run_checks_and_repeat(kernel):
    prog = kernel.prog_load(SOCKET, assemble("r6 = r1\nr0 = *(u8 *)skb[0]\nexit"))  # LD_ABS reads the skb in r6
    assert kernel.prog_test_run(prog.fd, bytes(14) + bytes([9]) + bytes(49), repeat=10).retval == 9  # from L3
    assert kernel.info(prog.fd)["run_cnt"] == 10
    assert errno_of(kernel.prog_test_run, prog.fd, bytes(10)) == errno.EINVAL
    tp = kernel.prog_load(ProgType.BPF_PROG_TYPE_TRACEPOINT, assemble("r0 = 0\nexit"))
    assert errno_of(kernel.prog_test_run, tp.fd, b"") == 524


def test_a_faulting_program_leaves_the_kernel_consistent(kernel):
    """prog_load refuses the program; if a verifier bug let it through, its fault would leave no trace."""
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1)
    kernel.map_update(fd, bytes(4), b"keep")
    unsafe = assemble("r1 = 4096\nr0 = *(u64 *)(r1 + 0)\nexit")
    assert errno_of(kernel.prog_load, SOCKET, unsafe) == errno.EACCES
    prog = load_unverified(kernel, SOCKET, unsafe)
    regions = len(list(kernel.mem))
    for _ in range(3):
        with pytest.raises(VMFault, match="pc 1"):
            kernel.prog_test_run(prog, bytes(64))
    assert len(list(kernel.mem)) == regions  # the packet and its context are gone
    assert kernel.map_lookup(fd, bytes(4)) == b"keep"


def test_ids_pins_and_close(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 4, 4, name="m")
    map_id = kernel.info(fd)["id"]
    assert kernel.get_next_id("map") == map_id and kernel.get_next_id("map", map_id) is None
    kernel.obj_pin(fd, "/sys/fs/bpf/m")
    assert errno_of(kernel.obj_pin, fd, "/sys/fs/bpf/m") == errno.EEXIST
    again = kernel.obj_get("/sys/fs/bpf/m")
    kernel.map_update(again, bytes(4), b"abcd")
    assert kernel.map_lookup(fd, bytes(4)) == b"abcd"
    kernel.close(fd)
    assert errno_of(kernel.close, fd) == errno.EBADF
    assert errno_of(kernel.obj_get, "/sys/fs/bpf/nope") == errno.ENOENT
    assert kernel.info(kernel.get_fd_by_id("map", map_id))["name"] == "m"


def test_timer_link_detaches_on_close(kernel):
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_PERF_EVENT, assemble("r0 = 0\nexit"))
    link = kernel.link_create(prog.fd, "timer", hz=1000)
    assert kernel.get_next_id("link") is not None
    kernel.close(link)
    assert kernel.get_next_id("link") is None
    assert errno_of(kernel.link_create, prog.fd, "nowhere") == errno.EINVAL


def test_batch_operations(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 4, 64)
    pairs = [(i.to_bytes(4, "little"), (i * 10).to_bytes(4, "little")) for i in range(10)]
    assert kernel.map_update_batch(fd, pairs) == 10
    seen, token = [], None
    while True:
        batch, token = kernel.map_lookup_batch(fd, token, 3)
        seen += batch
        if token is None or not batch:
            break
    assert sorted(seen) == sorted(pairs)
    assert kernel.map_delete_batch(fd, [k for k, _ in pairs[:4]]) == 4
    taken, _ = kernel.map_lookup_batch(fd, None, 100, delete=True)
    assert sorted(taken) == sorted(pairs[4:]) and len(kernel.map(fd)) == 0
    assert errno_of(kernel.map_lookup_batch, fd, None, 0) == errno.EINVAL
    assert errno_of(kernel.map_delete_batch, fd, [bytes(4)]) == errno.ENOENT


def test_map_in_map_lookup_gives_programs_the_inner_map(kernel):
    inner = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, name="inner")
    outer = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, name="outer", inner_map_fd=inner)
    kernel.map_update(outer, (1).to_bytes(4, "little"), inner.to_bytes(4, "little"))
    assert kernel.map_lookup(outer, (1).to_bytes(4, "little")) == kernel.info(inner)["id"].to_bytes(4, "little")
    prog = kernel.prog_load(SOCKET, assemble(f"""
        r1 = 1
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{outer}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = r0
        r2 = 0
        *(u32 *)(r10 - 8) = r2
        r2 = r10
        r2 += -8
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 99
        *(u64 *)(r0 + 0) = r1
    out:
        r0 = 0
        exit
    """, helper_id=helper_id))
    kernel.prog_test_run(prog.fd, bytes(64))
    assert kernel.map_lookup(inner, bytes(4)) == (99).to_bytes(8, "little")
    assert errno_of(kernel.map_update, outer, bytes(4), prog.fd.to_bytes(4, "little")) == errno.EINVAL
    assert errno_of(kernel.map_lookup, outer, bytes(4)) == errno.ENOENT


def test_the_virtual_kernel_answers_the_kernel_protocol(kernel):
    from pybpf.kernel.protocol import Kernel
    assert isinstance(kernel, Kernel)

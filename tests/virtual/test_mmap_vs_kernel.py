"""mmap of a BPF_F_MMAPABLE array: the values as one shared buffer, on the virtual kernel and on Linux."""

import errno
import mmap

import pytest

from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from support.kernel import needs_kernel
from support.programs import store_first_value

MMAPABLE, RDONLY = 1 << 10, 1 << 3
ARRAY = MapType.BPF_MAP_TYPE_ARRAY


def scenario(create, update, lookup, view_of):
    """Values written by update show in the mapping; writes to the mapping show in lookups."""
    fd = create(ARRAY, 4, 12, 3, MMAPABLE)
    update(fd, (1).to_bytes(4, "little"), b"hello world!")
    view = view_of(fd)
    seen = bytes(view[:48])
    view[32:36] = b"\x01\x02\x03\x04"  # element 2 starts at 32: values are 8-byte aligned (12 -> 16)
    return seen, lookup(fd, (2).to_bytes(4, "little"), 12)


def outcomes(create, view_of):
    results = {}
    for name, (map_type, flags, writable) in {"plain array": (ARRAY, 0, True), "hash": (MapType.BPF_MAP_TYPE_HASH,
                                              MMAPABLE, True), "read-only writable": (ARRAY, MMAPABLE | RDONLY, True),
                                              "read-only": (ARRAY, MMAPABLE | RDONLY, False)}.items():
        try:
            fd = create(map_type, 4, 8, 2, flags)
        except (BpfError, OSError) as err:
            results[name] = ("create", err.errno)
            continue
        try:
            view_of(fd, writable)
            results[name] = "ok"
        except (BpfError, OSError) as err:
            results[name] = err.errno
    return results


def virtual():
    kernel = VirtualKernel()
    return (kernel.map_create, kernel.map_update, lambda fd, key, size: kernel.map_lookup(fd, key),
            lambda fd, writable=True: kernel.map_mmap(fd, writable)), kernel


def test_mapping_is_shared_with_lookups_and_programs():
    (create, update, lookup, view_of), kernel = virtual()
    seen, after = scenario(create, update, lookup, view_of)
    assert seen == bytes(16) + b"hello world!" + bytes(20) and after == b"\x01\x02\x03\x04" + bytes(8)
    fd = create(ARRAY, 4, 8, 1, MMAPABLE)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, store_first_value(fd, 77))
    view = view_of(fd)
    kernel.prog_test_run(prog.fd, bytes(64))
    assert int.from_bytes(view[:8], "little") == 77  # the program wrote what user space sees


def test_what_cannot_be_mapped():
    (create, _, _, view_of), _ = virtual()
    assert outcomes(create, view_of) == {"plain array": errno.EINVAL, "hash": ("create", errno.EINVAL),
                                         "read-only writable": errno.EACCES, "read-only": errno.EINVAL}
    with pytest.raises(BpfError) as refused:
        view_of(create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 2, 0))
    assert refused.value.errno == errno.ENODEV


@needs_kernel
@pytest.mark.kernel
def test_same_as_linux():
    from pybpf.kernel.linux import syscall

    def view_of(fd, writable=True):
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        return memoryview(mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, prot))

    linux = scenario(syscall.map_create, syscall.map_update, syscall.map_lookup, view_of)
    (create, update, lookup, v), _ = virtual()
    assert scenario(create, update, lookup, v) == linux
    assert outcomes(create, v) == outcomes(syscall.map_create, view_of)

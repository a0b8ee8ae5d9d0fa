"""What user space may do with a map: BPF_F_RDONLY, BPF_F_WRONLY and BPF_MAP_FREEZE, as Linux answers."""

import errno
import mmap

import pytest

from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import BpfCmd, MapType
from support.kernel import needs_kernel
from support.programs import store_first_value

RDONLY, WRONLY, MMAPABLE = 1 << 3, 1 << 4, 1 << 10
KEY, VALUE = bytes(4), bytes(8)


def commands(k):
    """name -> callable(fd) for every user-space map command, over a kernel-like namespace k."""
    return {
        "update": lambda fd: k.update(fd, KEY, VALUE),
        "lookup": lambda fd: k.lookup(fd, KEY),
        "next key": lambda fd: k.next_key(fd),
        "delete": lambda fd: k.delete(fd, KEY),
        "lookup and delete": lambda fd: k.lookup_and_delete(fd, KEY),
        "freeze": lambda fd: k.freeze(fd),
    }


def table(k) -> dict:
    results = {}
    for name, flags in (("rdonly", RDONLY), ("wronly", WRONLY), ("plain", 0), ("frozen", "frozen")):
        for command, call in commands(k).items():
            fd = k.create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 4, 0 if flags == "frozen" else flags)
            if flags == "frozen":
                k.freeze(fd)
            try:
                call(fd)
                results[name, command] = "ok"
            except (BpfError, OSError) as err:
                results[name, command] = errno.errorcode[err.errno]
    fd = k.create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4, MMAPABLE)
    k.freeze(fd)
    for writable in (True, False):
        try:
            k.mmap(fd, writable)
            results["frozen", f"mmap writable={writable}"] = "ok"
        except (BpfError, OSError) as err:
            results["frozen", f"mmap writable={writable}"] = errno.errorcode[err.errno]
    return results


class Virtual:
    def __init__(self):
        kernel = self.kernel = VirtualKernel()
        self.create, self.update, self.delete = kernel.map_create, kernel.map_update, kernel.map_delete
        self.lookup, self.freeze, self.mmap = kernel.map_lookup, kernel.map_freeze, kernel.map_mmap
        self.lookup_and_delete = kernel.map_lookup_and_delete
        self.next_key = lambda fd: kernel.map_get_next_key(fd, None)


class Linux:
    def __init__(self):
        from pybpf.kernel.linux import syscall
        from pybpf.kernel.linux.attr import MapElemAttr

        self.create, self.update, self.delete = syscall.map_create, syscall.map_update, syscall.map_delete
        self.lookup = lambda fd, key: syscall.map_lookup(fd, key, 8)
        self.lookup_and_delete = lambda fd, key: syscall.map_lookup_and_delete(fd, key, 8)
        self.next_key = lambda fd: syscall.map_get_next_key(fd, None, 4)
        self.freeze = lambda fd: syscall.bpf(BpfCmd.BPF_MAP_FREEZE, MapElemAttr(map_fd=fd))
        self.mmap = lambda fd, writable: mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED,
                                                   mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0))


EXPECTED = {
    ("rdonly", "update"): "EPERM", ("rdonly", "lookup"): "ENOENT", ("rdonly", "next key"): "ok",
    ("rdonly", "delete"): "EPERM", ("rdonly", "lookup and delete"): "EPERM", ("rdonly", "freeze"): "EPERM",
    ("wronly", "update"): "ok", ("wronly", "lookup"): "EPERM", ("wronly", "next key"): "EPERM",
    ("wronly", "delete"): "ENOENT", ("wronly", "lookup and delete"): "EPERM", ("wronly", "freeze"): "ok",
    ("plain", "update"): "ok", ("plain", "lookup"): "ENOENT", ("plain", "next key"): "ok",
    ("plain", "delete"): "ENOENT", ("plain", "lookup and delete"): "ENOENT", ("plain", "freeze"): "ok",
    ("frozen", "update"): "EPERM", ("frozen", "lookup"): "ENOENT", ("frozen", "next key"): "ok",
    ("frozen", "delete"): "EPERM", ("frozen", "lookup and delete"): "EPERM", ("frozen", "freeze"): "EPERM",
    ("frozen", "mmap writable=True"): "EPERM", ("frozen", "mmap writable=False"): "ok",
}


def test_permissions_on_the_virtual_kernel():
    assert table(Virtual()) == EXPECTED


def test_programs_still_write_a_frozen_map():
    from pybpf.uapi import ProgType

    k = Virtual()
    fd = k.create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0)
    k.freeze(fd)
    prog = k.kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, store_first_value(fd, 5))
    k.kernel.prog_test_run(prog.fd, bytes(64))
    assert k.lookup(fd, KEY) == (5).to_bytes(8, "little")


@needs_kernel
@pytest.mark.kernel
def test_permissions_match_linux():
    assert table(Virtual()) == table(Linux())


def test_the_loader_freezes_read_only_data():
    from pybpf import elf
    from pybpf.kernel.loader import load_object
    from support.objects import object_path

    k = Virtual()
    loaded = load_object(k.kernel, elf.load(object_path("maps")))
    rodata = loaded.map_fds[".rodata"]
    assert int.from_bytes(k.lookup(rodata, KEY)[:4], "little") == 100  # const volatile __u32 threshold = 100
    with pytest.raises(BpfError) as refused:
        k.update(rodata, KEY, bytes(4))
    assert refused.value.errno == errno.EPERM
    k.update(loaded.map_fds[".data"], KEY, bytes(8))  # .data stays writable

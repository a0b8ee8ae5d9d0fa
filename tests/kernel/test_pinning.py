"""Maps pinned by name (LIBBPF_PIN_BY_NAME): the first load pins the map at /sys/fs/bpf/NAME, the next one
reuses it, a pinned map that does not match the definition is an error, a failed load unpins what it
pinned.  On both kernels (Linux: needs bpffs at /sys/fs/bpf)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pybpf import elf
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual import VirtualKernel
from support.kernel import AVAILABLE, REASON

SOURCE = """
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
char LICENSE[] SEC("license") = "GPL";
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
struct {
	__uint(type, 2);
	__uint(max_entries, %d);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, 1);
} pybpf_pin_test_%d SEC(".maps");
SEC("syscall")
int bump(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pybpf_pin_test_%d, &zero);
	if (v)
		*v += 1;
	return 0;
}
"""


def kernels():
    out = [pytest.param("virtual", id="virtual")]
    linux_ok = AVAILABLE and os.path.ismount("/sys/fs/bpf")
    out.append(pytest.param("linux", id="linux", marks=[pytest.mark.kernel, pytest.mark.skipif(
        not linux_ok, reason=f"needs bpf() and bpffs at /sys/fs/bpf ({REASON})")]))
    return out


def make_kernel(name: str):
    if name == "virtual":
        return VirtualKernel()
    from pybpf.kernel.linux import LinuxKernel
    return LinuxKernel()


def build(tmp_path, max_entries: int = 1, tag: int = 0):
    source, out = tmp_path / f"pin{max_entries}.c", tmp_path / f"pin{max_entries}.o"
    source.write_text(SOURCE % (max_entries, os.getpid() % 10000 + tag, os.getpid() % 10000 + tag))
    subprocess.run(["clang-14", "-O2", "-g", "-target", "bpf", "-c", str(source), "-o", str(out)], check=True)
    return elf.load(out)


@pytest.mark.skipif(shutil.which("clang-14") is None, reason="needs clang-14 to build the object")
@pytest.mark.parametrize("which", kernels())
def test_a_pinned_map_is_reused_by_the_next_load(tmp_path, which):
    kernel = make_kernel(which)
    obj = build(tmp_path)
    name = obj.maps[0].name
    path = f"/sys/fs/bpf/{name}"
    first = load_object(kernel, obj)
    try:
        assert first.pinned == [path]
        kernel.prog_test_run(first.prog_fds["bump"])
        second = load_object(kernel, build(tmp_path))
        assert second.pinned == []  # reused, not pinned again
        kernel.prog_test_run(second.prog_fds["bump"])
        assert kernel.info(second.map_fds[name])["id"] == kernel.info(first.map_fds[name])["id"]
        assert kernel.map_lookup(first.map_fds[name], bytes(4)) == (2).to_bytes(8, "little")
        for fd in second.fds():
            kernel.close(fd)
        with pytest.raises(BpfError) as err:  # the same name, another max_entries
            load_object(kernel, build(tmp_path, max_entries=2))
        assert f"map '{name}': the map pinned at {path}" in str(err.value)
        assert "does not match its definition" in str(err.value)
    finally:
        for fd in first.fds():
            kernel.close(fd)
        kernel.unpin(path)


@pytest.mark.skipif(shutil.which("clang-14") is None, reason="needs clang-14 to build the object")
@pytest.mark.parametrize("which", kernels())
def test_a_failed_load_unpins_what_it_pinned(tmp_path, which):
    kernel = make_kernel(which)
    obj = build(tmp_path, tag=1)
    obj.programs[0].insns = obj.programs[0].insns[:-1]  # no exit: refused by both kernels
    path = f"/sys/fs/bpf/{obj.maps[0].name}"
    with pytest.raises(BpfError):
        load_object(kernel, obj)
    with pytest.raises(BpfError) as err:
        kernel.obj_get(path)
    assert err.value.errno == 2  # ENOENT: nothing left pinned

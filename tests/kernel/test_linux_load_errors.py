"""A refused object on Linux: an ill-typed .BTF, func_info that does not match the sub-programs, a global
function the kernel refuses against its BTF signature.  Each error names the object or program and carries
the kernel's log, and nothing of the attempt stays loaded: no fd of ours, no map, program or BTF of ours in
the kernel's id lists."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from pybpf import elf
from pybpf.elf.btf_fixup import kernel_btf
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel]
DATA = Path(__file__).parent.parent / "data" / "elf"
CLANG = shutil.which("clang-14") or shutil.which("clang")


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def ids(kernel, kind: str) -> set[int]:
    out, current = set(), 0
    while (current := kernel.get_next_id(kind, current)) is not None:
        out.add(current)
    return out


def btf_bytes(kernel, btf_id: int) -> bytes | None:
    from pybpf.kernel.linux.inspect import btf_data
    try:
        return btf_data(btf_id)
    except BpfError:
        return None  # gone since it was listed


def ours_left(kernel, obj, before: dict[str, set[int]], raw_btf: bytes | None) -> list[str]:
    """Maps of obj's names, its programs, and BTF equal to its own, created since `before` and still there.
    The kernel drops a map's BTF reference in deferred work, so BTF gets a moment to go."""
    names = {m.name[:15] for m in obj.maps} | {p.name[:15] for p in obj.programs}
    left = []
    for kind in ("map", "prog"):
        for object_id in ids(kernel, kind) - before[kind]:
            try:
                fd = kernel.get_fd_by_id(kind, object_id)
            except BpfError:
                continue  # gone since it was listed
            if kernel.info(fd)["name"] in names:
                left.append(f"{kind} {object_id}")
            kernel.close(fd)
    for _ in range(100):
        btfs = [f"btf {i}" for i in ids(kernel, "btf") - before["btf"] if btf_bytes(kernel, i) == raw_btf]
        if not btfs:
            break
        time.sleep(0.02)
    return left + btfs


def refused(obj):
    """Load obj on Linux expecting a refusal: (the error, what of ours is left)."""
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    before = {kind: ids(kernel, kind) for kind in ("map", "prog", "btf")}
    fds = open_fds()
    with pytest.raises(BpfError) as err:
        load_object(kernel, obj)
    assert open_fds() == fds
    return err.value, ours_left(kernel, obj, before, kernel_btf(obj) if obj.btf is not None else None)


def test_an_ill_typed_btf_is_refused_with_the_kernels_log():
    obj = elf.load(DATA / "maps.o")
    event = obj.btf.find("event", "STRUCT")
    raw = bytearray(obj.btf.type_data)
    struct.pack_into("<I", raw, event.position + 8, 2)  # struct event of 2 bytes, its members past its end
    obj.btf.type_data = bytes(raw)
    err, left = refused(obj)
    assert err.command == "BPF_BTF_LOAD" and "maps.o: the kernel refused the object's .BTF" in str(err)
    assert str(err).splitlines()[0].endswith("ts type_id=11 bits_offset=64 Member bits_offset exceeds its struct size")
    assert "STRUCT event size=2 vlen=3" in err.log
    assert left == []


def test_func_info_that_misses_a_sub_program_names_the_program():
    obj = elf.load(DATA / "progs.o")
    prog = obj.get_program("count_bytes")
    assert len(prog.func_info) == 2 and prog.subprograms == ["mix"]
    prog.func_info = prog.func_info[:1]  # mix has no record now
    err, left = refused(obj)
    assert err.command == "BPF_PROG_LOAD" and "program 'count_bytes' (socket)" in str(err)
    assert "func_info does not match its sub-programs" in str(err) and "func_info" in err.log
    assert left == []


def test_a_func_info_type_that_is_no_function_is_refused():
    obj = elf.load(DATA / "progs.o")
    prog = obj.get_program("xdp_pass")
    not_a_func = obj.btf.find("xdp_md", "STRUCT").id
    prog.func_info = [(0, not_a_func)]
    err, left = refused(obj)
    assert "program 'xdp_pass' (xdp): the program's func_info does not match" in str(err)
    assert "invalid type id 15 in func info" in err.log
    assert left == []


GLOBAL_DEREF = """
typedef unsigned int __u32;
#define SEC(name) __attribute__((section(name), used))
char LICENSE[] SEC("license") = "GPL";
struct __sk_buff { __u32 len; };
%s __attribute__((noinline)) int first(int *p) { return *p; }
SEC("socket") int deref(struct __sk_buff *skb) { int x = skb->len; return first(&x); }
"""


@pytest.mark.skipif(CLANG is None, reason="needs clang-14 to build the global-function objects")
@pytest.mark.parametrize("linkage", ["static", ""])
def test_a_global_function_is_verified_against_its_btf_signature(tmp_path, linkage):
    """Linux verifies a global function on its own, its pointer argument possibly NULL as its BTF type
    allows: reading it unchecked is refused; the same code as a static function is verified in its caller."""
    from pybpf.kernel.linux import LinuxKernel

    source, out = tmp_path / "deref.c", tmp_path / "deref.o"
    source.write_text(GLOBAL_DEREF % linkage)
    subprocess.run([CLANG, "-O2", "-g", "-target", "bpf", "-c", str(source), "-o", str(out)], check=True)
    obj = elf.load(out)
    if linkage == "static":
        kernel = LinuxKernel()
        loaded = load_object(kernel, obj)
        try:
            assert kernel.prog_test_run(loaded.prog_fds["deref"], bytes(64)).retval == 50  # len past the Ethernet header
        finally:
            for fd in loaded.fds():
                kernel.close(fd)
        return
    err, left = refused(obj)
    assert "program 'deref' (socket)" in str(err)
    assert "Validating first() func#1..." in err.log  # on its own, from its BTF signature: int *p, 4 bytes
    assert "R1=mem_or_null(id=1,sz=4)" in err.log and "R1 invalid mem access 'mem_or_null'" in err.log
    assert "; __attribute__((noinline)) int first(int *p) { return *p; } @ deref.c:6" in err.log  # line_info
    assert left == []

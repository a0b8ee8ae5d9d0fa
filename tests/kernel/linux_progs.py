"""BPF programs and helpers shared by the tests of pybpf.kernel.linux attach and events."""

from __future__ import annotations

import os
import platform
import shutil
import threading
import subprocess
import tempfile

from pybpf.helpers import helper_id
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.uapi import MapType

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "linux")


def load(prog_type: int, source: str, name: str = "pybpf_test") -> int:
    return syscall.prog_load(prog_type, encode(assemble(source, helper_id=helper_id)), name=name).fd


def counter_map(entries: int = 2) -> int:
    return syscall.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, entries, name="counts")


def read_counter(fd: int, index: int = 0) -> int:
    return int.from_bytes(syscall.map_lookup(fd, index.to_bytes(4, "little"), 8), "little")


def _bump(map_fd: int, index: int, label: str) -> str:
    """Assembly adding 1 to counter `index` of map_fd (clobbers r1-r5, r0)."""
    return f"""
        r1 = {index}
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto {label}
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
    {label}:"""


def pid_filter(label: str, pid: int | None = None) -> str:
    """Jump to label unless the current tgid is pid; by default unless the current thread is ours
    (other threads of the test process make syscalls too)."""
    if pid is None:
        return f"""
        call bpf_get_current_pid_tgid
        r0 <<= 32
        r0 >>= 32
        if r0 != {threading.get_native_id()} goto {label}"""
    return f"""
        call bpf_get_current_pid_tgid
        r0 >>= 32
        if r0 != {pid} goto {label}"""


# getppid(2)'s number, for raw tracepoints that see every syscall.
NR_GETPPID = {"x86_64": 110, "aarch64": 173}.get(platform.machine())


def counting_prog(prog_type: int, map_fd: int, *, pid: int | None = -1, name: str = "pybpf_count",
                  syscall_nr: int | None = None) -> int:
    """A program adding 1 to counter 0 on every run (only for process pid unless pid is -1, only for our
    thread with pid None; only for syscall number syscall_nr on a raw sys_enter tracepoint)."""
    filt = "" if pid == -1 else pid_filter("out", pid)
    if syscall_nr is not None:
        filt = f"""
        r6 = r1
        {filt}
        r1 = *(u64 *)(r6 + 8)
        if r1 != {syscall_nr} goto out"""
    return load(prog_type, f"""{filt}
        {_bump(map_fd, 0, "out")}
        r0 = 0
        exit""", name)


def build_probed(tmp: str, *, sdt: str = "", frame_pointers: bool = False) -> str:
    """tests/data/linux/probed.c built with gcc into tmp; its USDT probe from sys/sdt.h (sdt="sdt.h"),
    from its own inline assembly (sdt="asm", x86-64), or none.  With frame_pointers, unoptimised with frame
    pointers, so that the kernel's user stack walk finds main under pybpf_add."""
    out = os.path.join(tmp, "probed")
    flags = {"": [], "sdt.h": ["-DHAVE_SDT"], "asm": ["-DHAVE_ASM_SDT"]}[sdt]
    flags += ["-O0", "-fno-omit-frame-pointer"] if frame_pointers else ["-O2"]
    subprocess.run(["gcc", *flags, "-o", out, os.path.join(DATA, "probed.c")], check=True)
    return out


def have_gcc() -> bool:
    return shutil.which("gcc") is not None


def have_sdt() -> bool:
    if not have_gcc():
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("#include <sys/sdt.h>\nint main(void){STAP_PROBE(a,b);return 0;}\n")
        return subprocess.run(["gcc", "-o", os.path.join(tmp, "t"), src], capture_output=True).returncode == 0

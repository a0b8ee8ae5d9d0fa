"""CO-RE against the running kernel's BTF: a program written against its own idea of task_struct reads the
real pid and tgid once the loader has applied its BTF.ext relocations from /sys/kernel/btf/vmlinux."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path

import pytest

from pybpf import elf
from pybpf.elf.btf import Btf
from pybpf.kernel.loader import load_object
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel]
SOURCE = Path(__file__).parent / "data" / "core_task.c"
VMLINUX = "/sys/kernel/btf/vmlinux"


@pytest.fixture(scope="module")
def task_object(tmp_path_factory):
    clang = shutil.which("clang-14") or shutil.which("clang")
    if clang is None:
        pytest.skip("needs clang-14 to build the CO-RE test object")
    if not os.path.exists(VMLINUX):
        pytest.skip(f"needs the kernel's BTF at {VMLINUX}")
    out = tmp_path_factory.mktemp("core") / "core_task.o"
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-c", str(SOURCE), "-o", str(out)], check=True)
    return elf.load(out)


def globals_of(kernel, loaded) -> dict[str, int]:
    bss = next(m for m in loaded.obj.maps if m.section == ".bss")
    data = kernel.map_lookup(loaded.map_fds[bss.name], bytes(4))
    return {s.name: struct.unpack_from("<Q", data, s.value)[0]
            for s in loaded.obj.symbols if s.section == ".bss" and s.type == "STT_OBJECT"}


def test_task_struct_fields_read_the_running_task(task_object):
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    loaded = load_object(kernel, task_object)
    seen = {}
    try:
        def run():  # in a thread, so that its pid (the thread id) differs from the tgid
            seen["tid"] = threading.get_native_id()
            kernel.prog_test_run(loaded.prog_fds["read_task"])
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        values = globals_of(kernel, loaded)
    finally:
        for fd in loaded.fds():
            kernel.close(fd)
    assert seen["tid"] != os.getpid()
    assert values == {"out_pid": seen["tid"], "out_tgid": os.getpid(), "out_size": 4, "out_exists": 1}


def test_relocation_values_follow_the_kernel_layout(task_object):
    from pybpf.kernel.linux.btf_vmlinux import vmlinux_btf
    from pybpf.kernel.core import relocation_value

    target = vmlinux_btf()
    task = target.btf[target.candidates("STRUCT", "task_struct")[0]]
    pid = next(m for m in task.members if m.name == "pid")
    prog = task_object.programs[0]
    offsets = {relo.access: relocation_value(task_object.btf, target, relo)
               for _, relo in prog.core_relos if relo.kind == 0}
    assert offsets["0:2"] == pid.offset // 8 and offsets["0:2"] != 3 * 8 + 4  # not the local layout


def test_a_missing_field_poisons_its_instruction():
    from pybpf.elf.btf_ext import CoreRelo
    from pybpf.kernel.linux.btf_vmlinux import vmlinux_btf
    from pybpf.kernel.core import POISON, relocate
    from pybpf.isa.insn import Insn
    from pybpf.elf.obj import Program

    strings = b"\0task_struct\0no_such_member\0int\0"
    import struct as s
    types = (s.pack("<III", 28, 0x01000000, 4) + s.pack("<I", 32 | (1 << 24))  # 1: int
             + s.pack("<III", 1, 0x04000001, 4) + s.pack("<III", 13, 1, 0))   # 2: struct task_struct {int no_such..}
    header = s.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    local = Btf.parse(header + types + strings)
    prog = Program("p", "kprobe/x", 2, 0, "", False, [Insn(0x61, 0, 1, 0, 0), Insn(0x95)],
                   core_relos=[(0, CoreRelo(0, 2, "0:0", 0))])
    patched = relocate(prog, local, vmlinux_btf())
    assert patched[0] == Insn(0x85, 0, 0, 0, POISON) and patched[1] == Insn(0x95)

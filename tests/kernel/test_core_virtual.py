"""CO-RE on the virtual kernel: its own task record answers for struct task_struct, the host's BTF for
existence and enum values, and a layout it does not have is a load error naming the relocation."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path

import pytest

from pybpf import elf
from pybpf.elf.btf_ext import CoreRelo
from pybpf.kernel.core import KIND, Unmodeled, relocation_value
from pybpf.kernel.core_virtual import VirtualTarget, virtual_target
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual import VirtualKernel

SOURCES = Path(__file__).parent / "data"
ELF = Path(__file__).parent.parent / "data" / "elf"
CLANG = shutil.which("clang-14") or shutil.which("clang")
needs_clang = pytest.mark.skipif(CLANG is None, reason="needs clang-14 to build the CO-RE test objects")


def build(tmp_path, name: str):
    out = tmp_path / f"{name}.o"
    subprocess.run([CLANG, "-O2", "-g", "-target", "bpf", "-I", str(ELF), "-c", str(SOURCES / f"{name}.c"),
                    "-o", str(out)], check=True)
    return elf.load(out)


@needs_clang
def test_task_struct_fields_read_the_virtual_task(tmp_path):
    kernel = VirtualKernel()
    loaded = load_object(kernel, build(tmp_path, "core_task"))
    seen = {}

    def run():  # in a thread, so that its pid (the thread id) differs from the tgid
        seen["tid"] = threading.get_native_id()
        kernel.prog_test_run(loaded.prog_fds["read_task"])
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    bss = next(m for m in loaded.obj.maps if m.section == ".bss")
    values = struct.unpack("<4Q", kernel.map_lookup(loaded.map_fds[bss.name], bytes(4)))
    assert seen["tid"] != os.getpid()
    assert values == (seen["tid"], os.getpid(), 4, 1)  # out_pid, out_tgid, sizeof pid, tgid exists


@needs_clang
def test_existence_and_enum_values_come_from_the_host(tmp_path):
    target = virtual_target()
    if target.host is None:
        pytest.skip("needs the host's /sys/kernel/btf/vmlinux")
    kernel = VirtualKernel()
    loaded = load_object(kernel, build(tmp_path, "core_exists"))
    kernel.prog_test_run(loaded.prog_fds["core_exists"])
    bss = next(m for m in loaded.obj.maps if m.section == ".bss")
    out = struct.unpack("<8Q", kernel.map_lookup(loaded.map_fds[bss.name], bytes(4)))
    # task_struct.pid exists, .no_such_member_pybpf does not, task_struct exists, no_such_type_pybpf does
    # not, BPF_MAP_TYPE_RINGBUF is 27 (not the local 1000), BPF_MAP_TYPE_NO_SUCH_PYBPF does not exist
    assert out[:6] == (1, 0, 1, 0, 27, 0)


def test_a_layout_the_virtual_kernel_lacks_is_an_error_naming_the_relocation():
    obj = elf.load(ELF / "core.o")
    with pytest.raises(BpfError) as err:
        load_object(VirtualKernel(), obj)
    assert "program 'trace_exit' (kprobe/do_exit)" in str(err.value)
    assert "field_byte_offset struct mm_struct.total_vm (0:0)" in str(err.value)
    assert "the virtual kernel has no layout of mm_struct" in str(err.value)


def test_the_targets_each_kind_asks():
    model_only = VirtualTarget(host=None)
    local = elf.load(ELF / "core.o").btf
    task = local.find("task_struct", "STRUCT").id
    offset_of_tgid = CoreRelo(0, task, "0:1", KIND["FIELD_BYTE_OFFSET"])
    assert relocation_value(local, model_only, offset_of_tgid) == 4  # the virtual record's tgid
    mm = local.find("mm_struct", "STRUCT").id
    assert relocation_value(local, model_only, CoreRelo(0, mm, "0", KIND["TYPE_EXISTS"])) == 0
    with pytest.raises(Unmodeled):
        relocation_value(local, model_only, CoreRelo(0, mm, "0", KIND["TYPE_SIZE"]))

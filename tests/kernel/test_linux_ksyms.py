"""`__ksym` externs on Linux: kfuncs by their BTF id, typeless kernel symbols by their kallsyms address,
typed kernel variables by their BTF id; a weak one the kernel lacks reads as 0, a strong one is an error
naming it, and the virtual kernel (no kernel symbols) refuses them all by name."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest

from pybpf import elf
from pybpf.kernel import kconfig
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual import VirtualKernel
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel,
              pytest.mark.skipif(shutil.which("clang-14") is None, reason="needs clang-14 to build the objects")]
HEAD = """
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))
char LICENSE[] SEC("license") = "GPL";
struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static void *(*bpf_this_cpu_ptr)(const void *p) = (void *)154;
__u64 out[4];
"""
KFUNCS = HEAD + """
extern const void _stext __ksym;                      /* typeless: its /proc/kallsyms address */
extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_no_such_kfunc_pybpf(void) __ksym __weak;
extern const int no_such_variable_pybpf __ksym __weak;
SEC("syscall")
int ksyms(void *ctx)
{
	out[0] = (__u64)&_stext;
	struct task_struct *t = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);
	if (t) {
		out[1] = t->tgid;
		bpf_task_release(t);
	}
	if (bpf_no_such_kfunc_pybpf)
		bpf_no_such_kfunc_pybpf();
	out[2] = (__u64)&no_such_variable_pybpf;
	return 0;
}
"""
STRONG_MISSING = HEAD + """
extern void bpf_no_such_kfunc_pybpf(void) __ksym;
SEC("syscall") int missing(void *ctx) { bpf_no_such_kfunc_pybpf(); return 0; }
"""
TYPED = HEAD + """
extern const int bpf_prog_active __ksym;              /* typed: the verifier knows it is an int */
SEC("syscall") int typed(void *ctx) { out[0] = *(const int *)bpf_this_cpu_ptr(&bpf_prog_active) + 1; return 0; }
"""


def build(tmp_path, name: str, source: str):
    (tmp_path / f"{name}.c").write_text(source)
    subprocess.run(["clang-14", "-O2", "-g", "-target", "bpf", "-c", str(tmp_path / f"{name}.c"), "-o",
                    str(tmp_path / f"{name}.o")], check=True)
    return elf.load(tmp_path / f"{name}.o")


def run(obj, program: str) -> tuple[int, ...]:
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    loaded = load_object(kernel, obj)
    try:
        kernel.prog_test_run(loaded.prog_fds[program])
        bss = next(m for m in obj.maps if m.section == ".bss")
        return struct.unpack("<4Q", kernel.map_lookup(loaded.map_fds[bss.name], bytes(4)))
    finally:
        for fd in loaded.fds():
            kernel.close(fd)


def kallsyms(name: str) -> int:
    with open("/proc/kallsyms") as f:
        return next(int(line.split()[0], 16) for line in f if line.split()[2] == name)


def test_kfuncs_and_typeless_symbols_resolve(tmp_path):
    obj = build(tmp_path, "kfuncs", KFUNCS)
    kinds = {(r.kind, r.symbol) for r in obj.programs[0].relocations if r.kind in ("ksym", "kfunc")}
    assert ("kfunc", "bpf_task_from_pid") in kinds and ("ksym", "_stext") in kinds
    out = run(obj, "ksyms")
    assert out[:3] == (kallsyms("_stext"), os.getpid(), 0)


def test_a_missing_strong_kfunc_is_an_error_naming_it(tmp_path):
    from pybpf.kernel.linux import LinuxKernel

    obj = build(tmp_path, "missing", STRONG_MISSING)
    with pytest.raises(BpfError) as err:
        load_object(LinuxKernel(), obj)
    assert str(err.value) == ("ksym: ENOENT (No such file or directory): program 'missing' (syscall): extern "
                              "kernel function 'bpf_no_such_kfunc_pybpf' __ksym is not in the kernel's BTF")


def test_the_virtual_kernel_refuses_ksyms_by_name(tmp_path):
    obj = build(tmp_path, "kfuncs", KFUNCS)
    with pytest.raises(BpfError) as err:
        load_object(VirtualKernel(), obj)
    assert "extern '_stext' __ksym: this kernel has no kernel symbols" in str(err.value)


def test_a_typed_kernel_variable(tmp_path):
    """A typed ksym is its BTF VAR; the kernel finds its address only with CONFIG_KALLSYMS_ALL."""
    obj = build(tmp_path, "typed", TYPED)
    config = kconfig.kernel_config()
    if config is not None and config[1].get("CONFIG_KALLSYMS_ALL") == "y":
        assert run(obj, "typed")[0] >= 1
        return
    with pytest.raises(BpfError) as err:
        run(obj, "typed")
    assert "program 'typed' (syscall)" in str(err.value)
    assert "ldimm64 failed to find the address for kernel symbol 'bpf_prog_active'" in err.value.log


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="needs bpftool to compare with")
def test_xlated_kfunc_calls_print_as_bpftool_prints_them(tmp_path, capsys):
    from pybpf.cli.main import main
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    loaded = load_object(kernel, build(tmp_path, "kfuncs", KFUNCS))
    try:
        prog = str(kernel.info(loaded.prog_fds["ksyms"])["id"])
        assert main(["prog", "dump", "xlated", "id", prog]) == 0
        ours = capsys.readouterr().out
        theirs = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", prog], capture_output=True,
                                text=True).stdout
        assert ours == theirs and "call bpf_task_from_pid#" in ours
    finally:
        for fd in loaded.fds():
            kernel.close(fd)

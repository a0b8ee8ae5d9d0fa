"""Kernel function calls (kfuncs) named by their id in the kernel's BTF: the reference-counted cgroup, task and
cpumask kfuncs checked as check_kfunc_call() does; each program is loaded on the live kernel too."""

from __future__ import annotations

import functools
import os
import struct

import pytest

from pybpf.elf.btf import Btf
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.uapi import ProgType
from pybpf.verifier import verify
from support.kernel import needs_kernel
from support.logs import in_order

VMLINUX = "/sys/kernel/btf/vmlinux"
P = ProgType
needs_vmlinux = pytest.mark.skipif(not os.path.exists(VMLINUX), reason=f"needs the kernel's BTF ({VMLINUX})")


@functools.cache
def vmlinux() -> tuple[Btf, dict[str, int]]:
    btf = Btf.parse(open(VMLINUX, "rb").read())
    return btf, {t.name: t.id for t in btf.iter_types() if t.kind == "FUNC"}


def code(text: str) -> bytes:
    """Assemble `text`; `kcall NAME` is a call of the kfunc NAME (BPF_PSEUDO_KFUNC_CALL, its vmlinux id)."""
    out = bytearray()
    for line in text.strip().splitlines():
        line = line.strip()
        if line.startswith("kcall "):
            out += struct.pack("<BBhi", 0x85, 2 << 4, 0, vmlinux()[1][line.split()[1]])
        else:
            out += encode(assemble(line))
    return bytes(out)


ACQUIRE_RELEASE = """
r1 = 0
kcall bpf_cgroup_from_id
if r0 == 0 goto +2
r1 = r0
kcall bpf_cgroup_release
r0 = 0
exit
"""
LEAK = """
r1 = 0
kcall bpf_cgroup_from_id
r0 = 0
exit
"""
NO_NULL_CHECK = """
r1 = 0
kcall bpf_cgroup_from_id
r1 = r0
kcall bpf_cgroup_release
r0 = 0
exit
"""
RELEASE_TWICE = """
r1 = 0
kcall bpf_cgroup_from_id
if r0 == 0 goto +5
r6 = r0
r1 = r6
kcall bpf_cgroup_release
r1 = r6
kcall bpf_cgroup_release
r0 = 0
exit
"""
# a bpf_cpumask is passed where a struct cpumask is expected: its first member is one
CPUMASK = """
kcall bpf_cpumask_create
if r0 == 0 goto +9
r6 = r0
r1 = 3
r2 = r6
kcall bpf_cpumask_set_cpu
r1 = 3
r2 = r6
kcall bpf_cpumask_test_cpu
r1 = r6
kcall bpf_cpumask_release
r0 = 0
exit
"""
SCALAR_TO_RELEASE = """
r1 = 0
kcall bpf_cgroup_release
r0 = 0
exit
"""

CASES = {
    # name: (program, program type, accepted, our log lines in order)
    "acquire_then_release": (ACQUIRE_RELEASE, P.BPF_PROG_TYPE_SYSCALL, True, []),
    "cpumask_create_set_test_release": (CPUMASK, P.BPF_PROG_TYPE_SYSCALL, True, []),
    "a_reference_never_released": (LEAK, P.BPF_PROG_TYPE_SYSCALL, False, ["Unreleased reference id=2 alloc_insn=1"]),
    "a_maybe_null_reference_released": (
        NO_NULL_CHECK, P.BPF_PROG_TYPE_SYSCALL, False, ["Possibly NULL pointer passed to trusted arg0"]),
    "a_reference_released_twice": (  # the first release leaves r6 a scalar
        RELEASE_TWICE, P.BPF_PROG_TYPE_SYSCALL, False,
        ["arg#0 pointer type STRUCT cgroup must point to scalar, or struct with scalar"]),
    "null_released": (
        SCALAR_TO_RELEASE, P.BPF_PROG_TYPE_SYSCALL, False, ["Possibly NULL pointer passed to trusted arg0"]),
    "not_for_raw_tracepoints": (
        ACQUIRE_RELEASE, P.BPF_PROG_TYPE_RAW_TRACEPOINT, False,
        ["calling kernel function bpf_cgroup_from_id is not allowed"]),
}


@needs_vmlinux
@pytest.mark.parametrize("name", sorted(CASES))
def test_kfuncs(name):
    text, prog_type, accepted, pieces = CASES[name]
    result = verify(code(text), prog_type, log_level=2, kernel_btf=vmlinux()[0])
    assert result.accepted == accepted, result.log
    assert in_order(result.log, pieces), result.log


@needs_vmlinux
def test_a_trusted_pointer_that_holds_no_reference_is_not_released():
    text = "call 158\nr1 = r0\nkcall bpf_task_release\nr0 = 0\nexit"  # bpf_get_current_task_btf
    result = verify(code(text), P.BPF_PROG_TYPE_TRACING, log_level=1, kernel_btf=vmlinux()[0])
    assert not result.accepted
    assert "release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID" in result.log


@needs_vmlinux
def test_kfuncs_this_verifier_does_not_model_are_refused():
    result = verify(code("r1 = 0\nkcall bpf_cast_to_kern_ctx\nr0 = 0\nexit"), P.BPF_PROG_TYPE_SYSCALL,
                    kernel_btf=vmlinux()[0])
    assert not result.accepted
    assert "kernel function bpf_cast_to_kern_ctx is not supported by this verifier" in result.log


def test_without_the_kernels_btf_a_kfunc_call_is_refused():
    kfunc_call = struct.pack("<BBhi", 0x85, 2 << 4, 0, 1234) + encode(assemble("r0 = 0\nexit"))
    result = verify(kfunc_call, P.BPF_PROG_TYPE_SYSCALL)
    assert not result.accepted and "needs the kernel's BTF" in result.log
    unprivileged = verify(kfunc_call, P.BPF_PROG_TYPE_SOCKET_FILTER, privileged=False)
    assert unprivileged.errno == 1  # EPERM, before anything else
    assert "calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN" in unprivileged.log


# -- the same programs on the live kernel ---------------------------------------------------------------------
@needs_kernel
@needs_vmlinux
@pytest.mark.parametrize("name", sorted(CASES))
def test_linux_agrees(name):
    from pybpf.kernel.linux import syscall

    text, prog_type, accepted, pieces = CASES[name]
    flags = 1 << 4 if prog_type == P.BPF_PROG_TYPE_SYSCALL else 0  # syscall programs are sleepable
    try:
        loaded = syscall.prog_load(prog_type, code(text), log_level=2, prog_flags=flags)
    except syscall.KernelError as err:
        linux_accepted, log = False, err.log
    else:
        os.close(loaded.fd)
        linux_accepted, log = True, loaded.log
    assert linux_accepted == accepted, log
    assert in_order(log, pieces), log

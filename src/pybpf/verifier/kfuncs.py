"""Calls of kernel functions (kfuncs, `BPF_PSEUDO_KFUNC_CALL`): the common reference-counted ones.

A kfunc call names the function by its id in the kernel's BTF (vmlinux); its
prototype comes from there (`verify(kernel_btf=)`), its flags and the program
types that may call it from `KFUNCS` below (the kernel keeps them in its
BTF_ID_FLAGS sets, which /sys/kernel/btf/vmlinux does not carry).  Checked,
as check_kfunc_call() does: the program type, scalar arguments, kernel object
arguments (a trusted or referenced pointer to the named struct or a struct
whose first member is it, never NULL, at offset 0), references acquired
(KF_ACQUIRE, maybe NULL with KF_RET_NULL) and released (KF_RELEASE, which
needs a referenced argument).  Any other kfunc, or a call without the
kernel's BTF (the virtual kernel, which implements none), is refused.
"""

from __future__ import annotations

import errno

from ..uapi import ProgType
from .errors import VerifierError
from .insns import read_reg
from .regs import BTF_ID, SCALAR

# The program types the kfuncs below are registered for, as the 6.18 kernel's selftests show them
# (verifier_kfunc_prog_types.c: syscall, tracepoint and perf_event programs may; raw tracepoints may not).
OBJECT_KFUNC_TYPES = (ProgType.BPF_PROG_TYPE_SYSCALL, ProgType.BPF_PROG_TYPE_TRACEPOINT,
                      ProgType.BPF_PROG_TYPE_PERF_EVENT, ProgType.BPF_PROG_TYPE_TRACING)
# name -> flags (KF_ACQUIRE "acquire", KF_RELEASE "release", KF_RET_NULL "ret_null").
KFUNCS = {
    "bpf_task_acquire": ("acquire", "ret_null"),
    "bpf_task_release": ("release",),
    "bpf_cgroup_acquire": ("acquire", "ret_null"),
    "bpf_cgroup_from_id": ("acquire", "ret_null"),
    "bpf_cgroup_release": ("release",),
    "bpf_cpumask_create": ("acquire", "ret_null"),
    "bpf_cpumask_acquire": ("acquire",),
    "bpf_cpumask_release": ("release",),
    "bpf_cpumask_set_cpu": (),
    "bpf_cpumask_clear_cpu": (),
    "bpf_cpumask_test_cpu": (),
}


def fail(message: str, code: int = errno.EACCES) -> VerifierError:
    return VerifierError(message, None, code)


def _struct_chain(kbtf, type_id: int) -> list[str]:
    """A struct's name, then its first member's struct name, and so on (btf_struct_ids_match walks them)."""
    names = []
    t = kbtf.resolve(type_id)
    while t.kind == "STRUCT" and len(names) < 8:
        names.append(t.name)
        if not t.members or t.members[0].offset:
            break
        t = kbtf.resolve(t.members[0].type)
    return names


def check_kfunc_call(v, pc: int, s) -> bool:
    """check_kfunc_call() for the kfuncs of `KFUNCS`."""
    kbtf = v.opts.kernel_btf
    if kbtf is None:
        raise fail("calling kernel functions needs the kernel's BTF (kfuncs are not supported here)",
                   errno.EINVAL)
    func = kbtf[s.imm] if 0 < s.imm <= len(kbtf) else None
    if func is None or func.kind != "FUNC":
        raise fail(f"kernel btf_id {s.imm} is not a function", errno.EINVAL)
    name = func.name
    if not v.opts.gpl:
        raise fail("cannot call kernel function from non-GPL compatible program", errno.EINVAL)
    if name not in KFUNCS:
        raise fail(f"kernel function {name} is not supported by this verifier", errno.EINVAL)
    if v.opts.prog_type not in OBJECT_KFUNC_TYPES:
        raise fail(f"calling kernel function {name} is not allowed")
    flags = KFUNCS[name]
    proto = kbtf[func.type]
    release_regno = 0
    for i, param in enumerate(proto.members):
        regno = i + 1
        reg = read_reg(v, regno)
        t = kbtf.resolve(param.type)
        if t.kind in ("INT", "ENUM", "ENUM64"):
            if reg.type != SCALAR:
                raise fail(f"R{regno} is not a scalar", errno.EINVAL)
            continue
        pointee = kbtf.resolve(t.type) if t.kind == "PTR" else None
        if pointee is None or pointee.kind != "STRUCT":
            raise fail(f"arg#{i} of kernel function {name} is not supported by this verifier", errno.EINVAL)
        _check_object_arg(v, name, i, regno, reg, pointee.name, "release" in flags)
        if "release" in flags:
            release_regno = regno
    if release_regno:
        v.cur.release_reference(v.cur.regs[release_regno].ref_obj_id, v.allow_ptr_leaks)
    regs = v.cur.regs
    for i in range(1, 6):
        regs[i].set_not_init()
    r0 = regs[0]
    ret = kbtf.resolve(proto.type) if proto.type else None
    if ret is None or ret.kind == "VOID":
        r0.set_not_init()
    elif ret.kind == "PTR" and kbtf.resolve(ret.type).kind == "STRUCT":
        null = "ret_null" in flags
        r0.set_pointer(BTF_ID, null=null, btf_name=kbtf.resolve(ret.type).name)
        if null:  # as check_helper_call() numbers them: the NULL check's id, then the reference's
            r0.id = v.new_id()
        if "acquire" in flags:
            r0.id = r0.ref_obj_id = v.new_id()
            v.cur.refs.append((r0.ref_obj_id, pc))
    elif ret.kind in ("INT", "ENUM", "ENUM64"):
        r0.set_unknown()
    else:
        raise fail(f"kernel function {name} returns a type this verifier does not model", errno.EINVAL)
    v.pc = pc + 1
    return False


def _check_object_arg(v, name: str, i: int, regno: int, reg, struct_name: str, release: bool) -> None:
    """check_kfunc_args() for KF_ARG_PTR_TO_BTF_ID: a trusted (or referenced) pointer to the struct."""
    if reg.is_const(0):
        raise fail(f"Possibly NULL pointer passed to trusted arg{i}")
    if reg.type == SCALAR:
        raise fail(f"arg#{i} pointer type STRUCT {struct_name} must point to scalar, or struct with scalar")
    if reg.type != BTF_ID:
        raise fail(f"R{regno} type={reg.type_str()} expected=ptr_, trusted_ptr_, rcu_ptr_")
    if reg.null:
        raise fail(f"Possibly NULL pointer passed to trusted arg{i}")
    if release and not reg.ref_obj_id:
        raise fail(f"release kernel function {name} expects refcounted PTR_TO_BTF_ID")
    if not reg.ref_obj_id and "trusted" not in reg.flags:
        raise fail(f"R{regno} must be referenced or trusted")
    if reg.off or not reg.b.is_const or reg.b.value:
        raise fail(f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc")
    if struct_name not in _struct_chain(v.opts.kernel_btf, _struct_id(v.opts.kernel_btf, reg.btf_name)):
        raise fail(f"kernel function {name} args#{i} expected pointer to STRUCT {struct_name} but R{regno} "
                   f"has a pointer to STRUCT {reg.btf_name}")


def _struct_id(kbtf, name: str) -> int:
    found = kbtf.find(name, "STRUCT")
    return found.id if found is not None else 0

"""`__ksym` externs on the running kernel: kernel variables and kernel functions (kfuncs) by name.

As libbpf's bpf_object__resolve_ksyms_btf_id and bpf_object__read_kallsyms_file:
a kfunc is the BTF FUNC of its name in /sys/kernel/btf/vmlinux (the call
becomes BPF_PSEUDO_KFUNC_CALL with that id); a typed variable is the BTF VAR
of its name (the lddw becomes BPF_PSEUDO_BTF_ID with that id, which the
verifier types); a typeless one (`extern const void x __ksym`) is its
address in /proc/kallsyms, loaded as a plain 64-bit constant.  Kernel
modules' BTF is not searched.
"""

from __future__ import annotations

from ...isa.opcodes import BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL
from .btf_vmlinux import vmlinux_btf


def kallsyms_address(name: str) -> int | None:
    """The address of kernel symbol `name` (read now: zero addresses mean kallsyms is hidden from us)."""
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == name:
                    address = int(parts[0], 16)
                    return address or None
    except OSError:
        return None
    return None


def resolve(name: str, kind: str, typeless: bool) -> tuple[int, int, int] | None:
    """(src_reg, imm, imm2 for a lddw / off for a call) for the extern `name`, or None if the kernel lacks it.
    kind: "kfunc" or "ksym"."""
    if kind == "ksym" and typeless:
        address = kallsyms_address(name)
        return None if address is None else (0, address & 0xFFFFFFFF, address >> 32)
    target = vmlinux_btf()
    found = target.candidates("FUNC" if kind == "kfunc" else "VAR", name)
    if not found:
        return None
    return (BPF_PSEUDO_KFUNC_CALL if kind == "kfunc" else BPF_PSEUDO_BTF_ID), found[0], 0

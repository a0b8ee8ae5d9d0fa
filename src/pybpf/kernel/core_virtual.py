"""CO-RE on the virtual kernel: which kernel types its answers come from.

The virtual kernel runs Linux's programs but is not Linux's memory: the
task that bpf_get_current_task returns is its own record {u32 pid; u32 tgid;
char comm[16]} (VirtualKernel.current_task), not a struct task_struct.  So
a relocation is answered by

| the local type | layout kinds (offsets, sizes, shifts, target ids) | existence and enum kinds |
|---|---|---|
| one the virtual kernel lays out itself (`MODEL`) | its layout | its layout |
| a UAPI context (`__sk_buff`, `xdp_md`, ...), laid out as Linux's | the host's /sys/kernel/btf/vmlinux | the same |
| any other kernel type | a load error naming the relocation (never a wrong offset) | the host's vmlinux BTF, if present |

Existence and enum values are facts about the kernel the program asks
about, which the virtual kernel stands in for (as LINUX_KERNEL_VERSION is
the host's); a layout it does not have is not one it may make up.
"""

from __future__ import annotations

import functools
import struct

from ..elf.btf import Btf
from .core import KIND, KernelBtf, Unmodeled
from .errors import BpfError

EXISTENCE_KINDS = {KIND[k] for k in ("FIELD_EXISTS", "TYPE_EXISTS", "TYPE_MATCHES", "ENUMVAL_EXISTS",
                                     "ENUMVAL_VALUE")}
# Context structures the virtual kernel lays out as Linux's UAPI does (include/uapi/linux/bpf.h).
UAPI_CONTEXTS = {"__sk_buff", "xdp_md", "bpf_sock", "sk_msg_md", "bpf_sock_ops", "bpf_sysctl"}
# The virtual kernel's own records, as (struct name, [(member, C type, byte offset)]).
MODEL = (("task_struct", [("pid", "int", 0), ("tgid", "int", 4), ("comm", "char[16]", 8)]),)
_INT_ENCODING = {"int": (4, 1), "char": (1, 2)}  # size, BTF_INT_SIGNED / BTF_INT_CHAR


def _model_btf() -> Btf:
    """MODEL as BTF: ints, char arrays, one struct a record."""
    strings = bytearray(b"\0")

    def name(text: str) -> int:
        strings.extend(text.encode() + b"\0")
        return len(strings) - len(text) - 1

    types, ids = bytearray(), {}

    def add(data: bytes) -> int:
        types.extend(data)
        ids["next"] = ids.get("next", 0) + 1
        return ids["next"]

    def type_id(ctype: str) -> int:
        if ctype not in ids:
            base, _, count = ctype.partition("[")
            if count:
                ids[ctype] = add(struct.pack("<IIIIII", 0, 3 << 24, 0, type_id(base), type_id("int"),
                                             int(count.rstrip("]"))))
            else:
                size, encoding = _INT_ENCODING[base]
                ids[ctype] = add(struct.pack("<IIII", name(base), 1 << 24, size, encoding << 24 | size * 8))
        return ids[ctype]

    for struct_name, members in MODEL:
        body = b"".join(struct.pack("<III", name(m), type_id(ctype), offset * 8) for m, ctype, offset in members)
        last, ctype, offset = members[-1]
        size_of = {"int": 4, "char": 1}
        base, _, count = ctype.partition("[")
        size = offset + size_of[base] * int(count.rstrip("]") or 1)
        add(struct.pack("<III", name(struct_name), 4 << 24 | len(members), size) + body)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return Btf.parse(header + bytes(types) + bytes(strings))


class VirtualTarget:
    """The CO-RE target of the virtual kernel: its model, the host's BTF where that is truthful."""

    def __init__(self, host: KernelBtf | None):
        self.model = KernelBtf(_model_btf())
        self.host = host
        self.modeled = {name for name, _ in MODEL}

    def target_for(self, name: str, kind: int) -> KernelBtf:
        if name in self.modeled:
            return self.model
        if self.host is not None and (name in UAPI_CONTEXTS or kind in EXISTENCE_KINDS):
            return self.host
        if kind in EXISTENCE_KINDS:
            return self.model  # no host BTF: nothing the model lacks exists
        raise Unmodeled(f"the virtual kernel has no layout of {name or 'this type'} (it lays out "
                        f"{', '.join(sorted(self.modeled | UAPI_CONTEXTS))})")


@functools.cache
def virtual_target() -> VirtualTarget:
    from .linux.btf_vmlinux import vmlinux_btf  # a file read, no bpf(): usable on any host that has one
    try:
        host = vmlinux_btf()
    except BpfError:
        host = None
    return VirtualTarget(host)

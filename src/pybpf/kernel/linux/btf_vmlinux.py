"""The running kernel's own types: /sys/kernel/btf/vmlinux read through pybpf.elf's BTF reader.

Parsing vmlinux BTF (100k+ types) takes seconds in Python, so it is read
once a process and indexed by name for CO-RE candidate lookup.
"""

from __future__ import annotations

import errno
import functools

from ...elf.btf import Btf
from ..core import KernelBtf
from ..errors import BpfError

VMLINUX = "/sys/kernel/btf/vmlinux"


@functools.cache
def vmlinux_btf(path: str = VMLINUX) -> KernelBtf:
    """The kernel's BTF (CONFIG_DEBUG_INFO_BTF); BpfError saying so when the file is missing."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise BpfError("CO-RE", err.errno or errno.ENOENT,
                       f"{path}: {err.strerror}: CO-RE relocations need the kernel's BTF "
                       "(a kernel built with CONFIG_DEBUG_INFO_BTF=y)") from None
    return KernelBtf(Btf.parse(data))

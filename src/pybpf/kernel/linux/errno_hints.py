"""What a bpf() errno means, command by command, and what to do: turning syscall.KernelError into BpfError.

The advice tables are `syscall.ADVICE` (per errno) and `syscall.CMD_ADVICE`
(per command and errno); this module adds the cases where the running
kernel's version or the object named changes the advice, and keeps the
verifier's log on the error.
"""

from __future__ import annotations

import contextlib
import errno
import platform
import re

from ..errors import BpfError
from .syscall import ADVICE, CMD_ADVICE, KernelError

# (command, errno) -> advice naming the object: formatted with `what`.
NAMED_ADVICE = {
    ("BPF_MAP_CREATE", errno.EINVAL): "{what}: this kernel does not know the map type, or refuses these "
                                      "sizes or flags (check map_flags against the type)",
    ("BPF_PROG_LOAD", errno.EINVAL): "{what}: this kernel does not know the program type or expected "
                                     "attach type, or an instruction is malformed (see the log)",
    ("BPF_OBJ_PIN", errno.EPERM): "{what}: pinning needs a path on a mounted bpffs (mount -t bpf bpf /sys/fs/bpf)",
    ("BPF_OBJ_PIN", errno.EEXIST): "{what} already exists: unlink it first",
    ("BPF_OBJ_PIN", errno.ENOENT): "{what}: the directory does not exist on bpffs",
    ("BPF_OBJ_GET", errno.ENOENT): "nothing is pinned at {what}",
    ("BPF_OBJ_PIN", errno.EINVAL): "{what} is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)",
    ("BPF_PROG_GET_FD_BY_ID", errno.ENOENT): "no {what}",
    ("BPF_MAP_GET_FD_BY_ID", errno.ENOENT): "no {what}",
    ("BPF_LINK_GET_FD_BY_ID", errno.ENOENT): "no {what}",
    ("BPF_BTF_GET_FD_BY_ID", errno.ENOENT): "no {what}",
    ("BPF_MAP_UPDATE_ELEM", errno.EPERM): "the map is frozen or read-only to user space",
    ("BPF_MAP_LOOKUP_ELEM", errno.EPERM): "the map is write-only to user space (BPF_F_WRONLY)",
    ("BPF_PROG_TEST_RUN", errno.ENOTSUP): "{what}: this program type cannot run with BPF_PROG_TEST_RUN",
    ("BPF_PROG_TEST_RUN", 524): "{what}: this program type cannot run with BPF_PROG_TEST_RUN",
}


def _release() -> tuple[int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", platform.release())[:2]] + [0, 0]
    return numbers[0], numbers[1]


def advice(command: str, err: int, what: str = "") -> str:
    """What the user should do about `err` from `command` (what: the map type, path or id concerned)."""
    if err == errno.EPERM and command in ("BPF_MAP_CREATE", "BPF_PROG_LOAD") and _release() < (5, 11):
        return ("locked memory is charged to RLIMIT_MEMLOCK before Linux 5.11: raise it "
                "(ulimit -l unlimited) or run as root with CAP_BPF")
    named = NAMED_ADVICE.get((command, err))
    if named and (what or "{what}" not in named):
        return named.format(what=what)
    return CMD_ADVICE.get((command, err)) or ADVICE.get(err, "")


# What a refusal's log shows -> the advice, where it is more precise than the errno's.
LOG_HINTS = (
    ("unknown#195896080", "a CO-RE relocation found no match in this kernel's BTF, and the program reaches it "
                          "(`pybpf objdump` lists the program's core relocations)"),  # core.POISON reached
    ("func_info", "the program's func_info does not match its sub-programs or its BTF (see the log)"),
    ("func info", "the program's func_info does not match its sub-programs or its BTF (see the log)"),
    ("line_info", "the program's line_info does not match its instructions or its BTF (see the log)"),
)


@contextlib.contextmanager
def translate(command: str, what: str = ""):
    """Run bpf() wrappers; a KernelError comes out as BpfError(command, errno, advice, log)."""
    try:
        yield
    except KernelError as err:
        hint = advice(command, err.errno, what)
        for marker, why in LOG_HINTS:
            if marker in err.log:
                hint = why
                break
        raise BpfError(command, err.errno, hint, log=err.log) from None

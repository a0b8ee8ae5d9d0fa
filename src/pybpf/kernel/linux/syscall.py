"""The bpf(2) system call through ctypes: a thin layer, one wrapper per command.

Each wrapper fills the command's part of `union bpf_attr` (include/uapi/
linux/bpf.h) as a ctypes structure, calls bpf(2), and returns the result or
raises `KernelError` with the errno, the command and what to do about it.
The ELF loader, the Linux Kernel implementation and the tests build on this;
nothing here knows about objects, programs or maps beyond their fds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
from dataclasses import dataclass

from ...errors import PybpfError
from ...uapi import BpfCmd, ProgType

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "arm64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

u32, u64 = ctypes.c_uint32, ctypes.c_uint64

_ADVICE = {
    errno.EPERM: "needs CAP_BPF (and CAP_PERFMON/CAP_NET_ADMIN for some program types): run as root",
    errno.EACCES: "the verifier refused the program (see the log)",
    errno.ENOSYS: "this kernel has no bpf() system call",
    errno.EINVAL: "the kernel rejected an argument (unsupported type or flag on this kernel?)",
    errno.E2BIG: "too large for this kernel (attr, program or map)",
    errno.ENOSPC: "the verifier log buffer is too small",
    errno.ENOENT: "no such element",
    errno.EEXIST: "the element already exists",
    errno.EBADF: "bad file descriptor",
    524: "not supported by this kernel (ENOTSUPP)",
}


class KernelError(PybpfError, OSError):
    """A bpf() command failed: errno, command, advice, and the verifier log when there is one."""

    def __init__(self, cmd: str, err: int, log: str = ""):
        self.cmd, self.log = cmd, log
        advice = _ADVICE.get(err, os.strerror(err))
        message = f"{cmd} failed: {errno.errorcode.get(err, err)} ({os.strerror(err)}): {advice}"
        OSError.__init__(self, err, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0] + (f"\n{self.log.rstrip()}" if self.log else "")


def _sys_bpf() -> int:
    number = _SYS_BPF.get(platform.machine())
    if number is None:
        raise KernelError("bpf", errno.ENOSYS)
    return number


def bpf(cmd: BpfCmd, attr: ctypes.Structure) -> int:
    """Call bpf(cmd, &attr, sizeof(attr)); return the result or raise KernelError."""
    result = _libc.syscall(_sys_bpf(), int(cmd), ctypes.byref(attr), ctypes.sizeof(attr))
    if result < 0:
        raise KernelError(cmd.name, ctypes.get_errno())
    return result


def close(fd: int) -> None:
    os.close(fd)


class MapCreateAttr(ctypes.Structure):
    _fields_ = [("map_type", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32),
                ("map_flags", u32), ("inner_map_fd", u32), ("numa_node", u32), ("map_name", ctypes.c_char * 16),
                ("map_ifindex", u32), ("btf_fd", u32), ("btf_key_type_id", u32), ("btf_value_type_id", u32),
                ("btf_vmlinux_value_type_id", u32), ("map_extra", u64)]


class MapElemAttr(ctypes.Structure):
    _fields_ = [("map_fd", u32), ("_pad", u32), ("key", u64), ("value", u64), ("flags", u64)]


class ProgLoadAttr(ctypes.Structure):
    _fields_ = [("prog_type", u32), ("insn_cnt", u32), ("insns", u64), ("license", u64),
                ("log_level", u32), ("log_size", u32), ("log_buf", u64), ("kern_version", u32),
                ("prog_flags", u32), ("prog_name", ctypes.c_char * 16), ("prog_ifindex", u32),
                ("expected_attach_type", u32), ("prog_btf_fd", u32), ("func_info_rec_size", u32),
                ("func_info", u64), ("func_info_cnt", u32), ("line_info_rec_size", u32), ("line_info", u64),
                ("line_info_cnt", u32), ("attach_btf_id", u32), ("attach_prog_fd", u32),
                ("core_relo_cnt", u32), ("fd_array", u64), ("core_relos", u64), ("core_relo_rec_size", u32),
                ("log_true_size", u32)]


class TestRunAttr(ctypes.Structure):
    _fields_ = [("prog_fd", u32), ("retval", u32), ("data_size_in", u32), ("data_size_out", u32),
                ("data_in", u64), ("data_out", u64), ("repeat", u32), ("duration", u32),
                ("ctx_size_in", u32), ("ctx_size_out", u32), ("ctx_in", u64), ("ctx_out", u64),
                ("flags", u32), ("cpu", u32), ("batch_size", u32)]


def _addr(buf) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, flags: int = 0, *,
               name: str = "", inner_map_fd: int = 0, map_extra: int = 0) -> int:
    attr = MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size, max_entries=max_entries,
                         map_flags=flags, inner_map_fd=inner_map_fd, map_name=name.encode()[:15],
                         map_extra=map_extra)
    return bpf(BpfCmd.BPF_MAP_CREATE, attr)


def _elem(cmd: BpfCmd, fd: int, key: bytes | None, value, flags: int = 0) -> int:
    kbuf = ctypes.create_string_buffer(key, len(key)) if key is not None else None
    attr = MapElemAttr(map_fd=fd, key=_addr(kbuf), value=_addr(value), flags=flags)
    return bpf(cmd, attr)


def map_lookup(fd: int, key: bytes | None, value_size: int, value: bytes = b"") -> bytes:
    """The value for key (None for keyless maps: a queue's or stack's peek; a bloom filter checks `value`)."""
    out = ctypes.create_string_buffer(value.ljust(value_size, b"\0"), value_size)
    _elem(BpfCmd.BPF_MAP_LOOKUP_ELEM, fd, key, out)
    return out.raw


def map_lookup_and_delete(fd: int, key: bytes | None, value_size: int) -> bytes:
    out = ctypes.create_string_buffer(value_size)
    _elem(BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, out)
    return out.raw


def map_update(fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
    _elem(BpfCmd.BPF_MAP_UPDATE_ELEM, fd, key, ctypes.create_string_buffer(value, len(value)), flags)


def map_delete(fd: int, key: bytes) -> None:
    _elem(BpfCmd.BPF_MAP_DELETE_ELEM, fd, key, None)


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """The key after `key` (the first key for None), or None at the end."""
    out = ctypes.create_string_buffer(key_size)
    try:
        _elem(BpfCmd.BPF_MAP_GET_NEXT_KEY, fd, key, out)
    except KernelError as err:
        if err.errno == errno.ENOENT:
            return None
        raise
    return out.raw


@dataclass
class Loaded:
    fd: int
    log: str


def prog_load(prog_type: int, code: bytes, *, license: str = "GPL", log_level: int = 0,
              log_size: int = 1 << 20, prog_flags: int = 0, expected_attach_type: int = 0,
              name: str = "") -> Loaded:
    """BPF_PROG_LOAD.  On failure the KernelError carries the verifier log (log level >= 1 on failure)."""
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(log_size) if log_size else None

    def attempt(level: int) -> int:
        attr = ProgLoadAttr(prog_type=prog_type, insn_cnt=len(code) // 8, insns=_addr(insns), license=_addr(lic),
                            log_level=level if log is not None else 0, log_size=log_size if level else 0,
                            log_buf=_addr(log) if level else 0, prog_flags=prog_flags,
                            expected_attach_type=expected_attach_type, prog_name=name.encode()[:15])
        return bpf(BpfCmd.BPF_PROG_LOAD, attr)

    try:
        fd = attempt(log_level)
    except KernelError as err:
        if err.errno in (errno.EACCES, errno.EINVAL) and log is not None:
            if not log_level:
                try:
                    attempt(1)
                except KernelError:
                    pass
            err.log = log.value.decode(errors="replace")
        raise
    return Loaded(fd, log.value.decode(errors="replace") if log is not None and log_level else "")


@dataclass
class TestRun:
    retval: int
    duration_ns: int
    data_out: bytes
    ctx_out: bytes


def prog_test_run(fd: int, data: bytes = b"", *, repeat: int = 1, ctx: bytes = b"",
                  data_out_size: int | None = None, ctx_out_size: int = 0) -> TestRun:
    """BPF_PROG_TEST_RUN: run the program `repeat` times; duration is the mean per run in ns."""
    din = ctypes.create_string_buffer(data, len(data)) if data else None
    out_size = len(data) + 256 if data_out_size is None else data_out_size
    dout = ctypes.create_string_buffer(out_size) if out_size else None
    cin = ctypes.create_string_buffer(ctx, len(ctx)) if ctx else None
    cout = ctypes.create_string_buffer(ctx_out_size) if ctx_out_size else None
    attr = TestRunAttr(prog_fd=fd, data_size_in=len(data), data_size_out=out_size if dout else 0,
                       data_in=_addr(din), data_out=_addr(dout), repeat=repeat,
                       ctx_size_in=len(ctx), ctx_size_out=ctx_out_size, ctx_in=_addr(cin), ctx_out=_addr(cout))
    bpf(BpfCmd.BPF_PROG_TEST_RUN, attr)
    return TestRun(attr.retval, attr.duration,
                   dout.raw[:attr.data_size_out] if dout else b"", cout.raw[:attr.ctx_size_out] if cout else b"")


def kernel_available() -> tuple[bool, str]:
    """Whether this process may load and run a trivial program, and if not, why."""
    if platform.system() != "Linux":
        return False, f"bpf() needs Linux (this is {platform.system()})"
    try:
        loaded = prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, bytes.fromhex("b700000000000000" "9500000000000000"))
    except KernelError as err:
        return False, f"bpf() is not usable here: {err.args[0]}"
    close(loaded.fd)
    return True, "bpf() available"

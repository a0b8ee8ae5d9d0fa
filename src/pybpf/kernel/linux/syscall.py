"""The bpf(2) system call through ctypes: a thin layer, one wrapper per command.

Each wrapper fills the command's part of `union bpf_attr` (see `attr`),
calls bpf(2), and returns the result or raises `KernelError` with the
errno, the command and what to do about it.  The ELF loader, the Linux
Kernel implementation, the tests and the benchmarks build on this; nothing
here knows about objects, programs or maps beyond their fds.

    map_create(type, key_size, value_size, max_entries, flags, name=...) -> fd
    map_lookup / map_update / map_delete / map_get_next_key / map_lookup_and_delete
    prog_load(prog_type, code, log_level=..., prog_flags=..., expected_attach_type=...) -> Loaded(fd, log)
    prog_test_run(fd, data, repeat=..., ctx=...) -> TestRun(retval, duration_ns, data_out, ctx_out)
    prog_info(fd) -> ProgInfo;  map_info(fd) -> MapInfo;  close(fd)
    kernel_available() -> (bool, reason)
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
from dataclasses import dataclass

from ...errors import PybpfError
from ...uapi import BpfCmd, ProgType
from .attr import (BatchAttr, BpfMapInfo, BpfProgInfo, BtfLoadAttr, FdAttr, GetIdAttr, InfoByFdAttr,
                   MapCreateAttr, MapElemAttr, ObjPinAttr, ProgLoadAttr, TestRunAttr)

# bpf(2)'s number per machine (arch/*/include/uapi/asm/unistd*.h; the asm-generic table for arm64, riscv).
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "arm64": 280, "riscv64": 280, "ppc64le": 361,
            "ppc64": 361, "s390x": 351, "i386": 357, "i686": 357, "armv7l": 386, "loongarch64": 280}
ENOTSUPP = 524  # the kernel-internal "not supported", seen by user space as a bare number

# errno -> what to do about it.
ADVICE = {
    errno.EPERM: "needs CAP_BPF (and CAP_PERFMON/CAP_NET_ADMIN for some program types): run as root",
    errno.EACCES: "the verifier refused the program (see the log)",
    errno.ENOSYS: "this kernel has no bpf() system call (CONFIG_BPF_SYSCALL) or it is filtered (seccomp)",
    errno.EINVAL: "the kernel rejected an argument (unsupported type or flag on this kernel?)",
    errno.E2BIG: "too large for this kernel (attr, program or map)",
    errno.ENOSPC: "the verifier log buffer is too small",
    errno.ENOENT: "no such element",
    errno.EEXIST: "the element already exists",
    errno.EBADF: "bad file descriptor",
    errno.ENOMEM: "out of memory (or RLIMIT_MEMLOCK on kernels before 5.11)",
    errno.EFAULT: "the kernel could not read or write a buffer",
    ENOTSUPP: "not supported by this kernel (ENOTSUPP)",
}
# (command, errno) -> advice, where a command gives an errno its own meaning.
CMD_ADVICE = {
    ("BPF_PROG_TEST_RUN", errno.ENOSPC): "data_out or ctx_out is too small for the result",
    ("BPF_PROG_TEST_RUN", errno.EINVAL): "this program type, data size or ctx is not accepted by test_run",
    ("BPF_PROG_LOAD", errno.E2BIG): "the program is empty, too long, or too complex to verify (see the log)",
    ("BPF_PROG_LOAD", errno.EFAULT): "the verifier gave up (a too complex program, or a verifier bug): see the log",
    ("BPF_PROG_LOAD", errno.ENOMEM): "the verifier ran out of memory (too complex a program?)",
    ("BPF_MAP_UPDATE_ELEM", errno.E2BIG): "the map is full, or the index is past max_entries",
    ("BPF_MAP_DELETE_ELEM", errno.EINVAL): "elements of array maps cannot be deleted",
    ("BPF_MAP_UPDATE_ELEM", errno.ENOENT): "BPF_EXIST: the key is not in the map",
}


class KernelError(PybpfError, OSError):
    """A bpf() command failed: `errno`, `cmd` (kernel spelling), `advice`, and `log` (the verifier's)."""

    def __init__(self, cmd: str, err: int, log: str = ""):
        self.cmd, self.log = cmd, log
        self.advice = CMD_ADVICE.get((cmd, err)) or ADVICE.get(err, os.strerror(err))
        name = errno.errorcode.get(err, "ENOTSUPP" if err == ENOTSUPP else str(err))
        message = f"{cmd} failed: {name} ({os.strerror(err)}): {self.advice}"
        OSError.__init__(self, err, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0] + (f"\n{self.log.rstrip()}" if self.log else "")


@functools.cache
def _syscall():
    """libc's syscall(2) and bpf's number, resolved on first use (so that importing works anywhere)."""
    number = _SYS_BPF.get(platform.machine())
    if platform.system() != "Linux" or number is None:
        raise KernelError("bpf", errno.ENOSYS)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall, number


def bpf(cmd: BpfCmd, attr: ctypes.Structure) -> int:
    """Call bpf(cmd, &attr, sizeof(attr)); return the result or raise KernelError."""
    syscall, number = _syscall()
    result = syscall(number, int(cmd), ctypes.byref(attr), ctypes.sizeof(attr))
    if result < 0:
        raise KernelError(cmd.name, ctypes.get_errno())
    return result


def close(fd: int) -> None:
    """Close a map, program or BTF fd (the object lives on while pinned or referenced)."""
    os.close(fd)


def _addr(buf) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


def _buffer(data: bytes | None):
    return ctypes.create_string_buffer(data, len(data)) if data else None


# -- maps -----------------------------------------------------------------

def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, flags: int = 0, *,
               name: str = "", inner_map_fd: int = 0, map_extra: int = 0, btf_fd: int = 0,
               btf_key_type_id: int = 0, btf_value_type_id: int = 0, numa_node: int = 0) -> int:
    """BPF_MAP_CREATE: the new map's fd (with BTF key and value types when btf_fd is given; numa_node
    counts with BPF_F_NUMA_NODE in flags)."""
    attr = MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size, max_entries=max_entries,
                         map_flags=flags, inner_map_fd=inner_map_fd, map_name=name.encode()[:15],
                         map_extra=map_extra, btf_fd=btf_fd, btf_key_type_id=btf_key_type_id,
                         btf_value_type_id=btf_value_type_id, numa_node=numa_node)
    return bpf(BpfCmd.BPF_MAP_CREATE, attr)


def _elem(cmd: BpfCmd, fd: int, key: bytes | None, value, flags: int = 0) -> int:
    kbuf = ctypes.create_string_buffer(key, len(key)) if key is not None else None
    return bpf(cmd, MapElemAttr(map_fd=fd, key=_addr(kbuf), value=_addr(value), flags=flags))


def map_lookup(fd: int, key: bytes | None, value_size: int, value: bytes = b"") -> bytes:
    """The value for key (None for keyless maps: a queue's or stack's peek; a bloom filter checks `value`)."""
    out = ctypes.create_string_buffer(value.ljust(value_size, b"\0"), value_size)
    _elem(BpfCmd.BPF_MAP_LOOKUP_ELEM, fd, key, out)
    return out.raw


def map_lookup_and_delete(fd: int, key: bytes | None, value_size: int) -> bytes:
    """The value for key, removed from the map (a queue's or stack's pop for key None)."""
    out = ctypes.create_string_buffer(value_size)
    _elem(BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, out)
    return out.raw


def map_update(fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
    """Set key to value; flags BPF_ANY (0), BPF_NOEXIST (1), BPF_EXIST (2), BPF_F_LOCK (4)."""
    _elem(BpfCmd.BPF_MAP_UPDATE_ELEM, fd, key, ctypes.create_string_buffer(value, len(value)), flags)


def map_delete(fd: int, key: bytes) -> None:
    _elem(BpfCmd.BPF_MAP_DELETE_ELEM, fd, key, None)


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """The key after `key` (the first key for None, or for a key not in the map), or None at the end."""
    out = ctypes.create_string_buffer(key_size)
    try:
        _elem(BpfCmd.BPF_MAP_GET_NEXT_KEY, fd, key, out)
    except KernelError as err:
        if err.errno == errno.ENOENT:
            return None
        raise
    return out.raw


def map_freeze(fd: int) -> None:
    bpf(BpfCmd.BPF_MAP_FREEZE, FdAttr(fd=fd))


def map_batch(cmd: BpfCmd, fd: int, token: bytes | None, keys: bytes, values: bytes, count: int,
              token_size: int = 0, elem_flags: int = 0) -> tuple[int, bytes | None, bytes, bytes]:
    """One BPF_MAP_*_BATCH: (count done, next token or None at the end, keys, values buffers)."""
    kbuf, vbuf = ctypes.create_string_buffer(keys, len(keys)), ctypes.create_string_buffer(values, len(values))
    tin = ctypes.create_string_buffer(token, len(token)) if token is not None else None
    tout = ctypes.create_string_buffer(max(token_size, 8)) if token_size else None
    attr = BatchAttr(in_batch=_addr(tin), out_batch=_addr(tout), keys=_addr(kbuf), values=_addr(vbuf),
                     count=count, map_fd=fd, elem_flags=elem_flags)
    try:
        bpf(cmd, attr)
    except KernelError as err:
        if err.errno != errno.ENOENT or tout is None:
            raise
        return attr.count, None, kbuf.raw, vbuf.raw
    return attr.count, tout.raw[:token_size] if tout else None, kbuf.raw, vbuf.raw


# -- objects --------------------------------------------------------------------

def obj_pin(fd: int, path: str) -> None:
    name = ctypes.create_string_buffer(path.encode())
    bpf(BpfCmd.BPF_OBJ_PIN, ObjPinAttr(pathname=_addr(name), bpf_fd=fd))


def obj_get(path: str) -> int:
    name = ctypes.create_string_buffer(path.encode())
    return bpf(BpfCmd.BPF_OBJ_GET, ObjPinAttr(pathname=_addr(name)))


_NEXT_ID = {"prog": BpfCmd.BPF_PROG_GET_NEXT_ID, "map": BpfCmd.BPF_MAP_GET_NEXT_ID,
            "link": BpfCmd.BPF_LINK_GET_NEXT_ID, "btf": BpfCmd.BPF_BTF_GET_NEXT_ID}
_FD_BY_ID = {"prog": BpfCmd.BPF_PROG_GET_FD_BY_ID, "map": BpfCmd.BPF_MAP_GET_FD_BY_ID,
             "link": BpfCmd.BPF_LINK_GET_FD_BY_ID, "btf": BpfCmd.BPF_BTF_GET_FD_BY_ID}


def get_next_id(kind: str, start: int = 0) -> int | None:
    """The next id after `start` of a "prog", "map", "link" or "btf", or None after the last."""
    attr = GetIdAttr(start_id=start)
    try:
        bpf(_NEXT_ID[kind], attr)
    except KernelError as err:
        if err.errno == errno.ENOENT:
            return None
        raise
    return attr.next_id


def get_fd_by_id(kind: str, object_id: int) -> int:
    return bpf(_FD_BY_ID[kind], GetIdAttr(start_id=object_id))


def link_detach(fd: int) -> None:
    bpf(BpfCmd.BPF_LINK_DETACH, FdAttr(fd=fd))


def btf_load(data: bytes, log_size: int = 1 << 16) -> int:
    """BPF_BTF_LOAD of raw BTF (header, types, strings); a refusal carries the kernel's BTF log."""
    buf, log = ctypes.create_string_buffer(data, len(data)), ctypes.create_string_buffer(log_size)
    try:
        return bpf(BpfCmd.BPF_BTF_LOAD, BtfLoadAttr(btf=_addr(buf), btf_size=len(data)))
    except KernelError as err:
        try:
            os.close(bpf(BpfCmd.BPF_BTF_LOAD, BtfLoadAttr(btf=_addr(buf), btf_size=len(data), btf_log_buf=_addr(log),
                                                          btf_log_size=log_size, btf_log_level=1)))
        except KernelError:
            err.log = log.value.decode(errors="replace")
        raise err from None


# -- programs ---------------------------------------------------------------

# Errnos of a load refused before the verifier ran: no log to fetch.
_NOT_VERIFIED = (errno.EPERM, errno.ENOSYS, errno.EBADF)


@dataclass
class Loaded:
    fd: int
    log: str  # the verifier's log when log_level > 0


def prog_load(prog_type: int, code: bytes, *, license: str = "GPL", log_level: int = 0,
              log_size: int = 1 << 20, prog_flags: int = 0, expected_attach_type: int = 0,
              name: str = "", fd_array: list[int] | None = None, btf_fd: int = 0,
              func_info: bytes = b"", line_info: bytes = b"", kern_version: int = 0,
              attach_btf_id: int = 0) -> Loaded:
    """BPF_PROG_LOAD of encoded instructions.

    A refused program raises KernelError whose `log` is the verifier's log:
    with log_level 0 the load is retried once at level 1 to get it (as
    libbpf does), so the common path pays nothing for logging.
    """
    insns, lic = ctypes.create_string_buffer(code, len(code)), ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(log_size) if log_size else None
    fds = (ctypes.c_int32 * len(fd_array))(*fd_array) if fd_array else None
    finfo, linfo = _buffer(func_info), _buffer(line_info)

    def attempt(level: int) -> int:
        with_log = level and log is not None
        attr = ProgLoadAttr(prog_type=prog_type, insn_cnt=len(code) // 8, insns=_addr(insns), license=_addr(lic),
                            log_level=level if with_log else 0, log_size=log_size if with_log else 0,
                            log_buf=_addr(log) if with_log else 0, prog_flags=prog_flags,
                            expected_attach_type=expected_attach_type, prog_name=name.encode()[:15],
                            fd_array=_addr(fds), kern_version=kern_version, prog_btf_fd=btf_fd,
                            func_info_rec_size=8 if finfo else 0, func_info=_addr(finfo),
                            func_info_cnt=len(func_info) // 8, line_info_rec_size=16 if linfo else 0,
                            line_info=_addr(linfo), line_info_cnt=len(line_info) // 16,
                            attach_btf_id=attach_btf_id)
        return bpf(BpfCmd.BPF_PROG_LOAD, attr)

    try:
        fd = attempt(log_level)
    except KernelError as err:
        if log is not None and err.errno not in _NOT_VERIFIED:
            if not log_level:
                try:
                    close(attempt(1))  # accepted with a log after all: do not leak it
                except KernelError:
                    pass
            err.log = log.value.decode(errors="replace")
        raise
    return Loaded(fd, log.value.decode(errors="replace") if log is not None and log_level else "")


@dataclass
class TestRun:
    __test__ = False  # not a pytest class
    retval: int  # the program's r0, truncated to 32 bits by the kernel
    duration_ns: int  # mean per run over `repeat` runs
    data_out: bytes
    ctx_out: bytes


def prog_test_run(fd: int, data: bytes = b"", *, repeat: int = 1, ctx: bytes = b"",
                  data_out_size: int | None = None, ctx_out_size: int = 0, flags: int = 0) -> TestRun:
    """BPF_PROG_TEST_RUN: run the program `repeat` times on data (a packet) and/or ctx."""
    din, cin = _buffer(data), _buffer(ctx)
    out_size = len(data) + 256 if data_out_size is None else data_out_size
    dout = ctypes.create_string_buffer(out_size) if out_size else None
    cout = ctypes.create_string_buffer(ctx_out_size) if ctx_out_size else None
    attr = TestRunAttr(prog_fd=fd, data_size_in=len(data), data_size_out=out_size if dout else 0,
                       data_in=_addr(din), data_out=_addr(dout), repeat=repeat, flags=flags,
                       ctx_size_in=len(ctx), ctx_size_out=ctx_out_size, ctx_in=_addr(cin), ctx_out=_addr(cout))
    bpf(BpfCmd.BPF_PROG_TEST_RUN, attr)
    return TestRun(attr.retval, attr.duration,
                   dout.raw[:attr.data_size_out] if dout else b"", cout.raw[:attr.ctx_size_out] if cout else b"")


# -- object info --------------------------------------------------------------

def obj_get_info(fd: int, info: ctypes.Structure) -> int:
    """BPF_OBJ_GET_INFO_BY_FD into `info` (a BpfProgInfo, BpfMapInfo...); the number of bytes filled."""
    attr = InfoByFdAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    bpf(BpfCmd.BPF_OBJ_GET_INFO_BY_FD, attr)
    return attr.info_len


@dataclass
class ProgInfo:
    type: int
    id: int
    name: str
    tag: str  # hex, as bpftool prints it
    xlated_prog_len: int  # bytes of the program after the verifier's rewrites
    jited_prog_len: int  # bytes of native code (0 without the JIT)
    verified_insns: int
    run_cnt: int  # counted only while BPF_ENABLE_STATS is on
    run_time_ns: int
    xlated: bytes  # the rewritten instructions, when asked for


def prog_info(fd: int, *, xlated: bool = False) -> ProgInfo:
    """The kernel's view of a loaded program (and its rewritten instructions with xlated=True)."""
    info = BpfProgInfo()
    obj_get_info(fd, info)
    code = b""
    if xlated and info.xlated_prog_len:
        buf = ctypes.create_string_buffer(info.xlated_prog_len)
        again = BpfProgInfo(xlated_prog_len=info.xlated_prog_len, xlated_prog_insns=ctypes.addressof(buf))
        obj_get_info(fd, again)
        code = buf.raw
    return ProgInfo(info.type, info.id, info.name.decode(errors="replace"), bytes(info.tag).hex(),
                    info.xlated_prog_len, info.jited_prog_len, info.verified_insns, info.run_cnt,
                    info.run_time_ns, code)


@dataclass
class MapInfo:
    type: int
    id: int
    name: str
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int


def map_info(fd: int) -> MapInfo:
    """The kernel's view of a map."""
    info = BpfMapInfo()
    obj_get_info(fd, info)
    return MapInfo(info.type, info.id, info.name.decode(errors="replace"), info.key_size, info.value_size,
                   info.max_entries, info.map_flags)


# -- probing ------------------------------------------------------------------

_TRIVIAL = bytes.fromhex("b700000000000000" "9500000000000000")  # r0 = 0; exit


def kernel_available() -> tuple[bool, str]:
    """Whether this process may load and run a trivial program, and if not, why (for skip messages)."""
    if platform.system() != "Linux":
        return False, f"bpf() needs Linux (this is {platform.system()})"
    try:
        loaded = prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, _TRIVIAL)
        try:
            prog_test_run(loaded.fd, bytes(64))
        finally:
            close(loaded.fd)
    except KernelError as err:
        return False, f"bpf() is not usable here: {err.args[0]}"
    return True, f"bpf() available (Linux {platform.release()})"

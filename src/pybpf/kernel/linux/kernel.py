"""The running Linux kernel behind the Kernel protocol, through bpf(2) and nothing else.

Every protocol method is one or a few `syscall` wrappers; what this module
adds is what the protocol promises beyond the raw syscall: values sized for
per-CPU maps, batch operations as lists of pairs, info as dicts with the
kernel's field names (as the virtual kernel gives them), the protocol's
log-buffer rules, and errors as `BpfError` with advice (`errno_hints`).
Attach points live in `linux.attach` (imported when first used).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from dataclasses import dataclass

from ...isa.insn import Insn, encode
from ...uapi import PERCPU_MAP_TYPES, ProgType
from ..errors import BpfError
from ..protocol import log_attr_error
from . import syscall
from .attr import BpfBtfInfo, BpfLinkInfo, BpfMapInfo, BpfProgInfo
from .errno_hints import translate
from .symbols import StackSymbols

PERCPU_TYPES = PERCPU_MAP_TYPES
BPF_F_SLEEPABLE = 1 << 4
# Section kind -> (prefix of the vmlinux BTF name, its kind) that a program's attach_btf_id names.
ATTACH_BTF_NAMES = {"tp_btf": ("btf_trace_", "TYPEDEF"), "lsm": ("bpf_lsm_", "FUNC"), "lsm_cgroup": ("bpf_lsm_", "FUNC"),
                    "iter": ("bpf_iter_", "FUNC"), "fentry": ("", "FUNC"), "fexit": ("", "FUNC"),
                    "fmod_ret": ("", "FUNC")}


def possible_cpus() -> int:
    """How many CPUs the kernel may ever bring up (/sys/devices/system/cpu/possible, as libbpf reads it)."""
    try:
        text = open("/sys/devices/system/cpu/possible").read().strip()
    except OSError:
        return os.cpu_count() or 1
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


@dataclass(frozen=True)
class Loaded:
    fd: int
    log: str


@dataclass(frozen=True)
class TestRun:
    __test__ = False
    retval: int
    duration_ns: int
    data_out: bytes
    ctx_out: bytes


class LinuxMap:
    """A map of the running kernel seen as a Python mapping of bytes to bytes (what `kernel.map(fd)` gives)."""

    def __init__(self, kernel: "LinuxKernel", fd: int):
        self.kernel, self.fd = kernel, fd
        info = kernel.info(fd)
        self.map_type, self.key_size, self.value_size = info["type"], info["key_size"], info["value_size"]
        self.max_entries, self.flags, self.name = info["max_entries"], info["map_flags"], info["name"]

    def __getitem__(self, key: bytes) -> bytes:
        try:
            return self.kernel.map_lookup(self.fd, key)
        except BpfError as err:
            if err.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def get(self, key: bytes, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.kernel.map_update(self.fd, key, value)

    def __delitem__(self, key: bytes) -> None:
        self.kernel.map_delete(self.fd, key)

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def keys(self) -> list[bytes]:
        out, key = [], None
        while (key := self.kernel.map_get_next_key(self.fd, key)) is not None:
            out.append(key)
        return out

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def items(self) -> list[tuple[bytes, bytes]]:
        pairs = []
        for key in self.keys():
            value = self.get(key)
            if value is not None:  # deleted between the two calls
                pairs.append((key, value))
        return pairs

    def values(self) -> list[bytes]:
        return [value for _, value in self.items()]

    def consume(self, on_record) -> int:
        """A ring buffer's records, each passed to on_record(bytes) (through linux.ringbuf)."""
        try:
            from .ringbuf import consume
        except ImportError:
            raise BpfError("ringbuf", errno.ENOTSUP, "reading ring buffers on Linux needs "
                           "pybpf.kernel.linux.ringbuf, which this installation lacks") from None
        return consume(self, on_record)


class LinuxKernel:
    """The Kernel protocol on the running kernel (needs CAP_BPF, or root)."""

    def __init__(self):
        self.ncpus = possible_cpus()
        self._value_sizes: dict[int, tuple[int, int]] = {}  # fd -> (key size, value size as user space sees it)
        self._links: dict[int, object] = {}  # link fd -> the attachment linux.attach returned
        self._oneshots: dict[str, list[int]] = {}
        self._sources: dict[int, tuple] = {}  # prog fd -> (code, license, fd_array, name, extra): oneshot twins
        self.stacks = StackSymbols()  # kstack/ustack frames (trace/output/stacks.py)

    # -- maps -----------------------------------------------------------------
    def map_create(self, map_type: int, key_size: int, value_size: int, max_entries: int, flags: int = 0, *,
                   name: str = "", map_extra: int = 0, inner_map_fd: int = 0, btf_fd: int = 0,
                   btf_key_type_id: int = 0, btf_value_type_id: int = 0, numa_node: int = 0) -> int:
        """BPF_MAP_CREATE; beyond the protocol, the BTF arguments give the kernel the key and value types, and
        numa_node the memory node (with BPF_F_NUMA_NODE)."""
        with translate("BPF_MAP_CREATE", what=f"map type {map_type}"):
            return syscall.map_create(map_type, key_size, value_size, max_entries, flags, name=name,
                                      inner_map_fd=inner_map_fd, map_extra=map_extra, btf_fd=btf_fd,
                                      btf_key_type_id=btf_key_type_id, btf_value_type_id=btf_value_type_id,
                                      numa_node=numa_node)

    def _sizes(self, fd: int) -> tuple[int, int]:
        """(key size, value size) of map fd; per-CPU values are one 8-byte-aligned slot a possible CPU."""
        sizes = self._value_sizes.get(fd)
        if sizes is None:
            with translate("BPF_OBJ_GET_INFO_BY_FD"):
                info = syscall.map_info(fd)
            value_size = info.value_size
            if info.type in PERCPU_TYPES:
                value_size = (value_size + 7) // 8 * 8 * self.ncpus
            sizes = self._value_sizes[fd] = (info.key_size, value_size)
        return sizes

    def map_lookup(self, fd: int, key: bytes | None, value: bytes = b"") -> bytes:
        with translate("BPF_MAP_LOOKUP_ELEM"):
            return syscall.map_lookup(fd, key, self._sizes(fd)[1], value)

    def map_update(self, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
        with translate("BPF_MAP_UPDATE_ELEM"):
            syscall.map_update(fd, key, value, flags)

    def map_delete(self, fd: int, key: bytes | None) -> None:
        with translate("BPF_MAP_DELETE_ELEM"):
            syscall.map_delete(fd, key)

    def map_get_next_key(self, fd: int, key: bytes | None) -> bytes | None:
        with translate("BPF_MAP_GET_NEXT_KEY"):
            return syscall.map_get_next_key(fd, key, self._sizes(fd)[0])

    def map_lookup_and_delete(self, fd: int, key: bytes | None) -> bytes:
        with translate("BPF_MAP_LOOKUP_AND_DELETE_ELEM"):
            return syscall.map_lookup_and_delete(fd, key, self._sizes(fd)[1])

    def map_lookup_batch(self, fd: int, token: bytes | None, count: int, *, delete: bool = False):
        """BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH): ([(key, value)...], next token or None)."""
        cmd = syscall.BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH if delete else syscall.BpfCmd.BPF_MAP_LOOKUP_BATCH
        key_size, value_size = self._sizes(fd)
        with translate(cmd.name):
            done, nxt, keys, values = syscall.map_batch(cmd, fd, token, bytes(key_size * count),
                                                        bytes(value_size * count), count,
                                                        token_size=max(key_size, 4))
        pairs = [(keys[i * key_size:(i + 1) * key_size], values[i * value_size:(i + 1) * value_size])
                 for i in range(done)]
        return pairs, nxt

    def map_update_batch(self, fd: int, pairs, flags: int = 0) -> int:
        pairs = list(pairs)
        if not pairs:
            return 0
        with translate("BPF_MAP_UPDATE_BATCH"):
            return syscall.map_batch(syscall.BpfCmd.BPF_MAP_UPDATE_BATCH, fd, None, b"".join(k for k, _ in pairs),
                                     b"".join(v for _, v in pairs), len(pairs), elem_flags=flags)[0]

    def map_delete_batch(self, fd: int, keys) -> int:
        keys = list(keys)
        if not keys:
            return 0
        with translate("BPF_MAP_DELETE_BATCH"):
            return syscall.map_batch(syscall.BpfCmd.BPF_MAP_DELETE_BATCH, fd, None, b"".join(keys), b"",
                                     len(keys))[0]

    def map_freeze(self, fd: int) -> None:
        with translate("BPF_MAP_FREEZE"):
            syscall.map_freeze(fd)

    def map(self, fd: int) -> LinuxMap:
        """The Python view of a map, as the virtual kernel's `map(fd)`: a mapping of bytes to bytes."""
        return LinuxMap(self, fd)

    # -- BTF ------------------------------------------------------------------------
    def btf_load(self, data: bytes) -> int:
        """BPF_BTF_LOAD of raw BTF; its fd."""
        with translate("BPF_BTF_LOAD"):
            return syscall.btf_load(data)

    def core_target(self):
        """What CO-RE relocations are applied against: the running kernel's /sys/kernel/btf/vmlinux."""
        from .btf_vmlinux import vmlinux_btf
        return vmlinux_btf()

    def attach_btf_id(self, prog) -> int:
        """The vmlinux BTF id a tracing, LSM or iterator program names in its section (libbpf's
        find_attach_btf_id: fentry/fexit/fmod_ret the function, tp_btf btf_trace_NAME, lsm bpf_lsm_NAME,
        iter bpf_iter_NAME); BpfError naming it when the kernel has none."""
        from .btf_vmlinux import vmlinux_btf
        kind = prog.section.split("/", 1)[0].split(".", 1)[0]
        prefix, btf_kind = ATTACH_BTF_NAMES.get(kind, ("", "FUNC"))
        name = prefix + prog.attach_target
        found = vmlinux_btf().candidates(btf_kind, name) if prog.attach_target else []
        if not found:
            raise BpfError("BPF_PROG_LOAD", errno.ESRCH, f"the kernel's BTF "
                           f"has no {btf_kind.lower()} {name or '(no target in the section name)'} to attach to")
        return found[0]

    def ksym(self, name: str, kind: str, typeless: bool):
        """Where the `__ksym` extern `name` ("kfunc" or "ksym") is in this kernel (linux.ksyms.resolve)."""
        from .ksyms import resolve
        return resolve(name, kind, typeless)

    # -- programs -----------------------------------------------------------------------
    def prog_load(self, prog_type: int, program, license: str = "GPL", *, log_level: int = 0, log_size: int = 0,
                  expected_attach_type: int = 0, name: str = "", fd_array: list[int] | None = None,
                  **extra) -> Loaded:
        """BPF_PROG_LOAD; a refusal carries the verifier's log even when no log was asked for."""
        log_error = log_attr_error(log_level, log_size)
        if log_error:  # refused here as the kernel would, before the syscall's own retry for a log
            raise BpfError("BPF_PROG_LOAD", errno.EINVAL, log_error)
        if prog_type == ProgType.BPF_PROG_TYPE_SYSCALL:  # "Syscall programs can only be sleepable"
            extra["prog_flags"] = extra.get("prog_flags", 0) | BPF_F_SLEEPABLE
        code = program if isinstance(program, (bytes, bytearray)) else encode(list(program))
        with translate("BPF_PROG_LOAD", what=f"program type {prog_type}"):
            level = log_level if log_size else 0  # a level without a buffer logs nothing, as in the kernel
            loaded = syscall.prog_load(prog_type, bytes(code), license=license, log_level=level,
                                       log_size=log_size if level else 1 << 20,
                                       expected_attach_type=expected_attach_type, name=name,
                                       fd_array=fd_array, **extra)
        # for oneshot twins, with the BTF, func_info and line_info a program with sub-programs needs (the
        # loader closes its BTF fd once the programs are loaded: the twin holds a copy)
        if extra.get("btf_fd"):
            extra = dict(extra, btf_fd=os.dup(extra["btf_fd"]))
        self._sources[loaded.fd] = (bytes(code), license, list(fd_array or []), name, extra)
        return Loaded(loaded.fd, loaded.log)

    def prog_test_run(self, fd: int, data: bytes = b"", *, ctx: bytes = b"", repeat: int = 1) -> TestRun:
        with translate("BPF_PROG_TEST_RUN"):
            if syscall.prog_info(fd).type == ProgType.BPF_PROG_TYPE_SYSCALL:
                repeat = 0  # syscall programs run once and refuse a repeat count
            run = syscall.prog_test_run(fd, data, ctx=ctx, repeat=repeat, data_out_size=len(data) + 256 if data else 0,
                                        ctx_out_size=len(ctx))
        return TestRun(run.retval, run.duration_ns, run.data_out, run.ctx_out)

    # -- objects ---------------------------------------------------------------------------
    def obj_pin(self, fd: int, path: str) -> None:
        with translate("BPF_OBJ_PIN", what=path):
            syscall.obj_pin(fd, path)

    def obj_get(self, path: str) -> int:
        with translate("BPF_OBJ_GET", what=path):
            return syscall.obj_get(path)

    def unpin(self, path: str) -> None:
        try:
            os.unlink(path)
        except OSError as err:
            raise BpfError("unlink", err.errno, f"{path}: {err.strerror}") from None

    def get_next_id(self, kind: str, start: int = 0) -> int | None:
        with translate(f"BPF_{kind.upper()}_GET_NEXT_ID"):
            return syscall.get_next_id(kind, start)

    def get_fd_by_id(self, kind: str, object_id: int) -> int:
        with translate(f"BPF_{kind.upper()}_GET_FD_BY_ID", what=f"{kind} id {object_id}"):
            return syscall.get_fd_by_id(kind, object_id)

    def info(self, fd: int) -> dict:
        """BPF_OBJ_GET_INFO_BY_FD, as a dict with the kernel's field names (what kind of object, found out)."""
        return object_info(fd)

    def close(self, fd: int) -> None:
        attachment = self._links.pop(fd, None)
        for fds in self._oneshots.values():
            if fd in fds:
                fds.remove(fd)
        if attachment is not None:
            attachment.close()
            return
        self._value_sizes.pop(fd, None)
        source = self._sources.pop(fd, None)
        if source is not None and source[4].get("btf_fd"):
            os.close(source[4]["btf_fd"])
        try:
            os.close(fd)
        except OSError as err:
            raise BpfError("close", err.errno, f"fd {fd}") from None

    # -- attach points -------------------------------------------------------------------------
    def link_create(self, prog_fd: int, target: str, **options) -> int:
        """Attach a program: "oneshot:BEGIN"/"oneshot:END" here (run by trigger), the rest by linux.attach."""
        if target.startswith("oneshot:"):
            fd = self._oneshot_twin(prog_fd)  # a handle the caller closes like a link
            self._oneshots.setdefault(target.split(":", 1)[1], []).append(fd)
            return fd
        try:
            from .attach import attach
        except ImportError:
            raise BpfError("BPF_LINK_CREATE", errno.ENOTSUP, f"attaching to {target!r} on Linux needs "
                           "pybpf.kernel.linux.attach, which this installation lacks") from None
        attachment = attach(self, prog_fd, target, **options)
        fd = attachment.fd if isinstance(getattr(attachment, "fd", None), int) else os.open("/dev/null", os.O_RDONLY)
        self._links[fd] = attachment
        return fd

    def _oneshot_twin(self, prog_fd: int) -> int:
        """A program fd BPF_PROG_TEST_RUN can run for BEGIN/END: the program itself if its type runs there,
        else the same code loaded again as a raw tracepoint program (bpftrace's BEGIN is a uprobe)."""
        with translate("BPF_OBJ_GET_INFO_BY_FD"):
            prog_type = syscall.prog_info(prog_fd).type
        if prog_type in (ProgType.BPF_PROG_TYPE_SYSCALL, ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT):
            return os.dup(prog_fd)
        source = self._sources.get(prog_fd)
        if source is None:
            raise BpfError("BPF_PROG_TEST_RUN", errno.EINVAL, f"program fd {prog_fd} was not loaded through this "
                           "kernel object, and its type cannot run with BPF_PROG_TEST_RUN")
        code, license, fd_array, name, extra = source
        with translate("BPF_PROG_LOAD", what="a oneshot (BEGIN/END) program as a raw tracepoint"):
            return syscall.prog_load(ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT, code, license=license, name=name,
                                     fd_array=fd_array, **extra).fd

    def link_detach(self, fd: int) -> None:
        attachment = self._links.get(fd)
        if attachment is not None and hasattr(attachment, "detach"):
            attachment.detach()
            return
        with translate("BPF_LINK_DETACH"):
            syscall.link_detach(fd)

    def trigger(self, name: str) -> int:
        """Run every program attached to `oneshot:NAME` (BEGIN, END) once, with BPF_PROG_TEST_RUN."""
        fds = list(self._oneshots.get(name, []))
        for fd in fds:
            with translate("BPF_PROG_TEST_RUN", what=f"the {name} program"):
                syscall.prog_test_run(fd, b"", repeat=0, data_out_size=0)  # syscall progs refuse a repeat
        return len(fds)


# -- info ------------------------------------------------------------------------------------------

def _fields(info: ctypes.Structure) -> dict:
    out = {}
    for name, _ in info._fields_:
        if name.startswith("_"):
            continue
        value = getattr(info, name)
        out[name] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return out


def _kind(fd: int) -> str:
    """What bpffs-anon-inode object fd is: "prog", "map", "link" or "btf" (from /proc/self/fdinfo)."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        raise BpfError("BPF_OBJ_GET_INFO_BY_FD", errno.EBADF, f"fd {fd} is not open") from None
    for kind in ("prog", "map", "link", "btf"):
        if target in (f"anon_inode:bpf-{kind}", f"anon_inode:bpf_{kind}", f"anon_inode:{kind}"):
            return kind
    raise BpfError("BPF_OBJ_GET_INFO_BY_FD", errno.EINVAL, f"fd {fd} is {target}, not a BPF object")


def object_info(fd: int, *, xlated: bool = False) -> dict:
    """The kernel's info for a prog, map, link or BTF fd, as a dict (xlated=True adds the rewritten insns)."""
    kind = _kind(fd)
    with translate("BPF_OBJ_GET_INFO_BY_FD"):
        if kind == "map":
            info = BpfMapInfo()
            syscall.obj_get_info(fd, info)
            return _fields(info)
        if kind == "link":
            info = BpfLinkInfo()
            syscall.obj_get_info(fd, info)
            return _fields(info)
        if kind == "btf":
            info = BpfBtfInfo()
            syscall.obj_get_info(fd, info)
            name = ctypes.create_string_buffer(256)
            again = BpfBtfInfo(name=ctypes.addressof(name), name_len=256)
            syscall.obj_get_info(fd, again)
            return {**_fields(info), "name": name.value.decode(errors="replace")}
        return _prog_info(fd, xlated)


def _array(count: int, ctype=ctypes.c_uint32):
    return (ctype * max(count, 1))()


def _prog_info(fd: int, xlated: bool) -> dict:
    """A program's info; with xlated=True also its rewritten and its native code, func_info and line_info (as (pc, type id)
    and (pc, line string offset) pairs), its sub-programs' tags and jited instruction lengths."""
    info = BpfProgInfo()
    syscall.obj_get_info(fd, info)
    ids = _array(info.nr_map_ids)
    out = _fields(info)
    if not xlated:
        again = BpfProgInfo(nr_map_ids=info.nr_map_ids, map_ids=ctypes.addressof(ids))
        syscall.obj_get_info(fd, again)
    else:
        code = ctypes.create_string_buffer(max(info.xlated_prog_len, 1))
        finfo = _array(info.nr_func_info * 2)
        linfo = _array(info.nr_line_info * 4)
        tags = _array(info.nr_prog_tags, ctypes.c_uint64)
        lens = _array(info.nr_jited_func_lens)
        jited = ctypes.create_string_buffer(max(info.jited_prog_len, 1))
        again = BpfProgInfo(jited_prog_len=info.jited_prog_len, jited_prog_insns=ctypes.addressof(jited),
                            nr_map_ids=info.nr_map_ids, map_ids=ctypes.addressof(ids),
                            xlated_prog_len=info.xlated_prog_len, xlated_prog_insns=ctypes.addressof(code),
                            nr_func_info=info.nr_func_info, func_info_rec_size=8, func_info=ctypes.addressof(finfo),
                            nr_line_info=info.nr_line_info, line_info_rec_size=16,
                            line_info=ctypes.addressof(linfo), nr_prog_tags=info.nr_prog_tags,
                            prog_tags=ctypes.addressof(tags), nr_jited_func_lens=info.nr_jited_func_lens,
                            jited_func_lens=ctypes.addressof(lens))
        syscall.obj_get_info(fd, again)
        out["xlated"] = code.raw[:info.xlated_prog_len]
        out["jited"] = jited.raw[:info.jited_prog_len]
        out["func_info"] = [(finfo[2 * i], finfo[2 * i + 1]) for i in range(info.nr_func_info)]
        out["line_info"] = [(linfo[4 * i], linfo[4 * i + 2]) for i in range(info.nr_line_info)]
        out["prog_tags"] = [bytes(ctypes.c_uint64(tags[i])).hex() for i in range(info.nr_prog_tags)]
        out["jited_func_lens"] = list(lens)[:info.nr_jited_func_lens]
    out.update(tag=bytes(info.tag).hex(), map_ids=list(ids)[:info.nr_map_ids])
    for pointer in ("jited_prog_insns", "xlated_prog_insns", "jited_ksyms", "jited_line_info"):
        out.pop(pointer, None)
    if not xlated:
        for pointer in ("jited_func_lens", "func_info", "line_info", "prog_tags"):
            out.pop(pointer, None)
    return out


@functools.cache
def available() -> tuple[bool, str]:
    return syscall.kernel_available()


__all__ = ["LinuxKernel", "LinuxMap", "object_info", "possible_cpus", "Insn"]

"""The virtual kernel: Linux's bpf() commands, in process, with Linux's numbers and errnos.

Objects (maps, programs, links) live in a file-descriptor table and have ids,
as in Linux; pinning gives them paths.  All memory programs may touch (map
values, stacks, contexts, packets) lives in one `AddressSpace`, so a pointer
one program gets from a map is valid in every program.  Programs run on the
engine `vm.engines.choose` picks.  Program load runs the verifier
(`pybpf.verifier.verify`) on the kernel's own map objects, license and
privilege, as Linux's bpf_check does: a program Linux would refuse as unsafe
is refused here with the same errno and log, and only a verified program
runs (so the native engine may run it without its checked mode).  The
reference interpreter keeps its own bounds checks: it is the oracle.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import struct
import itertools
import os
import threading
import time
from dataclasses import dataclass, field

from ...elf import ElfError
from ...elf.btf import Btf
from ...helpers import REGISTRY
from ...isa.insn import EncodingError, Insn, decode, encode
from ...isa.opcodes import (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
                            BPF_PSEUDO_MAP_VALUE)
from ...maps.base import BPF_F_INNER_MAP, BPF_F_RDONLY, BPF_F_WRONLY
from ...maps import BPF_F_RDONLY_PROG, Map, MapAttrs, MapError, PerfEventArrayMap, PerfRing, create_map
from ...maps.fd_array import FdArray, MapInMap, ProgArrayMap
from ...uapi import MapType, ProgType
from ...vm import AddressSpace, Interpreter, ProgramError, Region, VMFault
from ...vm.compiled import translations_kept_in
from ...vm.engines import ENGINES, UnknownEngine, engine_name
from ...vm.engines import options as engine_options
from ...vm.engines import choose as choose_engine
from ..errors import BpfError
from ..protocol import BPF_LOG_FIXED, log_attr_error
from . import packet_ctx, probe_ctx
from .attach import ATTACH_POINTS
from .stacks import StackTable
from .trace_pipe import TracePipe, task_comm
from .verdicts import VerdictCache

BPF_MAXINSNS = 4096
BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
ENOTSUPP = 524
# Program types whose test run takes only a context (raw tracepoint args, a syscall's struct).
CAN_READ, CAN_WRITE = 1, 2
# What each user-space map command needs (Linux's map_get_sys_perms: EPERM without it).
MAP_COMMAND_NEEDS = {
    "BPF_MAP_LOOKUP_ELEM": CAN_READ, "BPF_MAP_GET_NEXT_KEY": CAN_READ, "BPF_MAP_LOOKUP_BATCH": CAN_READ,
    "BPF_MAP_UPDATE_ELEM": CAN_WRITE, "BPF_MAP_DELETE_ELEM": CAN_WRITE, "BPF_MAP_UPDATE_BATCH": CAN_WRITE,
    "BPF_MAP_DELETE_BATCH": CAN_WRITE, "BPF_MAP_FREEZE": CAN_WRITE,
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM": CAN_READ | CAN_WRITE, "BPF_MAP_LOOKUP_AND_DELETE_BATCH": CAN_READ | CAN_WRITE,
}
MAP_IN_MAP_TYPES = {MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, MapType.BPF_MAP_TYPE_HASH_OF_MAPS}
# Inner maps whose max_entries must match the template's unless it has BPF_F_INNER_MAP.
FIXED_SIZE_INNER = {MapType.BPF_MAP_TYPE_ARRAY, MapType.BPF_MAP_TYPE_PERCPU_ARRAY}
CTX_TYPES = {ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT, ProgType.BPF_PROG_TYPE_SYSCALL}
# Licenses whose programs may call GPL-only helpers (include/linux/license.h).
GPL_COMPATIBLE = {"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"}
# The only program types a process without CAP_BPF may load (bpf_prog_load).
UNPRIVILEGED_PROG_TYPES = {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_CGROUP_SKB}
BPF_LOG_LEVEL, BPF_LOG_LEVEL2 = 3, 2  # log_level bits: the instruction trace (1 or 2; 2 keeps it on success)


@dataclass
class MapObject:
    id: int
    map: Map
    handle: Region  # its address is the "struct bpf_map *" programs pass to helpers
    regions: dict[int, Region] = field(default_factory=dict)
    frozen: bool = False
    inner: Map | None = None  # a map-in-map's template for its inner maps


@dataclass
class ProgObject:
    id: int
    prog_type: int
    name: str
    license: str
    insns: list[Insn]
    interp: Interpreter
    tag: str
    maps: list[MapObject]
    load_time_ns: int
    verified_insns: int = 0  # instructions the verifier processed
    run_cnt: int = 0
    run_time_ns: int = 0


@dataclass
class LinkObject:
    id: int
    prog: ProgObject
    target: str
    attachment: object


@dataclass
class BtfObject:
    """A BTF blob loaded with BPF_BTF_LOAD: the types a program's func_info and a map's key and value name."""

    btf: Btf


@dataclass(frozen=True)
class Loaded:
    fd: int
    log: str


@dataclass(frozen=True)
class TestRun:
    retval: int
    duration_ns: int
    data_out: bytes
    ctx_out: bytes


class PerfBuffer:
    """The consumer side of a perf event array: every CPU's ring, polled together."""

    def __init__(self, rings: list[PerfRing]):
        self.rings = rings

    def poll(self, on_sample, on_lost=None, timeout: float | None = 0.0) -> int:
        """Call on_sample(cpu, data) for each sample, on_lost(cpu, count) for each loss; return samples read."""
        if timeout and not any(r.samples or r.lost for r in self.rings):
            ring = self.rings[0]
            with ring.ready:
                ring.ready.wait_for(lambda: any(r.samples or r.lost for r in self.rings), timeout)
        return sum(ring.read(on_sample, on_lost) for ring in self.rings)

    @property
    def lost(self) -> int:
        return sum(ring.lost_total for ring in self.rings)


class VirtualKernel:
    """The BPF subsystem, in process.  Thread-safe: program runs are serialised by one lock."""

    def __init__(self, ncpus: int | None = None, *, privileged: bool = True, checked: bool = False,
                 cache: str | os.PathLike | None = None):
        """`privileged`: the loader has CAP_BPF (else Linux's unprivileged rules hold: socket filter and
        cgroup skb programs only, no pointer leaks, 4096 instructions); `checked`: the native engine keeps
        its bounds checks even for verified programs; `cache`: a folder where loads leave what they cost
        for the next process, a virtual-kernel shortcut: the verifier's acceptances (verdicts.py; a program
        accepted before is not verified again) and the compiled engine's translations
        (vm.compiled.translations_kept_in)."""
        self.ncpus = ncpus or os.cpu_count() or 1
        self.privileged, self.checked = privileged, checked
        self.verdicts = VerdictCache(os.path.join(cache, "verdicts")) if cache is not None else None
        self.translations = os.path.join(cache, "translations") if cache is not None else None
        self.mem = AddressSpace()
        self.trace_pipe = TracePipe()
        self.lock = threading.RLock()
        self._fds: dict[int, object] = {}
        self._next_fd = itertools.count(3)
        self._ids = {kind: itertools.count(1) for kind in ("map", "prog", "link")}
        self._by_id: dict[str, dict[int, object]] = {"map": {}, "prog": {}, "link": {}}
        self._map_handles: dict[int, MapObject] = {}
        self.pins: dict[str, object] = {}
        self.oneshots: dict[str, list] = {}
        self.faults: list[VMFault] = []  # run-time faults of programs fired by events
        self.probe_contexts = probe_ctx.ProbeContexts(self.mem)
        self.stacks = StackTable()
        self._tasks: dict[int, Region] = {}

    # -- file descriptors ------------------------------------------------------
    def _install(self, obj) -> int:
        fd = next(self._next_fd)
        self._fds[fd] = obj
        return fd

    def _get(self, fd: int, kind: type, command: str):
        obj = self._fds.get(fd)
        if obj is None:
            raise BpfError(command, errno.EBADF, f"fd {fd} is not open")
        if not isinstance(obj, kind):
            raise BpfError(command, errno.EINVAL, f"fd {fd} is not a {kind.__name__.removesuffix('Object').lower()}")
        return obj

    def close(self, fd: int) -> None:
        obj = self._fds.pop(fd, None)
        if obj is None:
            raise BpfError("close", errno.EBADF, f"fd {fd} is not open")
        if isinstance(obj, LinkObject) and obj not in self._fds.values() and obj not in self.pins.values():
            self._detach(obj)
        self._collect()

    def _collect(self) -> None:
        """Free the maps and programs nothing holds any more, as Linux's reference counts do.

        Holders: open fds, pins, attached links (their program), programs
        (the maps they use), program arrays and map-in-maps (their slots).
        """
        live: set[int] = set()
        todo = [*self._fds.values(), *self.pins.values(), *self._by_id["link"].values()]
        while todo:
            obj = todo.pop()
            if id(obj) in live:
                continue
            live.add(id(obj))
            if isinstance(obj, LinkObject):
                todo.append(obj.prog)
            elif isinstance(obj, ProgObject):
                todo.extend(obj.maps)
            elif isinstance(obj, MapObject) and isinstance(obj.map, (FdArray, MapInMap)):
                todo.extend(obj.map.slots.values())
        for kind in ("prog", "map"):
            for object_id, obj in list(self._by_id[kind].items()):
                if id(obj) not in live:
                    del self._by_id[kind][object_id]
                    self._free(obj)

    def _free(self, obj) -> None:
        if isinstance(obj, ProgObject):
            regions = [obj.interp.code, *obj.interp.stacks]
        else:
            del self._map_handles[obj.handle.start]
            regions = [obj.handle, *obj.regions.values()]
            obj.regions.clear()
        for region in regions:
            self.mem.unmap(region)

    # -- maps --------------------------------------------------------------------
    def btf_load(self, data: bytes) -> int:
        """BPF_BTF_LOAD: raw BTF (header, types, strings) for programs' func_info and maps' types."""
        try:
            btf = Btf.parse(bytes(data))
        except ElfError as err:
            raise BpfError("BPF_BTF_LOAD", errno.EINVAL, str(err), log=f"{err}\n") from None
        return self._install(BtfObject(btf))

    def map_create(self, map_type: int, key_size: int, value_size: int, max_entries: int, flags: int = 0, *,
                   name: str = "", map_extra: int = 0, inner_map_fd: int = 0, btf_fd: int = 0,
                   btf_key_type_id: int = 0, btf_value_type_id: int = 0) -> int:
        """BPF_MAP_CREATE; a map-in-map takes its inner maps' template from `inner_map_fd`, as Linux does.
        The key and value's BTF (`btf_fd` and type ids) must name a loaded BTF; they are not kept."""
        if btf_fd:
            btf = self._get(btf_fd, BtfObject, "BPF_MAP_CREATE").btf
            if not 0 < btf_value_type_id <= len(btf) or not 0 <= btf_key_type_id <= len(btf):
                raise BpfError("BPF_MAP_CREATE", errno.EINVAL, f"BTF type ids {btf_key_type_id} (key) and "
                               f"{btf_value_type_id} (value) are not in the BTF of fd {btf_fd}")
        template = None
        if map_type in MAP_IN_MAP_TYPES:
            try:
                template = self._inner_template(inner_map_fd)
            except MapError as err:
                raise BpfError("BPF_MAP_CREATE", err.errno, err.strerror) from None
        try:
            bpf_map = create_map(MapAttrs(map_type, key_size, value_size, max_entries, flags, name[:15],
                                          map_extra, ncpus=self.ncpus))
        except MapError as err:
            raise BpfError("BPF_MAP_CREATE", err.errno, err.strerror) from None
        obj = MapObject(next(self._ids["map"]), bpf_map, self.mem.map(f"map {name or '(unnamed)'}", 8, writable=False),
                        inner=template)
        bpf_map.bind(lambda value, what: self._map_value(obj, value, what), lambda value: self._unmap_value(obj, value))
        self._map_handles[obj.handle.start] = obj
        self._by_id["map"][obj.id] = obj
        if isinstance(bpf_map, ProgArrayMap):  # slots hold program objects
            bpf_map.resolve_fd = self._prog_for_slot
            bpf_map.object_id = lambda prog: prog.id
        elif isinstance(bpf_map, PerfEventArrayMap):  # slots hold perf event rings
            bpf_map.resolve_fd = lambda fd: self._fds.get(fd)
        elif isinstance(bpf_map, MapInMap):  # slots hold maps like the template; programs get their handle
            bpf_map.resolve_fd = lambda fd: self._map_for_slot(fd, template)
            bpf_map.object_id = lambda inner: inner.id
            bpf_map.handle_of = lambda inner: inner.handle.start
        return self._install(obj)

    def _inner_template(self, fd: int) -> Map:
        """The map an outer map's inner maps must look like (bpf_map_meta_alloc)."""
        obj = self._fds.get(fd)
        if fd == 0 or (obj is not None and not isinstance(obj, MapObject)):
            raise MapError(errno.EINVAL, f"a map-in-map needs inner_map_fd, the fd of a template map (got {fd})")
        if obj is None:
            raise MapError(errno.EBADF, f"inner_map_fd {fd} is not open")
        if isinstance(obj.map, MapInMap):
            raise MapError(errno.EINVAL, "an inner map cannot itself be a map-in-map")
        if isinstance(obj.map, ProgArrayMap):
            raise MapError(ENOTSUPP, "a program array cannot be an inner map")
        return obj.map

    def _map_for_slot(self, fd: int, template: Map) -> MapObject:
        obj = self._fds.get(fd)
        if obj is None:
            raise MapError(errno.EBADF, f"fd {fd} is not open")
        if not isinstance(obj, MapObject) or isinstance(obj.map, MapInMap):
            raise MapError(errno.EINVAL, f"fd {fd} is not a map that can be an inner map")
        inner = obj.map
        same = (inner.map_type, inner.key_size, inner.value_size, inner.flags) == (
            template.map_type, template.key_size, template.value_size, template.flags)
        if same and inner.map_type in FIXED_SIZE_INNER and not inner.flags & BPF_F_INNER_MAP:
            same = inner.max_entries == template.max_entries
        if not same:
            raise MapError(errno.EINVAL, f"map fd {fd} does not match the outer map's inner map template "
                           "(type, key and value size, flags; max_entries for arrays without BPF_F_INNER_MAP)")
        return obj

    def _prog_for_slot(self, fd: int) -> "ProgObject":
        obj = self._fds.get(fd)
        if obj is None:
            raise MapError(errno.EBADF, f"fd {fd} is not open")
        if not isinstance(obj, ProgObject):
            raise MapError(errno.EINVAL, f"fd {fd} is not a program")
        return obj

    def _map_value(self, obj: MapObject, value, what: str) -> None:
        writable = not obj.map.flags & BPF_F_RDONLY_PROG
        obj.regions[value.address] = self.mem.add(Region(what, value.size, writable, value.buffer))

    def _unmap_value(self, obj: MapObject, value) -> None:
        region = obj.regions.pop(value.address, None)
        if region is not None:
            self.mem.unmap(region)

    @contextlib.contextmanager
    def scratch(self, data: bytes):
        """A read-only copy of `data` in VM memory for one helper callback; its address."""
        region = self.mem.map("helper scratch", data, writable=False)
        try:
            yield region.start
        finally:
            self.mem.unmap(region)

    def current_task(self) -> int:
        """The address of the calling thread's task record {u32 pid; u32 tgid; char comm[16]; u32 ppid}
        (ppid: the parent process's tgid, what bpftrace's ppid() reads), made on first use."""
        tid = threading.get_native_id()
        region = self._tasks.get(tid)
        if region is None:
            comm = task_comm().encode()[:15]
            data = struct.pack("<II16sI", tid, os.getpid(), comm, os.getppid())
            region = self._tasks[tid] = self.mem.map(f"task {tid}", data, writable=False)
        return region.start

    def map_at(self, address: int) -> Map:
        """The map whose handle a program passed to a helper (a fault if it is not one)."""
        obj = self._map_handles.get(address)
        if obj is None:
            raise VMFault(-1, None, f"{address:#x} is not a map", address)
        return obj.map

    def ringbuf_of(self, record: int):
        """The ring buffer a reserved record lives in (a fault if none)."""
        for obj in self._map_handles.values():
            data = getattr(obj.map, "data", None)
            if data is not None and data.address <= record < data.address + data.size:
                return obj.map
        raise VMFault(-1, None, f"{record:#x} is not a ring buffer record", record)

    def _map_command(self, command: str, fd: int, action):
        obj = self._get(fd, MapObject, command)
        bpf_map = obj.map
        missing = MAP_COMMAND_NEEDS.get(command, 0) & ~self._map_perms(obj)
        if missing:
            why = "frozen" if obj.frozen and missing & CAN_WRITE else "created BPF_F_RDONLY" if missing & CAN_WRITE \
                else "created BPF_F_WRONLY"
            raise BpfError(command, errno.EPERM, f"map fd {fd} is {why}: user space may not "
                           + ("write" if missing & CAN_WRITE else "read") + " it")
        try:
            with self.lock:
                return action(bpf_map)
        except MapError as err:
            raise BpfError(command, err.errno, err.strerror) from None

    def map_lookup(self, fd: int, key: bytes | None, value: bytes = b"") -> bytes:
        def lookup(m):
            return m.lookup(key, value) if value else m.lookup(key)
        return self._map_command("BPF_MAP_LOOKUP_ELEM", fd, lookup)

    def map_update(self, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
        self._map_command("BPF_MAP_UPDATE_ELEM", fd, lambda m: m.update(key, value, flags))

    def map_update_from_program(self, bpf_map: Map, key: bytes, value: bytes, flags: int, cpu: int) -> None:
        """bpf_map_update_elem from a program: a per-CPU map's value is the running CPU's only."""
        if bpf_map.percpu:
            address = bpf_map.value_address(key, cpu)
            if address is None:
                slot = (bpf_map.value_size + 7) // 8 * 8
                bpf_map.update(key, bytes(slot * bpf_map.ncpus), flags)
                address = bpf_map.value_address(key, cpu)
            elif flags == 1:
                raise MapError(errno.EEXIST, "key exists (BPF_NOEXIST)")
            self.mem.write_bytes(address, value)
            return
        bpf_map.update(key, value, flags)

    def map_delete(self, fd: int, key: bytes | None) -> None:
        self._map_command("BPF_MAP_DELETE_ELEM", fd, lambda m: m.delete(key))

    def map_get_next_key(self, fd: int, key: bytes | None) -> bytes | None:
        """The key after `key` (the first for None), or None at the end."""
        try:
            return self._map_command("BPF_MAP_GET_NEXT_KEY", fd, lambda m: m.get_next_key(key))
        except BpfError as err:
            if err.errno == errno.ENOENT:
                return None
            raise

    def map_lookup_and_delete(self, fd: int, key: bytes | None) -> bytes:
        return self._map_command("BPF_MAP_LOOKUP_AND_DELETE_ELEM", fd, lambda m: m.lookup_and_delete(key))

    def map_lookup_batch(self, fd: int, token: bytes | None, count: int, *, delete: bool = False):
        """BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH): ([(key, value)...], next token or None)."""
        command = "BPF_MAP_LOOKUP_AND_DELETE_BATCH" if delete else "BPF_MAP_LOOKUP_BATCH"
        return self._map_command(command, fd, lambda m: m.lookup_batch(token, count, delete))

    def map_update_batch(self, fd: int, pairs, flags: int = 0) -> int:
        return self._map_command("BPF_MAP_UPDATE_BATCH", fd, lambda m: m.update_batch(pairs, flags))

    def map_delete_batch(self, fd: int, keys) -> int:
        return self._map_command("BPF_MAP_DELETE_BATCH", fd, lambda m: m.delete_batch(keys))

    def map_mmap(self, fd: int, writable: bool = True) -> memoryview:
        """mmap() of a map's fd: a BPF_F_MMAPABLE array's values, shared with programs."""
        view = self._map_command("mmap", fd, lambda m: m.mmap(writable))
        if writable and self._get(fd, MapObject, "mmap").frozen:
            raise BpfError("mmap", errno.EPERM, f"map fd {fd} is frozen: it can only be mapped read-only")
        return view

    def map_freeze(self, fd: int) -> None:
        """BPF_MAP_FREEZE: from now on user space may only read the map (programs still write it)."""
        self._map_command("BPF_MAP_FREEZE", fd, lambda m: None)
        self._get(fd, MapObject, "BPF_MAP_FREEZE").frozen = True

    @staticmethod
    def _map_perms(obj: MapObject) -> int:
        """What user space may do with a map: map_get_sys_perms."""
        flags = obj.map.flags
        return (0 if flags & BPF_F_WRONLY else CAN_READ) | (0 if flags & BPF_F_RDONLY or obj.frozen else CAN_WRITE)

    def map(self, fd: int) -> Map:
        """The Python view of a map: a mapping with Linux semantics."""
        return self._get(fd, MapObject, "map").map

    # -- programs ----------------------------------------------------------------
    def prog_load(self, prog_type: int, program: list[Insn] | bytes, license: str = "GPL", *,
                  log_level: int = 0, log_size: int = 0, expected_attach_type: int = 0, name: str = "",
                  fd_array: list[int] | None = None, engine: str | None = None, btf_fd: int = 0,
                  func_info: bytes = b"", line_info: bytes = b"") -> Loaded:
        """Load a program once the verifier accepts it; `engine` (or PYBPF_ENGINE) names the engine of
        `pybpf.vm.engines.ENGINES` to run it.  A refusal carries the verifier's log even without log_level.
        With `btf_fd` and `func_info` (struct bpf_func_info records: first instruction, FUNC type id) the
        verifier checks the program against its BTF, global functions on their own; line_info is not kept."""
        command = "BPF_PROG_LOAD"
        try:
            ProgType(prog_type)
        except ValueError:
            raise BpfError(command, errno.EINVAL, f"unknown program type {prog_type}") from None
        log_error = log_attr_error(log_level, log_size)
        if log_error:
            raise BpfError(command, errno.EINVAL, log_error)
        if not self.privileged and prog_type not in UNPRIVILEGED_PROG_TYPES:
            raise BpfError(command, errno.EPERM, f"loading {ProgType(prog_type).name} needs CAP_BPF "
                           "(unprivileged: socket filter and cgroup skb programs only)")
        try:
            insns = decode(program) if isinstance(program, (bytes, bytearray)) else list(program)
        except EncodingError as err:
            raise BpfError(command, errno.EINVAL, str(err), log=f"{err}\n") from None
        count = sum(i.size for i in insns)
        limit = BPF_COMPLEXITY_LIMIT_INSNS if self.privileged else BPF_MAXINSNS
        if not 0 < count <= limit:  # bpf_prog_load: E2BIG for an empty program too
            raise BpfError(command, errno.E2BIG, f"{count} instructions (a program has 1 to {limit})")
        btf = self._program_btf(command, btf_fd, func_info)
        used: list[MapObject] = []
        references = self._resolve_maps(insns, fd_array or [], used)
        log, verified = self._verify(command, insns, prog_type, expected_attach_type, license, references,
                                     log_level, log_size, btf)
        try:
            chosen = choose_engine(count, engine, verified=True)
        except UnknownEngine as err:
            raise BpfError(command, errno.EINVAL, str(err)) from None
        keeping = translations_kept_in(self.translations) if self.translations else contextlib.nullcontext()
        try:
            with keeping:
                interp = ENGINES[chosen](insns, mem=self.mem, helpers=REGISTRY, entry_regs=0b10000000010,
                                         resolver=lambda insn, pc: self._lddw_value(insn, references[pc]),
                                         **engine_options(chosen, verified=not self.checked))
        except ProgramError as err:  # the engine's structural check: the verifier should have said so first
            raise BpfError(command, errno.EACCES, str(err), log=f"{err}\n") from None
        interp.kernel = self
        interp.prog_type = prog_type
        if engine_name(interp) == "native":  # JIT at load, as Linux does: the first event does not pay for it
            interp.compile()
        obj = ProgObject(next(self._ids["prog"]), prog_type, name[:15], license, insns, interp,
                         hashlib.sha1(encode(insns)).hexdigest()[:16], used, time.monotonic_ns(), verified)
        self._by_id["prog"][obj.id] = obj
        return Loaded(self._install(obj), log)

    def _program_btf(self, command: str, btf_fd: int, func_info: bytes) -> dict:
        """check_btf_info_early(): func_info needs the program's BTF; verify()'s btf and func_info."""
        if not func_info:
            return {}
        if not btf_fd:
            raise BpfError(command, errno.EINVAL, "func_info needs the program's BTF (btf_fd)")
        if len(func_info) % 8:
            raise BpfError(command, errno.EINVAL, f"func_info of {len(func_info)} bytes is not 8-byte records")
        records = tuple(struct.iter_unpack("<II", bytes(func_info)))
        return {"btf": self._get(btf_fd, BtfObject, command).btf, "func_info": records}

    def _verify(self, command: str, insns: list[Insn], prog_type: int, expected_attach_type: int, license: str,
                references: dict[int, tuple[MapObject, int]], log_level: int, log_size: int,
                btf: dict) -> tuple[str, int]:
        """bpf_check on the kernel's map objects (and the program's BTF): the log the caller asked for and
        the instructions processed, or BpfError.  With a verdict cache, a program it accepted before is
        not walked again (only without a log: the log is the walk)."""
        key = None
        if self.verdicts is not None and not log_level:
            facts = {pc: self._map_facts(obj) for pc, (obj, _) in references.items()}
            key = self.verdicts.key(encode(insns), prog_type, expected_attach_type, license in GPL_COMPATIBLE,
                                    self.privileged, facts, btf)
            processed = self.verdicts.get(key)
            if processed is not None:
                return "", processed
        from ...verifier import verify  # only when a program is verified: its import is most of a load
        infos: dict = {}
        maps = {pc: infos.setdefault(obj.id, self._map_info(obj)) for pc, (obj, _) in references.items()}

        def run(level: int):
            return verify(insns, prog_type, maps=maps, privileged=self.privileged, log_level=level,
                          gpl=license in GPL_COMPATIBLE, expected_attach_type=expected_attach_type, **btf)
        result = run(log_level & BPF_LOG_LEVEL)
        log = result.log
        if result.accepted and log_level and not log_level & BPF_LOG_LEVEL2:
            # do_check_common: below level 2 a successful check rewinds the log; the statistics remain
            log = result.stats.line() + "\n"
        if not log_level:
            if result.accepted:
                if key is not None:
                    self.verdicts.put(key, result.stats.processed)
                return "", result.stats.processed
            log = run(1).log  # as libbpf retries a refused load at level 1 to show why
        elif log_size and len(log) + 1 > log_size:  # bpf_vlog_finalize: a truncated log is ENOSPC
            kept = log[:log_size - 1] if log_level & BPF_LOG_FIXED else log[len(log) + 1 - log_size:]
            raise BpfError(command, errno.ENOSPC, f"the verifier log needs {len(log) + 1} bytes, "
                           f"the buffer has {log_size}", log=kept)
        if not result.accepted:
            error = result.error
            reason = error.message.splitlines()[-1]
            raise BpfError(command, result.errno, reason if error.pc is None else f"pc {error.pc}: {reason}", log=log)
        return (log if log_size else ""), result.stats.processed  # a log_level without a buffer logs nothing

    def _map_facts(self, obj: MapObject) -> dict:
        """What the verifier knows of a map (MapInfo's fields): its shape, and a read-only frozen map's contents."""
        m = obj.map
        rdonly = bool(m.flags & BPF_F_RDONLY_PROG) and obj.frozen  # bpf_map_is_rdonly
        values = None
        if rdonly and m.map_type == MapType.BPF_MAP_TYPE_ARRAY and m.max_entries == 1:
            values = bytes(m.storage[0].buffer)[:m.value_size]
        inner = None
        if obj.inner is not None:
            t = obj.inner
            inner = dict(map_type=t.map_type, key_size=t.key_size, value_size=t.value_size,
                         max_entries=t.max_entries, flags=t.flags, name=t.name)
        return dict(map_type=m.map_type, key_size=m.key_size, value_size=m.value_size, max_entries=m.max_entries,
                    flags=m.flags, name=m.name, frozen=rdonly, inner=inner, values=values, fd=obj.id)

    def _map_info(self, obj: MapObject):
        """The verifier's MapInfo of a map, from its facts."""
        from ...verifier import MapInfo
        facts = self._map_facts(obj)
        if facts["inner"] is not None:
            facts["inner"] = MapInfo(**facts["inner"])
        return MapInfo(**facts)

    def _resolve_maps(self, insns: list[Insn], fd_array: list[int],
                      used: list[MapObject]) -> dict[int, tuple[MapObject, int]]:
        """Check every map reference of the program: the map object and value offset per lddw pc."""
        table: dict[int, tuple[MapObject, int]] = {}
        pc = 0
        for insn in insns:
            if insn.code == 0x18 and insn.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
                                                  BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE):
                fd = insn.imm
                if insn.src in (BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE):
                    if not 0 <= insn.imm < len(fd_array):
                        raise BpfError("BPF_PROG_LOAD", errno.EINVAL, f"pc {pc}: map index {insn.imm} is not in fd_array")
                    fd = fd_array[insn.imm]
                obj = self._fds.get(fd)
                if not isinstance(obj, MapObject):
                    raise BpfError("BPF_PROG_LOAD", errno.EBADF, f"pc {pc}: fd {fd} is not pointing to valid bpf_map",
                                   log=f"fd {fd} is not pointing to valid bpf_map\n")
                offset = insn.imm2 or 0
                if insn.src in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
                    if obj.map.max_entries != 1 or not hasattr(obj.map, "storage"):
                        raise BpfError("BPF_PROG_LOAD", errno.EINVAL,
                                       f"pc {pc}: direct value access needs an array map with one element")
                    if not 0 <= offset < obj.map.value_size:
                        raise BpfError("BPF_PROG_LOAD", errno.EINVAL,
                                       f"pc {pc}: invalid access to map value pointer, value_size={obj.map.value_size} off={offset}")
                table[pc] = (obj, offset)
                if obj not in used:
                    used.append(obj)
            pc += insn.size
        return table

    def _lddw_value(self, insn: Insn, entry: tuple[MapObject, int]) -> int:
        obj, offset = entry
        if insn.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX):
            return obj.handle.start
        return obj.map.value_address(bytes(4)) + offset

    def prog(self, fd: int) -> ProgObject:
        return self._get(fd, ProgObject, "prog")

    def run_program(self, prog: ProgObject, ctx: int = 0, cpu: int = 0, repeat: int = 1) -> int:
        """Run a loaded program (an event fired; `repeat` times for test_run); return r0.  Faults end the run."""
        with self.lock:
            prog.interp.cpu = cpu
            start = time.perf_counter_ns()
            try:
                return prog.interp.run(ctx) if repeat == 1 else prog.interp.run_repeat(ctx, repeat)
            finally:
                prog.run_cnt += repeat
                prog.run_time_ns += time.perf_counter_ns() - start

    def prog_test_run(self, fd: int, data: bytes = b"", *, ctx: bytes = b"", repeat: int = 1) -> TestRun:
        """BPF_PROG_TEST_RUN: packet programs on `data` (packet_ctx), raw tracepoint and syscall programs on `ctx`."""
        command = "BPF_PROG_TEST_RUN"
        prog = self._get(fd, ProgObject, command)
        packet = context = None
        with self.lock:
            try:
                packet = packet_ctx.prepare(self.mem, prog.prog_type, data, ctx)
                if packet is not None:
                    context = packet.ctx
                elif prog.prog_type in CTX_TYPES:
                    if data:
                        raise BpfError(command, errno.EINVAL, "this program type takes a context, not data")
                    context = self.mem.map("ctx", ctx) if ctx else None
                else:
                    raise BpfError(command, ENOTSUPP,
                                   f"test_run is not supported for {ProgType(prog.prog_type).name}")
                prog.interp.packet = packet.packet if packet else None
                start = time.perf_counter_ns()
                retval = self.run_program(prog, context.start if context else 0, repeat=max(repeat, 1))
                duration = (time.perf_counter_ns() - start) // max(repeat, 1)
                if packet is not None:
                    return TestRun(retval & 0xFFFFFFFF, duration, packet.data_out(), packet.ctx_out())
                return TestRun(retval & 0xFFFFFFFF, duration, b"", context.read() if context else b"")
            finally:
                prog.interp.packet = None
                if packet is not None:
                    packet.close(self.mem)
                elif context is not None:
                    self.mem.unmap(context)

    # -- perf events for BPF output ------------------------------------------------------
    def perf_event_open(self, cpu: int, pages: int = 8) -> int:
        """A PERF_COUNT_SW_BPF_OUTPUT event on `cpu` with a ring of `pages` pages; its fd."""
        if not 0 <= cpu < self.ncpus:
            raise BpfError("perf_event_open", errno.EINVAL, f"cpu {cpu} does not exist ({self.ncpus} CPUs)")
        try:
            return self._install(PerfRing(cpu, pages))
        except MapError as err:
            raise BpfError("perf_event_open", err.errno, err.strerror) from None

    def perf_buffer(self, map_fd: int, pages: int = 8) -> "PerfBuffer":
        """What libbpf's perf_buffer__new does: a ring a CPU, installed in the map at its CPU's index."""
        bpf_map = self._get(map_fd, MapObject, "perf_buffer").map
        rings = []
        for cpu in range(min(self.ncpus, bpf_map.max_entries)):
            fd = self.perf_event_open(cpu, pages)
            self.map_update(map_fd, cpu.to_bytes(4, "little"), fd.to_bytes(4, "little"))
            rings.append(self._fds[fd])
        return PerfBuffer(rings)

    # -- ids, info and pinning -----------------------------------------------------
    def get_next_id(self, kind: str, start: int = 0) -> int | None:
        """The next live id after `start` for "map", "prog" or "link" (BPF_*_GET_NEXT_ID), or None."""
        later = [i for i in self._by_id[kind] if i > start]
        return min(later) if later else None

    def get_fd_by_id(self, kind: str, object_id: int) -> int:
        obj = self._by_id[kind].get(object_id)
        if obj is None:
            raise BpfError(f"BPF_{kind.upper()}_GET_FD_BY_ID", errno.ENOENT, f"no {kind} with id {object_id}")
        return self._install(obj)

    def info(self, fd: int) -> dict:
        """BPF_OBJ_GET_INFO_BY_FD, as a dict with the kernel's field names."""
        obj = self._fds.get(fd)
        if isinstance(obj, MapObject):
            m = obj.map
            return {"type": m.map_type, "id": obj.id, "key_size": m.key_size, "value_size": m.value_size,
                    "max_entries": m.max_entries, "map_flags": m.flags, "name": m.name}
        if isinstance(obj, ProgObject):
            return {"type": obj.prog_type, "id": obj.id, "tag": obj.tag, "name": obj.name,
                    "xlated_prog_len": sum(i.size for i in obj.insns) * 8, "load_time": obj.load_time_ns,
                    "nr_map_ids": len(obj.maps), "map_ids": [m.id for m in obj.maps], "run_cnt": obj.run_cnt,
                    "run_time_ns": obj.run_time_ns, "engine": engine_name(obj.interp),
                    "verified_insns": obj.verified_insns, "gpl_compatible": int(obj.license in GPL_COMPATIBLE),
                    "last_run_insns": obj.interp.steps}
        if isinstance(obj, LinkObject):
            return {"id": obj.id, "prog_id": obj.prog.id, "target": obj.target}
        raise BpfError("BPF_OBJ_GET_INFO_BY_FD", errno.EBADF, f"fd {fd} is not open")

    def obj_pin(self, fd: int, path: str) -> None:
        if fd not in self._fds:
            raise BpfError("BPF_OBJ_PIN", errno.EBADF, f"fd {fd} is not open")
        if path in self.pins:
            raise BpfError("BPF_OBJ_PIN", errno.EEXIST, f"{path} is already pinned")
        self.pins[path] = self._fds[fd]

    def obj_get(self, path: str) -> int:
        obj = self.pins.get(path)
        if obj is None:
            raise BpfError("BPF_OBJ_GET", errno.ENOENT, f"nothing is pinned at {path}")
        return self._install(obj)

    def unpin(self, path: str) -> None:
        obj = self.pins.pop(path, None)
        if obj is None:
            raise BpfError("unlink", errno.ENOENT, f"nothing is pinned at {path}")
        if isinstance(obj, LinkObject) and obj not in self._fds.values() and obj not in self.pins.values():
            self._detach(obj)
        self._collect()

    # -- attach points -------------------------------------------------------------
    def link_create(self, prog_fd: int, target: str, **options) -> int:
        """Attach a program to a target of attach.ATTACH_POINTS ("timer", "usdt:app:request", ...)."""
        prog = self._get(prog_fd, ProgObject, "BPF_LINK_CREATE")
        kind = target.split(":", 1)[0]
        cls = ATTACH_POINTS.get(kind)
        if cls is None or (kind not in ("timer", "interval", "profile") and ":" not in target):
            raise BpfError("BPF_LINK_CREATE", errno.EINVAL, f"unknown attach target {target!r}")
        attachment = cls(self, prog, target, options)
        attachment.start()  # raises, with nothing attached, if the target is missing
        link = LinkObject(next(self._ids["link"]), prog, target, attachment)
        self._by_id["link"][link.id] = link
        return self._install(link)

    def fire(self, prog: ProgObject, args=(), *, retval=None, func_ip: int = 0, cpu: int = 0) -> int | None:
        """An event: run `prog` with a probe context built from Python values; None if it faulted."""
        with self.lock:
            ctx, regions = self.probe_contexts.build(args, retval, func_ip) if args or retval is not None \
                else (0, [])
            try:
                prog.interp.func_ip = func_ip
                return self.run_program(prog, ctx, cpu)
            except VMFault as fault:
                self.faults.append(fault)  # the event is lost, the traced program goes on
                return None
            finally:
                for region in regions:
                    self.mem.unmap(region)

    def trigger(self, name: str) -> int:
        """Run every program attached to `oneshot:NAME` (BEGIN, END); return how many ran."""
        attached = list(self.oneshots.get(name, []))
        for attachment in attached:
            self.fire(attachment.prog)
        return len(attached)

    def link_detach(self, fd: int) -> None:
        self._detach(self._get(fd, LinkObject, "BPF_LINK_DETACH"))
        self._collect()

    def _detach(self, link: LinkObject) -> None:
        if self._by_id["link"].pop(link.id, None) is not None:
            link.attachment.stop()


"""perf_event_open(2), the perf ioctls, and mmap'd per-CPU perf buffers.

A perf buffer is what BPF_MAP_TYPE_PERF_EVENT_ARRAY points at: one
PERF_COUNT_SW_BPF_OUTPUT event per CPU, each with a ring of 2**n data pages
after a control page (struct perf_event_mmap_page).  The kernel advances
`data_head`; we read records up to it and publish `data_tail`.  Records are
PERF_RECORD_SAMPLE (a PERF_SAMPLE_RAW payload: what bpf_perf_event_output
wrote) and PERF_RECORD_LOST (how many samples the full ring dropped).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import platform
import struct
from typing import Callable

from ...errors import PybpfError

u16, u32, u64 = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64

# include/uapi/linux/perf_event.h
PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT = 0, 1, 2
PERF_COUNT_SW_CPU_CLOCK, PERF_COUNT_SW_TASK_CLOCK, PERF_COUNT_SW_BPF_OUTPUT = 0, 1, 10
PERF_SAMPLE_RAW = 1 << 10
PERF_RECORD_LOST, PERF_RECORD_SAMPLE = 2, 9
PERF_FLAG_FD_CLOEXEC = 1 << 3
# perf_event_attr flag bits
ATTR_DISABLED, ATTR_FREQ = 1 << 0, 1 << 10
PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE = 0x2400, 0x2401
PERF_EVENT_IOC_SET_BPF = 0x40042408  # _IOW('$', 8, __u32)

# Software event names as perf and bpftrace spell them -> config.
SOFTWARE_EVENTS = {"cpu-clock": 0, "cpu": 0, "task-clock": 1, "page-faults": 2, "faults": 2,
                   "context-switches": 3, "cs": 3, "cpu-migrations": 4, "migrations": 4,
                   "minor-faults": 5, "major-faults": 6, "alignment-faults": 7, "emulation-faults": 8,
                   "dummy": 9, "bpf-output": 10}
HARDWARE_EVENTS = {"cpu-cycles": 0, "cycles": 0, "instructions": 1, "cache-references": 2,
                   "cache-misses": 3, "branch-instructions": 4, "branches": 4, "branch-misses": 5,
                   "bus-cycles": 6, "ref-cycles": 9}

_SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "arm64": 241, "riscv64": 241, "ppc64le": 319,
                        "s390x": 331, "loongarch64": 241}


class PerfError(PybpfError, OSError):
    """perf_event_open or a perf ioctl failed: the errno and what it means here."""

    def __init__(self, what: str, err: int, hint: str = ""):
        name = errno.errorcode.get(err, str(err))
        message = f"{what} failed: {name} ({os.strerror(err)})" + (f": {hint}" if hint else "")
        OSError.__init__(self, err, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0]


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr (PERF_ATTR_SIZE_VER8, 136 bytes)."""

    _fields_ = [("type", u32), ("size", u32), ("config", u64), ("sample_period", u64), ("sample_type", u64),
                ("read_format", u64), ("flags", u64), ("wakeup_events", u32), ("bp_type", u32),
                ("config1", u64), ("config2", u64), ("branch_sample_type", u64), ("sample_regs_user", u64),
                ("sample_stack_user", u32), ("clockid", ctypes.c_int32), ("sample_regs_intr", u64),
                ("aux_watermark", u32), ("sample_max_stack", u16), ("_r2", u16), ("aux_sample_size", u32),
                ("_r3", u32), ("sig_data", u64), ("config3", u64)]


assert ctypes.sizeof(PerfEventAttr) == 136


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


_LIBC = None


def perf_event_open(attr: PerfEventAttr, pid: int = -1, cpu: int = 0, group_fd: int = -1,
                    flags: int = PERF_FLAG_FD_CLOEXEC, *, what: str = "perf_event_open") -> int:
    """perf_event_open(2): the event's fd."""
    global _LIBC
    number = _SYS_PERF_EVENT_OPEN.get(platform.machine())
    if number is None:
        raise PerfError(what, errno.ENOSYS, f"no perf_event_open number for {platform.machine()}")
    _LIBC = _LIBC or _libc()
    attr.size = ctypes.sizeof(attr)
    fd = _LIBC.syscall(number, ctypes.byref(attr), pid, cpu, group_fd, flags)
    if fd < 0:
        err = ctypes.get_errno()
        hint = {errno.ENOENT: "this kernel or machine has no such event",
                errno.ENODEV: "no such PMU on this machine", errno.EOPNOTSUPP: "not supported by this PMU",
                errno.EACCES: "needs CAP_PERFMON (run as root)", errno.EPERM: "needs CAP_PERFMON (run as root)",
                errno.ESRCH: f"no process {pid}", errno.EINVAL: "the kernel rejected the event's settings"}
        raise PerfError(what, err, hint.get(err, ""))
    return fd


def ioctl(fd: int, request: int, arg: int = 0) -> None:
    try:
        fcntl.ioctl(fd, request, arg)
    except OSError as err:
        raise PerfError(f"perf ioctl {request:#x}", err.errno) from None


def set_bpf(fd: int, prog_fd: int) -> None:
    """PERF_EVENT_IOC_SET_BPF then _ENABLE: the old way to attach a program to a perf event."""
    ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd)
    ioctl(fd, PERF_EVENT_IOC_ENABLE)


def online_cpus() -> list[int]:
    """The online CPUs (/sys/devices/system/cpu/online, e.g. "0-1,4")."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            text = f.read().strip()
    except OSError:
        return list(range(os.cpu_count() or 1))
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def possible_cpus() -> int:
    """How many CPU slots per-CPU maps have (/sys/devices/system/cpu/possible)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            return int(f.read().strip().split(",")[-1].split("-")[-1]) + 1
    except OSError:
        return os.cpu_count() or 1


def pmu_type(name: str) -> int | None:
    """The dynamic PMU type of /sys/bus/event_source/devices/NAME (uprobe, kprobe...), None if absent."""
    try:
        with open(f"/sys/bus/event_source/devices/{name}/type") as f:
            return int(f.read())
    except OSError:
        return None


# -- perf buffers -----------------------------------------------------------

_DATA_HEAD, _DATA_TAIL = 1024, 1032  # offsets in struct perf_event_mmap_page
_HEADER = struct.Struct("<IHH")  # struct perf_event_header: type, misc, size


class CpuRing:
    """One CPU's mmap'd ring of a perf buffer."""

    def __init__(self, fd: int, cpu: int, pages: int):
        self.fd, self.cpu = fd, cpu
        self.page = mmap.PAGESIZE
        self.size = pages * self.page
        self.map = mmap.mmap(fd, self.page + self.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def read(self, on_sample: Callable[[int, bytes], object], on_lost: Callable[[int, int], object]) -> int:
        """Consume every record up to data_head; the number of records."""
        m, base, size = self.map, self.page, self.size
        head = struct.unpack_from("<Q", m, _DATA_HEAD)[0]
        tail = struct.unpack_from("<Q", m, _DATA_TAIL)[0]
        count = 0
        while tail < head:
            start = tail % size
            header = self._bytes(start, 8)
            kind, _, length = _HEADER.unpack(header)
            body = self._bytes((start + 8) % size, length - 8)
            if kind == PERF_RECORD_SAMPLE:
                raw_size = struct.unpack_from("<I", body)[0]
                on_sample(self.cpu, body[4:4 + raw_size])
            elif kind == PERF_RECORD_LOST:
                on_lost(self.cpu, struct.unpack_from("<QQ", body)[1])
            tail += length
            count += 1
        struct.pack_into("<Q", m, _DATA_TAIL, tail)
        return count

    def _bytes(self, start: int, length: int) -> bytes:
        first = min(length, self.size - start)
        data = self.map[self.page + start:self.page + start + first]
        return data + self.map[self.page:self.page + length - first] if first < length else data

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class PerfBuffer:
    """A perf buffer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one BPF-output event and ring per online CPU.

    `on_sample(cpu, data)` gets each bpf_perf_event_output record, `on_lost(cpu, count)`
    each PERF_RECORD_LOST; `lost` and `received` keep the totals.
    """

    def __init__(self, map_fd: int, *, pages: int = 8, on_sample=None, on_lost=None, wakeup_events: int = 1):
        from .syscall import map_update
        if pages & (pages - 1):
            raise ValueError(f"perf buffer pages must be a power of two, not {pages}")
        self.received = self.lost = 0
        self._on_sample, self._on_lost = on_sample, on_lost
        self.rings: list[CpuRing] = []
        try:
            for cpu in online_cpus():
                attr = PerfEventAttr(type=PERF_TYPE_SOFTWARE, config=PERF_COUNT_SW_BPF_OUTPUT, sample_period=1,
                                     sample_type=PERF_SAMPLE_RAW, wakeup_events=wakeup_events)
                fd = perf_event_open(attr, -1, cpu, what=f"perf buffer event on CPU {cpu}")
                try:
                    ring = CpuRing(fd, cpu, pages)
                except OSError:
                    os.close(fd)
                    raise
                self.rings.append(ring)
                map_update(map_fd, cpu.to_bytes(4, "little"), fd.to_bytes(4, "little"))
                ioctl(fd, PERF_EVENT_IOC_ENABLE)
        except BaseException:
            self.close()
            raise

    @property
    def fds(self) -> list[int]:
        return [ring.fd for ring in self.rings]

    def _sample(self, cpu: int, data: bytes) -> None:
        self.received += 1
        if self._on_sample:
            self._on_sample(cpu, data)

    def _lost(self, cpu: int, count: int) -> None:
        self.lost += count
        if self._on_lost:
            self._on_lost(cpu, count)

    def consume(self) -> int:
        """Read every CPU's ring without waiting; the number of records read."""
        return sum(ring.read(self._sample, self._lost) for ring in self.rings)

    def add_to(self, poller) -> None:
        """Register each CPU's fd with a `poll.Poller`."""
        for ring in self.rings:
            poller.add(ring.fd, lambda ring=ring: ring.read(self._sample, self._lost))

    def close(self) -> None:
        for ring in self.rings:
            ring.close()
        self.rings = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""One registry of helper functions, keyed by Linux helper id.

Each `HelperSpec` says what the verifier checks (argument and return kinds,
spelled as the kernel spells them: ARG_ANYTHING, ARG_PTR_TO_MAP_KEY, ...,
RET_INTEGER, RET_PTR_TO_MAP_VALUE_OR_NULL) and what the engines execute
(`impl`).  Adding a helper is one `register()` call.  Implementations take
the running `Machine` (memory, output sinks, per-run state) and r1..r5, and
return r0.  Helpers the virtual kernel cannot run are `declare()`d: the
verifier checks calls to them as Linux does, and the engines refuse them.

`effects` name what the verifier must model beyond the prototype:
"acquire" (the returned pointer is a reference that must be released),
"release" (the pointer argument's reference ends), "cast" (the returned
pointer carries the argument's reference), "changes_pkt_data" (packet
pointers are invalid after the call), "pkt_access" (the helper may be
given packet pointers: the kernel's bpf_func_proto.pkt_access).
"""

from __future__ import annotations

import errno
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from ..errors import PybpfError
from .ids import FUNC_IDS, FUNC_NAMES


class Machine(Protocol):
    """What a helper sees of the engine that calls it."""

    mem: object  # pybpf.vm.memory.AddressSpace
    cpu: int


HelperImpl = Callable[..., int]


@dataclass(frozen=True)
class HelperSpec:
    id: int
    name: str  # without the bpf_ prefix, as in enum bpf_func_id
    args: tuple[str, ...]
    ret: str
    impl: HelperImpl | None
    gpl_only: bool = False
    doc: str = ""
    effects: frozenset[str] = frozenset()

    @property
    def full_name(self) -> str:
        return f"bpf_{self.name}"


REGISTRY: dict[int, HelperSpec] = {}


def register(name: str, args: tuple[str, ...], ret: str, *, gpl_only: bool = False, doc: str = "",
             effects: tuple[str, ...] = ()):
    """Decorator: register `impl` under the Linux id of `name`."""
    def wrap(impl: HelperImpl) -> HelperImpl:
        helper_id = FUNC_IDS[name]
        REGISTRY[helper_id] = HelperSpec(helper_id, name, args, ret, impl, gpl_only, doc or impl.__doc__ or "",
                                         frozenset(effects))
        return impl
    return wrap


def declare(name: str, args: tuple[str, ...], ret: str, *, gpl_only: bool = False, doc: str = "",
            effects: tuple[str, ...] = ()) -> None:
    """A helper the verifier knows the prototype of but the virtual kernel cannot run."""
    helper_id = FUNC_IDS[name]
    REGISTRY[helper_id] = HelperSpec(helper_id, name, args, ret, None, gpl_only, doc, frozenset(effects))


def helper_name(helper_id: int) -> str | None:
    """`bpf_map_lookup_elem` for 1: the Linux name of any id, implemented here or not."""
    return f"bpf_{FUNC_NAMES[helper_id]}" if 0 <= helper_id < len(FUNC_NAMES) and helper_id else None


def helper_id(name: str) -> int | None:
    """The id of `bpf_trace_printk` or `trace_printk`."""
    return FUNC_IDS.get(name.removeprefix("bpf_")) or None


_BOOT = time.monotonic_ns()
_rng = random.Random()


@register("ktime_get_ns", (), "RET_INTEGER")
def ktime_get_ns(m, *_):
    """Monotonic time in nanoseconds (CLOCK_MONOTONIC)."""
    return time.monotonic_ns()


@register("ktime_get_boot_ns", (), "RET_INTEGER")
def ktime_get_boot_ns(m, *_):
    """Time since boot including suspend (CLOCK_BOOTTIME)."""
    return time.clock_gettime_ns(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


@register("ktime_get_coarse_ns", (), "RET_INTEGER")
def ktime_get_coarse_ns(m, *_):
    """Coarse monotonic time (CLOCK_MONOTONIC_COARSE where the host has it)."""
    return time.clock_gettime_ns(getattr(time, "CLOCK_MONOTONIC_COARSE", time.CLOCK_MONOTONIC))


@register("jiffies64", (), "RET_INTEGER")
def jiffies64(m, *_):
    """Ticks of a 250 Hz clock since the VM module was loaded."""
    return (time.monotonic_ns() - _BOOT) // 4_000_000


@register("get_prandom_u32", (), "RET_INTEGER")
def get_prandom_u32(m, *_):
    """A pseudo-random 32-bit number."""
    return _rng.getrandbits(32)


@register("get_smp_processor_id", (), "RET_INTEGER")
def get_smp_processor_id(m, *_):
    """The virtual CPU the program runs on."""
    return getattr(m, "cpu", 0)


@register("get_numa_node_id", (), "RET_INTEGER")
def get_numa_node_id(m, *_):
    """Always node 0: the virtual kernel has one NUMA node."""
    return 0


@register("get_current_pid_tgid", (), "RET_INTEGER")
def get_current_pid_tgid(m, *_):
    """tgid << 32 | tid of the Python process and thread running the program."""
    return (os.getpid() << 32) | threading.get_native_id()


@register("get_current_uid_gid", (), "RET_INTEGER")
def get_current_uid_gid(m, *_):
    """gid << 32 | uid of the Python process."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    gid = os.getgid() if hasattr(os, "getgid") else 0
    return (gid << 32) | uid


# -- helpers that need the kernel running the program (`m.kernel`) -----------
# Their argument kinds are the kernel's (include/linux/bpf.h, enum bpf_arg_type).

def _errno_of(err: OSError) -> int:
    return -(err.errno or 22) & 0xFFFFFFFFFFFFFFFF


@register("map_lookup_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY"), "RET_PTR_TO_MAP_VALUE_OR_NULL",
          effects=("pkt_access",))
def map_lookup_elem(m, map_ptr, key_ptr, *_):
    """Pointer to the value for *key, or NULL."""
    bpf_map = m.kernel.map_at(map_ptr)
    key = m.mem.read_bytes(key_ptr, bpf_map.key_size) if bpf_map.key_size else None
    return bpf_map.value_address(key, m.cpu) or 0


@register("map_lookup_percpu_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", "ARG_ANYTHING"),
          "RET_PTR_TO_MAP_VALUE_OR_NULL")
def map_lookup_percpu_elem(m, map_ptr, key_ptr, cpu, *_):
    """Pointer to CPU `cpu`'s copy of the value for *key in a per-CPU map, or NULL (no such key, or no such
    CPU: a reader loops over the CPUs until NULL, as bpftrace reads a count() in an expression)."""
    bpf_map = m.kernel.map_at(map_ptr)
    if cpu >= bpf_map.ncpus:
        return 0
    key = m.mem.read_bytes(key_ptr, bpf_map.key_size)
    return bpf_map.value_address(key, cpu) or 0


@register("map_update_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_MAP_VALUE", "ARG_ANYTHING"),
          "RET_INTEGER", effects=("pkt_access",))
def map_update_elem(m, map_ptr, key_ptr, value_ptr, flags, *_):
    """Create or update an element; 0 or a negative errno."""
    bpf_map = m.kernel.map_at(map_ptr)
    key = m.mem.read_bytes(key_ptr, bpf_map.key_size)
    value = m.mem.read_bytes(value_ptr, bpf_map.value_size)
    try:
        m.kernel.map_update_from_program(bpf_map, key, value, flags, m.cpu)
    except OSError as err:
        return _errno_of(err)
    return 0


@register("map_delete_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY"), "RET_INTEGER", effects=("pkt_access",))
def map_delete_elem(m, map_ptr, key_ptr, *_):
    """Delete an element; 0 or a negative errno."""
    bpf_map = m.kernel.map_at(map_ptr)
    try:
        bpf_map.delete(m.mem.read_bytes(key_ptr, bpf_map.key_size))
    except OSError as err:
        return _errno_of(err)
    return 0


@register("map_push_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_VALUE", "ARG_ANYTHING"), "RET_INTEGER",
          effects=("pkt_access",))
def map_push_elem(m, map_ptr, value_ptr, flags, *_):
    """Push onto a queue, stack or bloom filter; 0 or a negative errno."""
    bpf_map = m.kernel.map_at(map_ptr)
    try:
        bpf_map.update(None, m.mem.read_bytes(value_ptr, bpf_map.value_size), flags)
    except OSError as err:
        return _errno_of(err)
    return 0


def _take(m, map_ptr, value_ptr, pop: bool) -> int:
    bpf_map = m.kernel.map_at(map_ptr)
    try:
        value = bpf_map.lookup_and_delete(None) if pop else bpf_map.lookup(None)
    except OSError as err:
        return _errno_of(err)
    m.mem.write_bytes(value_ptr, value)
    return 0


@register("map_pop_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_UNINIT_MAP_VALUE"), "RET_INTEGER",
          effects=("pkt_access",))
def map_pop_elem(m, map_ptr, value_ptr, *_):
    """Pop from a queue or stack into *value; 0 or -ENOENT."""
    return _take(m, map_ptr, value_ptr, True)


@register("map_peek_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_UNINIT_MAP_VALUE"), "RET_INTEGER",
          effects=("pkt_access",))
def map_peek_elem(m, map_ptr, value_ptr, *_):
    """Copy the next element of a queue or stack into *value; 0 or -ENOENT."""
    return _take(m, map_ptr, value_ptr, False)


@register("trace_printk", ("ARG_PTR_TO_MEM", "ARG_CONST_SIZE"), "RET_INTEGER", gpl_only=True)
def trace_printk(m, fmt_ptr, fmt_size, a1, a2, a3):
    """Format like printk and write a line to the trace pipe; bytes written or -EINVAL.

    Like the kernel's prototype it declares two arguments; r3-r5 are read as
    the format's values without being checked.
    """
    from .printk import FormatError, bprintf

    fmt = m.mem.read_bytes(fmt_ptr, fmt_size)
    if b"\0" not in fmt:
        return _errno_of(OSError(22, "format not NUL-terminated"))

    def read_str(addr, size=None, raw=False):
        return m.mem.read_bytes(addr, size) if raw else m.mem.read_str(addr, 4096)

    try:
        text = bprintf(fmt, [a1, a2, a3], read_str)
    except (FormatError, OSError) as err:
        return _errno_of(err)
    m.kernel.trace_pipe.write(text, m.cpu)
    return len(text) + 1


@register("ringbuf_output", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
          "RET_INTEGER")
def ringbuf_output(m, map_ptr, data_ptr, size, flags, *_):
    """Copy size bytes into a new ring buffer record; 0 or -EAGAIN when it does not fit."""
    ring = m.kernel.map_at(map_ptr)
    return ring.output(m.mem.read_bytes(data_ptr, size), flags) & 0xFFFFFFFFFFFFFFFF


@register("ringbuf_reserve", ("ARG_CONST_MAP_PTR", "ARG_CONST_ALLOC_SIZE_OR_ZERO", "ARG_ANYTHING"),
          "RET_PTR_TO_RINGBUF_MEM_OR_NULL", effects=("acquire",))
def ringbuf_reserve(m, map_ptr, size, flags, *_):
    """Reserve size bytes in the ring: a pointer to them, or NULL."""
    return m.kernel.map_at(map_ptr).reserve(size, flags)


@register("ringbuf_submit", ("ARG_PTR_TO_RINGBUF_MEM", "ARG_ANYTHING"), "RET_VOID", effects=("release",))
def ringbuf_submit(m, record, flags, *_):
    """Commit a reserved record for the consumer."""
    m.kernel.ringbuf_of(record).submit(record, flags)
    return 0


@register("ringbuf_discard", ("ARG_PTR_TO_RINGBUF_MEM", "ARG_ANYTHING"), "RET_VOID", effects=("release",))
def ringbuf_discard(m, record, flags, *_):
    """Drop a reserved record; the consumer skips it."""
    m.kernel.ringbuf_of(record).discard(record, flags)
    return 0


@register("ringbuf_query", ("ARG_CONST_MAP_PTR", "ARG_ANYTHING"), "RET_INTEGER")
def ringbuf_query(m, map_ptr, flags, *_):
    """Available data, ring size, consumer or producer position."""
    return m.kernel.map_at(map_ptr).query(flags)


@register("tail_call", ("ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_ANYTHING"), "RET_VOID", effects=("changes_pkt_data",))
def tail_call(m, ctx, map_ptr, index, *_):
    """Jump to the program in slot `index`; on an empty slot or the 33-call limit, fall through (r0 < 0)."""
    from ..vm.interp import MAX_TAIL_CALL_CNT, TailCall

    target = m.kernel.map_at(map_ptr).target(index & 0xFFFFFFFF)
    if target is None or m.tail_calls >= MAX_TAIL_CALL_CNT:
        return _errno_of(OSError(2, "no tail call"))
    raise TailCall(target.interp)


@register("loop", ("ARG_ANYTHING", "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", "ARG_ANYTHING"), "RET_INTEGER")
def loop(m, nr_loops, callback, callback_ctx, flags, *_):
    """Call callback(i, ctx) up to nr_loops times, stopping when it returns 1; the iterations done."""
    if flags:
        return _errno_of(OSError(22, "flags"))
    if nr_loops > 1 << 23:
        return _errno_of(OSError(7, "too many loops"))
    for i in range(nr_loops):
        if m.call(callback, i, callback_ctx) & 0xFFFFFFFFFFFFFFFF == 1:
            return i + 1
    return nr_loops


def _probe_read(m, dst, size, src, *_):
    try:
        data = m.mem.read_bytes(src, size)
    except PybpfError:  # a memory fault: the probe read fails instead of the program
        m.mem.write_bytes(dst, bytes(size))
        return _errno_of(OSError(14, "fault"))
    m.mem.write_bytes(dst, data)
    return 0


def _probe_read_str(m, dst, size, src, *_):
    if size == 0:
        return 0
    try:
        text = m.mem.read_str(src, size - 1)
    except PybpfError:
        m.mem.write_bytes(dst, b"\0")
        return _errno_of(OSError(14, "fault"))
    m.mem.write_bytes(dst, text + b"\0")
    return len(text) + 1


for _name in ("probe_read", "probe_read_user", "probe_read_kernel"):
    register(_name, ("ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"), "RET_INTEGER",
             gpl_only=True, doc="Copy size bytes from an unsafe address; 0, or -EFAULT with dst zeroed.")(_probe_read)
for _name in ("probe_read_str", "probe_read_user_str", "probe_read_kernel_str"):
    register(_name, ("ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"), "RET_INTEGER",
             gpl_only=True, doc="Copy a NUL-terminated string; its length with the NUL, or -EFAULT.")(_probe_read_str)
del _name


@register("get_current_comm", ("ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"), "RET_INTEGER")
def get_current_comm(m, buf, size, *_):
    """The name of the running thread, NUL-terminated and truncated to size."""
    from ..kernel.virtual.trace_pipe import task_comm

    comm = task_comm().encode()[:max(size - 1, 0)]
    m.mem.write_bytes(buf, (comm + b"\0").ljust(size, b"\0")[:size])
    return 0


@register("strncmp", ("ARG_PTR_TO_MEM", "ARG_CONST_SIZE", "ARG_PTR_TO_CONST_STR"), "RET_INTEGER")
def strncmp(m, s1, s1_size, s2, *_):
    """Compare at most s1_size bytes of two strings: <0, 0 or >0, as strncmp."""
    a, b = m.mem.read_bytes(s1, s1_size), m.mem.read_str(s2, 4096) + b"\0"
    for x, y in zip(a, b):
        if x != y or x == 0:
            return (x - y) & 0xFFFFFFFFFFFFFFFF
    return 0


@register("snprintf", ("ARG_PTR_TO_MEM_OR_NULL", "ARG_CONST_SIZE_OR_ZERO", "ARG_PTR_TO_CONST_STR",
                       "ARG_PTR_TO_MEM_OR_NULL", "ARG_CONST_SIZE_OR_ZERO"), "RET_INTEGER")
def snprintf(m, out, out_size, fmt, data, data_len):
    """printf into a buffer; args are u64s in data; the full length with the NUL, or -EINVAL."""
    from .printk import FormatError, bprintf

    if data_len % 8 or data_len > 12 * 8:
        return _errno_of(OSError(22, "data_len"))
    args = [int.from_bytes(m.mem.read_bytes(data + i, 8), "little") for i in range(0, data_len, 8)]

    def read_str(addr, size=None, raw=False):
        return m.mem.read_bytes(addr, size) if raw else m.mem.read_str(addr, 4096)

    try:
        text = bprintf(m.mem.read_str(fmt, 4096) + b"\0", args, read_str, max_args=12)
    except (FormatError, OSError, IndexError) as err:
        return _errno_of(err if isinstance(err, OSError) else OSError(22, str(err)))
    if out_size:
        m.mem.write_bytes(out, text[:out_size - 1] + b"\0")
    return len(text) + 1


@register("get_func_ip", ("ARG_PTR_TO_CTX",), "RET_INTEGER")
def get_func_ip(m, ctx, *_):
    """The address of the probed function; the virtual kernel's probes report it in their context."""
    return getattr(m, "func_ip", 0)


@register("perf_event_output", ("ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_ANYTHING", "ARG_PTR_TO_MEM",
                                 "ARG_CONST_SIZE_OR_ZERO"), "RET_INTEGER")
def perf_event_output(m, ctx, map_ptr, flags, data, size):
    """Write size bytes as a sample to the perf ring of the current CPU (or of the index in flags)."""
    return m.kernel.map_at(map_ptr).output(flags, m.cpu, m.mem.read_bytes(data, size)) & 0xFFFFFFFFFFFFFFFF


@register("get_stackid", ("ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_ANYTHING"), "RET_INTEGER")
def get_stackid(m, ctx, map_ptr, flags, *_):
    """Store the current (Python) stack in a stack map; its id, or a negative errno."""
    return m.kernel.map_at(map_ptr).get_stackid(m.kernel.stacks.current(), flags) & 0xFFFFFFFFFFFFFFFF


@register("get_stack", ("ARG_PTR_TO_CTX", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
          "RET_INTEGER")
def get_stack(m, ctx, buf, size, flags, *_):
    """Copy the current (Python) stack's ips into buf; the bytes copied, or a negative errno."""
    if size % 8 or flags & ~(0xFF | (1 << 8) | (1 << 11)):
        return _errno_of(OSError(22, "size or flags"))
    ips = m.kernel.stacks.current()[flags & 0xFF:][: size // 8]
    data = b"".join(ip.to_bytes(8, "little") for ip in ips)
    m.mem.write_bytes(buf, data.ljust(size, b"\0"))
    return len(data)


@register("for_each_map_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", "ARG_ANYTHING"),
          "RET_INTEGER")
def for_each_map_elem(m, map_ptr, callback, callback_ctx, flags, *_):
    """Call callback(map, &key, &value, ctx) for each element until it returns 1; the elements visited."""
    if flags:
        return _errno_of(OSError(22, "flags"))
    bpf_map = m.kernel.map_at(map_ptr)
    visited = 0
    for key in list(bpf_map.keys()):
        value = bpf_map.value_address(key, m.cpu)
        if value is None:
            continue
        with m.kernel.scratch(key) as key_ptr:
            visited += 1
            if m.call(callback, map_ptr, key_ptr, value, callback_ctx) & 0xFFFFFFFF == 1:
                break
    return visited


@register("skb_load_bytes", ("ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"),
          "RET_INTEGER")
def skb_load_bytes(m, skb, offset, to, size, *_):
    """Copy size bytes of the packet from offset; 0, or -EFAULT outside the packet."""
    packet = m.packet
    if packet is None or offset + size > packet.size:
        return _errno_of(OSError(14, "outside the packet"))
    m.mem.write_bytes(to, packet.read(offset, size))
    return 0


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _adjust(m, how: str, delta: int) -> int:
    packet = m.packet
    if packet is None or not hasattr(packet, how):
        return -errno.EOPNOTSUPP
    return getattr(packet, how)(_s32(delta))


@register("xdp_adjust_head", ("ARG_PTR_TO_CTX", "ARG_ANYTHING"), "RET_INTEGER", effects=("changes_pkt_data",))
def xdp_adjust_head(m, xdp, delta, *_):
    """Move the packet's start by delta bytes (negative grows it into the headroom); 0 or -EINVAL."""
    return _adjust(m, "adjust_head", delta)


@register("xdp_adjust_tail", ("ARG_PTR_TO_CTX", "ARG_ANYTHING"), "RET_INTEGER", effects=("changes_pkt_data",))
def xdp_adjust_tail(m, xdp, delta, *_):
    """Move the packet's end by delta bytes (growing zeroes the new bytes); 0 or -EINVAL."""
    return _adjust(m, "adjust_tail", delta)


@register("xdp_adjust_meta", ("ARG_PTR_TO_CTX", "ARG_ANYTHING"), "RET_INTEGER", effects=("changes_pkt_data",))
def xdp_adjust_meta(m, xdp, delta, *_):
    """Move the metadata's start by delta bytes (a multiple of 4, at most 255 in all); 0, -EINVAL or -EACCES."""
    return _adjust(m, "adjust_meta", delta)


@register("get_current_task", (), "RET_INTEGER")
def get_current_task(m, *_):
    """The running thread's task: a read-only {u32 pid; u32 tgid; char comm[16]; u32 ppid} in VM memory."""
    return m.kernel.current_task()


@register("send_signal", ("ARG_ANYTHING",), "RET_INTEGER")
def send_signal(m, sig, *_):
    """Send signal sig to the current process: on the virtual kernel the traced Python program runs in the
    calling process, so that is this process.  0, or -EINVAL for a number outside 1..64 (as Linux)."""
    sig &= 0xFFFFFFFF
    if not 1 <= sig <= 64:
        return -errno.EINVAL
    os.kill(os.getpid(), sig)
    return 0


@register("send_signal_thread", ("ARG_ANYTHING",), "RET_INTEGER")
def send_signal_thread(m, sig, *_):
    """send_signal to the calling thread only; 0, or -EINVAL for a number outside 1..64."""
    import signal

    sig &= 0xFFFFFFFF
    if not 1 <= sig <= 64:
        return -errno.EINVAL
    signal.pthread_kill(threading.get_ident(), sig)
    return 0


@register("get_current_cgroup_id", (), "RET_INTEGER")
def get_current_cgroup_id(m, *_):
    """The cgroup v2 id (the inode of the cgroup directory) of the Python process, 0 if unknown."""
    try:
        with open("/proc/self/cgroup") as f:
            path = next(line.split(":", 2)[2].strip() for line in f if line.startswith("0::"))
        return os.stat("/sys/fs/cgroup" + path).st_ino
    except (OSError, StopIteration):
        return 0

"""One registry of helper functions, keyed by Linux helper id.

Each `HelperSpec` says what the verifier checks (argument and return kinds,
spelled as the kernel spells them: ARG_ANYTHING, ARG_PTR_TO_MAP_KEY, ...,
RET_INTEGER, RET_PTR_TO_MAP_VALUE_OR_NULL) and what the engines execute
(`impl`).  Adding a helper is one `register()` call.  Implementations take
the running `Machine` (memory, output sinks, per-run state) and r1..r5, and
return r0.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

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
    impl: HelperImpl
    gpl_only: bool = False
    doc: str = ""

    @property
    def full_name(self) -> str:
        return f"bpf_{self.name}"


REGISTRY: dict[int, HelperSpec] = {}


def register(name: str, args: tuple[str, ...], ret: str, *, gpl_only: bool = False, doc: str = ""):
    """Decorator: register `impl` under the Linux id of `name`."""
    def wrap(impl: HelperImpl) -> HelperImpl:
        helper_id = FUNC_IDS[name]
        REGISTRY[helper_id] = HelperSpec(helper_id, name, args, ret, impl, gpl_only, doc or impl.__doc__ or "")
        return impl
    return wrap


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


@register("map_lookup_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY"), "RET_PTR_TO_MAP_VALUE_OR_NULL")
def map_lookup_elem(m, map_ptr, key_ptr, *_):
    """Pointer to the value for *key, or NULL."""
    bpf_map = m.kernel.map_at(map_ptr)
    key = m.mem.read_bytes(key_ptr, bpf_map.key_size) if bpf_map.key_size else None
    return bpf_map.value_address(key, m.cpu) or 0


@register("map_update_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_MAP_VALUE", "ARG_ANYTHING"),
          "RET_INTEGER")
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


@register("map_delete_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY"), "RET_INTEGER")
def map_delete_elem(m, map_ptr, key_ptr, *_):
    """Delete an element; 0 or a negative errno."""
    bpf_map = m.kernel.map_at(map_ptr)
    try:
        bpf_map.delete(m.mem.read_bytes(key_ptr, bpf_map.key_size))
    except OSError as err:
        return _errno_of(err)
    return 0


@register("map_push_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_VALUE", "ARG_ANYTHING"), "RET_INTEGER")
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


@register("map_pop_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_UNINIT_MAP_VALUE"), "RET_INTEGER")
def map_pop_elem(m, map_ptr, value_ptr, *_):
    """Pop from a queue or stack into *value; 0 or -ENOENT."""
    return _take(m, map_ptr, value_ptr, True)


@register("map_peek_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_UNINIT_MAP_VALUE"), "RET_INTEGER")
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
          "RET_PTR_TO_RINGBUF_MEM_OR_NULL")
def ringbuf_reserve(m, map_ptr, size, flags, *_):
    """Reserve size bytes in the ring: a pointer to them, or NULL."""
    return m.kernel.map_at(map_ptr).reserve(size, flags)


@register("ringbuf_submit", ("ARG_PTR_TO_RINGBUF_MEM", "ARG_ANYTHING"), "RET_VOID")
def ringbuf_submit(m, record, flags, *_):
    """Commit a reserved record for the consumer."""
    m.kernel.ringbuf_of(record).submit(record, flags)
    return 0


@register("ringbuf_discard", ("ARG_PTR_TO_RINGBUF_MEM", "ARG_ANYTHING"), "RET_VOID")
def ringbuf_discard(m, record, flags, *_):
    """Drop a reserved record; the consumer skips it."""
    m.kernel.ringbuf_of(record).discard(record, flags)
    return 0


@register("ringbuf_query", ("ARG_CONST_MAP_PTR", "ARG_ANYTHING"), "RET_INTEGER")
def ringbuf_query(m, map_ptr, flags, *_):
    """Available data, ring size, consumer or producer position."""
    return m.kernel.map_at(map_ptr).query(flags)

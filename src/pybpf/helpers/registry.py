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

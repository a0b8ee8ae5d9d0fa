"""Helpers the native code runs itself, without the callback into Python: one emitter per helper, by name.

Each runs the libc call the registry's Python implementation makes, so the
value is the same on every engine: `bpf_ktime_get_ns` is CLOCK_MONOTONIC
(time.monotonic_ns), `bpf_get_current_pid_tgid` is getpid() << 32 | gettid()
(os.getpid, threading.get_native_id).  The engine uses one only where the
program's helper table still holds the registry's implementation (a test or
a caller that replaces a helper gets the callback, and its own code).
"""

from __future__ import annotations

import ctypes
import time
from functools import lru_cache

from llvmlite import ir

from ...helpers import REGISTRY, helper_id

i32, i64 = ir.IntType(32), ir.IntType(64)
TIMESPEC = ir.LiteralStructType([i64, i64])


def _ktime_get_ns(module: ir.Module, b: ir.IRBuilder):
    fn = module.globals.get("clock_gettime") or ir.Function(
        module, ir.FunctionType(i32, [i32, TIMESPEC.as_pointer()]), name="clock_gettime")
    ts = b.alloca(TIMESPEC)
    b.call(fn, [ir.Constant(i32, time.CLOCK_MONOTONIC), ts])
    seconds = b.load(b.gep(ts, [ir.Constant(i32, 0), ir.Constant(i32, 0)]))
    nanoseconds = b.load(b.gep(ts, [ir.Constant(i32, 0), ir.Constant(i32, 1)]))
    return b.add(b.mul(seconds, ir.Constant(i64, 1_000_000_000)), nanoseconds)


def _get_current_pid_tgid(module: ir.Module, b: ir.IRBuilder):
    def libc(name):
        return module.globals.get(name) or ir.Function(module, ir.FunctionType(i32, []), name=name)
    pid, tid = b.call(libc("getpid"), []), b.call(libc("gettid"), [])
    return b.or_(b.shl(b.zext(pid, i64), ir.Constant(i64, 32)), b.zext(tid, i64))


EMITTERS = {helper_id("ktime_get_ns"): _ktime_get_ns, helper_id("get_current_pid_tgid"): _get_current_pid_tgid}
SYMBOLS = ("clock_gettime", "getpid", "gettid")


def native_ids(helpers) -> frozenset[int]:
    """The helper ids of EMITTERS whose implementation in `helpers` is still the registry's."""
    return frozenset(i for i in EMITTERS if i in helpers and helpers[i] is REGISTRY.get(i)
                     and all(symbols().values()))


@lru_cache(maxsize=1)
def symbols() -> dict[str, int]:
    """The addresses of the libc functions the emitters call (0 where this libc lacks one)."""
    libc = ctypes.CDLL(None)
    return {name: ctypes.cast(getattr(libc, name), ctypes.c_void_p).value if hasattr(libc, name) else 0
            for name in SYMBOLS}

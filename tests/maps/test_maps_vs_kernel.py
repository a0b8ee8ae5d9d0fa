"""Map semantics against the running kernel: the same operations give the same results and errnos.

Each case creates the same map on both sides and replays one script of
operations; every step's outcome (the bytes returned, or the errno) must be
equal.  Iteration order of hash maps is the kernel's bucket order, so key
sets are compared as sets.
"""

from __future__ import annotations

import errno
import os

import pytest

from pybpf.kernel.linux import syscall
from pybpf.maps import MapAttrs, MapError, create_map
from pybpf.uapi import MapType as T
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel]


def _possible_cpus() -> int:
    text = open("/sys/devices/system/cpu/possible").read().strip()
    return int(text.split("-")[-1]) + 1


NCPUS = _possible_cpus() if os.path.exists("/sys/devices/system/cpu/possible") else 1


def u32(n: int) -> bytes:
    return n.to_bytes(4, "little")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


class KernelSide:
    def __init__(self, map_type, key_size, value_size, max_entries, flags=0, extra=0):
        self.fd = syscall.map_create(map_type, key_size, value_size, max_entries, flags, map_extra=extra)
        self.out_size = value_size

    def do(self, op, *args):
        try:
            if op == "update":
                return ("ok", syscall.map_update(self.fd, *args))
            if op == "peek":  # a bloom filter: no key, the value to look for
                return ("ok", syscall.map_lookup(self.fd, None, self.out_size, args[0]) and None)
            if op == "lookup":
                return ("ok", syscall.map_lookup(self.fd, args[0], self.out_size))
            if op == "delete":
                return ("ok", syscall.map_delete(self.fd, args[0]))
            if op == "next":
                key = syscall.map_get_next_key(self.fd, args[0], args[1])
                return ("ok", key) if key is not None else ("err", errno.ENOENT)
            if op == "pop":
                return ("ok", syscall.map_lookup_and_delete(self.fd, args[0], self.out_size))
        except syscall.KernelError as err:
            return ("err", err.errno)
        raise AssertionError(op)

    def keys(self, key_size):
        out, key = set(), None
        while (key := syscall.map_get_next_key(self.fd, key, key_size)) is not None:
            out.add(key)
        return out

    def close(self):
        syscall.close(self.fd)


class VirtualSide:
    def __init__(self, map_type, key_size, value_size, max_entries, flags=0, extra=0):
        self.map = create_map(MapAttrs(map_type, key_size, value_size, max_entries, flags, map_extra=extra,
                                       ncpus=NCPUS))

    def do(self, op, *args):
        m = self.map
        try:
            if op == "update":
                return ("ok", m.update(*args))
            if op == "next" and not self.map.key_size:
                return ("ok", m.get_next_key(args[0]))
            if op == "peek":
                m.lookup(None, args[0])
                return ("ok", None)
            if op == "lookup":
                return ("ok", m.lookup(args[0]))
            if op == "delete":
                return ("ok", m.delete(args[0]))
            if op == "next":
                return ("ok", m.get_next_key(args[0]))
            if op == "pop":
                return ("ok", m.lookup_and_delete(args[0]))
        except MapError as err:
            return ("err", err.errno)
        raise AssertionError(op)

    def keys(self, key_size):
        return set(self.map.keys())

    def close(self):
        pass


def percpu(value: bytes) -> bytes:
    slot = (len(value) + 7) // 8 * 8
    return value.ljust(slot, b"\0") * NCPUS


SCRIPTS = {
    "array": ((T.BPF_MAP_TYPE_ARRAY, 4, 8, 4), [
        ("lookup", u32(0)), ("update", u32(1), u64(7), 0), ("lookup", u32(1)), ("update", u32(4), u64(1), 0),
        ("update", u32(1), u64(8), 1), ("update", u32(1), u64(9), 2), ("lookup", u32(1)), ("delete", u32(1)),
        ("lookup", u32(9)), ("next", None, 4), ("next", u32(2), 4), ("next", u32(3), 4), ("next", u32(77), 4),
        ("update", u32(0), u64(1), 3), ("update", u32(0), u64(1), 8), ("pop", u32(0)),
    ]),
    "percpu_array": ((T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2), [
        ("lookup", u32(1)), ("update", u32(1), percpu(u32(5)), 0), ("lookup", u32(1)), ("lookup", u32(2)),
        ("update", u32(2), percpu(u32(5)), 0), ("delete", u32(0)),
    ]),
    "hash": ((T.BPF_MAP_TYPE_HASH, 4, 8, 3), [
        ("lookup", u32(1)), ("delete", u32(1)), ("update", u32(1), u64(10), 2), ("update", u32(1), u64(10), 1),
        ("update", u32(1), u64(11), 1), ("update", u32(1), u64(12), 2), ("lookup", u32(1)),
        ("update", u32(2), u64(20), 0), ("update", u32(3), u64(30), 0), ("update", u32(4), u64(40), 0),
        ("update", u32(3), u64(31), 0), ("delete", u32(2)), ("update", u32(4), u64(40), 0), ("lookup", u32(4)),
        ("pop", u32(4)), ("lookup", u32(4)), ("pop", u32(4)), ("update", u32(5), u64(1), 4),
        ("update", u32(5), u64(1), 3),
    ]),
    "percpu_hash": ((T.BPF_MAP_TYPE_PERCPU_HASH, 8, 4, 2), [
        ("update", u64(1), percpu(u32(3)), 0), ("lookup", u64(1)), ("update", u64(2), percpu(u32(4)), 1),
        ("update", u64(3), percpu(u32(4)), 0), ("delete", u64(1)), ("lookup", u64(1)),
    ]),
    "lru_hash": ((T.BPF_MAP_TYPE_LRU_HASH, 4, 4, 64), [
        ("update", u32(1), u32(1), 0), ("lookup", u32(1)), ("update", u32(1), u32(2), 1),
        ("update", u32(2), u32(2), 2), ("delete", u32(1)), ("delete", u32(1)),
    ]),
    "queue": ((T.BPF_MAP_TYPE_QUEUE, 0, 4, 3), [
        ("lookup", None), ("pop", None), ("update", None, u32(1), 0), ("update", None, u32(2), 0),
        ("update", None, u32(3), 0), ("update", None, u32(4), 0), ("update", None, u32(4), 2),
        ("update", None, u32(5), 1), ("lookup", None), ("pop", None), ("pop", None), ("pop", None),
        ("pop", None), ("delete", None), ("next", None, 0),
    ]),
    "stack": ((T.BPF_MAP_TYPE_STACK, 0, 4, 2), [
        ("update", None, u32(1), 0), ("update", None, u32(2), 0), ("update", None, u32(3), 0),
        ("update", None, u32(3), 2), ("lookup", None), ("pop", None), ("pop", None), ("pop", None),
    ]),
    "bloom_filter": ((T.BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 100, 0, 3), [
        ("peek", u32(7)), ("update", None, u32(7), 0), ("peek", u32(7)), ("update", None, u32(8), 1),
        ("delete", None), ("lookup", u32(7)), ("update", u32(1), u32(9), 0),
    ]),
    "ringbuf": ((T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096), [
        ("lookup", None), ("update", None, b"", 0), ("delete", None), ("next", None, 0), ("pop", None),
    ]),
    "lpm_trie": ((T.BPF_MAP_TYPE_LPM_TRIE, 8, 4, 3, 1), [
        ("update", u32(16) + bytes([10, 1, 0, 0]), u32(16), 0),
        ("update", u32(24) + bytes([10, 1, 2, 0]), u32(24), 0),
        ("lookup", u32(32) + bytes([10, 1, 2, 3])), ("lookup", u32(32) + bytes([10, 1, 3, 3])),
        ("lookup", u32(32) + bytes([10, 2, 0, 0])), ("lookup", u32(20) + bytes([10, 1, 2, 3])),
        ("update", u32(33) + bytes(4), u32(1), 0), ("update", u32(8) + bytes([10, 0, 0, 0]), u32(8), 0),
        ("update", u32(9) + bytes([10, 0, 0, 0]), u32(9), 0), ("update", u32(16) + bytes([10, 1, 9, 9]), u32(1), 1),
        ("delete", u32(24) + bytes([10, 1, 2, 0])), ("delete", u32(24) + bytes([10, 1, 2, 0])),
        ("lookup", u32(32) + bytes([10, 1, 2, 3])),
    ]),
}


def _value_size(args):
    map_type, _, value_size = args[0], args[1], args[2]
    if map_type in (T.BPF_MAP_TYPE_PERCPU_ARRAY, T.BPF_MAP_TYPE_PERCPU_HASH):
        return (value_size + 7) // 8 * 8 * NCPUS
    return value_size


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_script_same_outcomes(name):
    args, script = SCRIPTS[name]
    kernel, virtual = KernelSide(*args), VirtualSide(*args)
    kernel.out_size = _value_size(args)
    try:
        for step, (op, *operands) in enumerate(script):
            theirs, ours = kernel.do(op, *operands), virtual.do(op, *operands)
            if theirs[0] == "ok" and theirs[1] is None:
                theirs = ("ok", None)
            assert ours == theirs, f"{name} step {step} {op}{tuple(operands)}: ours {ours}, kernel {theirs}"
        if args[1]:
            assert virtual.keys(args[1]) == kernel.keys(args[1])
    finally:
        kernel.close()


CREATE_CASES = [
    (T.BPF_MAP_TYPE_ARRAY, 8, 4, 1, 0, 0), (T.BPF_MAP_TYPE_ARRAY, 4, 0, 1, 0, 0),
    (T.BPF_MAP_TYPE_ARRAY, 4, 4, 0, 0, 0), (T.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 1 << 10, 0),
    (T.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 1 << 0, 0), (T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, 1 << 10, 0),
    (T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 1 << 16, 1, 0, 0),
    (T.BPF_MAP_TYPE_HASH, 0, 4, 1, 0, 0), (T.BPF_MAP_TYPE_HASH, 4, 4, 1, 1 << 0, 0),
    (T.BPF_MAP_TYPE_HASH, 1024, 4, 1, 0, 0), (T.BPF_MAP_TYPE_HASH, 4, 4, 1, 1 << 10, 0),
    (T.BPF_MAP_TYPE_LRU_HASH, 4, 4, 1, 1 << 0, 0), (T.BPF_MAP_TYPE_LRU_HASH, 4, 4, 1, 1 << 1, 0),
    (T.BPF_MAP_TYPE_QUEUE, 4, 4, 1, 0, 0), (T.BPF_MAP_TYPE_QUEUE, 0, 4, 1, 0, 0),
    (T.BPF_MAP_TYPE_STACK, 0, 0, 1, 0, 0),
    (T.BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 10, 0, 16), (T.BPF_MAP_TYPE_BLOOM_FILTER, 4, 4, 10, 0, 0),
    (T.BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1, 0, 0), (T.BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1, 1, 0),
    (T.BPF_MAP_TYPE_LPM_TRIE, 4, 4, 1, 1, 0), (T.BPF_MAP_TYPE_LPM_TRIE, 300, 4, 1, 1, 0),
    (T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, 0), (T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4000, 0, 0),
    (T.BPF_MAP_TYPE_RINGBUF, 0, 0, 8192 * 3, 0, 0), (T.BPF_MAP_TYPE_RINGBUF, 4, 0, 4096, 0, 0),
    (T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 1 << 10, 0),
    (T.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, 0), (T.BPF_MAP_TYPE_PROG_ARRAY, 4, 8, 4, 0, 0),
    (T.BPF_MAP_TYPE_PROG_ARRAY, 8, 4, 4, 0, 0), (T.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 1 << 10, 0),
    (T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0, 0), (T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, 0, 0),
    (T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 8, 2, 0, 0), (T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 1 << 11, 0),
    (T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 1 << 10, 0),
    (T.BPF_MAP_TYPE_STACK_TRACE, 4, 16, 8, 0, 0), (T.BPF_MAP_TYPE_STACK_TRACE, 4, 12, 8, 0, 0),
    (T.BPF_MAP_TYPE_STACK_TRACE, 8, 16, 8, 0, 0), (T.BPF_MAP_TYPE_STACK_TRACE, 4, 8 * 128, 8, 0, 0),
]


@pytest.mark.parametrize("args", CREATE_CASES, ids=[f"{T(a[0]).name[13:]}-{a[1]}-{a[2]}-{a[3]}-{a[4]:#x}-{a[5]}"
                                                    for a in CREATE_CASES])
def test_create_errnos_match(args):
    try:
        KernelSide(*args).close()
        theirs = 0
    except syscall.KernelError as err:
        theirs = err.errno
    try:
        VirtualSide(*args)
        ours = 0
    except MapError as err:
        ours = err.errno
    assert ours == theirs

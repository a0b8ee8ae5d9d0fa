"""Map types with Linux's numbering and semantics.

`create_map(attrs)` builds the map for `attrs.map_type` (an enum
bpf_map_type value) or raises MapError(EINVAL) for a type the virtual kernel
does not have.  Every map answers the bpf() map commands with Linux's results
and errnos, and is also a Python mapping view (`keys()`, `items()`, `len()`).
"""

from __future__ import annotations

import errno

from .array import ArrayMap, PerCpuArrayMap
from .base import (BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG,
                   BPF_NOEXIST, Map, MapAttrs, MapError, Value)
from .bloom import BloomFilterMap
from .fd_array import HashOfMaps, MapInMap, ProgArrayMap
from .hash import HashMap, LruHashMap, LruPerCpuHashMap, PerCpuHashMap
from .lpm import LpmTrieMap
from .perf import PerfEventArrayMap, PerfRing
from .queue import QueueMap, StackMap
from .ringbuf import RingBufMap
from .stack_trace import StackTraceMap

# enum bpf_map_type value -> class (numbers as in include/uapi/linux/bpf.h)
MAP_CLASSES: dict[int, type[Map]] = {
    1: HashMap,            # BPF_MAP_TYPE_HASH
    2: ArrayMap,           # BPF_MAP_TYPE_ARRAY
    4: PerfEventArrayMap,  # BPF_MAP_TYPE_PERF_EVENT_ARRAY
    5: PerCpuHashMap,      # BPF_MAP_TYPE_PERCPU_HASH
    6: PerCpuArrayMap,     # BPF_MAP_TYPE_PERCPU_ARRAY
    7: StackTraceMap,      # BPF_MAP_TYPE_STACK_TRACE
    9: LruHashMap,         # BPF_MAP_TYPE_LRU_HASH
    10: LruPerCpuHashMap,  # BPF_MAP_TYPE_LRU_PERCPU_HASH
    3: ProgArrayMap,       # BPF_MAP_TYPE_PROG_ARRAY
    11: LpmTrieMap,        # BPF_MAP_TYPE_LPM_TRIE
    12: MapInMap,          # BPF_MAP_TYPE_ARRAY_OF_MAPS
    13: HashOfMaps,        # BPF_MAP_TYPE_HASH_OF_MAPS
    22: QueueMap,          # BPF_MAP_TYPE_QUEUE
    23: StackMap,          # BPF_MAP_TYPE_STACK
    27: RingBufMap,        # BPF_MAP_TYPE_RINGBUF
    30: BloomFilterMap,    # BPF_MAP_TYPE_BLOOM_FILTER
}


def create_map(attrs: MapAttrs) -> Map:
    cls = MAP_CLASSES.get(attrs.map_type)
    if cls is None:
        raise MapError(errno.EINVAL, f"map type {attrs.map_type} is not supported by the virtual kernel")
    return cls(attrs)


__all__ = ["PerfEventArrayMap", "PerfRing", "RingBufMap", "BPF_ANY", "BPF_EXIST", "BPF_F_LOCK", "BPF_F_MMAPABLE", "BPF_F_NO_PREALLOC", "BPF_F_RDONLY_PROG",
           "BPF_NOEXIST", "MAP_CLASSES", "Map", "MapAttrs", "MapError", "Value", "create_map"]

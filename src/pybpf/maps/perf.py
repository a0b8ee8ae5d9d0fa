"""BPF_MAP_TYPE_PERF_EVENT_ARRAY and the per-CPU perf rings behind it.

The map is an array of perf events, one a CPU by convention, each a ring of
`pages` pages (what perf_event_open with PERF_COUNT_SW_BPF_OUTPUT and an
mmap give libbpf's perf_buffer).  bpf_perf_event_output writes a sample into
the ring of the current CPU (BPF_F_CURRENT_CPU) or of the index in its
flags; a sample that does not fit is lost and counted, and the consumer is
told how many were lost before the next sample it reads, as
PERF_RECORD_LOST does.  A sample costs its 8-byte perf header, a u32 size
and the data, rounded up to 8 bytes, like PERF_SAMPLE_RAW.
"""

from __future__ import annotations

import errno
import threading
from collections import deque
from typing import Callable

from .base import BPF_F_PRESERVE_ELEMS, ENOTSUPP, Map, fail
from .fd_array import FdArray

PAGE_SIZE = 4096
BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK


def sample_size(data_size: int) -> int:
    return (8 + 4 + data_size + 7) // 8 * 8


class PerfRing:
    """One CPU's ring: samples in order, their bytes accounted against the ring's size."""

    def __init__(self, cpu: int, pages: int):
        if pages <= 0 or pages & (pages - 1):
            raise fail(errno.EINVAL, "a perf ring needs a power-of-2 number of pages")
        self.cpu, self.capacity = cpu, pages * PAGE_SIZE
        self.samples: deque[bytes | int] = deque()  # data, or a count of lost samples
        self.used = 0
        self.lost = 0  # lost since the consumer last saw a LOST record
        self.lost_total = 0
        self.ready = threading.Condition()

    def write(self, data: bytes) -> bool:
        cost = sample_size(len(data))
        with self.ready:
            if self.used + cost > self.capacity:
                self.lost += 1
                self.lost_total += 1
                return False
            if self.lost:
                self.samples.append(self.lost)
                self.lost = 0
            self.samples.append(data)
            self.used += cost
            self.ready.notify_all()
        return True

    def read(self, on_sample: Callable[[int, bytes], None], on_lost: Callable[[int, int], None] | None) -> int:
        count = 0
        with self.ready:
            items = list(self.samples)
            self.samples.clear()
            self.used = 0
            pending_lost, self.lost = self.lost, 0
        for item in items:
            if isinstance(item, int):
                if on_lost:
                    on_lost(self.cpu, item)
            else:
                on_sample(self.cpu, item)
                count += 1
        if pending_lost and on_lost:
            on_lost(self.cpu, pending_lost)
        return count


class PerfEventArrayMap(FdArray):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_PRESERVE_ELEMS

    def accepts(self, obj) -> bool:
        return isinstance(obj, PerfRing)

    def lookup(self, key: bytes) -> bytes:
        raise fail(ENOTSUPP, "perf event arrays cannot be read from user space")

    def output(self, flags: int, cpu: int, data: bytes) -> int:
        """bpf_perf_event_output: 0, -ENOENT for an empty slot, -E2BIG for a bad index, -ENOSPC when lost."""
        if flags & ~BPF_F_INDEX_MASK:
            return -errno.EINVAL
        index = cpu if flags & BPF_F_INDEX_MASK == BPF_F_CURRENT_CPU else flags & BPF_F_INDEX_MASK
        if index >= self.max_entries:
            return -errno.E2BIG
        ring = self.target(index)
        if ring is None:
            return -errno.ENOENT
        return 0 if ring.write(data) else -errno.ENOSPC

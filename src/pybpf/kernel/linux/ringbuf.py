"""A consumer of BPF_MAP_TYPE_RINGBUF through its mmap'd pages.

Layout (kernel/bpf/ringbuf.c): page 0 is the consumer page (we write
`consumer_pos`), page 1 the producer page (the kernel's `producer_pos`),
then the data area mapped twice so that a record never wraps.  Each record
has an 8-byte header: u32 length with BPF_RINGBUF_BUSY_BIT (still being
written) and BPF_RINGBUF_DISCARD_BIT (bpf_ringbuf_discard), and a u32 page
offset; records are 8-byte aligned.
"""

from __future__ import annotations

import mmap
import struct
from typing import Callable

BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT = 1 << 31, 1 << 30
BPF_RINGBUF_HDR_SZ = 8


class RingBuffer:
    """Read records from one ring buffer map; `on_record(data)` per committed record.

    `received` counts committed records, `discarded` those the program discarded.
    """

    def __init__(self, map_fd: int, size: int, on_record: Callable[[bytes], object] | None = None):
        self.fd, self.size, self._on_record = map_fd, size, on_record
        page = mmap.PAGESIZE
        self.consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        try:
            self.producer = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        except OSError:
            self.consumer.close()
            raise
        self._data = page
        self.received = self.discarded = 0

    def consume(self) -> int:
        """Read the records committed when the call began; stop at a busy one.  The number read (discarded
        ones included).  Records produced meanwhile wait for the next call: a reader whose own work makes
        records (a tracer printing what its write()s trigger) still returns, and its caller can stop."""
        cons = struct.unpack_from("<Q", self.consumer, 0)[0]
        prod = struct.unpack_from("<Q", self.producer, 0)[0]
        count = 0
        while cons < prod:
            start = self._data + (cons & (self.size - 1))
            length = struct.unpack_from("<I", self.producer, start)[0]
            if length & BPF_RINGBUF_BUSY_BIT:
                break
            size = length & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
            if length & BPF_RINGBUF_DISCARD_BIT:
                self.discarded += 1
            else:
                self.received += 1
                if self._on_record:
                    self._on_record(self.producer[start + BPF_RINGBUF_HDR_SZ:start + BPF_RINGBUF_HDR_SZ + size])
            cons += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7
            struct.pack_into("<Q", self.consumer, 0, cons)
            count += 1
        return count

    def add_to(self, poller) -> None:
        poller.add(self.fd, self.consume)

    def close(self) -> None:
        self.producer.close()
        self.consumer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def consume(bpf_map, on_record: Callable[[bytes], object]) -> int:
    """Every committed record of a ring buffer map (a `LinuxMap`), each to on_record; how many were read.

    The consumer position lives in the map's consumer page, so a reader mapped for this one call
    carries on where the last left off (a long-lived reader: `RingBuffer` with `add_to(poller)`)."""
    with RingBuffer(bpf_map.fd, bpf_map.max_entries, on_record) as reader:
        return reader.consume()

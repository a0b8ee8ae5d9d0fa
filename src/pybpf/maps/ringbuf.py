"""BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): one ring, many producers, one consumer.

The data area is max_entries bytes (a power of two, a multiple of the page
size).  A record is an 8-byte header, `u32 len` (with BUSY and DISCARD in
its top bits) and `u32 pg_off`, then the data, the whole rounded up to 8
bytes; producer and consumer positions grow without bound and are taken
modulo the size.  The kernel maps the data pages twice in a row so that a
record that wraps is still contiguous; here the buffer is twice the ring:
the part of a record past the end starts as a copy of the front of the ring
when it is reserved and is copied back to the front when it is committed,
which gives a program and a consumer the same bytes as Linux (unwritten
bytes of a record included).  pg_off is Linux's: the header's page in the
kernel's `struct bpf_ringbuf`, whose data area starts at page 3.

Producers: `reserve` (NULL when the record does not fit), `submit`,
`discard`, `output`, `query`.  Consumer: `consume(callback)` and `records()`,
which stop at a record still being written.  `dropped` counts records that
did not fit (the kernel keeps no such count; it is here for the user).

The positions, the drop count and two flags live in `control`, u64 words at a
stable address (CONTROL_WORDS), so that the native engine reserves and commits
records in machine code on the same state (vm/jit/native_ringbuf.py).  Native
code runs with the GIL held and never waits, so the protocol is one word:
`reserve` sets RESERVING while it moves the producer position, and machine
code that finds it set calls back into Python (which waits for the lock);
`wait` counts itself in WAITERS, and machine code commits a record that is
to wake someone through Python, which notifies (only then: a commit with no
one waiting wakes no one).
"""

from __future__ import annotations

import errno
import struct
import threading

from .base import BPF_ANY, BPF_F_NUMA_NODE, ENOTSUPP, Map, Value, fail

PAGE_SIZE = 4096
BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8
RINGBUF_DATA_PGOFF = 3  # struct bpf_ringbuf: a page of fields, the consumer page, the producer page, then data
BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP = 1, 2
BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = 0, 1, 2, 3
# The u64 words of RingBufMap.control, shared with the native engine's machine code.
PRODUCER_POS, CONSUMER_POS, DROPPED, RESERVING, WAITERS = range(5)
CONTROL_WORDS = 5


def _control_word(index: int, doc: str) -> property:
    def get(self) -> int:
        return self.words[index]

    def set(self, value: int) -> None:
        self.words[index] = value
    return property(get, set, doc=doc)


HEADER = struct.Struct("<II")  # u32 len (BUSY, DISCARD bits), u32 pg_off


class RingBufMap(Map):
    ALLOWED_FLAGS = BPF_F_NUMA_NODE

    def validate(self) -> None:
        size = self.max_entries
        if self.key_size or self.value_size or size == 0 or size & (size - 1) or size % PAGE_SIZE:
            raise fail(errno.EINVAL, "ring buffers need key and value size 0 and a power-of-2 multiple of 4096 bytes")
        self.data = Value(2 * size)
        self.control = Value(8 * CONTROL_WORDS)  # zeroed: positions 0, nothing dropped, no one waiting
        self.words = memoryview(self.control.buffer).cast("B").cast("Q")
        self._lock = threading.Lock()
        self._ready = threading.Condition()

    producer_pos = _control_word(PRODUCER_POS, "Bytes reserved since creation (records and headers, 8-aligned).")
    consumer_pos = _control_word(CONSUMER_POS, "Bytes the consumer has read past.")
    dropped = _control_word(DROPPED, "Records that did not fit.")

    def blocks(self):
        yield self.data, f"ringbuf {self.name or '(unnamed)'} data"

    # -- producers ---------------------------------------------------------
    def reserve(self, size: int, flags: int = 0) -> int:
        """Address of `size` writable bytes in the ring, or 0 when they do not fit."""
        if flags or size > self.max_entries - BPF_RINGBUF_HDR_SZ or size & (BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT):
            return 0
        start, _ = self._claim(size)
        return 0 if start is None else self.data.address + start + BPF_RINGBUF_HDR_SZ

    def _claim(self, size: int, data: bytes | None = None) -> tuple[int | None, bool]:
        """Claim a record of `size` bytes: (its offset in the ring, or None when it does not fit; whether it
        is committed already).  With `data` and a record that does not wrap, header and data are written in
        one copy before the producer position passes them (a consumer never sees it half-written);
        otherwise the header says busy until _commit."""
        total = (size + BPF_RINGBUF_HDR_SZ + 7) // 8 * 8
        words = self.words
        with self._lock:
            words[RESERVING] = 1
            try:
                producer = words[PRODUCER_POS]
                # Linux keeps the producer at most size - 1 bytes ahead: a record never fills the ring exactly
                if producer - words[CONSUMER_POS] + total >= self.max_entries:
                    words[DROPPED] += 1
                    return None, False
                start = producer % self.max_entries
                pg_off = RINGBUF_DATA_PGOFF + start // PAGE_SIZE
                past_end = start + BPF_RINGBUF_HDR_SZ + size - self.max_entries
                committed = data is not None and past_end <= 0
                if committed:
                    self.data.write(HEADER.pack(size, pg_off) + data, start)
                else:
                    self.data.write(HEADER.pack(size | BPF_RINGBUF_BUSY_BIT, pg_off), start)
                    if past_end > 0:  # the second mapping of the front of the ring, as Linux's
                        self.data.write(self.data.read(0, past_end), self.max_entries)
                words[PRODUCER_POS] = producer + total
            finally:
                words[RESERVING] = 0
        return start, committed

    def _wake(self, flags: int) -> None:
        if not flags & BPF_RB_NO_WAKEUP and self.words[WAITERS]:  # no one waiting: nothing to wake
            with self._ready:  # (a waiter counted after this test finds the producer moved at reserve)
                self._ready.notify_all()

    def _commit(self, address: int, discard: bool, flags: int) -> None:
        start = address - self.data.address - BPF_RINGBUF_HDR_SZ
        length, pg_off = HEADER.unpack(self.data.read(start, 8))
        size = length & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
        end = start + BPF_RINGBUF_HDR_SZ + size
        if end > self.max_entries:  # the part past the end belongs at the front of the ring
            tail_from = max(start, self.max_entries)
            self.data.write(self.data.read(tail_from, end - tail_from), tail_from - self.max_entries)
        header = HEADER.pack(size | (BPF_RINGBUF_DISCARD_BIT if discard else 0), pg_off)
        self.data.write(header, start)
        if start + 8 > self.max_entries:
            self.data.write(header[self.max_entries - start:], 0)
        self._wake(flags)

    def submit(self, address: int, flags: int = 0) -> None:
        self._commit(address, False, flags)

    def discard(self, address: int, flags: int = 0) -> None:
        self._commit(address, True, flags)

    def output(self, data: bytes, flags: int = 0) -> int:
        """bpf_ringbuf_output: 0, -EINVAL for flags other than the wakeup ones, -EAGAIN when it does not fit.
        A record that does not wrap is written whole, header and data in one copy (_claim)."""
        if flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
            return -errno.EINVAL
        if len(data) > self.max_entries - BPF_RINGBUF_HDR_SZ:
            return -errno.EAGAIN
        start, committed = self._claim(len(data), data)
        if start is None:
            return -errno.EAGAIN
        if committed:
            self._wake(flags)
        else:
            self.data.write(data, start + BPF_RINGBUF_HDR_SZ)
            self._commit(self.data.address + start + BPF_RINGBUF_HDR_SZ, False, flags)
        return 0

    def query(self, flags: int) -> int:
        return {BPF_RB_AVAIL_DATA: self.producer_pos - self.consumer_pos, BPF_RB_RING_SIZE: self.max_entries,
                BPF_RB_CONS_POS: self.consumer_pos, BPF_RB_PROD_POS: self.producer_pos}.get(flags, 0)

    # -- the consumer ------------------------------------------------------------
    def _read_ring(self, position: int, size: int) -> bytes:
        start = position % self.max_entries
        first = self.data.read(start, min(size, self.max_entries - start))
        return first + self.data.read(0, size - len(first))

    def records(self):
        """Yield committed records' data in order, advancing the consumer position; stop at a busy one.
        What the producers have written is copied out at once (one or two reads of the ring, not two a
        record), then cut into records."""
        while self.consumer_pos < self.producer_pos:
            start = self.consumer_pos
            chunk = self._read_ring(start, self.producer_pos - start)
            offset, end = 0, len(chunk)
            while offset < end:
                length = HEADER.unpack_from(chunk, offset)[0]
                if length & BPF_RINGBUF_BUSY_BIT:
                    return
                size = length & ~BPF_RINGBUF_DISCARD_BIT
                data = chunk[offset + BPF_RINGBUF_HDR_SZ:offset + BPF_RINGBUF_HDR_SZ + size]
                offset += (size + BPF_RINGBUF_HDR_SZ + 7) // 8 * 8
                self.consumer_pos = start + offset
                if not length & BPF_RINGBUF_DISCARD_BIT:
                    yield data

    def consume(self, callback) -> int:
        """Call callback(data) for each committed record; return how many."""
        count = 0
        for data in self.records():
            callback(data)
            count += 1
        return count

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until data is available (or timeout); True when there is some."""
        with self._ready:
            self.words[WAITERS] += 1  # from now on, native code commits through Python, which notifies
            try:
                return self._ready.wait_for(lambda: self.consumer_pos < self.producer_pos, timeout)
            finally:
                self.words[WAITERS] -= 1

    # -- map commands: a ring buffer has no elements -------------------------------
    def lookup(self, key):
        raise fail(ENOTSUPP, "ring buffers have no elements")

    def update(self, key, value, flags=BPF_ANY):
        raise fail(ENOTSUPP, "ring buffers have no elements")

    def delete(self, key):
        raise fail(ENOTSUPP, "ring buffers have no elements")

    def get_next_key(self, key):
        raise fail(ENOTSUPP, "ring buffers have no elements")

    def keys(self):
        return iter(())

    def __len__(self) -> int:
        return 0

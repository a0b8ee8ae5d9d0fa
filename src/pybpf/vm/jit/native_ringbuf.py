"""bpf_ringbuf_reserve/submit/discard/output/query in the machine code, on the ring buffers a program names.

A ring buffer's data area and its control words (positions, drop count,
the RESERVING and WAITERS flags: maps/ringbuf.py) sit at stable addresses,
so verified native code does what `RingBufMap` does, on the same bytes:
the same record addresses, headers (BUSY while reserved, DISCARD), pg_off,
the copy of a wrapped record's tail to the front of the ring at commit,
NULL (reserve) or -EAGAIN (output) and a drop counted when a record does
not fit, -EINVAL for output's unknown flags.  Two cases go through the
callback into Python instead, so that nothing changes for user space:

- a reserve (or output) while a Python thread is inside `reserve`
  (RESERVING set): machine code holds the GIL and must not wait for it;
- a commit that is to wake a consumer blocked in `wait` (WAITERS set and
  no BPF_RB_NO_WAKEUP): Python's commit notifies its condition.

A commit with nobody waiting costs no call.  Only verified code uses this
path (`plan` returns None for checked engines): the verifier proves that
the record a program submits is one it reserved, which the code trusts.
"""

from __future__ import annotations

import errno
from typing import NamedTuple

from llvmlite import ir

from ...helpers import REGISTRY, helper_id
from ...maps.ringbuf import (BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP,
                             BPF_RB_PROD_POS, BPF_RB_RING_SIZE, BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT,
                             BPF_RINGBUF_HDR_SZ, CONSUMER_POS, DROPPED, PAGE_SIZE, PRODUCER_POS, RESERVING,
                             RINGBUF_DATA_PGOFF, WAITERS, RingBufMap)
from ..inline_maps import named_maps

i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
RESERVE, SUBMIT, DISCARD, OUTPUT, QUERY = (helper_id(f"ringbuf_{name}")
                                          for name in ("reserve", "submit", "discard", "output", "query"))
HELPERS = frozenset({RESERVE, SUBMIT, DISCARD, OUTPUT, QUERY})
M64 = (1 << 64) - 1
LENGTH_MASK = ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT) & 0xFFFFFFFF  # a header's length, its bits cleared


class Ring(NamedTuple):
    """What the machine code needs of one ring buffer: the addresses of its data and control words, its size."""
    data: int
    control: int
    size: int


class RingPlan(NamedTuple):
    """The ring buffer helpers to run natively and the rings (by map handle) they may work on."""
    helpers: frozenset[int]
    rings: dict[int, Ring]

    def key(self):
        """What the compiled code depends on (part of the compile cache's key)."""
        return sorted(self.helpers), sorted(self.rings.items())


def plan(kernel, slots, lddw: dict[int, int], helpers, checked: bool) -> RingPlan | None:
    """The native ring buffer plan of a program, or None (checked code, no ring named, helpers replaced)."""
    if checked:
        return None
    ids = frozenset(i for i in HELPERS if i in helpers and helpers[i] is REGISTRY.get(i))
    rings = {handle: Ring(m.data.address, m.control.address, m.max_entries)
             for handle, m in named_maps(kernel, slots, lddw, RingBufMap, subclasses=True).items()}
    return RingPlan(ids, rings) if ids and rings else None


def _c(value: int) -> ir.Constant:
    return ir.Constant(i64, value & M64)


class RingEmitter:
    """Emits one ring buffer helper call into a Codegen's current block.

    Each `emit` leaves the builder at the start of a block from which the
    generic helper call follows (the caller emits it): what the machine
    code does not handle itself falls through to there.
    """

    def __init__(self, gen, plan: RingPlan):
        self.gen, self.plan = gen, plan

    def emit(self, pc: int, helper: int) -> None:
        gen = self.gen
        self.b, self.next = gen.b, gen.blocks[pc + 1]
        self.generic = gen.fn.append_basic_block(f"ringbuf_generic{pc}")
        if helper in (SUBMIT, DISCARD):
            self._by_record(lambda ring: self._commit_call(ring, helper == DISCARD))
        else:
            body = {RESERVE: self._reserve, OUTPUT: self._output, QUERY: self._query}[helper]
            self._by_map(body)
        self.b.position_at_end(self.generic)

    # -- dispatch on the ring ----------------------------------------------------------
    def _block(self):
        return self.gen.fn.append_basic_block()

    def _by_map(self, body) -> None:
        """A case per ring for r1 (the map handle); other maps take the generic call."""
        switch = self.b.switch(self.gen.reg(1), self.generic)
        for handle, ring in sorted(self.plan.rings.items()):
            case = self._block()
            switch.add_case(_c(handle), case)
            self.b.position_at_end(case)
            body(ring)

    def _by_record(self, body) -> None:
        """A case per ring whose data area holds r1 (the record); else the generic call (which faults)."""
        record = self.gen.reg(1)
        for ring in self.plan.rings.values():
            inside, other = self._block(), self._block()
            offset = self.b.sub(record, _c(ring.data))
            self.b.cbranch(self.b.icmp_unsigned("<", offset, _c(2 * ring.size)), inside, other)
            self.b.position_at_end(inside)
            body(ring)
            self.b.position_at_end(other)
        self.b.branch(self.generic)

    # -- the pieces --------------------------------------------------------------------
    def _word(self, ring: Ring, index: int):
        return self.b.inttoptr(_c(ring.control + 8 * index), i64.as_pointer())

    def _generic_if(self, cond) -> None:
        go_on = self._block()
        self.b.cbranch(cond, self.generic, go_on)
        self.b.position_at_end(go_on)

    def _wakeup_due(self, ring: Ring, flags):
        """A commit with these flags would notify someone blocked in RingBufMap.wait."""
        b = self.b
        wakes = b.icmp_unsigned("==", b.and_(flags, _c(BPF_RB_NO_WAKEUP)), _c(0))
        return b.and_(wakes, b.icmp_unsigned("!=", b.load(self._word(ring, WAITERS)), _c(0)))

    def _finish(self, r0) -> None:
        self.gen.set(0, r0)
        self.b.branch(self.next)

    def _place(self, ring: Ring, size, refused):
        """RingBufMap.reserve's checks and bookkeeping: the record's offset in the data area, with the header
        written BUSY and the producer moved; `refused(dropped)` is emitted where it does not fit (dropped: the
        ring was full, counted) and ends its block."""
        b = self.b
        self._generic_if(b.icmp_unsigned("!=", b.load(self._word(ring, RESERVING)), _c(0)))
        too_big = b.icmp_unsigned(">", size, _c(ring.size - BPF_RINGBUF_HDR_SZ))
        too_big = b.or_(too_big, b.icmp_unsigned("!=", b.and_(size, _c(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)),
                                                 _c(0)))
        bad, sized = self._block(), self._block()
        b.cbranch(too_big, bad, sized)
        b.position_at_end(bad)
        refused(False)
        b.position_at_end(sized)
        total = b.and_(b.add(size, _c(BPF_RINGBUF_HDR_SZ + 7)), _c(~7))
        producer = b.load(self._word(ring, PRODUCER_POS))
        used = b.add(b.sub(producer, b.load(self._word(ring, CONSUMER_POS))), total)
        full, fits = self._block(), self._block()
        b.cbranch(b.icmp_unsigned(">=", used, _c(ring.size)), full, fits)  # Linux: at most size - 1 ahead
        b.position_at_end(full)
        dropped = self._word(ring, DROPPED)
        b.store(b.add(b.load(dropped), _c(1)), dropped)
        refused(True)
        b.position_at_end(fits)
        start = b.and_(producer, _c(ring.size - 1))
        pg_off = b.add(b.lshr(start, _c(PAGE_SIZE.bit_length() - 1)), _c(RINGBUF_DATA_PGOFF))
        header = b.or_(b.or_(size, _c(BPF_RINGBUF_BUSY_BIT)), b.shl(pg_off, _c(32)))
        b.store(header, b.inttoptr(b.add(_c(ring.data), start), i64.as_pointer()), align=8)
        b.store(b.add(producer, total), self._word(ring, PRODUCER_POS))
        past_end = b.sub(b.add(b.add(start, _c(BPF_RINGBUF_HDR_SZ)), size), _c(ring.size))
        wraps, done = self._block(), self._block()
        b.cbranch(b.icmp_signed(">", past_end, _c(0)), wraps, done)
        b.position_at_end(wraps)  # the second mapping of the front of the ring, as RingBufMap.reserve
        front = b.inttoptr(_c(ring.data), i8.as_pointer())
        b.call(self.gen.memcpy, [b.inttoptr(_c(ring.data + ring.size), i8.as_pointer()), front, past_end,
                                 ir.Constant(i1, 0)])
        b.branch(done)
        b.position_at_end(done)
        return start

    def _commit(self, ring: Ring, start, discard: bool) -> None:
        """RingBufMap._commit without the wakeup: a wrapped record's tail copied to the front, then the header."""
        b = self.b
        header = b.inttoptr(b.add(_c(ring.data), start), i32.as_pointer())
        size = b.zext(b.and_(b.load(header, align=4), ir.Constant(i32, LENGTH_MASK)), i64)
        end = b.add(b.add(start, _c(BPF_RINGBUF_HDR_SZ)), size)
        wraps, done = self._block(), self._block()
        b.cbranch(b.icmp_unsigned(">", end, _c(ring.size)), wraps, done)
        b.position_at_end(wraps)
        tail = b.select(b.icmp_unsigned(">", start, _c(ring.size)), start, _c(ring.size))
        source = b.inttoptr(b.add(_c(ring.data), tail), i8.as_pointer())
        target = b.inttoptr(b.add(_c(ring.data - ring.size), tail), i8.as_pointer())
        b.call(self.gen.memcpy, [target, source, b.sub(end, tail), ir.Constant(i1, 0)])
        b.branch(done)
        b.position_at_end(done)
        length = b.trunc(size, i32)
        if discard:
            length = b.or_(length, ir.Constant(i32, BPF_RINGBUF_DISCARD_BIT))
        b.store(length, header, align=4)

    # -- one method per helper ------------------------------------------------------------
    def _reserve(self, ring: Ring) -> None:
        b = self.b
        flagged, plain = self._block(), self._block()
        b.cbranch(b.icmp_unsigned("!=", self.gen.reg(3), _c(0)), flagged, plain)  # no flags are defined: NULL
        b.position_at_end(flagged)
        self._finish(_c(0))
        b.position_at_end(plain)
        start = self._place(ring, self.gen.reg(2), lambda dropped: self._finish(_c(0)))
        self._finish(b.add(_c(ring.data + BPF_RINGBUF_HDR_SZ), start))

    def _commit_call(self, ring: Ring, discard: bool) -> None:
        b = self.b
        self._generic_if(self._wakeup_due(ring, self.gen.reg(2)))
        start = b.sub(b.sub(self.gen.reg(1), _c(ring.data)), _c(BPF_RINGBUF_HDR_SZ))
        self._commit(ring, start, discard)
        self._finish(_c(0))

    def _output(self, ring: Ring) -> None:
        b = self.b
        flags, size = self.gen.reg(4), self.gen.reg(3)
        bad_flags, good_flags = self._block(), self._block()
        b.cbranch(b.icmp_unsigned("!=", b.and_(flags, _c(~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))), _c(0)),
                  bad_flags, good_flags)
        b.position_at_end(bad_flags)
        self._finish(_c(-errno.EINVAL))
        b.position_at_end(good_flags)
        self._generic_if(self._wakeup_due(ring, flags))
        start = self._place(ring, size, lambda dropped: self._finish(_c(-errno.EAGAIN)))
        target = b.inttoptr(b.add(_c(ring.data + BPF_RINGBUF_HDR_SZ), start), i8.as_pointer())
        b.call(self.gen.memcpy, [target, b.inttoptr(self.gen.reg(2), i8.as_pointer()), size, ir.Constant(i1, 0)])
        self._commit(ring, start, False)
        self._finish(_c(0))

    def _query(self, ring: Ring) -> None:
        b = self.b
        flags = self.gen.reg(2)
        producer, consumer = b.load(self._word(ring, PRODUCER_POS)), b.load(self._word(ring, CONSUMER_POS))
        r0 = _c(0)
        for value, answer in ((BPF_RB_PROD_POS, producer), (BPF_RB_CONS_POS, consumer),
                              (BPF_RB_RING_SIZE, _c(ring.size)), (BPF_RB_AVAIL_DATA, b.sub(producer, consumer))):
            r0 = b.select(b.icmp_unsigned("==", flags, _c(value)), answer, r0)
        self._finish(r0)

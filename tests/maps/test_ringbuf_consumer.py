"""The ring buffer's consumer copies what is there at once and cuts it into records (maps/ringbuf.py).

It must stop at a record still being written and go on from there, skip
discarded records, see a record that wraps whole, and pick up records
produced while it hands earlier ones out.
"""

import ctypes

from pybpf.maps import MapAttrs, create_map
from pybpf.uapi import MapType


def ring(size: int = 4096):
    return create_map(MapAttrs(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, size))


def test_the_consumer_stops_at_a_busy_record_and_resumes_after_its_submit():
    rb = ring()
    rb.output(b"first")
    busy = rb.reserve(8)
    rb.output(b"third")
    assert list(rb.records()) == [b"first"]
    ctypes.memmove(busy, b"second!!", 8)
    rb.submit(busy)
    assert list(rb.records()) == [b"second!!", b"third"]
    assert rb.query(0) == 0  # BPF_RB_AVAIL_DATA: all consumed


def test_discarded_records_are_skipped():
    rb = ring()
    rb.output(b"kept")
    rb.discard(rb.reserve(16))
    rb.output(b"also kept")
    assert list(rb.records()) == [b"kept", b"also kept"]


def test_a_record_that_wraps_arrives_whole():
    rb = ring()
    for _ in range(3):  # move the positions near the end of the ring
        rb.output(bytes(1200))
    assert len(list(rb.records())) == 3
    payload = bytes(range(256)) * 4  # 3 * 1208 + 8 + 1024 > 4096: wraps
    assert rb.output(payload) == 0
    assert list(rb.records()) == [payload]


def test_records_produced_while_consuming_are_delivered_in_the_same_call():
    rb = ring()
    rb.output(b"a")
    got = []

    def callback(data):
        got.append(data)
        if data == b"a":
            rb.output(b"b")

    assert rb.consume(callback) == 2
    assert got == [b"a", b"b"]

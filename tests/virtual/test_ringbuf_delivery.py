"""Ring buffer delivery on the virtual kernel: nothing lost when it fits, exact loss counts when not."""

import sys
import threading

from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from support.paths import REPO

sys.path.insert(0, str(REPO / "examples"))
import ringbuf_events  # noqa: E402

RECORD = 16 + 8  # struct event and the record header


def setup(ring_size: int):
    kernel = VirtualKernel()
    ring = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, ring_size)
    counter = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ringbuf_events.producer(ring, counter))
    return kernel, kernel.map(ring), prog


def test_a_million_records_with_a_concurrent_consumer_lose_nothing():
    total = 1_000_000
    kernel, ring, prog = setup(1 << 25)  # 32 MiB: room for all of them
    seen = []
    done = threading.Event()

    def produce():
        kernel.prog_test_run(prog.fd, bytes(64), repeat=total)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    while not (done.is_set() and ring.query(0) == 0):
        ring.wait(timeout=0.05)
        ring.consume(lambda data: seen.append(int.from_bytes(data[:8], "little")))
    producer.join()
    assert len(seen) == total and ring.dropped == 0
    assert seen[:3] == [0, 1, 2] and seen[-1] == total - 1
    assert all(b - a == 1 for a, b in zip(seen[::9973], seen[1::9973]))


def test_a_full_ring_counts_exactly_what_it_dropped():
    kernel, ring, prog = setup(4096)
    kernel.prog_test_run(prog.fd, bytes(64), repeat=1000)
    fits = 4096 // RECORD
    assert ring.dropped == 1000 - fits
    records = list(ring.records())
    assert len(records) == fits
    assert [int.from_bytes(r[:8], "little") for r in records] == list(range(fits))


def test_example_runs():
    import io
    out = io.StringIO()
    assert ringbuf_events.main(["--events", "3"], out) == 0
    assert out.getvalue().count("event seq=") == 3

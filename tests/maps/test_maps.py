"""Map behaviour that needs no kernel: storage at stable addresses, LRU eviction, hooks, iteration."""

import ctypes
import errno

import pytest

from pybpf.maps import MAP_CLASSES, MapAttrs, MapError, create_map
from pybpf.uapi import MapType as T


def make(map_type, key_size, value_size, max_entries, flags=0, **kw):
    return create_map(MapAttrs(map_type, key_size, value_size, max_entries, flags, **kw))


def test_registry_uses_linux_numbers():
    names = {T(number).name: cls.__name__ for number, cls in MAP_CLASSES.items()}
    assert names == {
        "BPF_MAP_TYPE_HASH": "HashMap", "BPF_MAP_TYPE_ARRAY": "ArrayMap",
        "BPF_MAP_TYPE_PERCPU_HASH": "PerCpuHashMap", "BPF_MAP_TYPE_PERCPU_ARRAY": "PerCpuArrayMap",
        "BPF_MAP_TYPE_LRU_HASH": "LruHashMap", "BPF_MAP_TYPE_LRU_PERCPU_HASH": "LruPerCpuHashMap",
        "BPF_MAP_TYPE_LPM_TRIE": "LpmTrieMap", "BPF_MAP_TYPE_QUEUE": "QueueMap", "BPF_MAP_TYPE_STACK": "StackMap",
        "BPF_MAP_TYPE_BLOOM_FILTER": "BloomFilterMap", "BPF_MAP_TYPE_RINGBUF": "RingBufMap",
        "BPF_MAP_TYPE_PROG_ARRAY": "ProgArrayMap", "BPF_MAP_TYPE_PERF_EVENT_ARRAY": "PerfEventArrayMap",
        "BPF_MAP_TYPE_STACK_TRACE": "StackTraceMap", "BPF_MAP_TYPE_ARRAY_OF_MAPS": "MapInMap",
        "BPF_MAP_TYPE_HASH_OF_MAPS": "HashOfMaps",
    }
    with pytest.raises(MapError) as err:
        make(999, 4, 4, 1)
    assert err.value.errno == errno.EINVAL


def test_array_values_live_at_stable_addresses():
    m = make(T.BPF_MAP_TYPE_ARRAY, 4, 12, 3)
    address = m.value_address((2).to_bytes(4, "little"))
    m.update((2).to_bytes(4, "little"), b"hello world!")
    assert ctypes.string_at(address, 12) == b"hello world!"
    ctypes.memmove(address, b"HELLO", 5)  # a program writing through its pointer
    assert m.lookup((2).to_bytes(4, "little")) == b"HELLO world!"
    assert m.value_address((3).to_bytes(4, "little")) is None
    # slots are 8-byte aligned, as the kernel lays them out
    assert m.value_address((1).to_bytes(4, "little")) - m.value_address((0).to_bytes(4, "little")) == 16


def test_hash_elements_announce_and_release_their_memory():
    m = make(T.BPF_MAP_TYPE_HASH, 4, 8, 4)
    live = {}
    m.bind(lambda value, what: live.__setitem__(value.address, what), lambda value: live.pop(value.address))
    assert list(live.values()) == ["map (unnamed) spare element"]  # the buffer the next replacement fills
    m.update(b"\1\0\0\0", bytes(8))
    m.update(b"\2\0\0\0", bytes(8))
    assert len(live) == 3 and all("element" in what for what in live.values())
    m.delete(b"\1\0\0\0")
    assert len(live) == 2
    old = m.value_address(b"\2\0\0\0")
    m.update(b"\2\0\0\0", b"\7" * 8)  # replacing an element swaps its buffer with the spare: none freed
    assert len(live) == 2 and m.lookup(b"\2\0\0\0") == b"\7" * 8
    assert m.value_address(b"\2\0\0\0") != old and old in live  # the old buffer is the spare now


def test_lru_evicts_the_least_recently_used():
    m = make(T.BPF_MAP_TYPE_LRU_HASH, 4, 4, 2)
    m.update(b"\1\0\0\0", b"aaaa")
    m.update(b"\2\0\0\0", b"bbbb")
    m.lookup(b"\1\0\0\0")  # 2 is now the least recently used
    m.update(b"\3\0\0\0", b"cccc")
    assert set(m.keys()) == {b"\1\0\0\0", b"\3\0\0\0"}


def test_percpu_values_are_one_slot_per_cpu():
    m = make(T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, ncpus=3)
    key = bytes(4)
    m.update(key, b"\1\0\0\0" + bytes(4) + b"\2\0\0\0" + bytes(4) + b"\3\0\0\0" + bytes(4))
    assert ctypes.string_at(m.value_address(key, cpu=1), 4) == b"\2\0\0\0"
    with pytest.raises(MapError) as err:
        m.update(key, bytes(4))
    assert err.value.errno == errno.EINVAL


def test_mapping_view():
    m = make(T.BPF_MAP_TYPE_HASH, 4, 4, 8)
    for i in range(5):
        m.update(i.to_bytes(4, "little"), (i * i).to_bytes(4, "little"))
    assert len(m) == 5
    assert dict(m.items())[(3).to_bytes(4, "little")] == (9).to_bytes(4, "little")
    assert "HashMap" in repr(m) and "max_entries 8" in repr(m)


def test_queue_and_stack_orders():
    q, s = make(T.BPF_MAP_TYPE_QUEUE, 0, 1, 4), make(T.BPF_MAP_TYPE_STACK, 0, 1, 4)
    for m in (q, s):
        for b in b"abc":
            m.push(bytes([b]))
    assert [q.pop() for _ in range(3)] == [b"a", b"b", b"c"]
    assert [s.pop() for _ in range(3)] == [b"c", b"b", b"a"]


def test_lpm_longest_prefix_wins():
    m = make(T.BPF_MAP_TYPE_LPM_TRIE, 8, 1, 8, 1)
    m.update((8).to_bytes(4, "little") + bytes([10, 0, 0, 0]), b"\x08")
    m.update((24).to_bytes(4, "little") + bytes([10, 1, 2, 0]), b"\x18")
    assert m.lookup((32).to_bytes(4, "little") + bytes([10, 1, 2, 7])) == b"\x18"
    assert m.lookup((32).to_bytes(4, "little") + bytes([10, 9, 2, 7])) == b"\x08"


def test_bloom_filter_has_no_false_negatives():
    m = make(T.BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 1000)
    for i in range(1000):
        m.push(i.to_bytes(4, "little"))
    assert all(m.peek(i.to_bytes(4, "little")) for i in range(1000))
    assert sum(m.peek(i.to_bytes(4, "little")) for i in range(1000, 3000)) < 200


def test_ringbuf_records_wrap_and_keep_order():
    rb = make(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    got = []
    for i in range(1000):  # far more than fits at once: consume as we go
        payload = bytes([i % 251]) * (1 + i % 60)
        assert rb.output(payload) == 0
        if i % 7 == 0:
            rb.consume(got.append)
    rb.consume(got.append)
    assert got == [bytes([i % 251]) * (1 + i % 60) for i in range(1000)]
    assert rb.query(1) == 4096 and rb.query(0) == 0


def test_ringbuf_reserve_discard_and_busy_records():
    rb = make(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    a = rb.reserve(16)
    b = rb.reserve(16)
    ctypes.memmove(b, b"second" + bytes(10), 16)
    rb.submit(b)
    assert list(rb.records()) == []  # the first record is still being written
    rb.discard(a)
    assert list(rb.records()) == [b"second" + bytes(10)]


def test_ringbuf_full_reports_drops():
    rb = make(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    results = [rb.output(bytes(100)) for _ in range(50)]
    fitted = 4096 // 112
    assert results.count(0) == fitted and rb.dropped == 50 - fitted
    assert results[fitted] == -errno.EAGAIN
    assert len(list(rb.records())) == fitted


def test_typed_views():
    class Event(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 12)]

    counts = make(T.BPF_MAP_TYPE_HASH, 4, 8, 8, name="counts").typed(int, int)
    counts[7] = 1
    counts[7] += 1
    assert dict(counts.items()) == {7: 2} and repr(counts) == "counts{7: 2}"
    del counts[7]
    with pytest.raises(KeyError):
        counts[7]
    events = make(T.BPF_MAP_TYPE_ARRAY, 4, 16, 2).typed(ctypes.c_uint32, Event)
    events[1] = Event(42, b"python")
    assert (events[1].pid, events[1].comm) == (42, b"python") and events[0].pid == 0
    signed = make(T.BPF_MAP_TYPE_ARRAY, 4, 8, 1).typed(int, int, signed=True)
    signed[0] = -5
    assert signed[0] == -5
    percpu = make(T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, ncpus=3).typed(int, int)
    percpu[0] = [1, 2, 3]
    assert percpu[0] == [1, 2, 3]
    with pytest.raises(MapError):
        make(T.BPF_MAP_TYPE_ARRAY, 4, 16, 1).typed(int, ctypes.c_uint32)

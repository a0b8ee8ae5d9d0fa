"""The native index of a hash map (maps/hash_index.py) holds exactly the map's elements, whatever changes them.

After every user-space update, replacement, delete, refused insert (E2BIG)
and delete during iteration, the table read back slot by slot must equal
the dict (key -> the address of its current value buffer) and a probe must
find every key and no other; collisions are forced with a table whose hash
is constant, and keys of odd sizes pad to whole words.
"""

from __future__ import annotations

import errno
import random

import pytest

from pybpf.maps import MapAttrs, MapError, create_map
from pybpf.maps.hash_index import MAX_BYTES, capacity_for, key_hash
from pybpf.uapi import MapType as T


def make(key_size: int, max_entries: int, map_type: int = T.BPF_MAP_TYPE_HASH, value_size: int = 8):
    return create_map(MapAttrs(map_type, key_size, value_size, max_entries))


def assert_consistent(m) -> None:
    index = m.index
    expected = {key: values[0].address for key, values in m.elements.items()}
    assert index.entries() == expected
    assert len(index) == len(m.elements) <= m.max_entries
    for key, address in expected.items():
        assert index.probe(key) == address == m.value_address(key)
    assert m.swaps[1] == m.spare.address  # what native code copies a replacement into


def test_capacity_is_a_power_of_two_at_least_twice_max_entries():
    assert [capacity_for(n) for n in (1, 2, 3, 4, 5, 1000)] == [2, 4, 8, 8, 16, 2048]


def test_the_hash_folds_8_byte_words():
    assert key_hash(b"\1\0\0\0") == key_hash(b"\1\0\0\0", 0x9E3779B97F4A7C15)
    h = ((4 ^ 1) * 0x9E3779B97F4A7C15) & (1 << 64) - 1
    assert key_hash(b"\1\0\0\0") == h ^ (h >> 32)
    assert key_hash(b"\1\0\0\0", multiplier=0) == key_hash(b"\2\0\0\0", multiplier=0) == 0


@pytest.mark.parametrize("key_size", [1, 3, 4, 8, 13, 64])
@pytest.mark.parametrize("multiplier", [None, 0], ids=["hashed", "all-collide"])
def test_random_user_space_changes_keep_the_index_exact(key_size, multiplier):
    rng = random.Random(key_size)
    m = make(key_size, 12)
    m.update(bytes(key_size), bytes(8))  # an element before the index: it is built from the dict
    index = m.native_index() if multiplier is None else m.native_index(multiplier=0)
    assert m.native_index() is index
    keys = [bytes([i]) * key_size for i in range(1, 21)]  # more keys than max_entries: some inserts fail
    refused = 0
    for _ in range(400):
        key = rng.choice(keys)
        action = rng.choice(("update", "update", "replace", "delete"))
        try:
            if action == "delete":
                m.delete(key)
            else:
                m.update(key, rng.randbytes(8), 2 if action == "replace" else 0)
        except MapError as err:
            assert err.errno in (errno.ENOENT, errno.E2BIG)
            refused += err.errno == errno.E2BIG
        assert_consistent(m)
    assert refused  # the map was full at times
    for key in keys:
        if key not in m.elements:
            assert index.probe(key) == 0


def test_a_full_map_refuses_a_new_key_and_the_index_keeps_what_it_had():
    m = make(4, 3)
    m.native_index()
    for i in range(3):
        m.update(i.to_bytes(4, "little"), bytes(8))
    with pytest.raises(MapError) as err:
        m.update((9).to_bytes(4, "little"), bytes(8))
    assert err.value.errno == errno.E2BIG
    assert_consistent(m)
    assert m.index.probe((9).to_bytes(4, "little")) == 0


def test_deletes_move_a_collision_run_back_so_every_key_is_still_found():
    m = make(3, 8)
    m.native_index(multiplier=0)  # every key hashes to slot 0: one run of collisions
    keys = [bytes([i, 0, i]) for i in range(1, 9)]
    for key in keys:
        m.update(key, key * 2 + b"\0\0")
    for key in (keys[0], keys[4], keys[7]):  # the head, the middle and the end of the run
        m.delete(key)
        assert_consistent(m)
    assert sorted(m.index.slot_of.values()) == list(range(5))  # packed back from slot 0, no holes


def test_deleting_every_key_during_iteration():
    m = make(13, 16)
    m.native_index()
    for i in range(16):
        m.update(bytes([i]) * 13, bytes(8))
    key = m.get_next_key(None)
    while True:
        try:
            following = m.get_next_key(key)
        except MapError:
            following = None
        m.delete(key)
        assert_consistent(m)
        if following is None:
            break
        key = following
    assert len(m.elements) == 0 and m.index.entries() == {}


def test_replacing_swaps_in_the_spare_buffer_as_the_kernel_extra_element():
    m = make(4, 4)
    m.native_index()
    key = b"\1\0\0\0"
    m.update(key, b"A" * 8)
    first = m.value_address(key)
    m.update(key, b"B" * 8)
    second = m.value_address(key)
    assert second != first and m.spare.address == first and m.spare.read() == b"A" * 8  # the old value, kept
    assert_consistent(m)
    m.update(key, b"C" * 8, 2)  # BPF_EXIST: the old buffer is reused
    assert m.value_address(key) == first and m.lookup(key) == b"C" * 8
    assert_consistent(m)


@pytest.mark.parametrize("map_type", [T.BPF_MAP_TYPE_PERCPU_HASH, T.BPF_MAP_TYPE_LRU_HASH,
                                      T.BPF_MAP_TYPE_LRU_PERCPU_HASH])
def test_per_cpu_and_lru_maps_have_no_index(map_type):
    m = make(4, 4, map_type)
    assert m.native_index() is None and m.spare is None


def test_a_table_past_the_size_limit_is_not_built():
    entries = MAX_BYTES // (4 * 8 * 2) + 1  # 8-byte keys: 4 words a slot, at least two slots an entry
    m = make(8, entries)
    assert m.native_index() is None

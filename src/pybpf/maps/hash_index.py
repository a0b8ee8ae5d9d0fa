"""A native index of a BPF_MAP_TYPE_HASH map: the open-addressing table machine code probes.

`HashMap` keeps its elements in a Python dict; the native engine cannot
call into Python cheaply (a ctypes callback costs ~300 ns), so a plain hash
map a native program uses also keeps this table in a ctypes buffer at a
stable address, updated by the map on every insert, replace and delete
(from user space, syscalls and helpers alike): it always holds exactly the
dict's keys and the addresses of their current value buffers.

Layout (little-endian u64 words, `stride` words a slot, `capacity` slots, a
power of two at least twice max_entries so that a probe always meets an
empty slot): `hash, value address, swapped, key words...` with the key
zero-padded to whole words; a value address of 0 marks an empty slot.  Linear probing
from `hash & (capacity - 1)`; a delete shifts the rest of its run back
(no tombstones, so a probe stops at the first empty slot).

The hash (`key_hash`) folds the key's words with one xor and one multiply
each, then xors the high half into the low: cheap in Python
(int.from_bytes) and in LLVM IR (vm/jit/native_hash.py emits the same
steps from `MULTIPLIER`).

Native code also replaces an existing element's value itself (BPF_ANY,
BPF_EXIST), as the map does (see HashMap.update): it copies the value into
the map's spare buffer and swaps the slot's value address with the map's
header word SPARE; the first swap of a slot since the map last synced sets
its `swapped` word and appends it to `log` (so the log holds each slot at
most once and never overflows: max_entries words), and the map takes the
new addresses in (`HashMap.sync`) before Python next reads its elements.
"""

from __future__ import annotations

import ctypes

MULTIPLIER = 0x9E3779B97F4A7C15  # 2^64 / golden ratio, odd: a multiply that spreads low bits upwards
M64 = (1 << 64) - 1
MAX_BYTES = 16 << 20  # no bigger table (8-byte keys: up to 262144 entries): such a map stays on the callback

# the words of a plain hash map's header (HashMap.swaps), which native code writes
SWAPS = 0  # how many slots native code swapped since the map last synced (the log's length)
SPARE = 1  # the address of the map's spare value buffer
HEADER_WORDS = 2
# the words of a slot before its key
HASH, VALUE, SWAPPED, KEY = 0, 1, 2, 3


def key_words(key_size: int) -> int:
    return (key_size + 7) // 8


def key_hash(key: bytes, multiplier: int = MULTIPLIER) -> int:
    """The 64-bit hash of a key: h = key_size; per 8-byte word w (the last zero-padded): h = (h ^ w) * M."""
    h = len(key)
    for at in range(0, len(key), 8):
        h = ((h ^ int.from_bytes(key[at:at + 8], "little")) * multiplier) & M64
    return h ^ (h >> 32)


def capacity_for(max_entries: int) -> int:
    """The next power of two at least 2 * max_entries (the table is never more than half full)."""
    return 1 << max(1, (2 * max_entries - 1).bit_length())


class HashIndex:
    """The native table of one hash map.  `table` is the address the machine code uses."""

    def __init__(self, key_size: int, max_entries: int, multiplier: int = MULTIPLIER):
        self.key_size, self.multiplier = key_size, multiplier
        self.capacity = capacity_for(max_entries)
        self.stride = KEY + key_words(key_size)
        self._table = (ctypes.c_uint64 * (self.capacity * self.stride))()
        self.table = ctypes.addressof(self._table)
        self.words = memoryview(self._table).cast("B").cast("Q")
        self._log = (ctypes.c_uint64 * max_entries)()  # the slots native code swapped, each once
        self.log = ctypes.addressof(self._log)
        self.logged = memoryview(self._log).cast("B").cast("Q")
        self.slot_of: dict[bytes, int] = {}  # key -> its slot
        self.key_at: dict[int, bytes] = {}  # slot -> its key (the log names slots)

    @staticmethod
    def table_bytes(key_size: int, max_entries: int) -> int:
        return capacity_for(max_entries) * (KEY + key_words(key_size)) * 8

    def take_swaps(self, count: int) -> list[tuple[bytes, int]]:
        """(key, value address now) of the `count` slots native code logged, their `swapped` words cleared."""
        out = []
        for slot in self.logged[:count]:
            at = slot * self.stride
            self.words[at + SWAPPED] = 0
            out.append((self.key_at[slot], self.words[at + VALUE]))
        return out

    def __len__(self) -> int:
        return len(self.slot_of)

    def value_address(self, key: bytes) -> int:
        """The value address the table holds for key (0 when absent): what native lookup returns."""
        slot = self.slot_of.get(key)
        return 0 if slot is None else self.words[slot * self.stride + VALUE]

    def put(self, key: bytes, address: int) -> None:
        """Insert key, or point its slot at a new value buffer."""
        slot = self.slot_of.get(key)
        if slot is not None:
            self.words[slot * self.stride + VALUE] = address
            return
        h = key_hash(key, self.multiplier)
        mask = self.capacity - 1
        slot = h & mask
        while self.words[slot * self.stride + VALUE]:
            slot = (slot + 1) & mask
        self._write(slot, h, address, key)

    def delete(self, key: bytes) -> None:
        """Remove key; the entries after it in its probe run move back so that no probe stops early.
        (The map syncs first: no slot is `swapped` here, the log is empty.)"""
        hole = self.slot_of.pop(key)
        del self.key_at[hole]
        mask, stride, words = self.capacity - 1, self.stride, self.words
        slot = hole
        while True:
            slot = (slot + 1) & mask
            if not words[slot * stride + VALUE]:
                break
            home = words[slot * stride + HASH] & mask
            # the entry at slot may fill the hole unless its home lies cyclically in (hole, slot]
            if (hole < home <= slot) if hole <= slot else (hole < home or home <= slot):
                continue
            moved = self.key_at.pop(slot)
            words[hole * stride:(hole + 1) * stride] = words[slot * stride:(slot + 1) * stride]
            self.slot_of[moved], self.key_at[hole] = hole, moved
            hole = slot
        words[hole * stride:(hole + 1) * stride] = memoryview(bytes(stride * 8)).cast("Q")

    def _write(self, slot: int, h: int, address: int, key: bytes) -> None:
        at = slot * self.stride
        padded = key.ljust(key_words(self.key_size) * 8, b"\0")
        self.words[at:at + self.stride] = memoryview(
            h.to_bytes(8, "little") + address.to_bytes(8, "little") + bytes(8) + padded).cast("Q")
        self.slot_of[key], self.key_at[slot] = slot, key

    def entries(self) -> dict[bytes, int]:
        """key -> value address, read back from the table itself (what the tests compare with the dict)."""
        out = {}
        for slot in range(self.capacity):
            at = slot * self.stride
            if self.words[at + VALUE]:
                key = self.words[at + KEY:at + self.stride].tobytes()[:self.key_size]
                assert self.words[at + HASH] == key_hash(key, self.multiplier), f"slot {slot}: stale hash"
                out[key] = self.words[at + VALUE]
        return out

    def probe(self, key: bytes) -> int:
        """The value address a probe of the table finds for key, or 0 (native lookup's steps, in Python)."""
        h = key_hash(key, self.multiplier)
        mask, stride, words = self.capacity - 1, self.stride, self.words
        padded = key.ljust(key_words(self.key_size) * 8, b"\0")
        slot = h & mask
        while words[slot * stride + VALUE]:
            at = slot * stride
            if words[at + HASH] == h and words[at + KEY:at + stride].tobytes() == padded:
                return words[at + VALUE]
            slot = (slot + 1) & mask
        return 0

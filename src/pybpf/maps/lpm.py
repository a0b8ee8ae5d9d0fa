"""BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): longest-prefix match.

A key is `struct bpf_lpm_trie_key_u8 { u32 prefixlen; u8 data[]; }`, data in
network order.  Elements are identified by prefixlen and the first prefixlen
bits of data; lookup returns the longest stored prefix that matches the key
within the key's own prefixlen.  The map must be created with
BPF_F_NO_PREALLOC; a full map refuses new prefixes with ENOSPC.
"""

from __future__ import annotations

import errno

from .base import BPF_ANY, BPF_EXIST, BPF_F_NO_PREALLOC, BPF_NOEXIST, KMALLOC_MAX_SIZE, Map, Value, fail

LPM_DATA_SIZE_MAX = 256


def _prefix(data: bytes, bits: int) -> int:
    """The first `bits` bits of data, as an integer."""
    value = int.from_bytes(data, "big")
    return value >> (len(data) * 8 - bits) if bits else 0


class LpmTrieMap(Map):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_NO_PREALLOC

    def validate(self) -> None:
        if not self.flags & BPF_F_NO_PREALLOC:
            raise fail(errno.EINVAL, "LPM tries need BPF_F_NO_PREALLOC")
        if not 4 + 1 <= self.key_size <= 4 + LPM_DATA_SIZE_MAX or self.value_size == 0 or self.max_entries == 0:
            raise fail(errno.EINVAL, "LPM tries need a key of 5 to 260 bytes, a value_size and max_entries")
        if self.value_size > KMALLOC_MAX_SIZE:
            raise fail(errno.E2BIG, f"value_size {self.value_size} is too large")
        self.data_size = self.key_size - 4
        self.elements: dict[tuple[int, int], tuple[bytes, Value]] = {}

    def blocks(self):
        for key, value in self.elements.values():
            yield value, f"map {self.name or '(unnamed)'} prefix {key.hex()}"

    def _split(self, key: bytes) -> tuple[int, bytes]:
        key = self.check_key(key)
        return int.from_bytes(key[:4], "little"), key[4:]

    def _identity(self, key: bytes) -> tuple[int, int]:
        prefixlen, data = self._split(key)
        if prefixlen > self.data_size * 8:
            raise fail(errno.EINVAL, f"prefixlen {prefixlen} is longer than {self.data_size * 8} bits")
        return prefixlen, _prefix(data, prefixlen)

    def _match(self, key: bytes) -> tuple[bytes, Value] | None:
        prefixlen, data = self._split(key)
        for length in range(min(prefixlen, self.data_size * 8), -1, -1):
            found = self.elements.get((length, _prefix(data, length)))
            if found is not None:
                return found
        return None

    def lookup(self, key: bytes) -> bytes:
        found = self._match(key)
        if found is None:
            raise fail(errno.ENOENT, "no matching prefix")
        return found[1].read()

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        mode = self.check_update_flags(flags)
        identity, value = self._identity(key), self.check_value(value)
        exists = identity in self.elements
        if mode == BPF_NOEXIST and exists:
            raise fail(errno.EEXIST, "prefix exists (BPF_NOEXIST)")
        if mode == BPF_EXIST and not exists:
            raise fail(errno.ENOENT, "no such prefix (BPF_EXIST)")
        if not exists and len(self.elements) >= self.max_entries:
            raise fail(errno.ENOSPC, f"trie is full ({self.max_entries} prefixes)")
        if exists:
            self.on_free(self.elements[identity][1])
        stored = Value(self.value_size, value)
        self.on_alloc(stored, f"map {self.name or '(unnamed)'} prefix {bytes(key).hex()}")
        self.elements[identity] = (bytes(key), stored)

    def delete(self, key: bytes) -> None:
        identity = self._identity(key)
        if identity not in self.elements:
            raise fail(errno.ENOENT, "no such prefix")
        self.on_free(self.elements.pop(identity)[1])

    def get_next_key(self, key: bytes | None) -> bytes:
        ordered = [k for _, (k, _) in sorted(self.elements.items())]
        if not ordered:
            raise fail(errno.ENOENT, "the trie is empty")
        if key is None or self._identity(key) not in self.elements:
            return ordered[0]
        position = sorted(self.elements).index(self._identity(key)) + 1
        if position >= len(ordered):
            raise fail(errno.ENOENT, "no more keys")
        return ordered[position]

    def value_address(self, key: bytes, cpu: int = 0) -> int | None:
        found = self._match(key)
        return found[1].address if found else None

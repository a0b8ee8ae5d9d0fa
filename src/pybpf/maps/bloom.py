"""BPF_MAP_TYPE_BLOOM_FILTER (kernel/bpf/bloom_filter.c).

Keyless; update adds a value (flags must be BPF_ANY), lookup answers 0 when
the value may be present and ENOENT when it is certainly absent.  The low
four bits of map_extra give the number of hash functions (0 means 5).  The
bitmap is sized as the kernel sizes it, from max_entries and the hash count.
"""

from __future__ import annotations

import errno
import hashlib

from .base import BPF_ANY, BPF_F_ZERO_SEED, KMALLOC_MAX_SIZE, Map, fail


class BloomFilterMap(Map):
    ALLOWED_FLAGS = Map.ALLOWED_FLAGS | BPF_F_ZERO_SEED

    def validate(self) -> None:
        if self.key_size != 0 or self.value_size == 0 or self.max_entries == 0:
            raise fail(errno.EINVAL, "bloom filters need key_size 0, a value_size and max_entries")
        if self.attrs.map_extra & ~0xF:
            raise fail(errno.EINVAL, "map_extra holds only the number of hash functions (0-15)")
        if self.value_size > KMALLOC_MAX_SIZE:
            raise fail(errno.E2BIG, f"value_size {self.value_size} is too large")
        self.nr_hashes = self.attrs.map_extra & 0xF or 5
        bits = max(self.max_entries * self.nr_hashes * 10 // 7, 1)  # nr_bits = entries * hashes / ln 2
        self.nr_bits = 1 << max((bits - 1).bit_length(), 5)
        self.bits = bytearray(self.nr_bits // 8)

    def _positions(self, value: bytes):
        for i in range(self.nr_hashes):
            digest = hashlib.blake2b(value, digest_size=8, salt=i.to_bytes(8, "little")).digest()
            yield int.from_bytes(digest, "little") & (self.nr_bits - 1)

    def update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self.check_key(key)
        if flags != BPF_ANY:
            raise fail(errno.EINVAL, "bloom filter updates take no flags")
        for bit in self._positions(self.check_value(value)):
            self.bits[bit // 8] |= 1 << (bit % 8)

    def lookup(self, key: bytes | None, value: bytes = b"") -> bytes:
        """Peek: 0 when `value` may be present, ENOENT when it certainly is not (the key must be NULL)."""
        self.check_key(key)
        value = self.check_value(value)
        if all(self.bits[bit // 8] >> (bit % 8) & 1 for bit in self._positions(value)):
            return b""
        raise fail(errno.ENOENT, "certainly not present")

    def push(self, value: bytes, flags: int = BPF_ANY) -> None:
        self.update(None, value, flags)

    def delete(self, key: bytes | None) -> None:
        self.check_key(key)
        raise fail(errno.EOPNOTSUPP, "bloom filter elements cannot be deleted")

    def peek(self, value: bytes) -> bool:
        try:
            self.lookup(None, value)
            return True
        except OSError:
            return False

    def keys(self):
        raise fail(errno.EINVAL, "bloom filters have no keys")

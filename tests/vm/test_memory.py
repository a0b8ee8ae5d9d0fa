"""The memory model: real addresses, every access inside one region, read-only respected."""

import ctypes

import pytest

from pybpf.vm import AddressSpace, MemoryFault


def test_regions_live_at_real_stable_addresses():
    mem = AddressSpace()
    region = mem.map("buf", b"\x01\x02\x03\x04")
    assert ctypes.string_at(region.start, 4) == b"\x01\x02\x03\x04"
    mem.store(region.start + 1, 2, 0xBBAA)
    assert ctypes.string_at(region.start, 4) == b"\x01\xaa\xbb\x04"
    assert mem.load(region.start, 4) == 0x04BBAA01


@pytest.mark.parametrize("offset,size,reason", [
    (-1, 1, "not in any VM region"),
    (7, 2, "runs past the end of buf"),
    (8, 1, "not in any VM region"),
])
def test_out_of_bounds_accesses_fault(offset, size, reason):
    mem = AddressSpace()
    region = mem.map("buf", 8)
    with pytest.raises(MemoryFault, match=reason):
        mem.load(region.start + offset, size)


def test_read_only_regions_refuse_writes_but_allow_reads():
    mem = AddressSpace()
    region = mem.map("rodata", b"abc", writable=False)
    assert mem.read_bytes(region.start, 3) == b"abc"
    with pytest.raises(MemoryFault, match="rodata is read-only"):
        mem.store(region.start, 1, 0)


def test_an_access_may_not_straddle_two_adjacent_regions():
    mem = AddressSpace()
    regions = [mem.map(f"r{i}", 16) for i in range(16)]
    regions.sort(key=lambda r: r.start)
    for a, b in zip(regions, regions[1:]):
        if a.end == b.start:
            with pytest.raises(MemoryFault):
                mem.load(a.end - 4, 8)
            break
    for r in regions:
        assert mem.load(r.end - 8, 8) == 0


def test_unmapped_region_is_gone():
    mem = AddressSpace()
    region = mem.map("tmp", 8)
    mem.load(region.start, 8)
    mem.unmap(region)
    with pytest.raises(MemoryFault):
        mem.load(region.start, 8)


def test_read_str_stops_at_nul_and_region_end():
    mem = AddressSpace()
    region = mem.map("s", b"hello\0world")
    assert mem.read_str(region.start, 100) == b"hello"
    assert mem.read_str(region.start + 6, 100) == b"world"


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_every_access_size_is_little_endian_and_stores_truncate(size):
    mem = AddressSpace()
    region = mem.map("buf", 16)
    mem.store(region.start + 3, size, -1)
    assert region.read() == bytes(3) + b"\xff" * size + bytes(13 - size)
    assert mem.load(region.start + 3, size) == (1 << 8 * size) - 1


def test_a_near_miss_names_the_region_it_missed():
    mem = AddressSpace()
    region = mem.map("buf", 8)
    with pytest.raises(MemoryFault, match=r"\(2 byte\(s\) past the end of buf, size 8\)"):
        mem.load(region.end + 2, 1)
    with pytest.raises(MemoryFault, match=r"\(3 byte\(s\) before buf\)"):
        mem.store(region.start - 3, 1, 0)


def test_the_cache_does_not_let_a_write_into_a_read_only_region():
    mem = AddressSpace()
    region = mem.map("ro", 8, writable=False)
    mem.load(region.start, 8)  # now the cached region
    with pytest.raises(MemoryFault, match="read-only"):
        mem.store(region.start, 8, 1)

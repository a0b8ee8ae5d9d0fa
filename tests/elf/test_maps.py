"""Map definitions: BTF-defined and legacy, .kconfig externs, and the lddws that reference them."""

import pytest

from pybpf import elf
from pybpf.elf.maps import BPF_F_MMAPABLE, BPF_F_RDONLY_PROG
from pybpf.isa.opcodes import BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE
from pybpf.uapi import MapType
from support.objects import object_path


@pytest.fixture(scope="module")
def obj():
    return elf.load(object_path("maps"))


@pytest.mark.parametrize("name,type_,key,value,entries,flags", [
    ("counts", MapType.BPF_MAP_TYPE_HASH, 4, 8, 1024, 0),
    ("last_event", MapType.BPF_MAP_TYPE_ARRAY, 4, 32, 4, 0),
    ("events", MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 1 << 16, 0),
    ("perf_out", MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, 0),
    ("outer", MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0),
    (".data", MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_MMAPABLE),
    (".rodata", MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG),
    (".bss", MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE),
])
def test_map_attributes(obj, name, type_, key, value, entries, flags):
    m = obj.get_map(name)
    assert (m.type, m.key_size, m.value_size, m.max_entries, m.flags) == (type_, key, value, entries, flags)


def test_btf_types_of_keys_and_values(obj):
    m = obj.get_map("last_event")
    assert obj.btf.describe(m.btf_key_type_id) == "__u32"
    assert obj.btf.describe(m.btf_value_type_id) == "struct event"
    assert obj.btf.describe_struct(m.btf_value_type_id) == (
        "struct event {\n\t__u32 pid;\n\t__u64 ts;\n\tchar comm[16];\n};")
    assert obj.btf.size_of(m.btf_value_type_id) == 32


def test_map_in_map_inner_definition(obj):
    outer = obj.get_map("outer")
    inner = outer.inner
    assert (inner.type, inner.key_size, inner.value_size, inner.max_entries) == (MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1)
    assert outer.inner_values == {}  # no initial slots in this object


def test_maps_keep_the_datasec_order_and_symbol_offsets(obj):
    assert [(m.name, m.symbol_offset) for m in obj.maps if m.section == ".maps"] == [
        ("counts", 0), ("events", 32), ("last_event", 48), ("perf_out", 80), ("inner_map", 104), ("outer", 136)]


def test_map_relocations_rewrite_lddw(obj):
    prog = obj.get_program("count_switch")
    by_pc = {}
    pc = 0
    for insn in prog.insns:
        by_pc[pc] = insn
        pc += insn.size
    kinds = {(r.kind, r.target) for r in prog.relocations}
    assert {("map", "counts"), ("map", "events"), ("map", "last_event"), ("map", "perf_out"),
            ("map_value", ".data"), ("map_value", ".rodata"), ("map_value", ".bss")} <= kinds
    for r in prog.relocations:
        insn = by_pc[r.pc]
        assert insn.imm == obj.map_index(r.target)
        assert insn.src == (BPF_PSEUDO_MAP_IDX if r.kind == "map" else BPF_PSEUDO_MAP_IDX_VALUE)


def test_legacy_maps_section():
    obj = elf.load(object_path("legacy_maps"))
    h, a = obj.get_map("legacy_hash"), obj.get_map("legacy_array")
    assert (h.type, h.key_size, h.value_size, h.max_entries) == (MapType.BPF_MAP_TYPE_HASH, 4, 8, 64)
    assert (a.type, a.key_size, a.value_size, a.max_entries) == (MapType.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 16, 8)
    assert obj.kern_version == 0x060C00
    assert [r.target for r in obj.get_program("count_writes").relocations] == ["legacy_hash", "legacy_array"]
    assert [(m.section, m.symbol_offset, m.symbol_size) for m in obj.maps] == [("maps", 0, 20), ("maps", 20, 20)]


def test_kconfig_externs_become_a_read_only_map():
    obj = elf.load(object_path("kconfig"))
    m = obj.get_map(".kconfig")
    assert m.externs == {"LINUX_KERNEL_VERSION": (0, 4), "CONFIG_HZ": (4, 4)}
    assert (m.value_size, m.flags & BPF_F_RDONLY_PROG) == (8, BPF_F_RDONLY_PROG)
    relocs = {(r.symbol, r.kind, r.target, r.offset) for r in obj.get_program("read_kconfig").relocations}
    assert relocs == {("LINUX_KERNEL_VERSION", "map_value", ".kconfig", 0), ("CONFIG_HZ", "map_value", ".kconfig", 4)}

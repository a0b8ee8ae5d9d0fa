"""BTF map definitions beyond type/key/value: sizes, flags, pinning, NUMA, map_extra, initial slots."""

import pytest

from pybpf import elf
from pybpf.uapi import MapType
from support.objects import object_path


@pytest.fixture(scope="module")
def obj():
    return elf.load(object_path("map_attrs"))


def test_maps_in_datasec_order_at_their_symbol_offsets(obj):
    # clang leaves DATASEC offsets at 0: where each map sits comes from the symbol table.
    assert [(m.name, m.symbol_offset) for m in obj.maps] == [
        ("inner_a", 0), ("inner_b", 32), ("by_proto", 64), ("jump_table", 120), ("flows", 160),
        ("sized", 216), ("seen", 248)]


@pytest.mark.parametrize("name,attrs", [
    ("flows", dict(type=MapType.BPF_MAP_TYPE_LRU_HASH, key_size=12, value_size=8, max_entries=128,
                   flags=1 | 4, numa_node=1, pinning=1, map_extra=0)),
    ("sized", dict(type=MapType.BPF_MAP_TYPE_HASH, key_size=8, value_size=16, max_entries=32, flags=0,
                   btf_key_type_id=0, btf_value_type_id=0)),
    ("seen", dict(type=MapType.BPF_MAP_TYPE_BLOOM_FILTER, key_size=0, value_size=4, max_entries=100,
                  map_extra=3)),
    ("by_proto", dict(type=MapType.BPF_MAP_TYPE_HASH_OF_MAPS, key_size=4, value_size=4, max_entries=4)),
    ("jump_table", dict(type=MapType.BPF_MAP_TYPE_PROG_ARRAY, key_size=4, value_size=4, max_entries=2)),
])
def test_attributes(obj, name, attrs):
    m = obj.get_map(name)
    assert {attr: getattr(m, attr) for attr in attrs} == attrs


def test_key_type_of_a_struct_key(obj):
    m = obj.get_map("flows")
    assert obj.btf.describe(m.btf_key_type_id) == "struct key"
    assert obj.btf.describe_struct(m.btf_key_type_id) == (
        "struct key {\n\t__u32 saddr;\n\t__u32 daddr;\n\t__u16 sport;\n\t__u16 dport;\n};")


def test_map_in_map_inner_definition_and_initial_slots(obj):
    outer = obj.get_map("by_proto")
    inner = outer.inner
    assert (inner.name, inner.type, inner.key_size, inner.value_size, inner.max_entries) == (
        "by_proto.inner", MapType.BPF_MAP_TYPE_HASH, 4, 4, 8)
    assert outer.inner_values == {1: "inner_a", 3: "inner_b"}
    assert outer.prog_values == {}


def test_program_array_initial_slots_name_programs(obj):
    jump = obj.get_map("jump_table")
    assert jump.prog_values == {0: "tail_a", 1: "tail_b"}
    assert jump.inner is None and jump.inner_values == {}


def test_program_references_each_map_once(obj):
    prog = obj.get_program("dispatch")
    assert [(r.kind, r.target) for r in prog.relocations] == [
        ("map", "by_proto"), ("map", "flows"), ("map", "sized"), ("map", "seen"), ("map", "jump_table")]
    pc_insn = {}
    pc = 0
    for insn in prog.insns:
        pc_insn[pc] = insn
        pc += insn.size
    assert [pc_insn[r.pc].imm for r in prog.relocations] == [2, 4, 5, 6, 3]

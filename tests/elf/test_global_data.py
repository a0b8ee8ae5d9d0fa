"""Global data: one array map per .data/.rodata/.bss section, variables, relocations with offsets."""

import pytest

from pybpf import elf
from pybpf.elf.maps import BPF_F_MMAPABLE, BPF_F_RDONLY_PROG
from pybpf.isa.opcodes import BPF_PSEUDO_MAP_IDX_VALUE
from support.objects import object_path


@pytest.fixture(scope="module")
def obj():
    return elf.load(object_path("globals"))


def _le(value, size):
    return value.to_bytes(size, "little")


@pytest.mark.parametrize("name,data,readonly", [
    (".data", _le(3, 8) + b"".join(_le(v, 4) for v in (10, 20, 30, 40)) + _le(8, 8) + _le(9, 8), False),
    (".rodata", _le(1500, 4) + b"pybpf\0\0\0", True),
    (".data.tuning", _le(7, 4), False),
    (".rodata.cfg", _le(8080, 2), True),
    (".bss", bytes(8), False),
    (".rodata.str1.1", b"too long: %u\n\0", True),
])
def test_each_section_is_a_one_element_array(obj, name, data, readonly):
    m = obj.get_map(name)
    assert (m.type_name, m.key_size, m.value_size, m.max_entries) == ("array", 4, len(data), 1)
    assert m.data == data
    assert m.flags == BPF_F_MMAPABLE | (BPF_F_RDONLY_PROG if readonly else 0)
    assert m.readonly == readonly


def test_variables_say_where_each_global_lives(obj):
    assert obj.get_map(".data").variables == {
        "packets": (0, 8), "table": (8, 16), "table_ptr": (24, 8), "hidden": (32, 8)}
    assert obj.get_map(".rodata").variables == {"limit": (0, 4), "banner": (4, 8)}


def test_value_type_is_the_sections_datasec(obj):
    m = obj.get_map(".rodata")
    datasec = obj.btf[m.btf_value_type_id]
    assert (datasec.kind, datasec.name) == ("DATASEC", ".rodata")
    assert [v.name for v in datasec.members] == ["limit", "banner"]


def test_references_carry_the_offset_in_the_value(obj):
    prog = obj.get_program("use_globals")
    refs = [(r.symbol, r.target, r.offset) for r in prog.relocations]
    assert refs == [("packets", ".data", 0), ("bytes", ".bss", 0), ("table", ".data", 8),
                    ("tuned", ".data.tuning", 0), ("port", ".rodata.cfg", 0),
                    (".data", ".data", 32),  # static `hidden`, through the section symbol + imm
                    ("limit", ".rodata", 0), (".rodata.str1.1", ".rodata.str1.1", 0),
                    ("banner", ".rodata", 4)]
    by_pc = {}
    pc = 0
    for insn in prog.insns:
        by_pc[pc] = insn
        pc += insn.size
    for r in prog.relocations:
        insn = by_pc[r.pc]
        assert (insn.src, insn.imm, insn.imm2) == (BPF_PSEUDO_MAP_IDX_VALUE, obj.map_index(r.target), r.offset)


def test_pointer_in_data_is_recorded_not_applied(obj):
    [r] = obj.data_relocations
    assert (r.section, r.offset, r.type, r.symbol, r.symbol_section, r.value) == (
        ".data", 24, "R_BPF_64_ABS64", "table", ".data", 8)
    assert obj.get_map(".data").data[24:32] == _le(8, 8)  # the addend: &table[2]


def test_maps_object_global_data(obj):
    maps = elf.load(object_path("maps"))
    assert maps.get_map(".data").data == _le(5, 8)
    assert maps.get_map(".rodata").data == _le(100, 4)
    assert maps.get_map(".bss").data == bytes(4)

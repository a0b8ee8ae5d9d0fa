"""Objects made by llvmlite's BPF target load like clang's (the tracer's path)."""

import pytest

pytest.importorskip("llvmlite.binding")

from pybpf import elf, vm  # noqa: E402
from pybpf.isa.opcodes import BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE  # noqa: E402
from pybpf.uapi import MapType, ProgType  # noqa: E402
from support.llvmlite_objects import build  # noqa: E402


@pytest.fixture(scope="module")
def obj():
    return elf.load(build(), name="llvmlite.o")


def test_programs_and_licence(obj):
    assert [(p.name, p.section, p.prog_type) for p in obj.programs] == [
        ("prog", "socket", ProgType.BPF_PROG_TYPE_SOCKET_FILTER),
        ("with_maps", "socket", ProgType.BPF_PROG_TYPE_SOCKET_FILTER)]
    assert obj.license == "GPL"
    assert obj.btf is None and obj.btf_ext is None  # no debug info in the IR


def test_static_subprogram_is_linked_and_runs(obj):
    prog = obj.get_program("prog")
    assert prog.subprograms == ["twice_plus_one"]
    assert obj.symbols and any(s.name == "twice_plus_one" and s.bind == "STB_LOCAL" for s in obj.symbols)
    assert vm.run(prog.insns).r0 == 41


def test_legacy_map_and_global_data(obj):
    counts = obj.get_map("counts")
    assert (counts.type, counts.key_size, counts.value_size, counts.max_entries) == (
        MapType.BPF_MAP_TYPE_HASH, 4, 8, 16)
    assert obj.get_map(".data").variables == {"seed": (0, 8)}
    assert obj.get_map(".bss").variables == {"hits": (0, 8)}
    assert obj.get_map(".rodata").data == (100).to_bytes(8, "little")


def test_relocations_rewrite_the_lddws(obj):
    prog = obj.get_program("with_maps")
    assert sorted((r.kind, r.target) for r in prog.relocations) == [
        ("call", "twice_plus_one"), ("map", "counts"), ("map_value", ".bss"), ("map_value", ".data"),
        ("map_value", ".rodata")]
    by_pc, pc = {}, 0
    for insn in prog.insns:
        by_pc[pc] = insn
        pc += insn.size
    for r in prog.relocations:
        if r.kind.startswith("map"):
            src = BPF_PSEUDO_MAP_IDX if r.kind == "map" else BPF_PSEUDO_MAP_IDX_VALUE
            assert (by_pc[r.pc].src, by_pc[r.pc].imm) == (src, obj.map_index(r.target))

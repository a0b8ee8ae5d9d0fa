"""bpf-to-bpf calls: sub-programs appended in libbpf's order, calls and callbacks re-pointed."""

import struct

import pytest

from pybpf import elf, vm
from pybpf.isa.opcodes import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC
from support.objects import object_path


@pytest.fixture(scope="module", params=["calls", "calls_v3"])
def calls(request):
    return elf.load(object_path(request.param))


def _starts(obj, prog):
    """Where each function of a linked program starts, by name."""
    starts, pc = {}, 0
    for name in [prog.name] + prog.subprograms:
        starts[name] = pc
        pc += obj.functions[name].size // 8
    return starts


def _targets(prog, kind_src):
    pc, out = 0, []
    for insn in prog.insns:
        if insn.src == kind_src and insn.code in (0x85, 0x18):
            out.append(pc + 1 + insn.imm)
        pc += insn.size
    return out


def test_subprograms_are_appended_in_scan_order(calls):
    # nested_calls calls sum_squares, then shared; sum_squares (appended first) calls square:
    # libbpf scans the growing instruction list, so square comes after shared.
    assert calls.get_program("nested_calls").subprograms == ["sum_squares", "shared", "square"]
    assert calls.get_program("uses_callback").subprograms == ["add_index", "shared"]


def test_each_call_points_at_the_start_of_an_appended_function(calls):
    for prog in calls.programs:
        starts = _starts(calls, prog)
        assert set(_targets(prog, BPF_PSEUDO_CALL)) <= set(starts.values())
    nested = calls.get_program("nested_calls")
    starts = _starts(calls, nested)
    assert sorted(_targets(nested, BPF_PSEUDO_CALL)) == sorted(
        [starts["sum_squares"], starts["shared"], starts["square"], starts["square"]])


def test_callback_address_becomes_pseudo_func(calls):
    prog = calls.get_program("uses_callback")
    assert _targets(prog, BPF_PSEUDO_FUNC) == [_starts(calls, prog)["add_index"]]
    assert [(r.kind, r.target, r.type) for r in prog.relocations] == [
        ("func", "add_index", "R_BPF_64_64"), ("call", "shared", "R_BPF_64_32")]


def test_calls_within_text_need_no_relocation(calls):
    # sum_squares -> square is resolved by the assembler; the loader still re-points it.
    assert calls.functions["sum_squares"].relocs == []
    assert [t for _, t in calls.functions["sum_squares"].fixups] == ["square", "square"]


def test_subprograms_are_not_programs(calls):
    assert [p.name for p in calls.programs] == ["nested_calls", "uses_callback"]
    assert {"square", "sum_squares", "shared", "add_index"} <= set(calls.functions)


@pytest.mark.parametrize("data,data_end,expected", [(2, 3, 2 ^ 0x5A), (1, 2, 2)])
def test_linked_nested_calls_run(calls, data, data_end, expected):
    prog = calls.get_program("nested_calls")
    assert vm.run(prog.insns, struct.pack("<II", data, data_end)).r0 == expected


def test_linked_callback_runs_through_bpf_loop(calls):
    prog = calls.get_program("uses_callback")
    assert vm.run(prog.insns, struct.pack("<I", 5)).r0 == (0 + 1 + 2 + 3 + 4) + (5 ^ 0x5A)


def test_func_info_has_one_entry_per_function_at_its_start(calls):
    for prog in calls.programs:
        starts = _starts(calls, prog)
        assert [pc for pc, _ in prog.func_info] == sorted(starts.values())
        names = [calls.btf[type_id].name for _, type_id in prog.func_info]
        assert names == [prog.name] + prog.subprograms

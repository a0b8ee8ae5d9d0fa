"""BTF.ext: func_info, line_info with source text, and CO-RE relocation records (parsed, not applied)."""

import pytest

from pybpf import elf
from pybpf.elf.btf_ext import CORE_RELO_KINDS
from support.objects import object_path


@pytest.fixture(scope="module")
def core():
    return elf.load(object_path("core"))


CORE = [  # (kind, described target and access path)
    ("field_byte_offset", "struct task_struct.pid (0:0)"),
    ("field_byte_offset", "struct task_struct.mm (0:2)"),
    ("field_byte_offset", "struct mm_struct.total_vm (0:0)"),
    ("field_exists", "struct task_struct.tgid (0:1)"),
    ("field_byte_size", "struct task_struct.prio (0:4)"),
    ("type_id_local", "struct task_struct (0)"),
    ("type_size", "struct mm_struct (0)"),
    ("enumval_value", "enum task_state::TASK_DEAD (1)"),
]


def test_core_relocations_parsed_per_section(core):
    relos = core.btf_ext.core_relos["kprobe/do_exit"]
    assert [(r.kind_name, r.describe(core.btf).split(" ", 1)[1]) for r in relos] == CORE
    assert all(r.insn_off % 8 == 0 for r in relos)


def test_core_relocations_rebased_onto_the_program(core):
    prog = core.get_program("trace_exit")
    by_pc = {}
    pc = 0
    for insn in prog.insns:
        by_pc[pc] = insn
        pc += insn.size
    assert len(prog.core_relos) == len(CORE)
    # the instructions they sit on carry the local answer: an offset, a size, 1 for "exists"
    assert [by_pc[pc].imm for pc, _ in prog.core_relos] == [0, 8, 0, 1, 8, 5, 8, 64]


def test_core_kind_names_are_the_kernels():
    assert CORE_RELO_KINDS[0] == "BPF_CORE_FIELD_BYTE_OFFSET"
    assert CORE_RELO_KINDS[12] == "BPF_CORE_TYPE_MATCHES"


def test_line_info_carries_file_line_column_and_text(core):
    prog = core.get_program("trace_exit")
    pc, first = prog.line_info[0]
    assert pc == 0
    assert first.file_name.endswith("core.c")
    assert first.line == "\tstruct task_struct *task = bpf_get_current_task();"
    assert (first.line_num, first.column) == (27, 29)
    pcs = [pc for pc, _ in prog.line_info]
    assert pcs == sorted(pcs) and pcs[-1] < prog.insn_count
    assert {info.line_num for _, info in prog.line_info} >= {27, 31, 32, 33, 39}


def test_func_info_names_the_btf_func(core):
    prog = core.get_program("trace_exit")
    [(pc, type_id)] = prog.func_info
    assert pc == 0
    assert core.btf.describe(type_id) == "int trace_exit(void *ctx)"



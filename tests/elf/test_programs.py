"""Programs of the committed objects: names, sections, types, linking of sub-programs."""

import pytest

from pybpf import elf
from pybpf.isa.opcodes import BPF_PSEUDO_CALL
from pybpf.uapi import AttachType, ProgType
from pybpf.vm import check_program
from support.objects import object_path

PROGS = [
    ("count_bytes", "socket", ProgType.BPF_PROG_TYPE_SOCKET_FILTER, 0, "", ["mix"]),
    ("second_socket", "socket", ProgType.BPF_PROG_TYPE_SOCKET_FILTER, 0, "", ["global_helper"]),
    ("xdp_pass", "xdp", ProgType.BPF_PROG_TYPE_XDP, AttachType.BPF_XDP, "", []),
    ("on_openat", "tracepoint/syscalls/sys_enter_openat", ProgType.BPF_PROG_TYPE_TRACEPOINT, 0,
     "syscalls/sys_enter_openat", []),
    ("kprobe_open", "kprobe/do_sys_openat2", ProgType.BPF_PROG_TYPE_KPROBE, 0, "do_sys_openat2", ["mix"]),
    ("on_readline", "uretprobe//bin/bash:readline", ProgType.BPF_PROG_TYPE_KPROBE, 0, "/bin/bash:readline", []),
    ("tc_ingress", "tc", ProgType.BPF_PROG_TYPE_SCHED_CLS, 0, "", []),
]
OTHER_OBJECTS = [
    ("btf_kinds", "kinds", "raw_tp/sys_enter", ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT, "sys_enter"),
    ("core", "trace_exit", "kprobe/do_exit", ProgType.BPF_PROG_TYPE_KPROBE, "do_exit"),
    ("legacy_maps", "count_writes", "kprobe/sys_write", ProgType.BPF_PROG_TYPE_KPROBE, "sys_write"),
    ("pyprobe", "on_request", "usdt/testapp:request", ProgType.BPF_PROG_TYPE_KPROBE, "testapp:request"),
]


@pytest.fixture(scope="module", params=["progs", "progs_v1", "progs_v2", "progs_v3"])
def progs(request):
    return elf.load(object_path(request.param))


def test_all_programs_found_and_subprograms_are_not_programs(progs):
    assert sorted(p.name for p in progs.programs) == sorted(row[0] for row in PROGS)
    assert {"mix", "global_helper"} <= set(progs.functions)
    assert progs.license == "GPL"


def test_two_programs_share_the_socket_section(progs):
    socket = [p for p in progs.programs if p.section == "socket"]
    assert [p.name for p in socket] == ["count_bytes", "second_socket"]
    first, second = socket
    assert first.section_offset == 0
    assert second.section_offset == progs.functions["count_bytes"].size  # split at the symbol


@pytest.mark.parametrize("name,section,prog_type,attach,target,subs", PROGS, ids=[r[0] for r in PROGS])
def test_program_attributes(progs, name, section, prog_type, attach, target, subs):
    prog = progs.get_program(name)
    assert (prog.section, prog.prog_type, prog.expected_attach_type, prog.attach_target) == (
        section, prog_type, attach, target)
    assert prog.subprograms == subs


@pytest.mark.parametrize("obj,name,section,prog_type,target", OTHER_OBJECTS, ids=[r[0] for r in OTHER_OBJECTS])
def test_programs_of_other_objects(obj, name, section, prog_type, target):
    prog = elf.load(object_path(obj)).get_program(name)
    assert (prog.section, prog.prog_type, prog.attach_target) == (section, prog_type, target)


def test_local_calls_point_at_the_appended_subprogram(progs):
    prog = progs.get_program("count_bytes")
    mix_start = prog.insn_count - progs.functions["mix"].size // 8
    pc = 0
    calls = 0
    for insn in prog.insns:
        if insn.code == 0x85 and insn.src == BPF_PSEUDO_CALL:
            assert pc + 1 + insn.imm == mix_start
            calls += 1
        pc += insn.size
    assert calls == 8
    assert [r.kind for r in prog.relocations] == ["call"] * 8
    assert all(r.target == "mix" and r.type == "R_BPF_64_32" for r in prog.relocations)


@pytest.mark.parametrize("name", [r[0] for r in PROGS])
def test_linked_programs_pass_the_structural_check(progs, name):
    check_program(progs.get_program(name).insns, entry_regs=0b10000000010)


def test_func_and_line_info_follow_the_linked_layout(progs):
    prog = progs.get_program("count_bytes")
    assert [pc for pc, _ in prog.func_info] == [0, prog.insn_count - 5]
    first = prog.line_info[0][1]
    assert first.line.strip().startswith("int count_bytes(") and first.line_num == 17
    assert first.file_name.endswith("progs.c")
    assert all(0 <= pc < prog.insn_count for pc, _ in prog.line_info)
    type_id = prog.func_info[1][1]
    assert progs.btf.describe(type_id) == "__u64 mix(__u64 a, __u64 b)"


def test_get_program_names_a_missing_one(progs):
    with pytest.raises(KeyError, match="no program named 'nope'"):
        progs.get_program("nope")

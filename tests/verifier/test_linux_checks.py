"""Checks the Linux verifier makes beyond the walk of one path: helper and map compatibility,
references across tail calls, the program's BTF, and load flags."""

from __future__ import annotations

import struct

import pytest

from pybpf.elf.btf import Btf
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.uapi import AttachType, MapType, ProgType
from pybpf.verifier import MapInfo, verify

P = ProgType
SOCKMAP = MapInfo(MapType.BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, 0, fd=100)
PROG_ARRAY = MapInfo(MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, fd=101)


def code(text: str, map_pcs=()) -> bytes:
    """Assemble `text`; each `LDMAP` line becomes a lddw of map fd 100 (its pc listed in map_pcs)."""
    out = bytearray()
    for line in text.strip().splitlines():
        if line.startswith("LDMAP"):
            reg, fd = (int(x) for x in line.split()[1:])
            out += struct.pack("<BBhi", 0x18, reg | 1 << 4, 0, fd) + struct.pack("<BBhi", 0, 0, 0, 0)
        else:
            out += encode(assemble(line))
    return bytes(out)


# Delete key 0 of the sockmap: fine for tc, not for a raw tracepoint (may_update_sockmap()).
SOCKMAP_DELETE = """
*(u32 *)(r10 -4) = 0
LDMAP 1 100
r2 = r10
r2 += -4
call 3
r0 = 0
exit
"""


@pytest.mark.parametrize("prog_type, accepted", [(P.BPF_PROG_TYPE_SCHED_CLS, True), (P.BPF_PROG_TYPE_XDP, True),
                                                 (P.BPF_PROG_TYPE_RAW_TRACEPOINT, False),
                                                 (P.BPF_PROG_TYPE_KPROBE, False)])
def test_sockmap_delete_only_where_no_locked_socket_is_reachable(prog_type, accepted):
    result = verify(code(SOCKMAP_DELETE), prog_type, maps={1: SOCKMAP}, log_level=1)
    assert result.accepted == accepted, result.log
    if not accepted:
        assert "cannot update sockmap in this context\ncannot pass map_type 15 into func bpf_map_delete_elem#3" \
            in result.log


# Another CPU's copy of key 0 (cpu in r3), read through the pointer after the NULL check.
PERCPU_LOOKUP = """
*(u32 *)(r10 -4) = 0
LDMAP 1 100
r2 = r10
r2 += -4
r3 = 1
call 195
if r0 == 0 goto +1
r0 = *(u64 *)(r0 +0)
r0 = 0
exit
"""


@pytest.mark.parametrize("map_type, accepted", [(MapType.BPF_MAP_TYPE_PERCPU_HASH, True),
                                                (MapType.BPF_MAP_TYPE_PERCPU_ARRAY, True),
                                                (MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH, True),
                                                (MapType.BPF_MAP_TYPE_HASH, False),
                                                (MapType.BPF_MAP_TYPE_ARRAY, False)])
def test_lookup_percpu_elem_takes_only_per_cpu_maps(map_type, accepted):
    """check_map_func_compatibility: bpf_map_lookup_percpu_elem (pybpftrace reads a count() with it)."""
    maps = {1: MapInfo(map_type, 4, 8, 4, 0, fd=100)}
    result = verify(code(PERCPU_LOOKUP), P.BPF_PROG_TYPE_KPROBE, maps=maps, log_level=1)
    assert result.accepted == accepted, result.log
    if not accepted:
        assert f"cannot pass map_type {int(map_type)} into func bpf_map_lookup_percpu_elem#195" in result.log


def test_sockmap_update_takes_a_socket_not_memory():
    # r3 = a lookup's socket after the NULL check: accepted; r3 = a stack pointer: the kernel's type error.
    lookup = """
*(u32 *)(r10 -4) = 0
LDMAP 1 100
r2 = r10
r2 += -4
call 1
if r0 == 0 goto +10
r6 = r0
LDMAP 1 100
r2 = r10
r2 += -4
r3 = r6
r4 = 0
call 2
r1 = r6
call 86
r0 = 0
exit
"""
    maps = {1: SOCKMAP, 8: SOCKMAP}
    assert verify(code(lookup), P.BPF_PROG_TYPE_SCHED_CLS, maps=maps).accepted
    stack = lookup.replace("r3 = r6", "r3 = r10")
    result = verify(code(stack), P.BPF_PROG_TYPE_SCHED_CLS, maps=maps, log_level=1)
    assert not result.accepted and "R3 type=fp expected=sock_common, sock" in result.log


def test_a_tail_call_with_a_reference_held_leaks_it():
    text = """
r6 = r1
*(u64 *)(r10 -8) = 0
*(u64 *)(r10 -16) = 0
*(u64 *)(r10 -24) = 0
*(u64 *)(r10 -32) = 0
*(u64 *)(r10 -40) = 0
r2 = r10
r2 += -40
r3 = 36
r4 = 0
r5 = 0
call 84
r7 = r0
r1 = r6
LDMAP 2 101
r3 = 0
call 12
if r7 == 0 goto +2
r1 = r7
call 86
r0 = 0
exit
"""
    result = verify(code(text), P.BPF_PROG_TYPE_SCHED_CLS, maps={14: PROG_ARRAY}, log_level=1)
    assert not result.accepted and result.log.splitlines()[-2] == "tail_call would lead to reference leak"
    released_first = text.replace("r1 = r6\nLDMAP", "if r7 == 0 goto +2\nr1 = r7\ncall 86\nr1 = r6\nLDMAP")
    released_first = released_first.replace("call 12\nif r7 == 0 goto +2\nr1 = r7\ncall 86\n", "call 12\n")
    assert verify(code(released_first), P.BPF_PROG_TYPE_SCHED_CLS, maps={17: PROG_ARRAY}).accepted


def test_only_pkt_access_helpers_take_packet_pointers():
    # A packet pointer, bounds-checked, as map_lookup_elem's key (pkt_access) and as skb_load_bytes' buffer (not).
    head = """
r6 = r1
r2 = *(u32 *)(r6 +76)
r3 = *(u32 *)(r6 +80)
r4 = r2
r4 += 8
if r4 > r3 goto +{skip}
"""
    lookup = head.format(skip=5) + "LDMAP 1 100\ncall 1\nr0 = 0\nexit\nr0 = 0\nexit"
    hash_map = MapInfo(MapType.BPF_MAP_TYPE_HASH, 8, 8, 1, 0, fd=100)
    assert verify(code(lookup), P.BPF_PROG_TYPE_SCHED_CLS, maps={6: hash_map}).accepted
    load = head.format(skip=6) + "r1 = r6\nr3 = r2\nr2 = 0\nr4 = 4\ncall 26\nexit\nr0 = 0\nexit"
    result = verify(code(load), P.BPF_PROG_TYPE_SCHED_CLS, log_level=1)
    assert not result.accepted and "helper access to the packet is not allowed" in result.log


def test_int_pointer_arguments_must_be_aligned():
    text = """
*(u64 *)(r10 -8) = 0x30
*(u64 *)(r10 -16) = 0
*(u64 *)(r10 -24) = 0
r1 = r10
r1 += -8
r2 = 1
r3 = 0
r4 = r10
r4 += {off}
call 105
r0 = 0
exit
"""
    assert verify(code(text.format(off=-24)), P.BPF_PROG_TYPE_CGROUP_SYSCTL).accepted
    result = verify(code(text.format(off=-20)), P.BPF_PROG_TYPE_CGROUP_SYSCTL, log_level=1)
    assert not result.accepted and "misaligned stack access off 0+-20+0 size 8" in result.log


def _btf(ret_void: bool) -> Btf:
    """BTF with `int main(void)` (id 3) and `sub(void)` (id 5) returning int or void."""
    strings = b"\0int\0main\0sub\0"
    types = [
        struct.pack("<III", 1, 1 << 24, 4) + struct.pack("<I", 1 << 24 | 32),  # 1 INT int
        struct.pack("<III", 0, 13 << 24, 1),  # 2 FUNC_PROTO int (void)
        struct.pack("<III", 5, 12 << 24 | 1, 2),  # 3 FUNC main, global
        struct.pack("<III", 0, 13 << 24, 0 if ret_void else 1),  # 4 FUNC_PROTO void|int (void)
        struct.pack("<III", 10, 12 << 24, 4),  # 5 FUNC sub, static
    ]
    body = b"".join(types)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(strings))
    return Btf.parse(header + body + strings)


@pytest.mark.parametrize("what, insn", [("LD_ABS", "r0 = *(u32 *)skb[0]"), ("tail_call", "call 12")])
def test_ld_abs_and_tail_calls_need_a_subprogram_returning_int(what, insn):
    text = f"call pc+2\nr0 = 0\nexit\nr6 = r1\n{insn}\nr0 = 1\nexit"
    func_info = ((0, 3), (3, 5))
    returns_int = verify(code(text), P.BPF_PROG_TYPE_SOCKET_FILTER, btf=_btf(False), func_info=func_info)
    assert "only allowed in functions" not in returns_int.log
    assert returns_int.accepted or what == "tail_call"  # (this tail call has no prog array in r2)
    result = verify(code(text), P.BPF_PROG_TYPE_SOCKET_FILTER, btf=_btf(True), func_info=func_info)
    assert not result.accepted and f"{what} is only allowed in functions that return 'int'." in result.log


def test_func_info_must_match_the_subprograms():
    result = verify(code("call pc+1\nexit\nr0 = 0\nexit"), P.BPF_PROG_TYPE_SOCKET_FILTER, btf=_btf(False),
                    func_info=((0, 3), (3, 5)))
    assert not result.accepted and "func_info BTF section doesn't match subprog layout" in result.log


@pytest.mark.parametrize("prog_type, attach, accepted", [
    (P.BPF_PROG_TYPE_TRACING, AttachType.BPF_TRACE_FENTRY, True),
    (P.BPF_PROG_TYPE_TRACING, AttachType.BPF_TRACE_RAW_TP, False),
    (P.BPF_PROG_TYPE_LSM, AttachType.BPF_LSM_MAC, True),
    (P.BPF_PROG_TYPE_XDP, 0, False),
])
def test_only_some_programs_can_be_sleepable(prog_type, attach, accepted):
    result = verify(code("r0 = 0\nexit"), prog_type, expected_attach_type=attach, sleepable=True)
    assert result.accepted == accepted, result.log
    if not accepted:
        assert "programs can be sleepable" in result.log


# -- may_goto loops (check_cond_jmp_op's BPF_JCOND, widen_imprecise_scalars) ------------------
STACK_LOOP = """
r0 = 0
r2 = r10
r2 += -64
r1 = 0
may_goto pc+4
*(u64 *)(r2 +0) = r1
r2 += 8
r1 += 1
if r1 != {bound} goto pc-5
exit
"""


def test_a_may_goto_loop_converges_once_changed_scalars_are_widened():
    text = "r0 = 0\nr1 = 0\nmay_goto pc+3\nr0 += 1\nr1 += 2\ngoto pc-4\nexit"
    result = verify(code(text), P.BPF_PROG_TYPE_SOCKET_FILTER, log_level=1)
    assert result.accepted, result.log
    assert result.stats.processed < 50


def test_a_may_goto_loop_keeps_the_counter_its_bound_check_decides():
    result = verify(code(STACK_LOOP.format(bound=8)), P.BPF_PROG_TYPE_SOCKET_FILTER, log_level=1)
    assert result.accepted, result.log


def test_a_may_goto_loop_that_runs_past_the_stack_is_refused():
    result = verify(code(STACK_LOOP.format(bound=9)), P.BPF_PROG_TYPE_SOCKET_FILTER, log_level=1)
    assert not result.accepted and "invalid write to stack R2 off=0 size=8" in result.log, result.log


def test_may_goto_to_itself_is_an_infinite_loop():
    result = verify(code("r0 = 0\nmay_goto pc-1\nexit"), P.BPF_PROG_TYPE_SOCKET_FILTER, log_level=1)
    assert not result.accepted and "infinite loop detected at insn 1" in result.log


# -- kptr fields of a map value (check_map_access's btf_record, check_map_kptr_access) -------------
KPTR_MAP = MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0, fd=100,
                   kptrs={0: ("kptr_untrusted", "prog_test_ref_kfunc"), 8: ("kptr", "prog_test_ref_kfunc")})
KPTR_VALUE = """
*(u32 *)(r10 -4) = 0
r2 = r10
r2 += -4
LDMAP 1 100
call 1
if r0 == 0 goto pc+2
{access}
r0 = 0
exit
"""


@pytest.mark.parametrize("access, message", [
    ("r1 = *(u64 *)(r0 +0)", None),
    ("*(u64 *)(r0 +0) = 0", None),
    ("r1 = 0\n*(u64 *)(r0 +0) = r1", None),
    ("r1 = *(u64 *)(r0 +16)", None),  # past the kptrs: plain value bytes
    ("*(u64 *)(r0 +0) = 1", "BPF_ST imm must be 0 when storing to kptr at off=0"),
    ("r1 = *(u32 *)(r0 +0)", "kptr access size must be BPF_DW"),
    ("r1 = *(u8 *)(r0 +7)", "kptr access misaligned expected=0 off=7"),
    ("*(u64 *)(r0 +0) = r10", "invalid kptr access, R10 type=fp expected=ptr_prog_test_ref_kfunc"),
    ("*(u64 *)(r0 +8) = 0", "store to referenced kptr disallowed"),
    ("r1 = 0\n*(u64 *)(r0 +8) = r1", "store to referenced kptr disallowed"),
])
def test_kptr_fields_are_read_and_written_whole_and_referenced_ones_never_stored(access, message):
    text = KPTR_VALUE.format(access=access).replace("goto pc+2", f"goto pc+{access.count(chr(10)) + 2}")
    result = verify(code(text), P.BPF_PROG_TYPE_SCHED_CLS, maps={3: KPTR_MAP}, log_level=1)
    assert result.accepted == (message is None), result.log
    if message:
        assert result.log.splitlines()[-2] == message


def test_helpers_may_not_touch_a_kptr():
    text = KPTR_VALUE.format(access="r1 = r0\nr2 = 8\nr3 = 0\ncall 4").replace("goto pc+2", "goto pc+5")
    result = verify(code(text), P.BPF_PROG_TYPE_KPROBE, maps={3: KPTR_MAP}, log_level=1)
    assert not result.accepted and "kptr cannot be accessed indirectly by helper" in result.log, result.log


@pytest.mark.parametrize("field, prog_type, message", [
    ("bpf_spin_lock", P.BPF_PROG_TYPE_KPROBE, "tracing progs cannot use bpf_spin_lock yet"),
    ("bpf_spin_lock", P.BPF_PROG_TYPE_SOCKET_FILTER, "socket filter progs cannot use bpf_spin_lock yet"),
    ("bpf_timer", P.BPF_PROG_TYPE_TRACEPOINT, "tracing progs cannot use bpf_timer yet"),
    ("bpf_timer", P.BPF_PROG_TYPE_SCHED_CLS, None),
])
def test_maps_with_locks_or_timers_are_refused_to_some_program_types(field, prog_type, message):
    info = MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0, fd=100, fields={0: field})
    result = verify(code("LDMAP 1 100\nr0 = 0\nexit"), prog_type, maps={0: info}, log_level=1)
    assert result.accepted == (message is None), result.log
    if message:
        assert message in result.log


def test_releasing_an_unreferenced_socket():
    text = "r1 = *(u64 *)(r1 +168)\nif r1 == 0 goto pc+1\ncall 86\nr0 = 0\nexit"
    result = verify(code(text), P.BPF_PROG_TYPE_SCHED_CLS, log_level=1)
    assert not result.accepted and "R1 must be referenced when passed to release function" in result.log


def test_sk_msg_context_gives_packet_pointers():
    text = ("r2 = *(u64 *)(r1 +0)\nr3 = *(u64 *)(r1 +8)\nr0 = r2\nr0 += 8\nif r0 > r3 goto pc+1\n"
            "r0 = *(u8 *)(r2 +0)\nr0 = 1\nexit")
    assert verify(code(text), P.BPF_PROG_TYPE_SK_MSG).accepted
    result = verify(code("r0 = *(u32 *)(r1 +80)\nexit"), P.BPF_PROG_TYPE_SK_MSG, log_level=1)
    assert not result.accepted and "invalid bpf_context access off=80 size=4" in result.log


def test_get_stack_returns_an_errno_or_at_most_the_buffer_size():
    text = "r6 = r1\n*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall 67\nexit"
    result = verify(code(text.replace("exit", "r1 = r0\nexit")), P.BPF_PROG_TYPE_KPROBE, log_level=2)
    assert "R0=scalar(smin=0xfffffffffffff001,smax=smax32=8,smin32=0xfffff001)" in result.log, result.log


def test_socket_lookups_number_references_as_linux():
    # the NULL-check id is 1, the reference 2: "Unreleased reference id=2"
    text = ("*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -32) = 0\n"
            "*(u64 *)(r10 -40) = 0\nr2 = r10\nr2 += -40\nr3 = 36\nr4 = 0\nr5 = 0\ncall 84\nr0 = 0\nexit")
    result = verify(code(text), P.BPF_PROG_TYPE_SCHED_CLS, log_level=1)
    assert not result.accepted and "Unreleased reference id=2 alloc_insn=10" in result.log, result.log


@pytest.mark.parametrize("jump, accepted", [("if r6 != r7 goto pc+1", True), ("if r6 == r7 goto pc+1", False)])
def test_a_maybe_null_pointer_equal_to_a_valid_one_is_valid(jump, accepted):
    # r6 checked, r7 not: where r7 == r6 it is not NULL either (the equal edge only).
    hash_map = MapInfo(MapType.BPF_MAP_TYPE_HASH, 4, 8, 1, 0, fd=100)
    text = f"""
*(u32 *)(r10 -8) = 0
r9 = r10
r9 += -8
LDMAP 8 100
r1 = r8
r2 = r9
call 1
r6 = r0
r1 = r8
r2 = r9
call 1
r7 = r0
if r6 == 0 goto pc+2
{jump}
r0 = *(u32 *)(r7 +0)
r0 = 0
exit
"""
    result = verify(code(text), P.BPF_PROG_TYPE_SOCKET_FILTER, maps={3: hash_map}, log_level=1)
    assert result.accepted == accepted, result.log
    if not accepted:
        assert "R7 invalid mem access 'map_value_or_null'" in result.log


@pytest.mark.parametrize("imm, accepted", [(0, True), (1, False)])
def test_unprivileged_map_pointer_against_zero_is_a_known_branch(imm, accepted):
    array = MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, fd=100)
    text = f"LDMAP 1 100\nif r1 == {imm} goto pc+0\nr0 = 0\nexit"
    result = verify(code(text), P.BPF_PROG_TYPE_SOCKET_FILTER, maps={0: array}, privileged=False, log_level=1)
    assert result.accepted == accepted, result.log
    if not accepted:
        assert "R1 pointer comparison prohibited" in result.log

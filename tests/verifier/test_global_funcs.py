"""Global functions are verified once on their own, against their BTF signature (do_check_subprogs,
btf_prepare_func_args, btf_check_func_arg_match), and each case is checked against the live kernel too."""

from __future__ import annotations

import struct

import pytest

from pybpf.elf.btf import Btf
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.uapi import MapType, ProgType
from pybpf.verifier import MapInfo, verify
from support.btf import BtfBuilder
from support.kernel import needs_kernel
from support.logs import in_order

P = ProgType
HASH = MapInfo(MapType.BPF_MAP_TYPE_HASH, 4, 8, 1, 0, fd=100)
def code(text: str) -> bytes:
    """Assemble `text`; a `LDMAP r` line is a lddw of the hash map (fd 100) into r."""
    out = bytearray()
    for line in text.strip().splitlines():
        line = line.strip()
        if line.startswith("LDMAP"):
            out += struct.pack("<BBhi", 0x18, int(line.split()[1]) | 1 << 4, 0, 100) + bytes(8)
        else:
            out += encode(assemble(line))
    return bytes(out)


def map_pcs(text: str) -> dict:
    pcs, pc = {}, 0
    for line in text.strip().splitlines():
        if line.strip().startswith("LDMAP"):
            pcs[pc] = HASH
        pc += 2 if line.strip().startswith(("LDMAP", "r1 = 0 ll")) else 1
    return pcs


def program(sub_params: str, tags=(), sub_linkage: int = 1, prog_type: int = P.BPF_PROG_TYPE_SOCKET_FILTER):
    """BTF for `int main(struct __sk_buff *skb)` and `int f(<sub_params>)`: "int", "int *", "long *" or "ctx"
    (a `struct __sk_buff *`), with `arg:` decl tags on f's parameter 0."""
    b = BtfBuilder()
    int_t = b.int()
    long_t = b.int("long", 8)
    skb = b.ptr(b.struct("__sk_buff", 4))
    kinds = {"int": int_t, "int *": b.ptr(int_t), "long *": b.ptr(long_t), "ctx": skb}
    main = b.func("main", int_t, [("skb", skb)])
    params = [(f"a{i}", kinds[p.strip()]) for i, p in enumerate(sub_params.split(",")) if p.strip()]
    sub = b.func("f", int_t, params, sub_linkage)
    for tag in tags:
        b.tag(f"arg:{tag}", sub, 0)
    return b.data(), main, sub


def check(text: str, sub_params: str, tags=(), sub_linkage: int = 1):
    """Verify `text` (main, then f after its `call pc+N`) with the BTF of `program()`."""
    data, main, sub = program(sub_params, tags, sub_linkage)
    insns = code(text)
    start = _sub_start(insns)
    return verify(insns, P.BPF_PROG_TYPE_SOCKET_FILTER, maps=map_pcs(text), log_level=2, btf=Btf.parse(data),
                  func_info=((0, main), (start, sub)))


def _sub_start(insns: bytes) -> int:
    for pc in range(len(insns) // 8):
        code_, regs, off, imm = struct.unpack_from("<BBhi", insns, pc * 8)
        if code_ == 0x85 and regs >> 4 == 1:
            return pc + imm + 1
    raise AssertionError("no bpf-to-bpf call")


# f reads its int argument without a NULL check.
DEREF_ARG = """
*(u64 *)(r10 -8) = 0
r1 = r10
r1 += -8
call pc+2
r0 = 0
exit
r0 = *(u32 *)(r1 +0)
exit
"""
# main passes a map lookup's maybe-NULL value.
MAYBE_NULL_ARG = """
*(u32 *)(r10 -4) = 0
LDMAP 1
r2 = r10
r2 += -4
call 1
r1 = r0
call pc+2
r0 = 0
exit
r0 = *(u32 *)(r1 +0)
exit
"""
# f returns its scalar argument; main indexes its stack with f's result.
RESULT_AS_OFFSET = """
r1 = 0
call pc+7
r2 = r10
r2 += -8
r2 += r0
r1 = 0
*(u8 *)(r2 +0) = r1
r0 = 0
exit
r0 = r1
exit
"""
# f writes 100 through its long pointer; main had stored 0 there and indexes its stack with it.
WRITE_THROUGH_ARG = """
r1 = 0
*(u64 *)(r10 -8) = r1
r1 = r10
r1 += -8
call pc+8
r1 = *(u64 *)(r10 -8)
r2 = r10
r2 += -16
r2 += r1
r1 = 0
*(u8 *)(r2 +0) = r1
r0 = 0
exit
r2 = 100
*(u64 *)(r1 +0) = r2
r0 = 0
exit
"""
# f is called only on a branch that is never taken; its body would be refused.
DEAD_CALL = """
r0 = 0
if r0 != 0 goto +2
r0 = 0
exit
call pc+2
r0 = 0
exit
r0 = *(u32 *)(r1 +0)
exit
"""
RETURNS_CTX = """
call pc+2
r0 = 0
exit
r0 = r1
exit
"""

CASES = {
    # name: (program, f's parameters, tags on parameter 0, f's linkage, accepted, log lines in order)
    "maybe_null_mem_arg_is_checked_in_the_callee": (
        DEREF_ARG, "int *", (), 1, False,
        ["Func#1 ('f') is global and assumed valid.", "Validating f() func#1...", "invalid mem access 'mem_or_null'"]),
    "nonnull_mem_arg": (
        DEREF_ARG, "int *", ("nonnull",), 1, True,
        ["Func#1 ('f') is global and assumed valid.", "Validating f() func#1...",
         "Func#1 ('f') is safe for any args that match its prototype"]),
    "static_function_walked_with_the_callers_pointer": (DEREF_ARG, "int *", (), 0, True, []),
    "maybe_null_value_to_a_nonnull_arg": (
        MAYBE_NULL_ARG, "int *", ("nonnull",), 1, False,
        ["arg#0 is expected to be non-NULL", "Caller passes invalid args into func#1 ('f')"]),
    "null_constant_to_a_nonnull_arg": (
        DEREF_ARG.replace("r1 = r10\nr1 += -8\n", "r1 = 0\nr1 += 0\n"), "int *", ("nonnull",), 1, False,
        ["arg#0 is expected to be non-NULL", "Caller passes invalid args into func#1 ('f')"]),
    "pointer_to_a_scalar_arg": (
        DEREF_ARG, "int", (), 1, False, ["R1 is not a scalar", "Caller passes invalid args into func#1 ('f')"]),
    "memory_smaller_than_the_arg_type": (
        DEREF_ARG.replace("-8", "-4").replace("u64", "u32"), "long *", ("nonnull",), 1, False,
        ["invalid read from stack R1 off=-4 size=8", "Caller passes invalid args into func#1 ('f')"]),
    "a_global_result_is_an_unknown_scalar": (
        RESULT_AS_OFFSET, "int", (), 1, False, ["Func#1 ('f') is global and assumed valid."]),
    "a_static_result_is_known": (RESULT_AS_OFFSET, "int", (), 0, True, []),
    "the_callee_may_write_through_its_pointer": (
        WRITE_THROUGH_ARG, "long *", ("nonnull",), 1, False,
        ["Func#1 ('f') is global and assumed valid.",
         "math between fp pointer and register with unbounded min value is not allowed"]),
    "a_global_called_from_dead_code_is_not_verified": (DEAD_CALL, "int", (), 1, True, []),
    "a_ctx_arg_may_not_be_returned": (
        RETURNS_CTX, "ctx", (), 1, False,
        ["Validating f() func#1...", "At subprogram exit the register R0 is not a scalar value (ctx)"]),
    "arg_tags_only_on_global_functions": (
        DEREF_ARG, "int *", ("nonnull",), 0, True, ["arg#0 type tag is not supported in static functions"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_global_functions(name):
    text, params, tags, linkage, accepted, pieces = CASES[name]
    result = check(text, params, tags, linkage)
    assert result.accepted == accepted, result.log
    assert in_order(result.log, pieces), result.log


def test_a_global_function_is_verified_once_after_main():
    text = DEREF_ARG.replace("call pc+2\n", "call pc+5\nr1 = r10\nr1 += -8\ncall pc+2\n")
    result = check(text, "int *", ("nonnull",))
    assert result.accepted, result.log
    log = result.log
    assert log.count("is global and assumed valid.") == 2 and log.count("Validating f() func#1...") == 1
    assert log.index("Validating") > log.rindex("assumed valid")


def test_unsupported_signatures_are_refused_at_the_call():
    b = BtfBuilder()
    int_t = b.int()
    main = b.func("main", int_t, [("skb", b.ptr(b.struct("__sk_buff", 4)))])
    sub = b.func("f", int_t, [("s", b.struct("pair", 8))])
    result = verify(code(DEREF_ARG), P.BPF_PROG_TYPE_SOCKET_FILTER, log_level=1, btf=Btf.parse(b.data()),
                    func_info=((0, main), (6, sub)))
    assert not result.accepted
    assert "Arg#0 type STRUCT in f() is not supported yet.\nCaller passes invalid args into func#1 ('f')" in result.log


# -- the same programs on the live kernel ---------------------------------------------------------------------
def _linux_load(name: str):
    """Load CASES[name] on the running kernel with its BTF; (accepted, log at level 2: level 1 keeps only
    the failing path)."""
    from pybpf.kernel.linux import syscall

    text, params, tags, linkage, _, _ = CASES[name]
    data, main, sub = program(params, tags, linkage)
    insns = bytearray(code(text))
    fds = []
    try:
        btf_fd = syscall.btf_load(data)
        fds.append(btf_fd)
        for pc in map_pcs(text):
            map_fd = syscall.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 1)
            fds.append(map_fd)
            struct.pack_into("<i", insns, pc * 8 + 4, map_fd)
        func_info = struct.pack("<IIII", 0, main, _sub_start(bytes(insns)), sub)
        try:
            loaded = syscall.prog_load(P.BPF_PROG_TYPE_SOCKET_FILTER, bytes(insns), log_level=2, btf_fd=btf_fd,
                                       func_info=func_info)
        except syscall.KernelError as err:
            return False, err.log
        fds.append(loaded.fd)
        return True, loaded.log
    finally:
        import os
        for fd in fds:
            os.close(fd)


@needs_kernel
@pytest.mark.parametrize("name", sorted(CASES))
def test_linux_agrees(name):
    """Each case's verdict is the 6.18 kernel's, and the log lines we pin are in its log."""
    _, _, _, _, accepted, pieces = CASES[name]
    linux_accepted, log = _linux_load(name)
    assert linux_accepted == accepted, log
    assert in_order(log, pieces), log

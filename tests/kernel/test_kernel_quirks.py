"""Where the live kernel departs from the instruction set, pinned with the smallest program that shows it.

The interpreter follows RFC 9669; each test states the RFC's answer, checks
the interpreter gives it, and marks the kernel's departure as xfail with the
reason (a kernel that fixes it turns the test into a pass).  The
differential test (test_interp_vs_kernel.py) steps around these.
"""

from __future__ import annotations

import pytest

from pybpf import vm
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.uapi import ProgType
from support.kernel import needs_kernel

# The programs read three u64 from r2: the packet (XDP) or the memory (interpreter).
XDP_PACKET_IN_R2 = """
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 24
    if r4 <= r3 goto +2
    r0 = 0
    exit
"""
MEMORY_IN_R2 = "r2 = r1\n"

# RFC 9669 5.3: "In either case, the value that was at dst + offset before the
# operation is zero-extended and loaded back to R0."  x86's `lock cmpxchg`
# leaves rax alone on success, so the verifier must add `w0 = w0` after it.
# Linux 6.18 adds it only when it sees r0 read as 64 bits on an explored path:
# here the taken branch (the one that runs) is pruned at the join after the
# fall-through was explored, and the JIT code keeps r0's upper half.  The
# `goto +0` makes the verifier record the state that the pruning matches.
CMPXCHG32_THEN_PRUNED_READ = """
    r0 = *(u64 *)(r2 + 0)
    r4 = *(u64 *)(r2 + 8)
    r5 = *(u64 *)(r2 + 16)
    *(u64 *)(r10 - 8) = r5
    *(u64 *)(r10 - 16) = r5
    r1 = 0
    w0 = cmpxchg32_32(r10 - 8, w0, w1)
    goto +0
    if w4 >= 1 goto +1
    r0 = *(u32 *)(r10 - 16)
    r0 >>= 32
    exit
"""

# A fetching atomic (fetch_add, fetch_or..., xchg) on the stack loads the slot's
# old value; a branch on it needs that slot precise.  Linux 6.18 does not carry
# precision through the fetch: the fall-through path (explored first) stores the
# constant -1, so r1 == -1 is decided there and the `r0 = 2` side marked dead;
# the taken path (the one that runs, slot from the packet) is pruned as "safe"
# at the join, and the branch is rewritten as `goto`.  With `r1 = *(u64 *)(r10
# - 8)` instead of the fetch the kernel is right.  The `goto +0`s make the
# verifier record the state that the pruning matches.
FETCH_THEN_PRUNED_BRANCH = """
    r6 = *(u64 *)(r2 + 0)
    r7 = *(u64 *)(r2 + 8)
    *(u64 *)(r10 - 8) = r7
    if r6 == 0 goto +1
    *(u64 *)(r10 - 8) = -1
    goto +0
    goto +0
    goto +0
    r1 = 0
    r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
    r0 = 1
    if r1 == -1 goto +1
    r0 = 2
    exit
"""


def _u64s(*values: int) -> bytes:
    return b"".join(v.to_bytes(8, "little") for v in values)


def test_interpreter_zero_extends_r0_after_cmpxchg32():
    packet = _u64s(0x8000000000000000, 1, 0)  # r0's low half matches the zero in memory: exchange
    assert vm.run(assemble(MEMORY_IN_R2 + CMPXCHG32_THEN_PRUNED_READ), packet).r0 == 0


@needs_kernel
@pytest.mark.kernel
def test_kernel_zero_extends_r0_after_cmpxchg32():
    code = encode(assemble(XDP_PACKET_IN_R2 + CMPXCHG32_THEN_PRUNED_READ))
    loaded = syscall.prog_load(ProgType.BPF_PROG_TYPE_XDP, code)
    try:
        high = syscall.prog_test_run(loaded.fd, _u64s(0x8000000000000000, 1, 0)).retval
    finally:
        syscall.close(loaded.fd)
    if high:
        pytest.xfail(f"Linux bug: r0 >> 32 is {high:#x} after a successful 32-bit cmpxchg (no zero-extension "
                     "when the verifier prunes the path that reads r0 as 64 bits)")


def test_interpreter_branches_on_the_fetched_value():
    packet = _u64s(0, 0, 0)  # r6 = 0: the slot keeps r7 = 0, so r1 = 0 and r0 = 2
    assert vm.run(assemble(MEMORY_IN_R2 + FETCH_THEN_PRUNED_BRANCH), packet).r0 == 2


@needs_kernel
@pytest.mark.kernel
def test_kernel_branches_on_the_fetched_value():
    code = encode(assemble(XDP_PACKET_IN_R2 + FETCH_THEN_PRUNED_BRANCH))
    loaded = syscall.prog_load(ProgType.BPF_PROG_TYPE_XDP, code)
    try:
        r0 = syscall.prog_test_run(loaded.fd, _u64s(0, 0, 0)).retval
    finally:
        syscall.close(loaded.fd)
    if r0 != 2:
        pytest.xfail(f"Linux bug: r0 is {r0}, not 2: the verifier pruned the path on which the value fetched "
                     "by atomic_fetch_add differs, and rewrote the branch on it as dead code")

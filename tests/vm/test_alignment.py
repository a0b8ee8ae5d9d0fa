"""Alignment: ordinary loads and stores may be unaligned; atomics and ordered accesses may not.

Linux lets a program make unaligned plain accesses on x86 (and the
verifier only insists on alignment under strict alignment or for
atomics), so plain ldx/stx/st never fault for it here either.  Atomic
read-modify-writes, load-acquire and store-release need natural alignment
(the JITs emit locked or ordered instructions that require it), so they
fault with "misaligned".
"""

import pytest

from pybpf import vm
from pybpf.isa.asm import assemble

MEM = bytes(range(16))


def run(text: str, memory: bytes = MEM):
    return vm.run(assemble(text), memory)


def test_unaligned_plain_accesses_are_fine():
    assert run("r0 = *(u64 *)(r1 + 3)\nexit").r0 == int.from_bytes(MEM[3:11], "little")
    result = run("r2 = -1\n*(u32 *)(r1 + 5) = r2\nr0 = 0\nexit")
    assert result.memory == MEM[:5] + b"\xff" * 4 + MEM[9:]


@pytest.mark.parametrize("text", [
    "r2 = 1\nlock *(u64 *)(r1 + 4) += r2\nr0 = 0\nexit",
    "r2 = 1\nlock *(u32 *)(r1 + 2) += r2\nr0 = 0\nexit",
    "r2 = 1\nr2 = atomic_fetch_add((u64 *)(r1 + 1), r2)\nr0 = 0\nexit",
    "r0 = 0\nr2 = 1\nr0 = cmpxchg_64(r1 + 12, r0, r2)\nexit",
])
def test_misaligned_atomics_fault(text):
    with pytest.raises(vm.VMFault, match="misaligned"):
        run(text)


def test_aligned_atomics_work_on_input_memory():
    assert run("r2 = 1\nlock *(u64 *)(r1 + 8) += r2\nr0 = 0\nexit").memory[8] == MEM[8] + 1

"""The compiled engine's layout and fast paths agree with the reference interpreter.

compiled_flow lays blocks out inline under each root (tail duplication up to
INLINE_LIMIT, loops as `continue`), charges the budget per block, reaches the
stack straight through registers known to hold r10 + k, calls helpers that
never run program code straight and looks array maps up inline.  Each test
pins one of those against the interpreter: results, steps, faults and the
instruction limit at every count.
"""

from __future__ import annotations

import re

import pytest

from pybpf import vm
from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm.compiled_flow import INLINE_LIMIT
from pybpf.vm.engines import ENGINES

FAST = sorted(name for name in ENGINES if name != "interp")


def outcome(text: str, engine: str, memory: bytes = b"", **options):
    try:
        result = vm.run(assemble(text), memory, engine=engine, **options)
        return "ok", result.r0, result.memory, result.steps
    except vm.VMFault as fault:
        return "fault", fault.pc, re.sub(r"0x[0-9a-f]+", "", fault.reason)


def diamonds(n: int) -> str:
    """n if-then diamonds in a loop of 3 rounds: more straight-line code than one root inlines."""
    body = "".join(f"    if r2 & {1 << (i % 30)} goto d{i}\n    r0 += {i + 1}\nd{i}:\n    r0 ^= r2\n" for i in range(n))
    return f"r0 = 0\nr2 = 0x5a5\nr3 = 3\nloop:\n{body}    r2 >>= 1\n    r3 -= 1\n    if r3 != 0 goto loop\nexit"


@pytest.mark.parametrize("engine", FAST)
def test_diamonds_past_the_inline_limit_agree(engine):
    text = diamonds(12)
    assert len(assemble(text)) * 3 > INLINE_LIMIT
    assert outcome(text, engine) == outcome(text, "interp")


def test_the_instruction_limit_agrees_at_every_count_through_inlined_blocks():
    text = diamonds(4)
    steps = vm.run(assemble(text)).steps
    for limit in range(1, steps + 1):
        assert outcome(text, "compiled", max_steps=limit) == outcome(text, "interp", max_steps=limit), limit


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("text", [
    "r2 = r10\nr2 += 8\nr1 = 7\n*(u8 *)(r2 - 16) = r1\nr0 = *(u8 *)(r10 - 8)\nexit",  # r10 + 8 - 16: in the frame
    "r2 = r10\nr2 += -508\nr3 = r2\n*(u32 *)(r3 - 4) = 9\nr0 = *(u32 *)(r10 - 512)\nexit",  # the frame's first word
    "r2 = r10\nr2 += -520\nr0 = *(u32 *)(r2 + 0)\nexit",  # below the frame: the region lookup faults
    "r2 = r10\nr0 = *(u32 *)(r2 - 2)\nexit",  # runs past the frame's top
    "r6 = r10\nr6 += -8\n*(u64 *)(r6 + 0) = 5\ncall 7\nr0 = *(u64 *)(r6 + 0)\nexit",  # r6 survives the call
], ids=["inside", "bottom", "below", "past-top", "after-call"])
def test_stack_accesses_through_copies_of_r10_agree(engine, text):
    assert outcome(text, engine) == outcome(text, "interp")


@pytest.mark.parametrize("engine", FAST)
def test_a_helper_called_straight_without_a_kernel_says_so(engine):
    expected = outcome("r1 = 0\nr2 = r10\ncall 1\nexit", "interp")
    assert expected[0] == "fault" and "bpf_map_lookup_elem#1 needs a kernel" in expected[2]
    assert outcome("r1 = 0\nr2 = r10\ncall 1\nexit", engine) == expected


LOOKUPS = """
    r6 = 0
    r7 = 0
loop:
    *(u32 *)(r10 - 4) = r6
    r1 = map[fd:{counts}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto missing
    r1 = r6
    *(u64 *)(r0 + 0) = r1
    goto next
missing:
    r7 += 1
next:
    r6 += 1
    if r6 < 11 goto loop
    r0 = r7
    exit
"""


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("map_type", [MapType.BPF_MAP_TYPE_ARRAY, MapType.BPF_MAP_TYPE_PERCPU_ARRAY,
                                      MapType.BPF_MAP_TYPE_HASH])
def test_lookups_past_the_end_and_on_other_maps_agree(engine, map_type):
    def run(name):
        kernel = VirtualKernel(ncpus=1)
        counts = kernel.map_create(map_type, 4, 8, 8)
        if map_type == MapType.BPF_MAP_TYPE_HASH:
            for key in range(0, 8, 2):
                kernel.map_update(counts, key.to_bytes(4, "little"), bytes(8))
        fd = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
                              assemble(LOOKUPS.format(counts=counts), helper_id=helper_id), engine=name).fd
        retval = kernel.prog_test_run(fd, bytes(64)).retval
        keys = range(0, 8, 2) if map_type == MapType.BPF_MAP_TYPE_HASH else range(8)
        return retval, [kernel.map_lookup(counts, k.to_bytes(4, "little")) for k in keys]
    assert run(engine) == run("interp")


def test_a_large_function_lays_out_at_most_twice_its_instructions():
    from pybpf.vm.check import check_program
    from pybpf.vm.compiled_flow import INLINE_FLOOR, INLINE_TOTAL, Source, function

    insns = assemble(diamonds(400))
    assert len(insns) > INLINE_FLOOR
    src = Source()
    function(src, check_program(insns, entry_regs=0b10000000110, helper_args={}), 0)
    laid_out = sum(int(line.split("b -= ")[1]) for line in src.text if "b -= " in line)
    assert len(insns) < laid_out <= (1 + INLINE_TOTAL) * len(insns)

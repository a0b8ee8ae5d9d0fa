"""Small BPF programs the virtual-kernel tests share."""

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble


def store_first_value(map_fd: int, value: int):
    """A program that looks up key 0 of the map and stores `value` as u64 at the start of its value."""
    return assemble(f"""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = {value}
        *(u64 *)(r0 + 0) = r1
    out:
        r0 = 0
        exit""", helper_id=helper_id)


def bpf_loop_sum(iterations: int, stop_after: int) -> str:
    """Assembly: bpf_loop sums the indexes into a stack slot, the callback stops after index `stop_after`;
    r0 = (bpf_loop's count << 16) | the sum."""
    return f"""
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = {iterations}
        r2 = func(callback) ll
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_loop
        r1 = *(u64 *)(r10 - 8)
        r0 <<= 16
        r0 |= r1
        exit
    callback:
        r3 = *(u64 *)(r2 + 0)
        r3 += r1
        *(u64 *)(r2 + 0) = r3
        r0 = 0
        if r1 != {stop_after} goto next
        r0 = 1
    next:
        exit
    """

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

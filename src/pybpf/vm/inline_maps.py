"""What the fast engines do without going through the generic helper path.

`inline_arrays` names the plain array maps a program refers to with lddw:
their values sit at stable addresses, so bpf_map_lookup_elem on one is
`&values[key]` or NULL, computed in the generated code (compiled Python and
native) with no helper call, and native code also runs bpf_map_update_elem
on one itself (the flags and index checks, then a copy of the value).  `hash_maps` names the plain hash
maps: native code probes their native index (vm/jit/native_hash.py), compiled Python reads their dict.
`plain_helpers` names the helpers a program
calls that never run program code (no callback argument, not a tail call):
the fast engines call their implementations straight (the compiled engine
without handing the instruction budget to them and back, native code
without going through `helper_call` from its callback).
"""

from __future__ import annotations

from ..errors import PybpfError
from ..maps.array import ArrayMap
from ..maps.hash import HashMap

# Helpers that run program code (a callback, or the tail-called program): the budget must be handed over.
RUNS_PROGRAM_CODE = frozenset({"tail_call"})


def named_maps(kernel, slots, lddw: dict[int, int], map_type: type, subclasses: bool = False) -> dict[int, object]:
    """Map handle -> map of each map of map_type the program names with lddw: exactly that type (LRU and
    per-CPU maps subclass the plain ones), or any subclass too."""
    out = {}
    for pc, value in lddw.items():
        if slots[pc].spec.op not in ("map_fd", "map_idx"):
            continue
        try:
            bpf_map = kernel.map_at(value)
        except (AttributeError, PybpfError):  # no kernel (NeedsKernel), or not a map
            continue
        if type(bpf_map) is map_type or subclasses and isinstance(bpf_map, map_type):
            out[value] = bpf_map
    return out


def inline_arrays(kernel, slots, lddw: dict[int, int]) -> dict[int, tuple[int, int, int, int]]:
    """Map handle -> (address of element 0, element size, max_entries, value size) of each plain array map
    the program names."""
    return {handle: (m.value_address(bytes(4)), m.elem_size, m.max_entries, m.value_size)
            for handle, m in named_maps(kernel, slots, lddw, ArrayMap).items() if not m.percpu}


def hash_maps(kernel, slots, lddw: dict[int, int]) -> dict[int, HashMap]:
    """Map handle -> map of each plain BPF_MAP_TYPE_HASH map the program names (not per-CPU, not LRU: their
    lookups touch more than one buffer or the LRU order, so they stay on the helper)."""
    return named_maps(kernel, slots, lddw, HashMap)


def plain_helpers(helpers, slots) -> frozenset[int]:
    """The ids of the helpers the program calls that have an implementation and never run program code."""
    called = {insn.imm for insn in slots
              if insn is not None and insn.spec.kind == "call" and insn.spec.op == "helper"}
    return frozenset(i for i in called
                     if (spec := helpers.get(i)) is not None and spec.impl is not None
                     and spec.name not in RUNS_PROGRAM_CODE and "ARG_PTR_TO_FUNC" not in spec.args)

"""The verifier's register model (struct bpf_reg_state) and how the log prints it.

A register is NOT_INIT, a SCALAR with bounds, or a pointer of a kernel
pointer type with a fixed offset (`off`) and a variable offset (the bounds).
Type names are the kernel's log spellings (reg_type_str), so messages read
"R1 type=scalar expected=fp" as on Linux.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .bounds import S32_MAX, S32_MIN, S64_MAX, S64_MIN, Bounds
from .tnum import U32, U64

NOT_INIT = "?"
SCALAR = "scalar"
CTX = "ctx"
MAP_PTR = "map_ptr"
MAP_VALUE = "map_value"
MAP_KEY = "map_key"
STACK = "fp"
PACKET = "pkt"
PACKET_META = "pkt_meta"
PACKET_END = "pkt_end"
MEM = "mem"
FUNC = "func"
SOCK = "sock"
SOCK_COMMON = "sock_common"
TCP_SOCK = "tcp_sock"
BTF_ID = "ptr_"
FLOW_KEYS = "flow_keys"
TP_BUFFER = "tp_buffer"
BUF = "buf"

PACKET_TYPES = (PACKET, PACKET_META)
SOCK_TYPES = (SOCK, SOCK_COMMON, TCP_SOCK)
# Types whose value can never be NULL once the _or_null flag is gone (reg_not_null).
NOT_NULL_TYPES = (SOCK, TCP_SOCK, MAP_VALUE, MAP_KEY, SOCK_COMMON, MEM, MAP_PTR)
MAP_TYPES = (MAP_PTR, MAP_KEY, MAP_VALUE)
# Type modifiers, in the order reg_type_str() prints them as prefixes.
FLAG_ORDER = ("rdonly", "ringbuf", "user", "percpu", "rcu", "untrusted", "trusted")
NO_FLAGS: frozenset[str] = frozenset()


@dataclass(slots=True)
class MapInfo:
    """What the verifier knows of a map object a program references."""

    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    name: str = ""
    frozen: bool = False
    inner: "MapInfo | None" = None
    values: Any = None  # read-only contents (bytes) for direct reads of frozen maps
    fd: int = -1
    # Special fields of the value from the map's BTF (btf_record): offset -> (kind, struct), kind "kptr_untrusted"
    # (__kptr_untrusted) or "kptr" (__kptr, referenced); each is an 8-byte pointer to `struct`.
    kptrs: dict = None
    # The other special fields of the value (btf_record): offset -> the kernel struct ("bpf_spin_lock", "bpf_timer").
    fields: dict = None


class Reg:
    """One register (or spilled stack slot) of the abstract state."""

    __slots__ = ("type", "null", "flags", "off", "b", "id", "ref_obj_id", "map", "range",
                 "mem_size", "frameno", "subprog", "precise", "btf_name", "decided")

    def __init__(self, type: str = NOT_INIT) -> None:
        self.type = type
        self.null = False
        self.flags: frozenset[str] = NO_FLAGS
        self.off = 0
        self.b = Bounds()
        self.id = 0
        self.ref_obj_id = 0
        self.map: MapInfo | None = None
        self.range = 0
        self.mem_size = 0
        self.frameno = 0
        self.subprog = 0
        self.precise = False
        self.btf_name = ""
        self.decided = False  # a branch was decided by this scalar's value (kept when may_goto widens)

    # copy() and assign() run for every register of every state saved: the fields spelled out, not looped.
    def copy(self) -> "Reg":
        new = Reg.__new__(Reg)
        new.type, new.null, new.flags, new.off = self.type, self.null, self.flags, self.off
        new.id, new.ref_obj_id, new.map, new.range = self.id, self.ref_obj_id, self.map, self.range
        new.mem_size, new.frameno, new.subprog, new.precise = self.mem_size, self.frameno, self.subprog, self.precise
        new.btf_name, new.decided = self.btf_name, self.decided
        new.b = self.b.copy()
        return new

    def assign(self, other: "Reg") -> None:
        self.type, self.null, self.flags, self.off = other.type, other.null, other.flags, other.off
        self.id, self.ref_obj_id, self.map, self.range = other.id, other.ref_obj_id, other.map, other.range
        self.mem_size, self.frameno, self.subprog = other.mem_size, other.frameno, other.subprog
        self.precise, self.btf_name, self.decided = other.precise, other.btf_name, other.decided
        self.b.copy_from(other.b)

    # -- constructors -----------------------------------------------------------
    def reset(self, type: str) -> None:
        """What Reg(type) holds, in place (no new register built just to be copied)."""
        self.type, self.null, self.flags, self.off = type, False, NO_FLAGS, 0
        self.id = self.ref_obj_id = self.range = self.mem_size = self.frameno = self.subprog = 0
        self.map, self.precise, self.btf_name, self.decided = None, False, "", False
        self.b.set_unknown()

    def set_not_init(self) -> None:
        self.reset(NOT_INIT)

    def set_unknown(self) -> None:
        self.reset(SCALAR)

    def set_known(self, value: int) -> None:
        self.set_unknown()
        self.b.set_const(value)

    def set_pointer(self, type: str, *, null: bool = False, **fields: Any) -> None:
        self.reset(type)
        self.b.set_const(0)
        self.null = null
        for name, value in fields.items():
            setattr(self, name, value)

    # -- queries ------------------------------------------------------------------
    @property
    def is_scalar(self) -> bool:
        return self.type == SCALAR

    @property
    def is_pointer(self) -> bool:
        return self.type not in (SCALAR, NOT_INIT)

    @property
    def is_init(self) -> bool:
        return self.type != NOT_INIT

    def is_const(self, value: int | None = None) -> bool:
        if self.type != SCALAR or not self.b.is_const:
            return False
        return value is None or self.b.value == value & U64

    @property
    def is_pkt(self) -> bool:
        return self.type in PACKET_TYPES

    def not_null(self) -> bool:
        return not self.null and self.type in NOT_NULL_TYPES

    def type_str(self) -> str:
        return type_str(self.type, self.null, self.flags)


def type_str(base: str, null: bool = False, flags: frozenset[str] = frozenset()) -> str:
    prefix = "".join(f + "_" for f in FLAG_ORDER if f in flags)
    if null and base == BTF_ID:  # reg_type_str(): "ptr_or_null_task_struct", not "ptr__or_null"
        return f"{prefix}{base}or_null_"
    return f"{prefix}{base}{'_or_null' if null else ''}"


# -- printing, as print_reg_state() / print_scalar_ranges() do --------------------
def _snum(value: int) -> str:
    value = value if value < (1 << 63) else value - (1 << 64)
    return str(value) if -512 <= value <= 512 else f"{value & U64:#x}"


def _unum(value: int) -> str:
    return str(value) if value <= 512 else f"{value:#x}"


def _scalar_ranges(b: Bounds) -> list[str]:
    s32min = b.s32_min if -512 <= b.s32_min <= 512 else b.s32_min & U32
    s32max = b.s32_max if -512 <= b.s32_max <= 512 else b.s32_max & U32
    items = [["smin", b.smin, b.smin == S64_MIN], ["smax", b.smax, b.smax == S64_MAX],
             ["umin", b.umin, b.umin == 0], ["umax", b.umax, b.umax == U64],
             ["smin32", s32min, b.s32_min == S32_MIN], ["smax32", s32max, b.s32_max == S32_MAX],
             ["umin32", b.u32_min, b.u32_min == 0], ["umax32", b.u32_max, b.u32_max == U32]]
    out = []
    for i, (name, value, omit) in enumerate(items):
        if omit:
            continue
        neg1 = name[0] == "s" and value < 0
        names = [name]
        for j in range(i + 2, len(items), 2):
            name2, value2, omit2 = items[j]
            if omit2 or (name2[0] == "s" and value2 < 0) != neg1 or (value2 & U64) != (value & U64):
                continue
            names.append(name2)
            items[j][2] = True
        shown = _snum(value) if name[0] == "s" else _unum(value)
        out.append("=".join(names) + "=" + shown)
    return out


def reg_str(reg: Reg, frameno: int = 0) -> str:
    """The text after `R1=` in a verifier log state line."""
    b = reg.b
    prefix = "P" if reg.type == SCALAR and reg.precise else ""
    if reg.type == SCALAR and b.is_const:
        return prefix + _snum(b.value)
    text = prefix + reg.type_str()
    if reg.type == STACK:
        if reg.frameno != frameno:
            text += f"[{reg.frameno}]"
        if b.is_const:
            return text + _snum((b.value + reg.off) & U64)
    if reg.type == BTF_ID:
        text += reg.btf_name
    parts = []
    if reg.id:
        parts.append(f"id={reg.id}")
    if reg.ref_obj_id:
        parts.append(f"ref_obj_id={reg.ref_obj_id}")
    if reg.type in MAP_TYPES and reg.map is not None:
        if reg.map.name:
            parts.append(f"map={reg.map.name}")
        parts.append(f"ks={reg.map.key_size},vs={reg.map.value_size}")
    if reg.type != SCALAR and reg.off:
        parts.append(f"off={_snum(reg.off)}")
    if reg.is_pkt:
        parts.append(f"r={_unum(reg.range & U64) if reg.range >= 0 else _snum(reg.range)}")
    if reg.type == MEM:
        parts.append(f"sz={_unum(reg.mem_size)}")
    if b.is_const:
        if b.value:
            parts.append(f"imm={_snum(b.value)}")
    else:
        parts.extend(_scalar_ranges(b))
        if b.var_off.mask != U64:
            parts.append(f"var_off={b.var_off}")
    return f"{text}({','.join(parts)})"

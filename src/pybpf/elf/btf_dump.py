"""BTF as text, line for line what `bpftool btf dump file OBJ` prints (its raw format).

bpftool's `dump_btf_type` (tools/bpf/bpftool/btf.c) writes one header line
per type, `[ID] KIND 'name'` and the kind's fields, then one indented line
per member, enumerator, parameter or variable.  Keeping the same text lets a
test hold our parser against bpftool on every committed object.  The values
are the file's own: no DATASEC fix-ups.
"""

from __future__ import annotations

from .btf import Btf, BtfType

_INT_ENCODING = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def _name(name: str) -> str:
    return name or "(anon)"


def _fields(btf: Btf, t: BtfType) -> str:
    """What follows `[ID] KIND 'name'` on the header line."""
    kind = t.kind
    if kind == "INT":
        return (f" size={t.size_or_type} bits_offset={t.int_offset} nr_bits={t.int_bits} "
                f"encoding={_INT_ENCODING.get(t.int_encoding, 'UNKN')}")
    if kind in ("PTR", "CONST", "VOLATILE", "RESTRICT", "TYPEDEF", "TYPE_TAG"):
        return f" type_id={t.type}"
    if kind == "ARRAY":
        return f" type_id={t.array[0]} index_type_id={t.array[1]} nr_elems={t.array[2]}"
    if kind in ("STRUCT", "UNION", "DATASEC"):
        return f" size={t.size_or_type} vlen={t.vlen}"
    if kind in ("ENUM", "ENUM64"):
        return f" encoding={'SIGNED' if t.kind_flag else 'UNSIGNED'} size={t.size_or_type} vlen={t.vlen}"
    if kind == "FWD":
        return f" fwd_kind={'union' if t.kind_flag else 'struct'}"
    if kind == "FUNC":
        return f" type_id={t.type} linkage={_LINKAGE.get(t.linkage, 'unknown')}"
    if kind == "FUNC_PROTO":
        return f" ret_type_id={t.type} vlen={t.vlen}"
    if kind == "VAR":
        return f" type_id={t.type}, linkage={_LINKAGE.get(t.linkage, 'unknown')}"
    if kind == "FLOAT":
        return f" size={t.size_or_type}"
    if kind == "DECL_TAG":
        return f" type_id={t.type} component_idx={t.component_idx}"
    return ""


def _member_lines(btf: Btf, t: BtfType) -> list[str]:
    kind = t.kind
    out = []
    for m in t.members:
        if kind in ("STRUCT", "UNION"):
            bits = f" bitfield_size={m.size}" if m.size else ""
            out.append(f"\t'{_name(m.name)}' type_id={m.type} bits_offset={m.offset}{bits}")
        elif kind == "ENUM":
            out.append(f"\t'{_name(m.name)}' val={m.offset}")
        elif kind == "ENUM64":
            out.append(f"\t'{_name(m.name)}' val={m.offset}{'LL' if t.kind_flag else 'ULL'}")
        elif kind == "FUNC_PROTO":
            out.append(f"\t'{_name(m.name)}' type_id={m.type}")
        elif kind == "DATASEC":
            var = btf[m.type]
            out.append(f"\ttype_id={m.type} offset={m.offset} size={m.size} ({var.kind} '{_name(var.name)}')")
    return out


def dump_raw(btf: Btf) -> list[str]:
    """Every type in bpftool's raw format, one list item per line."""
    lines = []
    for t in btf.iter_types():
        lines.append(f"[{t.id}] {t.kind} '{_name(t.name)}'{_fields(btf, t)}")
        lines += _member_lines(btf, t)
    return lines

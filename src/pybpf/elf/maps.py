"""Map definitions of an object: legacy `maps`, BTF-defined `.maps`, and global data.

- Legacy: each symbol of the `maps` section is a `struct bpf_map_def`
  (type, key_size, value_size, max_entries, map_flags, [inner_map_idx,
  numa_node]), the section size divided evenly among the symbols, as libbpf
  0.x did.
- BTF-defined: each VAR of the `.maps` DATASEC is a struct whose members
  encode attributes (libbpf's parse_btf_map_def): `__uint(name, N)` is a
  pointer to an array of N elements, `__type(name, T)` a pointer to T, and
  `__array(values, struct inner)` (map-in-map) or `__array(values, int
  (void *))` (program array) a zero-sized array of pointers whose initial
  slots `.rel.maps` fills.  Where each map sits comes from the symbol table:
  clang leaves DATASEC offsets at 0.
- Global data: `.data*`, `.rodata*`, `.bss*` and `.kconfig` become
  single-element array maps holding the section's bytes (libbpf's internal
  maps, value type = the section's DATASEC); `.rodata*` and `.kconfig` are
  read-only for programs.  `variables` says where each global lives.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..uapi import MapType
from .btf import Btf
from .errors import ElfError
from .relocs import RelocEntry

BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10
_LEGACY_FIELDS = ("type", "key_size", "value_size", "max_entries", "map_flags", "inner_map_idx", "numa_node")
# `__uint(name, N)` members of a BTF map definition -> MapDef attribute.
_UINT_ATTRS = {"type": "type", "max_entries": "max_entries", "map_flags": "flags", "numa_node": "numa_node",
               "pinning": "pinning", "map_extra": "map_extra", "key_size": "key_size", "value_size": "value_size"}
_MAP_IN_MAP = (MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, MapType.BPF_MAP_TYPE_HASH_OF_MAPS)


@dataclass
class MapDef:
    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    section: str = ".maps"
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    data: bytes | None = None  # initial value of a global-data map
    inner: "MapDef | None" = None  # map-in-map: the inner map's definition
    inner_values: dict[int, str] = field(default_factory=dict)  # map-in-map: slot -> inner map name
    prog_values: dict[int, str] = field(default_factory=dict)  # program array: slot -> program name
    pinning: int = 0  # LIBBPF_PIN_NONE 0, LIBBPF_PIN_BY_NAME 1
    numa_node: int = 0
    map_extra: int = 0
    symbol_offset: int = 0  # where the definition or variable sits in its section
    symbol_size: int = 0
    values_offset: int = 0  # map-in-map / program array: where `values` sits in the definition
    externs: dict[str, tuple[int, int]] = field(default_factory=dict)  # .kconfig: name -> (offset, size)
    variables: dict[str, tuple[int, int]] = field(default_factory=dict)  # global data: name -> (offset, size)

    @property
    def type_name(self) -> str:
        try:
            return MapType(self.type).name.removeprefix("BPF_MAP_TYPE_").lower()
        except ValueError:
            return f"type {self.type}"

    @property
    def readonly(self) -> bool:
        return bool(self.flags & BPF_F_RDONLY_PROG)


def is_data_section(name: str) -> bool:
    return name == ".kconfig" or any(name == p or name.startswith(p + ".") for p in (".data", ".rodata", ".bss"))


def data_map(name: str, data: bytes, btf: Btf | None = None,
             symbols: list[tuple[str, int, int]] = ()) -> MapDef:
    """The internal map of a global-data section; symbols are (name, offset, size)."""
    readonly = name.startswith(".rodata") or name == ".kconfig"
    m = MapDef(name, MapType.BPF_MAP_TYPE_ARRAY, 4, len(data), 1,
               BPF_F_MMAPABLE | (BPF_F_RDONLY_PROG if readonly else 0), name, data=data)
    sec = btf.find(name, "DATASEC") if btf is not None else None
    m.btf_value_type_id = sec.id if sec is not None else 0
    m.variables = {n: (off, size) for n, off, size in sorted(symbols, key=lambda s: s[1]) if n}
    return m


def legacy_maps(data: bytes, symbols: list[tuple[str, int]], path: str) -> list[MapDef]:
    """Map definitions from a legacy `maps` section; symbols are (name, offset)."""
    if not symbols:
        return []
    if len(data) % len(symbols):
        raise ElfError(f"{path}: maps: section of {len(data)} bytes does not divide among {len(symbols)} maps")
    size = len(data) // len(symbols)
    if size < 16:
        raise ElfError(f"{path}: maps: legacy map definitions of {size} bytes are too small (need 16)")
    out = []
    for name, offset in sorted(symbols, key=lambda s: s[1]):
        if offset + size > len(data):
            raise ElfError(f"{path}: maps+{offset:#x}: map '{name}' runs past the section ({len(data)} bytes)")
        count = min(size // 4, len(_LEGACY_FIELDS))
        values = dict(zip(_LEGACY_FIELDS, struct.unpack_from(f"<{count}I", data, offset)))
        out.append(MapDef(name, values["type"], values["key_size"], values["value_size"], values["max_entries"],
                          values.get("map_flags", 0), "maps", numa_node=values.get("numa_node", 0),
                          symbol_offset=offset, symbol_size=size))
    return out


def _btf_map(btf: Btf, name: str, struct_id: int, where: str, inner: bool = False) -> MapDef:
    st = btf.resolve(struct_id)
    if st.kind != "STRUCT":
        raise ElfError(f"{where}: map '{name}' is a {st.kind}, not a struct")
    m = MapDef(name, 0, 0, 0, 0)
    for index, member in enumerate(st.members):
        t = btf.resolve(member.type)
        if member.name == "values":
            _values(btf, m, member, index == len(st.members) - 1, where, inner)
            continue
        if t.kind != "PTR":
            raise ElfError(f"{where}: map '{name}': member '{member.name}' is not a pointer ({t.kind})")
        if member.name in ("key", "value"):
            setattr(m, f"btf_{member.name}_type_id", t.type)
            _set_size(m, f"{member.name}_size", btf.size_of(t.type), where)
        elif member.name in _UINT_ATTRS:
            target = btf.resolve(t.type)
            if target.kind != "ARRAY":
                raise ElfError(f"{where}: map '{name}': '{member.name}' must be __uint(), not a {target.kind}")
            attr = _UINT_ATTRS[member.name]
            if attr in ("key_size", "value_size"):
                _set_size(m, attr, target.array[2], where)
            else:
                setattr(m, attr, target.array[2])
        else:
            raise ElfError(f"{where}: map '{name}': unknown field '{member.name}'")
    if m.inner is not None and m.type not in _MAP_IN_MAP:
        raise ElfError(f"{where}: map '{name}': 'values' of maps needs an array or hash of maps")
    return m


def _set_size(m: MapDef, attr: str, value: int, where: str) -> None:
    if getattr(m, attr) and getattr(m, attr) != value:
        raise ElfError(f"{where}: map '{m.name}': conflicting {attr} {getattr(m, attr)} and {value}")
    setattr(m, attr, value)


def _values(btf: Btf, m: MapDef, member, last: bool, where: str, inner: bool) -> None:
    """`__array(values, ...)`: the inner map of a map-in-map, or a program array's slots."""
    if inner:
        raise ElfError(f"{where}: map '{m.name}': inner maps cannot hold maps themselves")
    if not last:
        raise ElfError(f"{where}: map '{m.name}': 'values' must be the last member")
    t = btf.resolve(member.type)
    if t.kind != "ARRAY" or t.array[2] != 0 or btf.resolve(t.array[0]).kind != "PTR":
        raise ElfError(f"{where}: map '{m.name}': 'values' must be a zero-sized array of pointers")
    _set_size(m, "value_size", 4, where)  # a map or program fd
    m.values_offset = member.offset // 8
    pointee = btf.resolve(btf.resolve(t.array[0]).type)
    if pointee.kind == "FUNC_PROTO":
        if m.type != MapType.BPF_MAP_TYPE_PROG_ARRAY:
            raise ElfError(f"{where}: map '{m.name}': 'values' of programs needs a program array")
        return
    m.inner = _btf_map(btf, f"{m.name}.inner", pointee.id, where, inner=True)


def btf_maps(btf: Btf | None, symbols: dict[str, tuple[int, int]], section_size: int, path: str) -> list[MapDef]:
    """Map definitions from the `.maps` DATASEC, in its order; symbols: name -> (offset, size)."""
    if btf is None:
        raise ElfError(f"{path}: .maps: a .maps section needs .BTF to describe it")
    sec = btf.find(".maps", "DATASEC")
    if sec is None:
        if symbols:
            raise ElfError(f"{path}: .maps: the BTF has no DATASEC for .maps")
        return []
    out = []
    for var in sec.members:
        v = btf[var.type]
        if v.kind != "VAR":
            raise ElfError(f"{path}: .maps: entry {var.type} is a {v.kind}, not a variable")
        if v.name not in symbols:
            raise ElfError(f"{path}: .maps: map '{v.name}' has no symbol in the section")
        offset, size = symbols[v.name]
        m = _btf_map(btf, v.name, v.type, f"{path}: .maps+{offset:#x}")
        def_size = var.size or btf.size_of(v.type)  # with initial `values` slots, more than the struct
        if offset + def_size > section_size or (size and size != def_size):
            raise ElfError(f"{path}: .maps+{offset:#x}: map '{v.name}' is {def_size} bytes by its BTF, "
                           f"{size} by its symbol, in a section of {section_size} bytes")
        m.symbol_offset, m.symbol_size = offset, def_size
        out.append(m)
    return out


def fill_slots(maps: list[MapDef], entries: list[RelocEntry], programs: set[str], path: str) -> None:
    """`.rel.maps`: R_BPF_64_ABS64 entries initialise the `values` slots of map-in-map and program arrays."""
    btf_defined = [m for m in maps if m.section == ".maps"]
    by_offset = {m.symbol_offset: m.name for m in btf_defined}
    for r in entries:
        where = r.where(path)
        owner = next((m for m in btf_defined if m.symbol_offset <= r.offset < m.symbol_offset + m.symbol_size), None)
        holds_slots = owner is not None and (owner.inner or owner.type == MapType.BPF_MAP_TYPE_PROG_ARRAY)
        if r.type != "R_BPF_64_ABS64" or not holds_slots:
            raise ElfError(f"{where}: {r.type} against '{r.symbol}' is not a slot of a map-in-map or program array")
        delta = r.offset - owner.symbol_offset - owner.values_offset
        if delta < 0 or delta % 8:
            raise ElfError(f"{where}: relocation is not on a 'values' slot of map '{owner.name}'")
        slot = delta // 8
        if owner.inner is not None:
            if r.symbol_section != ".maps" or by_offset.get(r.value) is None:
                raise ElfError(f"{where}: slot {slot} of map '{owner.name}' refers to '{r.symbol}', not a map")
            owner.inner_values[slot] = by_offset[r.value]
        else:
            if r.symbol not in programs:
                raise ElfError(f"{where}: slot {slot} of map '{owner.name}' refers to '{r.symbol}', not a program")
            owner.prog_values[slot] = r.symbol


def kconfig_map(btf: Btf | None) -> MapDef | None:
    """The `.kconfig` map of `extern ... __kconfig` variables, laid out in declaration order.

    Each variable is aligned to its size (up to 8), as libbpf lays them out;
    a kernel fills the values (LINUX_KERNEL_VERSION, CONFIG_*) at load time.
    """
    sec = btf.find(".kconfig", "DATASEC") if btf is not None else None
    if sec is None:
        return None
    externs, offset = {}, 0
    for var in sec.members:
        v = btf[var.type]
        size = btf.size_of(v.type)
        align = min(max(size, 1), 8)
        offset = (offset + align - 1) // align * align
        externs[v.name] = (offset, size)
        offset += size
    m = data_map(".kconfig", bytes(offset), btf)
    m.externs = externs
    return m

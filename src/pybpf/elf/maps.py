"""Map definitions of an object: legacy `maps`, BTF-defined `.maps`, and global data.

- Legacy: each symbol of the `maps` section is a `struct bpf_map_def`
  (type, key_size, value_size, max_entries, map_flags, [inner_map_idx,
  numa_node]), the section size divided evenly among the symbols, as libbpf
  does.
- BTF-defined: each VAR of the `.maps` DATASEC is a struct whose members
  encode attributes: `__uint(name, N)` is a pointer to an array of N
  elements, `__type(name, T)` a pointer to T, `__array(values, struct inner)`
  the inner map of a map-in-map.
- Global data: `.data*`, `.rodata*`, `.bss*` and `.kconfig` become
  single-element array maps holding the section's bytes (libbpf's internal
  maps); `.rodata*` and `.kconfig` are read-only for programs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..uapi import MapType
from .btf import Btf
from .errors import ElfError

BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10
_LEGACY_FIELDS = ("type", "key_size", "value_size", "max_entries", "map_flags", "inner_map_idx", "numa_node")


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
    inner: "MapDef | None" = None
    inner_values: dict[int, str] = field(default_factory=dict)  # slot -> inner map name (map-in-map)
    pinning: int = 0
    numa_node: int = 0
    map_extra: int = 0
    symbol_offset: int = 0  # where the definition or variable sits in its section
    values_offset: int = 0  # map-in-map: where the `values` array sits in the definition
    externs: dict[str, tuple[int, int]] = field(default_factory=dict)  # .kconfig: name -> (offset, size)

    @property
    def type_name(self) -> str:
        try:
            return MapType(self.type).name.removeprefix("BPF_MAP_TYPE_").lower()
        except ValueError:
            return f"type {self.type}"


def is_data_section(name: str) -> bool:
    return name == ".kconfig" or any(name == p or name.startswith(p + ".") for p in (".data", ".rodata", ".bss"))


def data_map(name: str, data: bytes) -> MapDef:
    readonly = name.startswith(".rodata") or name == ".kconfig"
    return MapDef(name, MapType.BPF_MAP_TYPE_ARRAY, 4, len(data), 1,
                  BPF_F_MMAPABLE | (BPF_F_RDONLY_PROG if readonly else 0), name, data=data)


def legacy_maps(data: bytes, symbols: list[tuple[str, int]], path: str) -> list[MapDef]:
    """Map definitions from a legacy `maps` section; symbols are (name, offset)."""
    if not symbols:
        return []
    if len(data) % len(symbols):
        raise ElfError(f"{path}: maps section of {len(data)} bytes does not divide among {len(symbols)} maps")
    size = len(data) // len(symbols)
    if size < 16:
        raise ElfError(f"{path}: legacy map definitions of {size} bytes are too small (need 16)")
    out = []
    for name, offset in sorted(symbols, key=lambda s: s[1]):
        if offset + size > len(data):
            raise ElfError(f"{path}: map '{name}' at offset {offset} runs past the maps section")
        count = min(size // 4, len(_LEGACY_FIELDS))
        values = dict(zip(_LEGACY_FIELDS, struct.unpack_from(f"<{count}I", data, offset)))
        out.append(MapDef(name, values["type"], values["key_size"], values["value_size"], values["max_entries"],
                          values.get("map_flags", 0), "maps", numa_node=values.get("numa_node", 0),
                          symbol_offset=offset))
    return out


def _btf_map(btf: Btf, name: str, struct_id: int, path: str) -> MapDef:
    st = btf.resolve(struct_id)
    if st.kind != "STRUCT":
        raise ElfError(f"{path}: .maps variable '{name}' is a {st.kind}, not a struct")
    attrs: dict[str, int] = {}
    m = MapDef(name, 0, 0, 0, 0)
    for member in st.members:
        t = btf.resolve(member.type)
        if member.name == "values":  # __array(values, struct inner): array of pointers to the inner def
            if t.kind != "ARRAY":
                raise ElfError(f"{path}: map '{name}': 'values' must be an array of pointers")
            ptr = btf.resolve(t.array[0])
            m.inner = _btf_map(btf, f"{name}.inner", ptr.type, path)
            m.values_offset = member.offset // 8
            continue
        if t.kind != "PTR":
            raise ElfError(f"{path}: map '{name}': member '{member.name}' is not a pointer ({t.kind})")
        target = btf.resolve(t.type)
        if member.name in ("key", "value"):
            setattr(m, f"btf_{member.name}_type_id", t.type)
            attrs[f"{member.name}_size"] = btf.size_of(t.type)
        elif target.kind == "ARRAY":
            attrs[member.name] = target.array[2]
        else:
            raise ElfError(f"{path}: map '{name}': cannot read member '{member.name}'")
    m.type = attrs.get("type", 0)
    m.key_size = attrs.get("key_size", 0)
    m.value_size = attrs.get("value_size", 0)
    m.max_entries = attrs.get("max_entries", 0)
    m.flags = attrs.get("map_flags", 0)
    m.pinning = attrs.get("pinning", 0)
    m.numa_node = attrs.get("numa_node", 0)
    m.map_extra = attrs.get("map_extra", 0)
    if m.inner is not None:
        m.value_size = 4  # an fd of the inner map
    return m


def btf_maps(btf: Btf | None, path: str) -> list[MapDef]:
    """Map definitions from the `.maps` DATASEC of the object's BTF."""
    if btf is None:
        raise ElfError(f"{path}: a .maps section needs .BTF to describe it")
    sec = btf.find(".maps", "DATASEC")
    if sec is None:
        return []
    out = []
    for var in sec.members:
        v = btf[var.type]
        if v.kind != "VAR":
            raise ElfError(f"{path}: .maps entry {var.type} is a {v.kind}, not a variable")
        m = _btf_map(btf, v.name, v.type, path)
        m.symbol_offset = var.offset
        out.append(m)
    return out


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
    m = data_map(".kconfig", bytes(offset))
    m.externs = externs
    return m

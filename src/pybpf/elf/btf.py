"""BTF: the BPF Type Format of `.BTF` sections (Documentation/bpf/btf.rst).

`Btf.parse(data)` reads the header, the string section and every type kind
(INT through ENUM64).  Types are numbered from 1 (0 is void).  `resolve`
follows typedefs and modifiers, `size_of` computes sizes, `describe` renders
a type as C.  Errors are `ElfError`s naming the offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .errors import ElfError

BTF_MAGIC = 0xEB9F
KINDS = {0: "UNKN", 1: "INT", 2: "PTR", 3: "ARRAY", 4: "STRUCT", 5: "UNION", 6: "ENUM", 7: "FWD",
         8: "TYPEDEF", 9: "VOLATILE", 10: "CONST", 11: "RESTRICT", 12: "FUNC", 13: "FUNC_PROTO",
         14: "VAR", 15: "DATASEC", 16: "FLOAT", 17: "DECL_TAG", 18: "TYPE_TAG", 19: "ENUM64"}
# Bytes that follow the common 12-byte header: (fixed, per vlen item).
_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0), 15: (0, 12),
          17: (4, 0), 19: (0, 12)}
_MODIFIERS = {"TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"}


@dataclass
class Member:
    name: str
    type: int
    offset: int  # bits for struct members; value for enums; offset in bytes for datasec vars
    size: int = 0  # bitfield size (struct), or byte size (datasec)


@dataclass
class BtfType:
    id: int
    kind: str
    name: str
    size_or_type: int  # size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, else a type id
    vlen: int
    kind_flag: bool
    members: list[Member] = field(default_factory=list)
    int_bits: int = 0
    int_encoding: int = 0  # 1 signed, 2 char, 4 bool
    array: tuple[int, int, int] = (0, 0, 0)  # element type, index type, nelems
    linkage: int = 0

    @property
    def type(self) -> int:
        return self.size_or_type


class Btf:
    """The types and strings of one BTF blob."""

    def __init__(self, types: list[BtfType], strings: bytes):
        self.types = types  # index = type id; types[0] is void
        self.strings = strings

    @classmethod
    def parse(cls, data: bytes) -> "Btf":
        if len(data) < 24:
            raise ElfError(f".BTF: {len(data)} bytes is too short for a BTF header")
        magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != BTF_MAGIC:
            raise ElfError(f".BTF: bad magic {magic:#06x} (expected {BTF_MAGIC:#06x})")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        base = hdr_len
        if base + type_off + type_len > len(data) or base + str_off + str_len > len(data):
            raise ElfError(f".BTF: type or string section runs past the end ({len(data)} bytes)")
        strings = data[base + str_off: base + str_off + str_len]
        btf = cls([BtfType(0, "VOID", "void", 0, 0, False)], strings)
        pos, end = base + type_off, base + type_off + type_len
        while pos < end:
            pos = btf._parse_type(data, pos, end)
        return btf

    def string(self, offset: int) -> str:
        if offset >= len(self.strings) and offset:
            raise ElfError(f".BTF: string offset {offset} is past the string section ({len(self.strings)} bytes)")
        stop = self.strings.find(b"\0", offset)
        return self.strings[offset:stop if stop >= 0 else len(self.strings)].decode(errors="replace")

    def _parse_type(self, data: bytes, pos: int, end: int) -> int:
        if pos + 12 > end:
            raise ElfError(f".BTF: truncated type at offset {pos}")
        name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
        kind_no, vlen, kind_flag = (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31)
        if kind_no not in KINDS or kind_no == 0:
            raise ElfError(f".BTF: unknown type kind {kind_no} at offset {pos}")
        fixed, per_item = _EXTRA.get(kind_no, (0, 0))
        body = pos + 12
        nxt = body + fixed + per_item * vlen
        if nxt > end:
            raise ElfError(f".BTF: type {len(self.types)} at offset {pos} runs past the type section")
        t = BtfType(len(self.types), KINDS[kind_no], self.string(name_off), size_or_type, vlen, kind_flag)
        if t.kind == "INT":
            (encoding,) = struct.unpack_from("<I", data, body)
            t.int_bits, t.int_encoding = encoding & 0xFF, (encoding >> 24) & 0xF
        elif t.kind == "ARRAY":
            t.array = struct.unpack_from("<III", data, body)
        elif t.kind in ("VAR", "DECL_TAG"):
            (t.linkage,) = struct.unpack_from("<i", data, body)
        elif t.kind == "FUNC":
            t.linkage = vlen
        for i in range(vlen if per_item else 0):
            at = body + fixed + per_item * i
            if t.kind in ("STRUCT", "UNION"):
                n, ty, off = struct.unpack_from("<III", data, at)
                bits = off >> 24 if kind_flag else 0
                t.members.append(Member(self.string(n), ty, off & 0xFFFFFF if kind_flag else off, bits))
            elif t.kind == "ENUM":
                n, val = struct.unpack_from("<Ii", data, at)
                t.members.append(Member(self.string(n), 0, val))
            elif t.kind == "ENUM64":
                n, lo, hi = struct.unpack_from("<III", data, at)
                t.members.append(Member(self.string(n), 0, lo | hi << 32))
            elif t.kind == "FUNC_PROTO":
                n, ty = struct.unpack_from("<II", data, at)
                t.members.append(Member(self.string(n), ty, 0))
            elif t.kind == "DATASEC":
                ty, off, size = struct.unpack_from("<III", data, at)
                t.members.append(Member(self.types[ty].name if ty < len(self.types) else "", ty, off, size))
        self.types.append(t)
        return nxt

    # -- queries -------------------------------------------------------------
    def __getitem__(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise ElfError(f".BTF: no type with id {type_id} ({len(self.types) - 1} types)")
        return self.types[type_id]

    def __len__(self) -> int:
        return len(self.types) - 1

    def find(self, name: str, kind: str | None = None) -> BtfType | None:
        for t in self.types:
            if t.name == name and (kind is None or t.kind == kind):
                return t
        return None

    def resolve(self, type_id: int) -> BtfType:
        """Follow typedefs and modifiers to the underlying type."""
        t = self[type_id]
        seen = 0
        while t.kind in _MODIFIERS:
            t = self[t.type]
            seen += 1
            if seen > 64:
                raise ElfError(f".BTF: type {type_id} loops through modifiers")
        return t

    def size_of(self, type_id: int) -> int:
        t = self.resolve(type_id)
        if t.kind in ("INT", "STRUCT", "UNION", "ENUM", "ENUM64", "DATASEC", "FLOAT"):
            return t.size_or_type
        if t.kind == "PTR":
            return 8
        if t.kind == "ARRAY":
            return t.array[2] * self.size_of(t.array[0])
        if t.kind == "VAR":
            return self.size_of(t.type)
        raise ElfError(f".BTF: type {type_id} ({t.kind}) has no size")

    def describe(self, type_id: int, name: str = "") -> str:
        """The type as a C declaration of `name` (`unsigned int`, `struct event *p`, `char comm[16]`)."""
        t = self[type_id]
        suffix = f" {name}" if name else ""
        if t.kind == "VOID":
            return "void" + suffix
        if t.kind in ("INT", "FLOAT", "TYPEDEF"):
            return t.name + suffix
        if t.kind in ("STRUCT", "UNION", "ENUM", "ENUM64", "FWD"):
            word = {"ENUM64": "enum", "FWD": "union" if t.kind_flag else "struct"}.get(t.kind, t.kind.lower())
            return f"{word} {t.name or '(anon)'}" + suffix
        if t.kind == "PTR":
            return self.describe(t.type, "*" + name)
        if t.kind in ("CONST", "VOLATILE", "RESTRICT"):
            return f"{t.kind.lower()} {self.describe(t.type, name)}"
        if t.kind == "TYPE_TAG":
            return self.describe(t.type, name)
        if t.kind == "ARRAY":
            return self.describe(t.array[0], f"{name}[{t.array[2]}]")
        if t.kind == "FUNC_PROTO":
            params = ", ".join(self.describe(m.type, m.name) for m in t.members) or "void"
            return self.describe(t.type, f"({name})({params})")
        if t.kind == "FUNC":
            return self.describe(t.type, t.name)
        if t.kind == "VAR":
            return self.describe(t.type, t.name)
        return f"{t.kind.lower()} {t.name}"

    def describe_struct(self, type_id: int) -> str:
        """A struct or union with its members, one per line."""
        t = self.resolve(type_id)
        if t.kind not in ("STRUCT", "UNION"):
            return self.describe(type_id)
        lines = [f"{t.kind.lower()} {t.name or '(anon)'} {{"]
        for m in t.members:
            bits = f" : {m.size}" if m.size else ""
            lines.append(f"\t{self.describe(m.type, m.name)}{bits};")
        lines.append("};")
        return "\n".join(lines)

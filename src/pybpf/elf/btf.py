"""BTF: the BPF Type Format of `.BTF` sections (Documentation/bpf/btf.rst).

`Btf.parse(data)` reads the header, the string section and every type kind
(INT through ENUM64), and checks that every type id a type refers to
exists, so that later queries cannot fail on a dangling reference.  Types
are numbered from 1 (0 is void).  `resolve` follows typedefs and
modifiers, `size_of` computes sizes, `describe` renders a type as a C
declaration.  The raw, bpftool-style listing lives in `btf_dump`.

The BTF is kept as the object states it: clang leaves the size of each
DATASEC and the offsets of its variables at 0 for the loader to fill in
from the ELF section and symbol table (libbpf's btf_fixup_datasec), and so
do we: the loader takes offsets from the symbols, never from the DATASEC.
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
_QUALIFIERS = {"CONST", "VOLATILE", "RESTRICT"}
_SIZED = {"INT", "STRUCT", "UNION", "ENUM", "ENUM64", "DATASEC", "FLOAT"}  # size_or_type is a size
_MAX_DEPTH = 64  # deeper type chains are loops in a malformed object


@dataclass
class Member:
    """A struct/union member, enumerator, function parameter or DATASEC variable."""

    name: str
    type: int
    offset: int  # bits for struct members; the value for enumerators; bytes for DATASEC variables
    size: int = 0  # bitfield size in bits (struct members), byte size (DATASEC variables)


@dataclass
class BtfType:
    id: int
    kind: str
    name: str
    size_or_type: int  # size for INT/STRUCT/UNION/ENUM/ENUM64/DATASEC/FLOAT, else a type id
    vlen: int
    kind_flag: bool
    members: list[Member] = field(default_factory=list)
    int_bits: int = 0
    int_offset: int = 0
    int_encoding: int = 0  # 1 signed, 2 char, 4 bool
    array: tuple[int, int, int] = (0, 0, 0)  # element type, index type, nelems
    linkage: int = 0  # VAR and FUNC: 0 static, 1 global, 2 extern; DECL_TAG: component_idx
    name_off: int = 0  # the name's offset in the string section
    position: int = 0  # bytes into the type section where the type starts (for rewriting it in place)

    @property
    def type(self) -> int:
        return self.size_or_type

    @property
    def component_idx(self) -> int:
        """DECL_TAG: -1 for the tagged type itself, else the member or parameter index."""
        return self.linkage

    def references(self) -> list[int]:
        """The type ids this type refers to."""
        refs = [] if self.kind in _SIZED or self.kind in ("VOID", "FWD") else [self.type]
        if self.kind == "ARRAY":
            refs += self.array[:2]
        if self.kind in ("STRUCT", "UNION", "FUNC_PROTO", "DATASEC"):
            refs += [m.type for m in self.members]
        return refs


class Btf:
    """The types and strings of one BTF blob."""

    def __init__(self, types: list[BtfType], strings: bytes, version: int = 1, flags: int = 0,
                 type_data: bytes = b""):
        self.types = types  # index = type id; types[0] is void
        self.strings = strings
        self.version = version
        self.flags = flags
        self.type_data = type_data  # the type section's raw bytes, as the object has it
        self._type_start = 0

    @classmethod
    def parse(cls, data: bytes) -> "Btf":
        if len(data) < 24:
            raise ElfError(f".BTF: {len(data)} bytes is too short for a BTF header")
        magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != BTF_MAGIC:
            raise ElfError(f".BTF: bad magic {magic:#06x} (expected {BTF_MAGIC:#06x}; a big-endian object?)")
        if version != 1:
            raise ElfError(f".BTF: version {version} is not supported (expected 1)")
        if not 24 <= hdr_len <= len(data):
            raise ElfError(f".BTF: header length {hdr_len} does not fit the section ({len(data)} bytes)")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        base = hdr_len
        if base + type_off + type_len > len(data) or base + str_off + str_len > len(data):
            raise ElfError(f".BTF: type or string section runs past the end ({len(data)} bytes)")
        if type_off % 4 or type_len % 4:
            raise ElfError(f".BTF: type section at {type_off}+{type_len} is not 4-byte aligned")
        strings = data[base + str_off: base + str_off + str_len]
        btf = cls([BtfType(0, "VOID", "void", 0, 0, False)], strings, version, flags,
                  data[base + type_off: base + type_off + type_len])
        pos, end = base + type_off, base + type_off + type_len
        btf._type_start = pos
        while pos < end:
            pos = btf._parse_type(data, pos, end)
        btf._check_references()
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
        t = BtfType(len(self.types), KINDS[kind_no], self.string(name_off), size_or_type, vlen, kind_flag,
                    name_off=name_off, position=pos - self._type_start)
        if t.kind == "INT":
            (encoding,) = struct.unpack_from("<I", data, body)
            t.int_bits, t.int_offset, t.int_encoding = encoding & 0xFF, (encoding >> 16) & 0xFF, (encoding >> 24) & 0xF
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
                n, val = struct.unpack_from("<Ii" if kind_flag else "<II", data, at)
                t.members.append(Member(self.string(n), 0, val))
            elif t.kind == "ENUM64":
                n, lo, hi = struct.unpack_from("<III", data, at)
                value = lo | hi << 32
                if kind_flag and value >> 63:
                    value -= 1 << 64
                t.members.append(Member(self.string(n), 0, value))
            elif t.kind == "FUNC_PROTO":
                n, ty = struct.unpack_from("<II", data, at)
                t.members.append(Member(self.string(n), ty, 0))
            elif t.kind == "DATASEC":
                ty, off, size = struct.unpack_from("<III", data, at)
                t.members.append(Member("", ty, off, size))
        self.types.append(t)
        return nxt

    def _check_references(self) -> None:
        last = len(self.types) - 1
        for t in self.types:
            for ref in t.references():
                if ref > last:
                    raise ElfError(f".BTF: type {t.id} ({t.kind} '{t.name}') refers to type {ref}, "
                                   f"past the last type {last}")
        for t in self.types:  # DATASEC variables are named after their VAR
            if t.kind == "DATASEC":
                for m in t.members:
                    m.name = self.types[m.type].name

    # -- queries -------------------------------------------------------------
    def __getitem__(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise ElfError(f".BTF: no type with id {type_id} ({len(self.types) - 1} types)")
        return self.types[type_id]

    def __len__(self) -> int:
        return len(self.types) - 1

    def iter_types(self):
        """Every type but void, in id order."""
        return iter(self.types[1:])

    def find(self, name: str, kind: str | None = None) -> BtfType | None:
        for t in self.types:
            if t.name == name and (kind is None or t.kind == kind):
                return t
        return None

    def resolve(self, type_id: int) -> BtfType:
        """Follow typedefs and modifiers to the underlying type."""
        t = self[type_id]
        for _ in range(_MAX_DEPTH):
            if t.kind not in _MODIFIERS:
                return t
            t = self[t.type]
        raise ElfError(f".BTF: type {type_id} loops through modifiers")

    def size_of(self, type_id: int, _depth: int = 0) -> int:
        t = self.resolve(type_id)
        if _depth > _MAX_DEPTH:
            raise ElfError(f".BTF: type {type_id} nests too deeply (a loop?)")
        if t.kind in _SIZED:
            return t.size_or_type
        if t.kind == "PTR":
            return 8
        if t.kind == "ARRAY":
            return t.array[2] * self.size_of(t.array[0], _depth + 1)
        if t.kind == "VAR":
            return self.size_of(t.type, _depth + 1)
        raise ElfError(f".BTF: type {type_id} ({t.kind}) has no size")

    def describe(self, type_id: int, name: str = "", _depth: int = 0) -> str:
        """The type as a C declaration of `name`: `unsigned int`, `struct event *p`,
        `char comm[16]`, `int (*fn)(void *, long)`, `char *const p`, `int handle(struct s *s)`."""
        if _depth > _MAX_DEPTH:
            raise ElfError(f".BTF: type {type_id} nests too deeply to describe (a loop?)")
        t = self[type_id]
        d = _depth + 1
        suffix = f" {name}" if name and not name.startswith("[") else name  # `char [4]` reads `char[4]`
        grouped = f"({name})" if name.startswith("*") else name  # `(*p)[4]`, `(*fn)(int)`
        if t.kind == "VOID":
            return "void" + suffix
        if t.kind in ("INT", "FLOAT", "TYPEDEF"):
            return t.name + suffix
        if t.kind in ("STRUCT", "UNION", "ENUM", "ENUM64", "FWD"):
            word = {"ENUM64": "enum", "FWD": "union" if t.kind_flag else "struct"}.get(t.kind, t.kind.lower())
            return f"{word} {t.name or '{...}'}" + suffix
        if t.kind == "PTR":
            return self.describe(t.type, "*" + name, d)
        if t.kind in _QUALIFIERS:
            word = t.kind.lower()
            if self[t.type].kind == "PTR":  # the pointer itself is qualified: `char *const p`
                return self.describe(t.type, f"{word} {name}".rstrip(), d)
            return f"{word} {self.describe(t.type, name, d)}"
        if t.kind == "TYPE_TAG":
            return f'{self.describe(t.type, "", d)} __attribute__((btf_type_tag("{t.name}")))' + suffix
        if t.kind == "ARRAY":
            return self.describe(t.array[0], f"{grouped}[{t.array[2]}]", d)
        if t.kind == "FUNC_PROTO":
            params = [("..." if m.type == 0 else self.describe(m.type, m.name, d)) for m in t.members]
            return self.describe(t.type, f"{grouped}({', '.join(params) or 'void'})", d)
        if t.kind in ("FUNC", "VAR"):
            return self.describe(t.type, t.name, d)
        if t.kind == "DECL_TAG":
            target = self[t.type]
            where = target.name
            parts = self[target.type].members if target.kind == "FUNC" else target.members  # params
            if 0 <= t.component_idx < len(parts):
                where += "." + (parts[t.component_idx].name or f"#{t.component_idx}")
            return f'btf_decl_tag("{t.name}") on {where}'
        return f"{t.kind.lower()} {t.name}"

    def describe_struct(self, type_id: int) -> str:
        """A struct or union with its members, one per line."""
        t = self.resolve(type_id)
        if t.kind not in ("STRUCT", "UNION"):
            return self.describe(type_id)
        lines = [f"{t.kind.lower()} {t.name + ' ' if t.name else ''}{{"]
        for m in t.members:
            bits = f" : {m.size}" if m.size else ""
            lines.append(f"\t{self.describe(m.type, m.name)}{bits};")
        lines.append("};")
        return "\n".join(lines)

    def member_path(self, type_id: int, access: list[int]) -> str:
        """A CO-RE access path (`0:2:1`) as C: `struct task_struct.mm`, `struct s[1].a[3]`."""
        t = self.resolve(type_id)
        text = self.describe(type_id)
        if access and access[0]:
            text += f"[{access[0]}]"
        for index in access[1:]:
            if t.kind in ("STRUCT", "UNION") and index < len(t.members):
                member = t.members[index]
                text += "." + (member.name or f"<anon#{index}>")
                t = self.resolve(member.type)
            elif t.kind == "ARRAY":
                text += f"[{index}]"
                t = self.resolve(t.array[0])
            else:
                text += f":{index}"
        return text

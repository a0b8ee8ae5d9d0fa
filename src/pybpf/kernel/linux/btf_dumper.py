"""Map keys and values printed through their BTF, as `bpftool map dump` does for a map with BTF.

bpftool (tools/bpf/bpftool/btf_dumper.c) walks the value by its type and
writes it with its json_writer in pretty mode, even in plain output: ints in
decimal (bitfields and odd-sized ints in hex), printable chars quoted, char
arrays holding a string as one string, pointers as C's %p, enums by their
enumerator, structs as objects, DATASECs as an object holding the array of
their variables.  `JsonWriter` is that writer's layout, byte for byte.
"""

from __future__ import annotations

import struct

from ...elf.btf import Btf

_INT_FORMATS = {(64, False): "<Q", (32, False): "<I", (16, False): "<H", (8, False): "<B",
                (64, True): "<q", (32, True): "<i", (16, True): "<h", (8, True): "<b"}
BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL = 1, 2, 4


class JsonWriter:
    """bpftool's json_writer.c with pretty=1: four spaces a level, `},{` between array elements."""

    def __init__(self):
        self.out: list[str] = []
        self.depth, self.sep = 0, ""

    def _eol(self) -> None:
        self.out.append("\n" + "    " * self.depth)

    def _eor(self) -> None:
        self.out.append(self.sep)
        self.sep = ","

    def begin(self, char: str) -> None:
        self._eor()
        self.out.append(char)
        self.depth += 1
        self.sep = ""

    def end(self, char: str) -> None:
        self.depth -= 1
        if self.sep:
            self._eol()
        self.out.append(char)
        self.sep = ","

    def name(self, name: str) -> None:
        self._eor()
        self._eol()
        self.sep = ""
        self.out.append(f'"{name}": ')

    def value(self, text: str) -> None:
        self._eor()
        self.out.append(text)

    def text(self) -> str:
        return "".join(self.out)


def _bits(data: bytes, bit_offset: int, bits: int) -> int:
    raw = int.from_bytes(data[:(bit_offset + bits + 7) // 8], "little")
    return (raw >> bit_offset) & ((1 << bits) - 1)


def _is_string(btf: Btf, elem: int, data: bytes) -> bool:
    """bpftool's is_str_array: 1-byte char elements, printable up to a NUL that comes before the end."""
    t = btf.resolve(elem)
    if t.kind != "INT" or t.size_or_type != 1 or not (t.int_encoding & BTF_INT_CHAR or t.name == "char"):
        return False
    end = data.find(b"\0")
    return end >= 0 and all(32 <= c < 127 for c in data[:end])


def _pointer(value: int) -> str:
    return f"{value:#x}" if value else "(nil)"


class Dumper:
    def __init__(self, btf: Btf, writer: JsonWriter):
        self.btf, self.w = btf, writer

    def dump(self, type_id: int, data: bytes, bit_offset: int = 0, bitfield: int = 0) -> None:
        t = self.btf[type_id]
        if bitfield or bit_offset:
            self.w.value(f"{_bits(data, bit_offset, bitfield or self.btf.size_of(type_id) * 8):#x}")
            return
        kind = t.kind
        if kind in ("TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"):
            self.dump(t.type, data)
        elif kind == "INT":
            self._int(t, data)
        elif kind == "PTR":
            self.w.value(_pointer(struct.unpack_from("<Q", data)[0]))
        elif kind in ("ENUM", "ENUM64"):
            value = int.from_bytes(data[:t.size_or_type], "little", signed=t.kind_flag)
            name = next((m.name for m in t.members if m.offset == value), None)
            self.w.value(f'"{name}"' if name is not None else str(value))
        elif kind == "ARRAY":
            self._array(t, data)
        elif kind in ("STRUCT", "UNION"):
            self.w.begin("{")
            for m in t.members:
                bitfield = m.size if t.kind_flag else 0
                self.w.name(m.name)
                self.dump(m.type, data[m.offset // 8:], m.offset % 8 if bitfield or m.offset % 8 else 0, bitfield)
            self.w.end("}")
        elif kind == "VAR":
            self.w.begin("{")
            self.w.name(t.name)
            self.dump(t.type, data)
            self.w.end("}")
        elif kind == "DATASEC":
            self.w.begin("{")
            self.w.name(t.name)
            self.w.begin("[")
            for m in t.members:
                self.dump(m.type, data[m.offset:])
            self.w.end("]")
            self.w.end("}")
        elif kind == "FLOAT":
            fmt = {4: "<f", 8: "<d"}.get(t.size_or_type)
            self.w.value(f"{struct.unpack_from(fmt, data)[0]:f}" if fmt else "0")
        else:
            self.w.value(f"/* {kind.lower()} */")

    def _int(self, t, data: bytes) -> None:
        bits, encoding = t.int_bits, t.int_encoding
        if t.int_offset or bits not in (8, 16, 32, 64):
            self.w.value(f"{_bits(data, t.int_offset, bits):#x}")
        elif encoding & BTF_INT_BOOL:
            self.w.value("true" if any(data[:t.size_or_type]) else "false")
        elif encoding & BTF_INT_CHAR:
            c = data[0]
            self.w.value(f'"{chr(c)}"' if 32 <= c < 127 else f"{c:#x}")
        else:
            self.w.value(str(struct.unpack_from(_INT_FORMATS[bits, bool(encoding & BTF_INT_SIGNED)], data)[0]))

    def _array(self, t, data: bytes) -> None:
        elem, _, count = t.array
        size = self.btf.size_of(elem)
        if _is_string(self.btf, elem, data[:size * count]):
            text = data[:size * count].split(b"\0", 1)[0].decode()
            self.w.value(f'"{text}"')
            return
        self.w.begin("[")
        for i in range(count):
            self.dump(elem, data[i * size:])
        self.w.end("]")


def dump_entries(btf: Btf, key_type: int, value_type: int, entries, ncpus_values=None) -> str:
    """The `[{ "key": ..., "value": ... }, ...]` text of entries [(key, value)], ending in a newline.
    ncpus_values: for per-CPU maps, entries' values as a list of per-CPU values."""
    w = JsonWriter()
    d = Dumper(btf, w)
    w.begin("[")
    for key, value in entries:
        w.begin("{")
        if key_type:
            w.name("key")
            d.dump(key_type, key)
        if ncpus_values is None:
            w.name("value")
            d.dump(value_type, value)
        else:
            w.name("values")
            w.begin("[")
            for cpu, slot in enumerate(value):
                w.begin("{")
                w.name("cpu")
                w.value(str(cpu))
                w.name("value")
                d.dump(value_type, slot)
                w.end("}")
            w.end("]")
        w.end("}")
    w.end("]")
    return w.text() + "\n"

"""BTF: every kind parsed, names, sizes, resolution, and C-like describe() text."""

import struct

import pytest

from pybpf import elf
from pybpf.elf import Btf, ElfError
from support.objects import object_path


@pytest.fixture(scope="module")
def btf():
    return elf.load(object_path("btf_kinds")).btf


def _member(btf, struct_name, member):
    st = btf.find(struct_name, "STRUCT")
    return next(m for m in st.members if m.name == member)


@pytest.mark.parametrize("member,text", [
    ("name", "const char *name"),
    ("counter", "volatile __u64 counter"),
    ("buf", "void *restrict buf"),
    ("w", "union word w"),
    ("c", "enum color c"),
    ("priv", "struct opaque *priv"),
    ("on_event", "handler_t on_event"),
    ("matrix", "int (*matrix)[3]"),
    ("argv", "char *argv[2]"),
    ("ratio", "float ratio"),
    ("scale", "double scale"),
    ("flags", "unsigned int flags"),
    ("uptr", 'int __attribute__((btf_type_tag("user"))) *uptr'),
    ("pos", "struct {...} pos"),
    ("ok", "_Bool ok"),
])
def test_describe_members_as_c(btf, member, text):
    m = _member(btf, "sample", member)
    assert btf.describe(m.type, m.name) == text


@pytest.mark.parametrize("name,kind,text", [
    ("handler_t", "TYPEDEF", "handler_t"),
    ("handle", "FUNC", "int handle(struct sample *s, long arg)"),
    ("kinds", "FUNC", "int kinds(void *ctx)"),
    ("read_only_ptr", "VAR", "char *const read_only_ptr"),
    ("cfg_level", "VAR", "const volatile unsigned char cfg_level"),
    ("samples", "VAR", "struct sample samples[2]"),
    ("counter", "DECL_TAG", 'btf_decl_tag("counter") on sample.tagged'),
    ("arg", "DECL_TAG", 'btf_decl_tag("arg") on handle.s'),
    ("helper", "DECL_TAG", 'btf_decl_tag("helper") on handle'),
])
def test_describe_named_types(btf, name, kind, text):
    assert btf.describe(btf.find(name, kind).id) == text


def test_typedef_resolves_to_a_pointer_to_a_prototype(btf):
    handler = btf.find("handler_t", "TYPEDEF")
    assert btf.resolve(handler.id).kind == "PTR"
    assert btf.describe(btf.resolve(handler.id).id, "fn") == "int (*fn)(void *, long)"


def test_every_kind_clang_emits_is_present(btf):
    kinds = {t.kind for t in btf.iter_types()}
    assert kinds == {"INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE", "CONST",
                     "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG"}


def test_sizes_and_offsets(btf):
    sample = btf.find("sample", "STRUCT")
    assert btf.size_of(sample.id) == 120
    assert btf.size_of(btf.find("samples", "VAR").id) == 240
    flags, mode = _member(btf, "sample", "flags"), _member(btf, "sample", "mode")
    assert (flags.offset, flags.size, mode.offset, mode.size) == (704, 4, 708, 12)
    assert btf.size_of(_member(btf, "sample", "argv").type) == 16


def test_enum_values_and_encodings(btf):
    color = btf.find("color", "ENUM")
    assert [(m.name, m.offset) for m in color.members] == [("RED", 0), ("GREEN", 5), ("BLUE", 0xFFFFFFFF)]
    char = btf.find("char", "INT")
    assert (char.int_bits, char.int_encoding) == (8, 1)
    assert btf.find("_Bool", "INT").int_encoding == 4


def test_linkage_and_fwd_kind(btf):
    assert btf.find("handle", "FUNC").linkage == 0  # static
    assert btf.find("kinds", "FUNC").linkage == 1  # global
    assert btf.find("opaque", "FWD").kind_flag is False  # struct, not union


def test_describe_struct(btf):
    text = btf.describe_struct(btf.find("word", "UNION").id)
    assert text == "union word {\n\t__u32 whole;\n\t__u8 bytes[4];\n};"


# -- hand-built BTF: ENUM64 (clang-14 does not emit it) and malformed blobs -----------------

def _btf(types: bytes, strings: bytes, **header) -> bytes:
    fields = dict(magic=0xEB9F, version=1, hdr_len=24, type_off=0, type_len=len(types),
                  str_off=len(types), str_len=len(strings))
    fields.update(header)
    head = struct.pack("<HBBIIIII", fields["magic"], fields["version"], 0, fields["hdr_len"],
                       fields["type_off"], fields["type_len"], fields["str_off"], fields["str_len"])
    return head + types + strings


STRINGS = b"\0big\0SMALL\0HUGE\0u64\0"


def _info(kind, vlen=0, kind_flag=0):
    return kind << 24 | vlen | kind_flag << 31


def test_enum64_hand_built():
    enum64 = struct.pack("<III", 1, _info(19, 2, 1), 8)
    enum64 += struct.pack("<III", 5, 1, 0) + struct.pack("<III", 11, 0xFFFFFFFF, 0xFFFFFFFF)
    btf = Btf.parse(_btf(enum64, STRINGS))
    t = btf[1]
    assert (t.kind, t.name, btf.size_of(1), btf.describe(1)) == ("ENUM64", "big", 8, "enum big")
    assert [(m.name, m.offset) for m in t.members] == [("SMALL", 1), ("HUGE", -1)]  # kind_flag: signed


@pytest.mark.parametrize("blob,message", [
    (_btf(b"", b"\0", magic=0x9FEB), "bad magic 0x9feb"),
    (_btf(b"", b"\0", version=2), "version 2"),
    (_btf(b"", b"\0", hdr_len=4096), "header length 4096"),
    (_btf(b"", b"\0", str_len=99), "runs past the end"),
    (_btf(struct.pack("<III", 0, _info(2), 7), b"\0"), "refers to type 7"),
    (_btf(struct.pack("<III", 0, _info(25), 0), b"\0"), "unknown type kind 25"),
    (_btf(struct.pack("<III", 99, _info(1), 4) + bytes(4), b"\0"), "string offset 99"),
    (_btf(struct.pack("<III", 0, _info(4, 3), 8), b"\0"), "runs past the type section"),
    (b"\x9f\xeb\x01", "too short"),
])
def test_malformed_btf(blob, message):
    with pytest.raises(ElfError, match=message):
        Btf.parse(blob)


def test_modifier_loop_is_an_error_not_a_hang():
    loop = struct.pack("<III", 0, _info(10), 2) + struct.pack("<III", 0, _info(9), 1)  # const -> volatile -> const
    btf = Btf.parse(_btf(loop, b"\0"))
    with pytest.raises(ElfError, match="loops"):
        btf.resolve(1)
    ptr_loop = struct.pack("<III", 0, _info(2), 1)  # a pointer to itself
    with pytest.raises(ElfError, match="nests too deeply"):
        Btf.parse(_btf(ptr_loop, b"\0")).describe(1)

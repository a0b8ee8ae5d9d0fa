"""Malformed objects: each gives an ElfError naming the file and the problem, never a traceback."""

import struct

import pytest

from pybpf import elf
from pybpf.cli.main import main
from support.objects import object_bytes, object_path


def _section_header(data: bytes, name: str) -> int:
    """Byte offset of the section header of `name` in an ELF64 little-endian file."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    strtab_off, = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)
    for i in range(shnum):
        at = shoff + i * shentsize
        name_off, = struct.unpack_from("<I", data, at)
        end = data.index(b"\0", strtab_off + name_off)
        if data[strtab_off + name_off:end].decode() == name:
            return at
    raise KeyError(name)


def _patch(data: bytes, offset: int, fmt: str, *values) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def _reloc_entry(data: bytes, rel_section: str, index: int = 0) -> int:
    header = _section_header(data, rel_section)
    offset, = struct.unpack_from("<Q", data, header + 0x18)
    return offset + 16 * index


GOOD = object_bytes("maps")


def _bad_reloc_type(data):
    at = _reloc_entry(data, ".reltracepoint/sched/sched_switch")
    info, = struct.unpack_from("<Q", data, at + 8)
    return _patch(data, at + 8, "<Q", (info & ~0xFFFFFFFF) | 77)


def _reloc_offset_outside(data):
    at = _reloc_entry(data, ".reltracepoint/sched/sched_switch")
    return _patch(data, at, "<Q", 0x100000)


def _reloc_not_on_lddw(data):
    at = _reloc_entry(data, ".reltracepoint/sched/sched_switch")
    return _patch(data, at, "<Q", 0)  # the first instruction is `r6 = r1`


def _reloc_missing_symbol(data):
    at = _reloc_entry(data, ".reltracepoint/sched/sched_switch")
    info, = struct.unpack_from("<Q", data, at + 8)
    return _patch(data, at + 8, "<Q", (0xFFFF << 32) | (info & 0xFFFFFFFF))


def _reloc_undefined_symbol(data):
    at = _reloc_entry(data, ".reltracepoint/sched/sched_switch")
    info, = struct.unpack_from("<Q", data, at + 8)
    return _patch(data, at + 8, "<Q", (0 << 32) | (info & 0xFFFFFFFF))  # symbol 0 is undefined


def _bad_btf_magic(data):
    header = _section_header(data, ".BTF")
    offset, = struct.unpack_from("<Q", data, header + 0x18)
    return _patch(data, offset, "<H", 0x1234)


def _btf_too_long(data):
    header = _section_header(data, ".BTF")
    offset, = struct.unpack_from("<Q", data, header + 0x18)
    return _patch(data, offset + 12, "<I", 0x7FFFFFF)  # type_len


def _bad_opcode(data):
    header = _section_header(data, "tracepoint/sched/sched_switch")
    offset, = struct.unpack_from("<Q", data, header + 0x18)
    return _patch(data, offset, "<B", 0xFF)


CASES = [
    ("empty", lambda d: b"", "not an ELF file"),
    ("not ELF", lambda d: b"hello world" * 10, "not an ELF file"),
    ("truncated header", lambda d: d[:40], "truncated ELF header"),
    ("truncated body", lambda d: d[:2000], "object"),
    ("wrong machine", lambda d: _patch(d, 0x12, "<H", 62), "not EM_BPF"),
    ("32-bit", lambda d: _patch(d, 4, "<B", 1), "32-bit ELF"),
    ("big-endian", lambda d: _patch(d, 5, "<B", 2), "big-endian"),
    ("executable type", lambda d: _patch(d, 0x10, "<H", 2), "relocatable"),
    ("bad relocation type", _bad_reloc_type, "unknown relocation type 77"),
    ("relocation outside the section", _reloc_offset_outside, "is outside the section"),
    ("relocation on a non-lddw", _reloc_not_on_lddw, "cannot apply to this instruction"),
    ("relocation symbol missing", _reloc_missing_symbol, "no symbol 65535"),
    ("relocation against an undefined symbol", _reloc_undefined_symbol, "undefined symbol"),
    ("bad BTF magic", _bad_btf_magic, "bad magic 0x1234"),
    ("BTF section too long", _btf_too_long, "runs past the end"),
    ("invalid instruction", _bad_opcode, "unknown opcode 0xff"),
]


@pytest.mark.parametrize("mutate,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_object_is_a_clear_error(mutate, message):
    with pytest.raises(elf.ElfError) as err:
        elf.load(mutate(GOOD), name="bad.o")
    assert message in str(err.value)
    assert str(err.value).startswith("bad.o")


def test_missing_file():
    with pytest.raises(elf.ElfError, match="nope.o: No such file"):
        elf.load("nope.o")


def test_cli_reports_one_line_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.o"
    bad.write_bytes(_patch(GOOD, 0x12, "<H", 62))
    assert main(["objdump", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not EM_BPF" in err and "Traceback" not in err


def test_good_object_still_loads():
    assert elf.load(object_path("maps")).get_program("count_switch")

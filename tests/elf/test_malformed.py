"""Malformed objects: each gives an ElfError naming the file and the problem, never a traceback.

Each case mutates a good committed object (tests/support/elfpatch.py) and pins the message.
"""

import pytest

from pybpf import elf
from pybpf.cli.main import main
from support.elfpatch import ElfPatch
from support.objects import object_bytes, object_path

MAPS, PROGS, LEGACY, MAP_ATTRS = (ElfPatch(object_bytes(n)) for n in ("maps", "progs", "legacy_maps", "map_attrs"))
TP = "tracepoint/sched/sched_switch"
REL_TP = ".rel" + TP


def _lddw_reloc_on_second_slot(p):
    _, offset, _, _ = p.reloc(REL_TP)
    return p.set_reloc(REL_TP, offset=offset + 8)


def _map_reloc_against(p, symbol):
    return p.set_reloc(REL_TP, symbol=p.symbol(symbol)[0])


CASES = [  # (id, object, mutation, the message's essential words)
    ("empty", MAPS, lambda p: b"", "not an ELF file"),
    ("not ELF", MAPS, lambda p: b"hello world" * 10, "not an ELF file"),
    ("truncated header", MAPS, lambda p: p.data[:40], "truncated ELF header"),
    ("truncated body", MAPS, lambda p: p.data[:2000], "object"),
    ("wrong machine", MAPS, lambda p: p.patch(0x12, "<H", 62), "machine is EM_X86_64, not EM_BPF (247)"),
    ("32-bit", MAPS, lambda p: p.patch(4, "<B", 1), "32-bit ELF"),
    ("big-endian", MAPS, lambda p: p.patch(5, "<B", 2), "big-endian"),
    ("executable type", MAPS, lambda p: p.patch(0x10, "<H", 2), "expected a relocatable object"),
    ("section past the end of the file", MAPS, lambda p: p.set_section(TP, "sh_offset", 1 << 20),
     "runs past the end of the file"),
    ("code not a multiple of 8", PROGS, lambda p: p.set_section("xdp", "sh_size", 0x2C), "not a multiple of 8"),
    ("function past its section", PROGS, lambda p: p.set_symbol("xdp_pass", size=0x1000),
     "function xdp_pass (4096 bytes) is outside the section"),
    ("static program", MAPS, lambda p: p.set_symbol("count_switch", info=0x02), "program 'count_switch' is static"),
    ("symbol in a missing section", MAPS, lambda p: p.set_symbol("counts", shndx=500),
     "symbol 17 'counts' is in section 500, which does not exist"),
    ("bad relocation type", MAPS, lambda p: p.set_reloc(REL_TP, type=77), "unknown relocation type 77"),
    ("RELA relocations", MAPS, lambda p: p.set_section(REL_TP, "sh_type", 4), "SHT_RELA"),
    ("relocation outside the section", MAPS, lambda p: p.set_reloc(REL_TP, offset=0x100000),
     "R_BPF_64_64 at offset 0x100000 is outside the section"),
    ("relocation not on a lddw", MAPS, lambda p: p.set_reloc(REL_TP, offset=0),
     "R_BPF_64_64 cannot apply to this instruction (opcode 0xbf)"),
    ("relocation not on a call", PROGS, lambda p: p.set_reloc(".relsocket", offset=0),
     "R_BPF_64_32 cannot apply to this instruction (opcode 0x61)"),
    ("data relocation type in code", MAPS, lambda p: p.set_reloc(REL_TP, type=2),
     "R_BPF_64_ABS64 cannot apply to this instruction (opcode 0x18)"),
    ("relocation between instructions", MAPS, lambda p: p.set_reloc(REL_TP, offset=0x44),
     "does not point at an instruction"),
    ("relocation on a lddw's second slot", MAPS, _lddw_reloc_on_second_slot, "does not point at an instruction"),
    ("relocation symbol missing", MAPS, lambda p: p.set_reloc(REL_TP, symbol=0xFFFF), "no symbol 65535"),
    ("relocation against an undefined symbol", MAPS, lambda p: p.set_reloc(REL_TP, symbol=0),
     "relocation against undefined symbol"),
    ("call against an undefined symbol", PROGS, lambda p: p.set_reloc(".relsocket", symbol=0),
     "call to undefined function"),
    ("lddw against the licence", MAPS, lambda p: _map_reloc_against(p, "LICENSE"),
     "R_BPF_64_64 against 'LICENSE' in unsupported section license"),
    ("legacy maps section of the wrong size", LEGACY, lambda p: p.set_section("maps", "sh_size", 39),
     "maps: section of 39 bytes does not divide among 2 maps"),
    ("legacy map definitions too small", LEGACY, lambda p: p.set_section("maps", "sh_size", 8),
     "too small"),
    (".maps section smaller than its maps", MAPS, lambda p: p.set_section(".maps", "sh_size", 100),
     "map 'perf_out' is 24 bytes by its BTF, 24 by its symbol, in a section of 100 bytes"),
    ("map-in-map slot against a program", MAP_ATTRS,
     lambda p: p.set_reloc(".rel.maps", 0, symbol=p.symbol("tail_a")[0]), "refers to 'tail_a', not a map"),
    ("program slot against a map", MAP_ATTRS,
     lambda p: p.set_reloc(".rel.maps", 2, symbol=p.symbol("inner_a")[0]), "refers to 'inner_a', not a program"),
    ("map slot outside 'values'", MAP_ATTRS, lambda p: p.set_reloc(".rel.maps", 0, offset=0x40),
     "not on a 'values' slot of map 'by_proto'"),
    ("bad BTF magic", MAPS, lambda p: p.patch(p.section_offset(".BTF"), "<H", 0x1234), "bad magic 0x1234"),
    ("BTF section too long", MAPS, lambda p: p.patch(p.section_offset(".BTF") + 12, "<I", 0x7FFFFFF),
     "runs past the end"),
    ("BTF header length", MAPS, lambda p: p.patch(p.section_offset(".BTF") + 4, "<I", 8),
     ".BTF: header length 8 does not fit the section"),
    ("bad BTF.ext magic", MAPS, lambda p: p.patch(p.section_offset(".BTF.ext"), "<H", 0x1234),
     ".BTF.ext: bad magic 0x1234"),
    ("BTF.ext line info too long", MAPS, lambda p: p.patch(p.section_offset(".BTF.ext") + 20, "<I", 0xFFFFF),
     "line_info runs past the end"),
    ("invalid instruction", MAPS, lambda p: p.patch(p.section_offset(TP), "<B", 0xFF),
     f"{TP}+0x0: function count_switch: unknown opcode 0xff"),
]


@pytest.mark.parametrize("good,mutate,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_object_is_a_clear_error(good, mutate, message):
    with pytest.raises(elf.ElfError) as err:
        elf.load(mutate(good), name="bad.o")
    assert message in str(err.value)
    assert str(err.value).startswith("bad.o: ")


def test_missing_file():
    with pytest.raises(elf.ElfError, match="nope.o: No such file"):
        elf.load("nope.o")


def test_cli_reports_one_line_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.o"
    bad.write_bytes(MAPS.patch(0x12, "<H", 62))
    assert main(["objdump", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not EM_BPF" in err and "Traceback" not in err


def test_good_objects_still_load():
    assert elf.load(object_path("maps")).get_program("count_switch")
    for p in (MAPS, PROGS, LEGACY, MAP_ATTRS):
        elf.load(p.data)

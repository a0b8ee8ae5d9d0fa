"""elf.btf_fixup: the .BTF handed to BPF_BTF_LOAD, with what clang leaves to the loader filled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf import elf
from pybpf.elf.btf import Btf
from pybpf.elf.btf_fixup import kernel_btf

DATA = Path(__file__).parent.parent / "data" / "elf"


@pytest.mark.parametrize("name", ["maps.o", "globals.o", "kconfig.o", "progs.o"])
def test_datasecs_get_their_sections_size_and_their_symbols_offsets(name):
    obj = elf.load(DATA / name)
    fixed = Btf.parse(kernel_btf(obj))
    assert fixed.strings == obj.btf.strings and len(fixed.types) == len(obj.btf.types)
    for sec in (t for t in fixed.types if t.kind == "DATASEC"):
        if sec.name == ".kconfig":
            assert sec.size_or_type == obj.get_map(".kconfig").value_size
            continue
        assert sec.size_or_type == obj.get_section(sec.name).size > 0
        symbols = {s.name: s.value for s in obj.symbols if s.section == sec.name}
        offsets = [m.offset for m in sec.members]
        assert offsets == sorted(offsets) and all(symbols[m.name] == m.offset for m in sec.members)


def test_kconfig_externs_become_global_allocated_at_the_loaders_offsets():
    obj = elf.load(DATA / "kconfig.o")
    assert {obj.btf[m.type].linkage for m in obj.btf.find(".kconfig", "DATASEC").members} == {2}  # extern
    fixed = Btf.parse(kernel_btf(obj))
    sec = fixed.find(".kconfig", "DATASEC")
    assert {fixed[m.type].linkage for m in sec.members} == {1}
    assert {m.name: m.offset for m in sec.members} == {n: off for n, (off, _) in obj.get_map(".kconfig").externs.items()}


def test_the_objects_own_btf_is_left_as_it_was():
    obj = elf.load(DATA / "maps.o")
    before = obj.btf.type_data
    kernel_btf(obj)
    assert obj.btf.type_data == before

"""Random damage to good objects: loading and describing give a result or an ElfError, nothing else.

Mutations land in the sections the loader reads (code, relocations, symbols,
maps, BTF, BTF.ext) and in the ELF and section headers; a fixed seed keeps
the run reproducible.  (Run with more iterations by hand when changing the loader.)
"""

import io
import random

import pytest
from elftools.elf.elffile import ELFFile

from pybpf import elf
from pybpf.elf.btf_dump import dump_raw
from pybpf.elf.describe import summary_lines
from pybpf.elf.llvm_layout import llvm_objdump_lines
from support.objects import OBJECTS

ROUNDS = 400


def _regions(data: bytes) -> list[tuple[int, int]]:
    e = ELFFile(io.BytesIO(data))
    regions = [(s["sh_offset"], s["sh_size"]) for s in e.iter_sections()
               if s["sh_type"] != "SHT_NOBITS" and s["sh_size"] and ".debug" not in s.name]
    return regions + [(e.header["e_shoff"], e.header["e_shnum"] * e.header["e_shentsize"]), (0, 64)]


@pytest.mark.parametrize("seed", range(4))
def test_damaged_objects_load_or_raise_elf_error(seed):
    rng = random.Random(seed)
    goods = [(p.read_bytes(), _regions(p.read_bytes())) for p in OBJECTS]
    outcomes = {"loaded": 0, "ElfError": 0}
    for _ in range(ROUNDS // 4):
        good, regions = rng.choice(goods)
        data = bytearray(good)
        start, size = rng.choice(regions)
        for _ in range(rng.choice((1, 1, 2, 8))):
            data[start + rng.randrange(size)] = rng.randrange(256)
        try:
            obj = elf.load(bytes(data), name="damaged.o")
            summary_lines(obj)
            llvm_objdump_lines(obj, relocations=True)
            if obj.btf is not None:
                dump_raw(obj.btf)
            outcomes["loaded"] += 1
        except elf.ElfError as err:
            assert str(err).startswith("damaged.o: ")
            outcomes["ElfError"] += 1
    assert outcomes["loaded"] and outcomes["ElfError"]

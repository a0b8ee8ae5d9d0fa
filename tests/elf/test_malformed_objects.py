"""Property tests: damaged objects through every entry that reads one give a result or a PybpfError.

Each example takes a committed object (tests/data/elf), truncates it, flips
bits in it or splices bytes of another object into it, then feeds it to
`elf.load`, the objdump views (`-d -r`, `--btf`), `api.verify_object` and
`kernel.loader.load_object` on a virtual kernel.  Anything but a PybpfError
is a traceback a user would see.  A refused load must leave the kernel
empty: no map, no program, no pin.  Derandomized, so CI sees the same cases.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf import api, elf
from pybpf.errors import PybpfError
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual.kernel import VirtualKernel
from support.elfpatch import ElfPatch
from support.objects import OBJECTS, object_bytes

GOODS = [p.read_bytes() for p in OBJECTS]
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def damaged(draw) -> bytes:
    """A committed object, truncated, bit-flipped, overwritten or spliced with another one."""
    data = bytearray(draw(st.sampled_from(GOODS)))
    how = draw(st.sampled_from(("truncate", "flip", "overwrite", "splice")))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if how == "splice":
        other = draw(st.sampled_from(GOODS))
        at, start = draw(st.integers(0, len(data) - 1)), draw(st.integers(0, len(other) - 1))
        data[at:at + 64] = other[start:start + 64]
        return bytes(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = data[at] ^ (1 << draw(st.integers(0, 7))) if how == "flip" else draw(st.integers(0, 255))
    return bytes(data)


def _kernel_is_empty(kernel: VirtualKernel) -> bool:
    return kernel.get_next_id("map") is None and kernel.get_next_id("prog") is None and not kernel.pins


@SETTINGS
@given(data=damaged())
def test_damaged_object_loads_or_raises_pybpf_error(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("obj") / "damaged.o"
    path.write_bytes(data)
    try:
        obj = elf.load(data, name="damaged.o")
    except elf.ElfError as err:
        assert str(err).startswith("damaged.o: ")
        return
    for options in ({}, {"disassemble": True, "relocations": True}, {"btf": True}):
        try:
            assert isinstance(api.objdump(path, **options), str)
        except PybpfError:
            pass
    try:
        assert isinstance(api.verify_object(data), dict)
    except PybpfError:
        pass
    kernel = VirtualKernel()
    try:
        loaded = load_object(kernel, obj)
    except PybpfError:
        assert _kernel_is_empty(kernel)
    else:
        assert set(loaded.prog_fds) == {p.name for p in obj.programs}


def test_a_refused_program_leaves_no_map_behind():
    """maps.o with its first program's first instruction made an unknown opcode: the maps were created
    before the program was refused, and are gone after."""
    obj = elf.load(object_bytes("maps"), name="maps.o")
    assert obj.maps and obj.programs
    prog = obj.programs[0]
    prog.insns[0] = prog.insns[0].replace(code=0xff)
    kernel = VirtualKernel()
    with pytest.raises(BpfError, match=f"program '{prog.name}'"):
        load_object(kernel, obj)
    assert _kernel_is_empty(kernel)


@pytest.mark.parametrize("access,message", [
    ("0:x", "access string '0:x' is not indices"),
    ("0:-", "access string '0:-' is not indices"),
])
def test_a_bad_core_access_string_is_a_load_error(access, message):
    """core.o with a CO-RE relocation's access string ("0:2" in .BTF's strings) damaged: libbpf refuses to
    parse it; so does the loader, naming the relocation, instead of failing inside CO-RE resolution."""
    good = object_bytes("core")
    at = ElfPatch(good).section_offset(".BTF") + good[ElfPatch(good).section_offset(".BTF"):].index(b"\x000:2\x00") + 1
    data = good[:at] + access.encode() + good[at + len(access):]
    obj = elf.load(data, name="core.o")
    kernel = VirtualKernel()
    with pytest.raises(BpfError) as err:
        load_object(kernel, obj)
    assert "CO-RE relocation at insn offset 104" in str(err.value) and message in str(err.value)
    assert "core.o" in str(err.value)
    assert _kernel_is_empty(kernel)


def test_core_relo_check_names_kind_and_type():
    btf = elf.load(object_bytes("core")).btf
    with pytest.raises(elf.ElfError, match="insn offset 8: unknown kind 99"):
        elf.CoreRelo(8, 1, "0", 99).check(btf)
    with pytest.raises(elf.ElfError, match=r"insn offset 8: type id 100000 is not in \.BTF"):
        elf.CoreRelo(8, 100000, "0", 0).check(btf)
    elf.CoreRelo(8, 1, "0:1", 0).check(btf)


def test_a_refused_map_is_named_and_nothing_is_left():
    """globals.o with a global data map's initial bytes cut short: the map was created, its initial
    value refused; the error names the object and the map, and the map is closed too."""
    obj = elf.load(object_bytes("globals"), name="globals.o")
    data_map = next(m for m in obj.maps if m.data)
    data_map.data = data_map.data[:-1]
    kernel = VirtualKernel()
    with pytest.raises(BpfError, match=rf"^BPF_MAP_UPDATE_ELEM: \w+ .*: globals.o: map '{data_map.name}' "):
        load_object(kernel, obj)
    assert _kernel_is_empty(kernel)


def test_a_map_the_kernel_refuses_is_named():
    obj = elf.load(object_bytes("maps"), name="maps.o")
    bad = obj.maps[-1]
    bad.key_size = 0
    kernel = VirtualKernel()
    with pytest.raises(BpfError, match=rf"^BPF_MAP_CREATE: EINVAL \(.*\): maps.o: map '{bad.name}' \({bad.section}\): "):
        load_object(kernel, obj)
    assert _kernel_is_empty(kernel)


def test_a_variable_symbol_past_its_section_is_named_at_btf_load():
    """maps.o with its LICENSE symbol's value (st_value) moved to 1 TiB: the DATASEC fix-up (libbpf's
    btf_fixup_datasec) would write that offset into a 32-bit field; it names the variable instead (was a
    struct.error), and the virtual kernel is left empty."""
    good = object_bytes("maps")
    patch = ElfPatch(good)
    symtab = patch.elf.get_section_by_name(".symtab")
    index = next(i for i, s in enumerate(symtab.iter_symbols()) if s.name == "LICENSE")
    data = patch.patch(symtab["sh_offset"] + index * symtab["sh_entsize"] + 8, "<Q", 1 << 40)  # st_value
    obj = elf.load(data, name="maps.o")
    kernel = VirtualKernel()
    with pytest.raises(BpfError, match=r"^BPF_BTF_LOAD: EINVAL .*maps.o: \.BTF: variable 'LICENSE' of DATASEC "
                                       r"license \(13 bytes at offset 1099511627776\) does not fit"):
        load_object(kernel, obj)
    assert _kernel_is_empty(kernel)

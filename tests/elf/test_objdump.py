"""`pybpf objdump`: llvm-objdump -d/-dr line for line, and the summary view.

Where llvm-objdump 14's text loses information (the LLVM14_LOSSY rows of
pybpf.elf.llvm_layout: `call 3` for a local call), `-d` prints llvm's text
all the same; the summary view and `pybpf disasm` print `call pc+3`.
"""

import shutil
import subprocess

import pytest

from pybpf.cli.main import main
from pybpf.elf.llvm_layout import LLVM14_LOSSY, lossy_rule
from pybpf.isa.insn import decode
from support.objects import OBJECTS, object_path

LLVM_OBJDUMP = shutil.which("llvm-objdump-14")
needs_llvm = pytest.mark.skipif(LLVM_OBJDUMP is None, reason="llvm-objdump-14 is not installed (apt install llvm-14)")
# Local-call lines in each object, counted by hand from its llvm-objdump output (`call N` with src=1).
EXPECTED_LOSSY = {"progs.o": 10, "progs_v1.o": 10, "progs_v2.o": 10, "progs_v3.o": 10, "calls.o": 5,
                  "calls_v3.o": 5, "btf_kinds.o": 1}


def _lossy_counts(lines: list[str]) -> dict[str, int]:
    """How many lines of a listing fall under each LLVM14_LOSSY row."""
    counts = {rule.what: 0 for rule in LLVM14_LOSSY}
    for line in lines:
        fields = line.split("\t")
        if len(fields) == 3 and fields[0].endswith(":"):
            [insn] = decode(bytes.fromhex(fields[1]), strict=False)
            rule = lossy_rule(insn)
            if rule is not None:
                counts[rule.what] += 1
    return counts


def _run(args, capsys):
    assert main(args) == 0
    return capsys.readouterr().out.splitlines()


@needs_llvm
@pytest.mark.parametrize("flag", ["-d", "-dr"])
@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_disassembly_equals_llvm_objdump(path, flag, capsys):
    ours = _run(["objdump", "-d", str(path)] + (["-r"] if flag == "-dr" else []), capsys)
    theirs = subprocess.run([LLVM_OBJDUMP, flag, str(path)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert len([line for line in theirs if line[8:9] == ":"]) >= 7
    assert ours == theirs
    lossy = _lossy_counts(theirs)
    assert lossy == {"local call": EXPECTED_LOSSY.get(path.name, 0), "lddw with a pseudo source": 0}


@needs_llvm
def test_llvmlite_object_disassembly_equals_llvm_objdump(tmp_path, capsys):
    from support.llvmlite_objects import build

    path = tmp_path / "llvmlite.o"
    path.write_bytes(build())
    ours = _run(["objdump", "-d", "-r", str(path)], capsys)
    theirs = subprocess.run([LLVM_OBJDUMP, "-dr", str(path)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert ours == theirs
    assert _lossy_counts(theirs)["local call"] >= 1


def test_lossy_rules_cover_local_calls_and_pseudo_lddw():
    from pybpf.isa.insn import Insn

    assert lossy_rule(Insn(0x85, 0, 1, 0, 3)).llvm_text(Insn(0x85, 0, 1, 0, 3)) == "call 3"
    assert lossy_rule(Insn(0x85, 0, 0, 0, 3)) is None  # a helper call prints the same
    lddw = Insn(0x18, 1, 2, 0, 5, 8)
    assert lossy_rule(lddw).llvm_text(lddw) == "ld_pseudo\tr1, 2, 5"
    assert lossy_rule(Insn(0x18, 1, 0, 0, 5, 8)) is None


def test_summary_names_maps_helpers_and_subprograms(capsys):
    out = "\n".join(_run(["objdump", str(object_path("maps"))], capsys))
    assert "[0] counts: hash key 4 value 8 max_entries 1024  (.maps)" in out
    assert "key __u32, value struct event" in out
    assert "r1 = map[idx:0] ll  ; map counts" in out
    assert "call 1  ; bpf_map_lookup_elem" in out
    assert "; map_value .rodata (threshold)" in out
    assert "  [ 6] .data                            data              8 bytes" in out
    out = "\n".join(_run(["objdump", str(object_path("progs"))], capsys))
    assert "program count_bytes: section socket, type socket_filter, 53 insns, sub-programs mix" in out
    assert "\nmix:\n" in out
    assert "     3: call pc+44  ; call mix" in out


def test_summary_shows_callbacks_slots_source_lines_and_core(capsys):
    out = "\n".join(_run(["objdump", str(object_path("calls"))], capsys))
    assert "r2 = func(pc+8) ll  ; func add_index" in out
    assert "call 181  ; bpf_loop" in out
    assert "        ; bpf_loop(skb->len, add_index, &total, 0);  @ calls.c:40" in out
    out = "\n".join(_run(["objdump", str(object_path("map_attrs"))], capsys))
    assert "       values [1] inner_a, [3] inner_b" in out
    assert "       values [0] tail_a, [1] tail_b" in out
    assert "flags 0x5 pinning 1 numa_node 1" in out
    out = "\n".join(_run(["objdump", str(object_path("core"))], capsys))
    assert "; core field_byte_offset struct task_struct.mm (0:2)" in out
    out = "\n".join(_run(["objdump", str(object_path("globals"))], capsys))
    assert "  .data+0x18: R_BPF_64_ABS64 table" in out
    assert "       table at 8 (16 bytes)" in out


def test_btf_listing_needs_btf(tmp_path, capsys):
    from support.llvmlite_objects import build

    path = tmp_path / "nobtf.o"
    path.write_bytes(build())
    assert main(["objdump", "--btf", str(path)]) == 1
    assert "no .BTF section" in capsys.readouterr().err

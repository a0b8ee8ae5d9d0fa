"""`pybpf objdump`: llvm-objdump -d's output line for line, and the summary view."""

import shutil
import subprocess

import pytest

from pybpf.cli.main import main
from support.objects import OBJECTS, object_path

LLVM_OBJDUMP = shutil.which("llvm-objdump-14") or shutil.which("llvm-objdump")


@pytest.mark.skipif(LLVM_OBJDUMP is None, reason="llvm-objdump-14 is not installed (apt install llvm-14)")
@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_disassembly_equals_llvm_objdump(path, capsys):
    assert main(["objdump", "-d", str(path)]) == 0
    ours = capsys.readouterr().out.splitlines()
    theirs = subprocess.run([LLVM_OBJDUMP, "-d", str(path)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert len([line for line in theirs if line[8:9] == ":"]) >= 7
    assert ours == theirs


def test_summary_names_maps_helpers_and_subprograms(capsys):
    assert main(["objdump", str(object_path("maps"))]) == 0
    out = capsys.readouterr().out
    assert "[0] counts: hash key 4 value 8 max_entries 1024  (.maps)" in out
    assert "key __u32, value struct event" in out
    assert "r1 = map[idx:0] ll  ; map counts" in out
    assert "call 1  ; bpf_map_lookup_elem" in out
    assert "map_value .rodata" in out
    assert main(["objdump", str(object_path("progs"))]) == 0
    out = capsys.readouterr().out
    assert "program count_bytes: section socket, type socket_filter, 53 insns, sub-programs mix" in out
    assert "\nmix:\n" in out

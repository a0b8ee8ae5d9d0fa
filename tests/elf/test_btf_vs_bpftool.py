"""Our BTF parser against bpftool: `pybpf objdump --btf` prints what `bpftool btf dump file` prints."""

import shutil
import subprocess

import pytest

from pybpf.cli.main import main
from support.objects import OBJECTS

BPFTOOL = shutil.which("bpftool") or next(
    (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if shutil.which(p)), None)


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed (apt install bpftool)")
@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_btf_dump_equals_bpftool(path, capsys):
    assert main(["objdump", "--btf", str(path)]) == 0
    ours = capsys.readouterr().out.splitlines()
    theirs = subprocess.run([BPFTOOL, "btf", "dump", "file", str(path)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert len(theirs) > 10
    assert ours == theirs

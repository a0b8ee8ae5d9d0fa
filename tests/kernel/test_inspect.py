"""`pybpf prog`, `pybpf map` and `pybpf btf dump` print what bpftool prints, on the same live objects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pybpf import elf
from pybpf.cli.main import main
from pybpf.kernel.loader import load_object
from support.kernel import needs_kernel

pytestmark = [needs_kernel, pytest.mark.kernel,
              pytest.mark.skipif(shutil.which("bpftool") is None, reason="needs bpftool to compare with")]
DATA = Path(__file__).parent.parent / "data" / "elf"


def bpftool(*words) -> str:
    return subprocess.run(["bpftool", *words], capture_output=True, text=True).stdout


def pybpf(capsys, *words) -> str:
    assert main(list(words)) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def live():
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    loaded = load_object(kernel, elf.load(DATA / "maps.o"))
    counts = loaded.map_fds["counts"]
    for i in range(5):
        kernel.map_update(counts, i.to_bytes(4, "little"), (i * 1000).to_bytes(8, "little"))
    ids = {name: kernel.info(fd)["id"] for name, fd in {**loaded.map_fds, **loaded.prog_fds}.items()}
    yield ids
    for fd in loaded.fds():
        kernel.close(fd)


def test_prog_show_and_xlated(live, capsys):
    prog = str(live["count_switch"])
    assert pybpf(capsys, "prog", "show", "id", prog) == bpftool("prog", "show", "id", prog)
    xlated = pybpf(capsys, "prog", "dump", "xlated", "id", prog)
    assert xlated == bpftool("prog", "dump", "xlated", "id", prog) and "map[id:" in xlated


def test_map_show_and_dump(live, capsys):
    for name in ("counts", "events", "last_event", "perf_out", "outer", ".data", ".rodata", ".bss"):
        map_id = str(live[name])
        assert pybpf(capsys, "map", "show", "id", map_id) == bpftool("map", "show", "id", map_id), name
        if name != "perf_out":  # bpftool prints errno 524 of each perf slot in its own words
            assert pybpf(capsys, "map", "dump", "id", map_id) == bpftool("map", "dump", "id", map_id), name
    counts = pybpf(capsys, "map", "dump", "id", str(live["counts"]))  # through the map's BTF, as bpftool
    assert counts.startswith("[{") and '"key": 4,\n        "value": 4000\n' in counts


def test_lists_contain_our_objects(live, capsys):
    progs = pybpf(capsys, "prog", "list")
    assert f"{live['count_switch']}: tracepoint  name count_switch" in progs
    assert f"{live['counts']}: hash  name counts  flags 0x0" in pybpf(capsys, "map", "list")


@pytest.mark.parametrize("source", [["file", str(DATA / "btf_kinds.o")], ["file", "/sys/kernel/btf/vmlinux"],
                                    ["id", "1"]])
def test_btf_dump(source, capsys):
    if source[1] == "/sys/kernel/btf/vmlinux" and not Path(source[1]).exists():
        pytest.skip("no kernel BTF")
    assert pybpf(capsys, "btf", "dump", *source) == bpftool("btf", "dump", *source)


def test_a_missing_id_is_one_clear_line(capsys):
    assert main(["prog", "show", "id", "4000000000"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pybpf prog: error: BPF_PROG_GET_FD_BY_ID: ENOENT") and "no prog id" in err


def test_xlated_with_btf_shows_signatures_source_lines_and_subprograms(capsys):
    """progs.o (clang -g) is loaded with its BTF, func_info and line_info: the xlated dump carries each
    function's signature and `; source line` comments, and names sub-program calls, as bpftool's."""
    from pybpf.kernel.linux import LinuxKernel

    kernel = LinuxKernel()
    loaded = load_object(kernel, elf.load(DATA / "progs.o"))
    try:
        for name in ("count_bytes", "second_socket", "xdp_pass"):
            prog = str(kernel.info(loaded.prog_fds[name])["id"])
            ours = pybpf(capsys, "prog", "dump", "xlated", "id", prog)
            assert ours == bpftool("prog", "dump", "xlated", "id", prog), name
            assert "\n; " in ours and f" {name}(struct " in ours.splitlines()[0]
        second = pybpf(capsys, "prog", "dump", "xlated", "id", str(kernel.info(loaded.prog_fds["second_socket"])["id"]))
        assert "int global_helper(int x):" in second and "_global_helper\n" in second
    finally:
        for fd in loaded.fds():
            kernel.close(fd)


def test_prog_sizes_counts_xlated_and_jited_instructions(capsys):
    import re

    from pybpf.kernel.linux import LinuxKernel
    from pybpf.kernel.linux.inspect import native_insn_count

    kernel = LinuxKernel()
    loaded = load_object(kernel, elf.load(DATA / "progs.o"))
    try:
        prog = str(kernel.info(loaded.prog_fds["count_bytes"])["id"])
        line = pybpf(capsys, "prog", "sizes", "id", prog)
        shown = bpftool("prog", "show", "id", prog)
        xlated, jited = re.search(r"xlated (\d+)B\s+jited (\d+)B", shown).groups()
        assert line.startswith(f"{prog}: count_bytes  xlated {int(xlated) // 8} insns  jited {jited}B")
        assert line.rstrip().endswith("2 functions")  # count_bytes and its sub-program mix
        if native_insn_count(b"\x90\xc3") == 2:  # llvm-mc is here: nop; ret
            assert int(re.search(r"jited \d+B (\d+) insns", line).group(1)) > 0
    finally:
        for fd in loaded.fds():
            kernel.close(fd)

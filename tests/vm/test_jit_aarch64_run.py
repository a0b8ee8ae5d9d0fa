"""The native engine's AArch64 code runs: every bpf_conformance program, under qemu-aarch64, gives its result.

Each program's module is compiled for aarch64-unknown-linux-gnu as the JIT
would compile it on an AArch64 host (O2, large code model), its `prog` and
`loop` renamed per program, and all are linked (ld.lld) with a
freestanding harness (tests/data/aarch64/harness.c: the `state` words as
NativeEngine lays them out, stand-ins for the callbacks into Python,
libc's functions as system calls) into one static executable that
qemu-aarch64 runs once.  Every program runs unchecked, as verified code
does, and those that together use every opcode row the suite uses run
checked too (inline region checks, the region table search, the step
count).  What this does not run: MCJIT loading the code in-process and the
ctypes callbacks (the harness stands in for them), and programs that name
maps (their IR holds this process's addresses).
"""

from __future__ import annotations

import subprocess

import pytest

from pybpf.vm import jit
from support.aarch64 import CLANG, CONFORMANCE, LLD, QEMU, TRIPLE, covering, missing_target
from support.conformance_data import parse
from support.paths import DATA

MISSING = missing_target() or next((f"{what} is not installed" for what, path in
                                    (("qemu-aarch64 (qemu-user)", QEMU), ("clang", CLANG), ("ld.lld (lld)", LLD))
                                    if not path), "")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "-")
CHECKED = covering(CONFORMANCE) if CONFORMANCE else []
RUNS = [(path.stem, False) for path in CONFORMANCE] + [(name, True) for name in CHECKED]


def _table(programs) -> str:
    """The C table of the programs the harness runs: their `loop` entries and memory."""
    lines = ["typedef unsigned long u64;",
             "struct test { u64 (*loop)(u64 *, u64, u64); unsigned char *mem; u64 len; int checked; };"]
    for n, (_, checked, memory) in enumerate(programs):
        lines.append(f"u64 loop_{n}(u64 *, u64, u64);")
        lines.append(f"static unsigned char mem_{n}[{max(len(memory), 1)}] __attribute__((aligned(16))) = "
                     f"{{{', '.join(map(str, memory)) or '0'}}};")
    entries = ", ".join(f"{{loop_{n}, mem_{n}, {len(memory)}, {int(checked)}}}"
                        for n, (_, checked, memory) in enumerate(programs))
    lines.append(f"const struct test TESTS[] = {{{entries}}};")
    lines.append(f"const u64 NTESTS = {len(programs)};")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[tuple[str, bool], tuple[int, int]]:
    """(name, checked) -> (r0, status) of each program run on qemu-aarch64."""
    from pybpf.vm.jit.compile import emit_object

    folder = tmp_path_factory.mktemp("aarch64")
    root = CONFORMANCE[0].parent
    programs, objects = [], []
    for n, (name, checked) in enumerate(RUNS):
        test = parse(root / f"{name}.data")
        module = jit.NativeEngine(test.program(), checked=checked).module()
        path = folder / f"prog{n}.o"
        path.write_bytes(emit_object(module, TRIPLE, {"prog": f"prog_{n}", "loop": f"loop_{n}"}))
        objects.append(str(path))
        programs.append((name, checked, test.memory))
    (folder / "table.c").write_text(_table(programs))
    compile_c = [CLANG, f"--target={TRIPLE}", "-O1", "-ffreestanding", "-fno-builtin", "-nostdlib", "-c"]
    for source, output in ((DATA / "aarch64" / "harness.c", "harness.o"), (folder / "table.c", "table.o")):
        subprocess.run(compile_c + [str(source), "-o", str(folder / output)], check=True)
    executable = folder / "run"
    subprocess.run([LLD, "-static", "-o", str(executable), str(folder / "harness.o"), str(folder / "table.o"),
                    *objects], check=True)
    ran = subprocess.run([QEMU, str(executable)], capture_output=True, text=True, timeout=300, check=True)
    lines = ran.stdout.splitlines()
    assert len(lines) == len(RUNS), ran.stderr
    return {run: (int(line.split()[0], 16), int(line.split()[1], 16)) for run, line in zip(RUNS, lines)}


@pytest.mark.parametrize("name,checked", RUNS, ids=[f"{name}-{'checked' if c else 'unchecked'}" for name, c in RUNS])
def test_conformance_program_runs_on_aarch64(name, checked, results):
    expected = parse(CONFORMANCE[0].parent / f"{name}.data").result
    r0, status = results[name, checked]
    assert status == 0, f"{name}: stopped with status {status}"
    assert r0 == expected, f"{name}: r0 = {r0:#x} on AArch64, expected {expected:#x}"

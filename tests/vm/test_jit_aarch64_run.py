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
count).  A ring buffer program, compiled for a ring at fixed addresses
that its harness (tests/data/aarch64/ring_harness.c) maps, gives the
interpreter's r0 each run and leaves the same ring bytes, positions and
drop count (reserve, submit, discard, output, query, wrap-around, a full
ring).  What this does not run: MCJIT loading the code in-process and the
ctypes callbacks (the harnesses stand in for them).
"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.maps import RingBufMap
from pybpf.uapi import MapType, ProgType
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
COMPILE_C = [CLANG, f"--target={TRIPLE}", "-O1", "-ffreestanding", "-fno-builtin", "-nostdlib", "-c"]


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
    for source, output in ((DATA / "aarch64" / "harness.c", "harness.o"), (folder / "table.c", "table.o")):
        subprocess.run(COMPILE_C + [str(source), "-o", str(folder / output)], check=True)
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


# -- a ring buffer program ------------------------------------------------------------------------------
RING_SIZE, RING_RUNS = 4096, 40
RING_DATA, RING_CONTROL, RING_HANDLE = 0x10000000, 0x10100000, 0x5000  # where ring_harness.c maps the ring
NO_WAKEUP, FORCE_WAKEUP = 1, 2
RING_PROGRAM = """
    r6 = 0
    r1 = map[fd:3] ll
    r2 = 13
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto full1
    r1 = 0x41
    *(u8 *)(r0 + 12) = r1
    r1 = r0
    r2 = 0
    call bpf_ringbuf_submit
    r6 += 1
full1:
    r1 = map[fd:3] ll
    r2 = 1000
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto full2
    r1 = r0
    r2 = {NO_WAKEUP}
    call bpf_ringbuf_discard
    r6 += 16
full2:
    r1 = 0x0102030405060708 ll
    *(u64 *)(r10 - 400) = r1
    r1 = map[fd:3] ll
    r2 = r10
    r2 += -400
    r3 = 397
    r4 = 0
    call bpf_ringbuf_output
    r6 += r0
    r1 = map[fd:3] ll
    r2 = 2045
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto full3
    r1 = 0x42
    *(u8 *)(r0 + 2044) = r1
    r1 = r0
    r2 = {FORCE_WAKEUP}
    call bpf_ringbuf_submit
    r6 += 256
full3:
    r1 = map[fd:3] ll
    r2 = 0
    call bpf_ringbuf_query
    r0 <<= 16
    r0 += r6
    exit
""".format(NO_WAKEUP=NO_WAKEUP, FORCE_WAKEUP=FORCE_WAKEUP)


def consume_after(run: int) -> bool:
    """As ring_harness.c: a consumer that reads everything after these runs."""
    return run % 3 == 2 or run % 7 == 0


class FixedRing(RingBufMap):
    """A ring buffer map whose data area and control words are said to sit at RING_DATA and RING_CONTROL."""

    def validate(self) -> None:
        super().validate()
        self.data = SimpleNamespace(address=RING_DATA, size=2 * self.max_entries)
        self.control = SimpleNamespace(address=RING_CONTROL)


def ring_module():
    """The native module of RING_PROGRAM (verified code: the ring helpers in machine code) for the fixed ring."""
    from pybpf.maps.base import MapAttrs

    ring = FixedRing(MapAttrs(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, RING_SIZE))
    insns = assemble(RING_PROGRAM, helper_id=helper_id)
    engine = jit.NativeEngine(insns, resolver=lambda insn, pc: RING_HANDLE)
    engine.kernel = SimpleNamespace(map_at=lambda handle: ring if handle == RING_HANDLE else None)
    return engine.module()


def interpreted():
    """(each run's r0, the ring's first RING_SIZE bytes, producer, consumer, dropped) on the interpreter."""
    kernel = VirtualKernel()
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, RING_SIZE)
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
                            assemble(RING_PROGRAM.replace("map[fd:3]", f"map[fd:{fd}]"), helper_id=helper_id),
                            engine="interp")
    ring, interp = kernel.map(fd), kernel.prog(prog.fd).interp
    r0s = []
    for run in range(RING_RUNS):
        r0s.append(interp.run(0))  # r1 = 0, as the harness runs it
        if consume_after(run):
            ring.consumer_pos = ring.producer_pos
    return r0s, ring.data.read(0, RING_SIZE), ring.producer_pos, ring.consumer_pos, ring.dropped


def test_a_ring_buffer_program_runs_on_aarch64(tmp_path):
    from pybpf.vm.jit.compile import emit_object

    (tmp_path / "prog.o").write_bytes(emit_object(ring_module(), TRIPLE, {"prog": "prog_0", "loop": "loop_0"}))
    (tmp_path / "table.c").write_text(
        "typedef unsigned long u64;\n"
        f"const u64 DATA = {RING_DATA:#x}, SIZE = {RING_SIZE}, CONTROL = {RING_CONTROL:#x}, RUNS = {RING_RUNS};\n")
    for source, output in ((DATA / "aarch64" / "ring_harness.c", "harness.o"), (tmp_path / "table.c", "table.o")):
        subprocess.run(COMPILE_C + [str(source), "-o", str(tmp_path / output)], check=True)
    subprocess.run([LLD, "-static", "-o", str(tmp_path / "run"), str(tmp_path / "harness.o"),
                    str(tmp_path / "table.o"), str(tmp_path / "prog.o")], check=True)
    ran = subprocess.run([QEMU, str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, f"the harness could not map the ring (status {ran.returncode}): {ran.stderr}"
    lines = ran.stdout.split()
    runs = [(int(r0, 16), int(status, 16)) for r0, status in zip(lines[0:2 * RING_RUNS:2], lines[1:2 * RING_RUNS:2])]
    data = bytes.fromhex(lines[2 * RING_RUNS])
    producer, consumer, dropped = (int(word, 16) for word in lines[2 * RING_RUNS + 1:])
    r0s, expected_data, *positions = interpreted()
    assert [status for _, status in runs] == [0] * RING_RUNS  # never handed over to Python
    assert [r0 for r0, _ in runs] == r0s
    assert dropped > 0 and producer > 2 * RING_SIZE  # the ring filled up and wrapped
    assert (producer, consumer, dropped) == tuple(positions)
    assert data == expected_data

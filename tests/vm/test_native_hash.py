"""Hash map lookups and updates the fast engines run themselves agree with the helpers (and with Linux).

Native code probes a plain hash map's native index and replaces existing
values itself (vm/jit/native_hash.py); compiled Python reads the map's dict
(compiled_codegen.hash_lookup).  Every engine, native code checked and
unchecked, must give the interpreter's r0 and leave the same map contents
after every run: keys of 1 to 64 bytes, every update flag, a full map,
deletes through the helper and from user space between runs, a table where
every key collides, and one key replaced many times in a run (native code
logs its slot once).  A pointer looked up before its element is replaced reads what it
reads on Linux (the kernel's extra element).
"""

from __future__ import annotations

import pytest

from pybpf.helpers import helper_id
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.kernel.virtual import VirtualKernel
from pybpf.maps import BPF_F_NO_PREALLOC
from pybpf.uapi import MapType, ProgType
from pybpf.vm.engines import ENGINES, rebuild
from support.kernel import needs_kernel

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
# (engine, verified): prog_load builds native code unchecked (verified); checked is what unverified code gets
RUNS = [(name, True) for name in ENGINES] + [(name, False) for name in ("native", "tiered") if name in ENGINES]
IDS = [f"{name}{'' if verified else '-checked'}" for name, verified in RUNS]


def mixed(key_size: int, iterations: int = 40) -> str:
    """r6 counts; the key is i % 5 in a 0x5a-filled key; the update flags cycle through 0..3 (3: -EINVAL);
    every found value is read and bumped through its pointer; every 7th key is deleted.  r7 mixes the r0s."""
    fill = "\n".join(f"    *(u8 *)(r10 - {128 - off}) = 0x5a" for off in range(key_size))
    return f"""
    r6 = 0
    r7 = 0
loop:
{fill}
    r1 = r6
    r1 %= 5
    *(u8 *)(r10 - 128) = r1
    r1 = r6
    r1 *= 3
    *(u64 *)(r10 - 200) = r1
    r1 = map[fd:{{hashes}}] ll
    r2 = r10
    r2 += -128
    r3 = r10
    r3 += -200
    r4 = r6
    r4 /= 5
    r4 &= 3
    call bpf_map_update_elem
    r7 *= 3
    r7 += r0
    r1 = map[fd:{{hashes}}] ll
    r2 = r10
    r2 += -128
    call bpf_map_lookup_elem
    if r0 == 0 goto missing
    r1 = *(u64 *)(r0 + 0)
    r7 += r1
    r1 += 1
    *(u64 *)(r0 + 0) = r1
missing:
    r1 = r6
    r1 %= 7
    if r1 != 6 goto next
    r1 = map[fd:{{hashes}}] ll
    r2 = r10
    r2 += -128
    call bpf_map_delete_elem
    r7 += r0
next:
    r6 += 1
    if r6 < {iterations} goto loop
    r0 = r7
    exit
"""


class Loaded:
    """One program in its own virtual kernel, on one engine, with its hash map."""

    def __init__(self, source: str, engine: str, verified: bool, key_size: int, max_entries: int,
                 collide: bool = False, flags: int = 0):
        self.kernel = kernel = VirtualKernel(ncpus=1)
        self.key_size = key_size
        self.map_fd = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, key_size, 8, max_entries, flags)
        if collide:  # every key hashes to slot 0
            kernel.map(self.map_fd).native_index(multiplier=0)
        insns = assemble(source.format(hashes=self.map_fd), helper_id=helper_id)
        self.fd = kernel.prog_load(SOCKET, insns, engine=engine).fd
        if not verified:
            prog = kernel.prog(self.fd)
            prog.interp = rebuild(prog.interp, engine, verified=False)

    def run(self, repeat: int = 1):
        result = self.kernel.prog_test_run(self.fd, bytes(64), repeat=repeat)
        return result.retval, self.contents()

    def contents(self):
        m = self.kernel.map(self.map_fd)
        if m.index is not None:  # the table the machine code probes holds the same addresses
            assert m.index.entries() == {key: m.value_address(key) for key in m.elements}
        return sorted(m.items())


@pytest.mark.parametrize("engine, verified", RUNS, ids=IDS)
@pytest.mark.parametrize("key_size", [1, 3, 4, 8, 13, 64])
def test_lookups_updates_and_deletes_agree_with_the_interpreter(engine, verified, key_size):
    source = mixed(key_size)
    reference = Loaded(source, "interp", True, key_size, 4)
    loaded = Loaded(source, engine, verified, key_size, 4)
    for _ in range(3):
        expected = reference.run()
        assert expected[1] and expected[0] != 0
        assert loaded.run() == expected


@pytest.mark.parametrize("engine, verified", RUNS, ids=IDS)
def test_every_key_in_one_collision_run(engine, verified):
    source = mixed(3, iterations=60)
    reference = Loaded(source, "interp", True, 3, 8)
    loaded = Loaded(source, engine, verified, 3, 8, collide=True)
    assert loaded.kernel.map(loaded.map_fd).index is not None
    for _ in range(2):
        assert loaded.run() == reference.run()


@pytest.mark.parametrize("engine, verified", RUNS, ids=IDS)
def test_user_space_changes_between_runs_are_seen(engine, verified):
    source = mixed(4)
    runs = [Loaded(source, "interp", True, 4, 4), Loaded(source, engine, verified, 4, 4)]
    for step in range(4):
        outcomes = []
        for loaded in runs:
            m = loaded.kernel.map(loaded.map_fd)
            key = bytes([step % 5]) + b"\x5a" * 3
            if step % 2:
                loaded.kernel.map_update(loaded.map_fd, key, (1000 + step).to_bytes(8, "little"))
            elif key in m.elements:
                loaded.kernel.map_delete(loaded.map_fd, key)
            outcomes.append(loaded.run())
        assert outcomes[1] == outcomes[0]


# One key replaced 100 times in one run, its value read back each time.
REPLACE_MANY = """
    r6 = 0
    r7 = 0
    *(u32 *)(r10 - 4) = 1
loop:
    *(u64 *)(r10 - 16) = r6
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto next
    r1 = *(u64 *)(r0 + 0)
    r7 += r1
next:
    r6 += 1
    if r6 < 100 goto loop
    r0 = r7
    exit
"""


@pytest.mark.parametrize("engine, verified", RUNS, ids=IDS)
def test_one_key_replaced_many_times_in_a_run(engine, verified):
    reference = Loaded(REPLACE_MANY, "interp", True, 4, 2)
    loaded = Loaded(REPLACE_MANY, engine, verified, 4, 2)
    m = loaded.kernel.map(loaded.map_fd)
    for _ in range(3):
        expected = reference.run(repeat=3)
        assert expected[0] == sum(range(100))
        loaded.kernel.prog_test_run(loaded.fd, bytes(64), repeat=3)
        if engine != "interp" and verified and m.index is not None:  # replaced in native code
            assert m.swaps[0] == 1  # 300 swaps, one slot logged once
        assert loaded.run(repeat=3) == expected  # the map takes the swaps in before it is read
        assert m.swaps[0] == 0


# A pointer looked up before its element is replaced: Linux's preallocated hash map puts the new value in its
# per-CPU extra element and keeps the old one as the next extra, so the pointer reads A after the first
# replacement and C after the second, which reuses its element (BPF_F_NO_PREALLOC maps too: the freed element
# is the next one allocated).  r0 = 100 * A-read + 10 * C-read + the new lookup.
OLD_POINTER = """
    *(u32 *)(r10 - 4) = 1
    r1 = 1
    *(u64 *)(r10 - 16) = r1
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r6 = r0
    r1 = 2
    *(u64 *)(r10 - 16) = r1
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    r7 = *(u64 *)(r6 + 0)
    r1 = 3
    *(u64 *)(r10 - 16) = r1
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 2
    call bpf_map_update_elem
    r8 = *(u64 *)(r6 + 0)
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r9 = *(u64 *)(r0 + 0)
    r7 *= 100
    r8 *= 10
    r0 = r7
    r0 += r8
    r0 += r9
    exit
out:
    r0 = 999
    exit
"""


@pytest.mark.parametrize("flags", [0, BPF_F_NO_PREALLOC], ids=["prealloc", "no-prealloc"])
@pytest.mark.parametrize("engine, verified", RUNS, ids=IDS)
def test_a_pointer_to_a_replaced_value_reads_what_it_reads_on_linux(engine, verified, flags):
    assert Loaded(OLD_POINTER, engine, verified, 4, 4, flags=flags).run()[0] == 133


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("flags", [0, BPF_F_NO_PREALLOC], ids=["prealloc", "no-prealloc"])
def test_linux_reads_the_old_then_the_reused_buffer(flags):
    fd = syscall.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 4, flags)
    try:
        prog = syscall.prog_load(SOCKET, encode(assemble(OLD_POINTER.format(hashes=fd), helper_id=helper_id)))
        try:
            assert syscall.prog_test_run(prog.fd, bytes(64)).retval == 133
        finally:
            syscall.close(prog.fd)
    finally:
        syscall.close(fd)


@pytest.mark.parametrize("engine", [name for name in ("compiled", "native") if name in ENGINES])
def test_existing_keys_are_replaced_without_the_helper(engine, monkeypatch):
    from pybpf.maps.hash import HashMap
    loaded = Loaded(REPLACE_MANY, engine, True, 4, 2)
    loaded.run()  # the first update inserts the key through the helper
    calls = []
    update = HashMap.update
    monkeypatch.setattr(HashMap, "update", lambda self, *args: calls.append(args) or update(self, *args))
    assert loaded.run(repeat=2)[0] == sum(range(100))
    assert calls == []


READ_KEY_1 = """
    *(u32 *)(r10 - 4) = 1
    r1 = map[fd:{hashes}] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r0 = *(u64 *)(r0 + 0)
    exit
out:
    r0 = 999
    exit
"""


@pytest.mark.skipif("native" not in ENGINES, reason="the native engine needs llvmlite")
@pytest.mark.parametrize("reader", [name for name in ENGINES if name != "native"])
def test_another_program_reads_what_native_code_replaced(reader):
    writer = Loaded(REPLACE_MANY, "native", True, 4, 2)
    kernel = writer.kernel
    fd = kernel.prog_load(SOCKET, assemble(READ_KEY_1.format(hashes=writer.map_fd), helper_id=helper_id),
                          engine=reader).fd
    assert kernel.prog_test_run(fd, bytes(64)).retval == 999
    for _ in range(2):
        kernel.prog_test_run(writer.fd, bytes(64))  # 100 replacements of key 1 in machine code, the last 99
        assert kernel.map(writer.map_fd).swaps[0] == 1  # not taken in yet
        assert kernel.prog_test_run(fd, bytes(64)).retval == 99

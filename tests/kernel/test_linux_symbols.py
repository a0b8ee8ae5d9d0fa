"""kernel/linux/symbols.py: the symbol tables kstack/ustack frames are resolved through (no bpf() needed)."""

from __future__ import annotations

import ctypes
import os

import pytest

from pybpf.kernel.linux.symbols import ProcessSymbols, StackSymbols, SymbolTable, _debug_file, elf_symbols
from pybpf.kernel.linux.uprobe import function_symbols


def test_a_sized_symbol_covers_only_its_bytes_and_an_unsized_one_up_to_the_next():
    table = SymbolTable([(0x1000, "sized", 0x10), (0x2000, "unsized"), (0x3000, "last", 4)])
    assert table.lookup(0x100f) == ("sized", 15)
    assert table.lookup(0x1010) is None  # past sized's end: bcc says unknown
    assert table.lookup(0x2fff) == ("unsized", 0xfff)
    assert table.lookup(0xfff) is None


def test_user_frames_of_this_process_resolve_through_its_mappings():
    libc = ctypes.CDLL(None)
    getppid = ctypes.cast(libc.getppid, ctypes.c_void_p).value
    name, offset, path = ProcessSymbols(os.getpid()).lookup(getppid + 3)
    assert offset == 3 and "libc" in os.path.basename(path) and name.endswith("getppid")
    stacks = StackSymbols()
    assert stacks.user(getppid + 3, os.getpid()) == f"{name}+3"
    assert stacks.user(getppid + 3, os.getpid(), perf=True) == f"{name}+3 ({path})"
    assert stacks.user(8, os.getpid(), perf=True) == "0x8 ([unknown])"  # nothing maps page 0
    assert stacks.build_id(8, os.getpid()) == "8"


def test_a_process_that_exited_keeps_the_mappings_seen_while_it_ran():
    pid = os.fork()
    if pid == 0:
        os.read(os.pipe()[0], 1)  # blocks until killed
        os._exit(0)
    try:
        stacks = StackSymbols()
        stacks.remember(pid)
        seen = stacks.processes[pid].maps
        assert seen
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    stacks.remember(pid)  # gone: the last mappings stay
    assert stacks.processes[pid].maps == seen


LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


@pytest.mark.skipif(not os.path.exists(LIBC) or _debug_file(LIBC) is None,
                    reason="needs libc's separate debug file (/usr/lib/debug/.build-id, libc6-dbg)")
def test_a_stripped_library_local_functions_come_from_its_debug_file():
    assert "__libc_start_call_main" not in function_symbols(LIBC)
    vaddr, size = function_symbols(_debug_file(LIBC))["__libc_start_call_main"]
    assert elf_symbols(LIBC).lookup(vaddr + size - 1) == ("__libc_start_call_main", size - 1)

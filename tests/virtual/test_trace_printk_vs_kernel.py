"""bpf_trace_printk formats as the kernel does: the same program prints the same message on both."""

import os
import threading
import time

import pytest

from pybpf.helpers import helper_id
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.linux import syscall
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType
from support.kernel import needs_kernel, trace_pipe_path

pytestmark = [needs_kernel, pytest.mark.kernel]

# (format, r3, r4, r5); a string argument points at "str" on the stack (r4 = ARG_STR).
ARG_STR = "str"
CASES = [
    (b"plain text\n", 0, 0, 0),
    (b"%d %u %x\n", -1, -1, 0xABC),
    (b"%ld %lu %lx\n", -1, -1, 0xFFFFFFFFFF),
    (b"%lld %llx %llu\n", -5, 1 << 40, 7),
    (b"%5d|%-5d|%05d\n", 42, 42, 42),
    (b"%s and %c\n", ARG_STR, 65, 0),
    (b"100%% done\n", 0, 0, 0),
    (b"%X %x\n", 255, 255, 0),
    (b"no newline", 0, 0, 0),
]


def program(fmt: bytes, args) -> list:
    fmt += b"\0"
    padded = fmt.ljust((len(fmt) + 7) // 8 * 8, b"\0")
    lines = []
    for i in range(0, len(padded), 8):
        lines += [f"r1 = {int.from_bytes(padded[i:i + 8], 'little'):#x} ll",
                  f"*(u64 *)(r10 - {len(padded) - i}) = r1"]
    base = len(padded) + 8
    lines += [f"r1 = {int.from_bytes(b'str'.ljust(8, bytes(1)), 'little'):#x} ll", f"*(u64 *)(r10 - {base}) = r1"]
    for reg, arg in zip(("r3", "r4", "r5"), args):
        if arg == ARG_STR:
            lines += [f"{reg} = r10", f"{reg} += -{base}"]
        else:
            lines.append(f"{reg} = {arg & 0xFFFFFFFFFFFFFFFF:#x} ll")
    lines += ["r1 = r10", f"r1 += -{len(padded)}", f"r2 = {len(fmt)}", "call bpf_trace_printk", "r0 = 0", "exit"]
    return assemble("\n".join(lines), helper_id=helper_id)


def kernel_messages(insns, wait: float = 2.0) -> list[str]:
    path = trace_pipe_path()
    if path is None:
        pytest.skip("tracefs is not mounted and cannot be mounted here")
    loaded = syscall.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, encode(insns), license="GPL")
    pipe = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:  # drain what others left
            try:
                if not os.read(pipe, 65536):
                    break
            except BlockingIOError:
                break
        syscall.prog_test_run(loaded.fd, bytes(64))
        data, deadline = b"", time.monotonic() + wait
        marker = f"-{threading.get_native_id()} ".encode()
        while time.monotonic() < deadline and marker not in data:
            try:
                data += os.read(pipe, 65536)
            except BlockingIOError:
                time.sleep(0.01)
    finally:
        os.close(pipe)
        syscall.close(loaded.fd)
    return [line.split(": bpf_trace_printk: ", 1)[1] for line in data.decode().split("\n")
            if marker.decode() in line and "bpf_trace_printk" in line]


def virtual_messages(insns) -> list[str]:
    kernel = VirtualKernel()
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, insns)
    kernel.prog_test_run(prog.fd, bytes(64))
    return [line.split(": bpf_trace_printk: ", 1)[1].split("\n")[0] for line in kernel.trace_pipe.drain()]


@pytest.mark.parametrize("fmt", [b"%o\n", b"%.3d\n", b"%hd\n", b"%d %d %d %d\n"])
def test_formats_the_kernel_refuses_print_nothing(fmt):
    insns = program(fmt, (1, 2, 3))
    assert virtual_messages(insns) == kernel_messages(insns, wait=0.3) == []


@pytest.mark.parametrize("fmt,a,b,c", CASES, ids=[c[0].decode().strip() or "empty" for c in CASES])
def test_same_message(fmt, a, b, c):
    insns = program(fmt, (a, b, c))
    ours, theirs = virtual_messages(insns), kernel_messages(insns)
    assert theirs, "the kernel printed nothing"
    assert ours == theirs

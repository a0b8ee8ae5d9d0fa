"""The trace pipe: bpf_trace_printk's output, line by line, in the kernel's format.

A line reads as /sys/kernel/tracing/trace_pipe prints it:

             python3-13305   [001] .....  4508.526880: bpf_trace_printk: BPF tick!

the task's comm right-aligned in 16 columns, `-` and its pid (the thread
id, as the kernel's task pid) left-aligned in 7, the CPU, five flag
characters (nothing disabled, no preemption depth, for events from Python
threads), seconds.microseconds, the event name and the message.  Like the
kernel, the message keeps its own newline and the pipe adds one.  Readers
block until a line arrives; a bounded buffer drops the oldest lines and
counts them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque

FLAGS = "....."


def task_comm() -> str:
    """The comm of the calling thread, as the kernel would show it (15 characters at most)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
            return f.read().strip()[:15]
    except OSError:
        return os.path.basename(sys.executable)[:15]


def format_line(comm: str, pid: int, cpu: int, timestamp_ns: int, message: str) -> str:
    seconds, micros = divmod(timestamp_ns // 1000, 1_000_000)
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {FLAGS} {seconds:5d}.{micros:06d}: bpf_trace_printk: {message}\n"


class TracePipe:
    def __init__(self, capacity: int = 1 << 16):
        self._lines: deque[str] = deque()
        self._capacity = capacity
        self._ready = threading.Condition()
        self.dropped = 0
        self._comm: dict[int, str] = {}

    def write(self, message: bytes, cpu: int = 0) -> None:
        tid = threading.get_native_id()
        comm = self._comm.get(tid)
        if comm is None:
            comm = self._comm[tid] = task_comm()
        line = format_line(comm, tid, cpu, time.monotonic_ns(), message.decode("latin-1"))
        with self._ready:
            if len(self._lines) >= self._capacity:
                self._lines.popleft()
                self.dropped += 1
            self._lines.append(line)
            self._ready.notify_all()

    def read(self, timeout: float | None = None) -> str | None:
        """The next line, waiting up to `timeout` seconds (None: forever); None on timeout."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._lines, timeout):
                return None
            return self._lines.popleft()

    def drain(self) -> list[str]:
        """Every line buffered now, without waiting."""
        with self._ready:
            lines = list(self._lines)
            self._lines.clear()
            return lines

    def __len__(self) -> int:
        return len(self._lines)

"""Stacks of the virtual kernel: the Python call stack of the thread an event fires on.

Each (code object, line) gets a stable synthetic instruction pointer in a
range no real code uses, so that stacks fit the kernel's u64 ip arrays and
user space can symbolise them back (`symbolize(ip)` -> "module.function
(file:line)").  Frames of pybpf itself (the engine running the program) are
left out, so the innermost frame is the traced code.
"""

from __future__ import annotations

import os
import sys
import threading

IP_BASE = 0x7FFF_0000_0000  # user-space-looking addresses for Python frames
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class StackTable:
    def __init__(self):
        self._ips: dict[tuple, int] = {}
        self._frames: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def ip_of(self, code, line: int) -> int:
        key = (code, line)
        ip = self._ips.get(key)
        if ip is None:
            with self._lock:
                ip = self._ips.setdefault(key, IP_BASE + 16 * len(self._frames))
                if ip == IP_BASE + 16 * len(self._frames):
                    module = code.co_filename
                    self._frames.append((module, code.co_qualname if hasattr(code, "co_qualname") else code.co_name,
                                         line))
        return ip

    def current(self, limit: int = 127) -> list[int]:
        """The calling thread's Python stack, innermost first, without pybpf's own frames."""
        ips = []
        frame = sys._getframe(1)
        while frame is not None and len(ips) < limit:
            if not frame.f_code.co_filename.startswith(_PACKAGE):
                ips.append(self.ip_of(frame.f_code, frame.f_lineno))
            frame = frame.f_back
        return ips

    def symbolize(self, ip: int) -> str:
        index, rest = divmod(ip - IP_BASE, 16)
        if ip < IP_BASE or rest or index >= len(self._frames):
            return f"{ip:#x}"
        filename, function, line = self._frames[index]
        module = os.path.splitext(os.path.basename(filename))[0]
        return f"{module}.{function} ({filename}:{line})"

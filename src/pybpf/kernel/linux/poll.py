"""epoll over the fds events come back on: perf buffers, ring buffers, the trace pipe.

Each registered fd carries a callback run when it is readable; `poll(timeout)`
waits once and runs the callbacks of the ready fds, returning how many ran.
"""

from __future__ import annotations

import select
from typing import Callable


class Poller:
    def __init__(self):
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[], object]] = {}

    def add(self, fd: int, callback: Callable[[], object]) -> None:
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        if self._callbacks.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def poll(self, timeout: float | None = None) -> int:
        """Wait up to `timeout` seconds (None: forever) and run the ready fds' callbacks."""
        ready = self._epoll.poll(-1 if timeout is None else timeout)
        for fd, _ in ready:
            self._callbacks[fd]()
        return len(ready)

    def close(self) -> None:
        self._epoll.close()
        self._callbacks.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

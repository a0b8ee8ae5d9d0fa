"""Whole lines to a pipe, as bpftrace writes its stdout.

bpftrace's stdout is line-buffered: `printf("%d ", x)` reaches a pipe with
the end of its line, or at exit.  A reader that takes lines (bpftrace's
runtime-test runner) and stops the tracer on a timeout loses a half line it
has already read, so a tracer that flushed every record would lose that
text.  WholeLines passes on complete lines at once and keeps the rest
until its line ends or `drain()` (the end of the run).  Python's own
line_buffering does not do this: it still writes a partial line at once.
"""

from __future__ import annotations

import io


class WholeLines(io.TextIOBase):
    def __init__(self, stream):
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        if "\n" in self.pending:
            lines, _, self.pending = self.pending.rpartition("\n")
            self.stream.write(lines + "\n")
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        """Only whole lines leave, and they already have."""

    def drain(self) -> None:
        """The end of the run: the last, unfinished line too."""
        if self.pending:
            self.stream.write(self.pending)
            self.pending = ""
        self.stream.flush()


class Batch:
    """A run's output gathered in memory and handed to the stream in one write at `flush()`.

    A poll of the ring buffer may bring thousands of printf records; one write
    (one WholeLines split, one system call) for all of them instead of one
    each is most of what a record costs at high rates.  The session flushes
    at the end of every poll and before anything it writes to stderr, so the
    two streams keep their order.
    """

    def __init__(self, stream):
        self.stream = stream
        self.parts: list[str] = []
        self.write = self.parts.append  # called once a record: the bound method, no frame of ours

    def flush(self) -> None:
        if self.parts:
            text = "".join(self.parts)
            self.parts.clear()
            self.stream.write(text)
        self.stream.flush()

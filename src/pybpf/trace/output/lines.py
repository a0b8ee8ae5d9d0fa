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

"""Script text, spans within it, and diagnostics in bpftrace's layout.

    stdin:1:9-12: ERROR: Unknown function: foo
    BEGIN { foo(); }
            ~~~

Columns are 1-based and the span's end is exclusive, as bpftrace prints
them; a span over several lines underlines its first line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import PybpfError


@dataclass(frozen=True)
class Span:
    """Offsets [start, end) into the script text."""

    start: int
    end: int
    # Code a macro call put here: the call's span (itself maybe inside another macro's body).  Diagnostics
    # add bpftrace's "expanded from" note for each.
    expanded_from: "Span | None" = field(default=None, compare=False)

    def to(self, other: "Span") -> "Span":
        return Span(self.start, max(self.end, other.end), self.expanded_from)


@dataclass(frozen=True)
class Source:
    text: str
    name: str = "stdin"  # what bpftrace calls a script given with -e; a file's path otherwise

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based."""
        line = self.text.count("\n", 0, offset) + 1
        start = self.text.rfind("\n", 0, offset) + 1
        return line, offset - start + 1

    def line_text(self, line: int) -> str:
        return self.text.split("\n")[line - 1]


@dataclass(frozen=True)
class Diagnostic:
    span: Span
    message: str
    level: str = "ERROR"  # or WARNING
    hints: tuple[str, ...] = ()

    def render(self, source: Source) -> str:
        line, col = source.position(self.span.start)
        text = source.line_text(line)
        end_line, end_col = source.position(max(self.span.end, self.span.start + 1))
        if end_line != line:
            end_col = len(text) + 1
        head = f"{source.name}:{line}:{col}-{end_col}: {self.level}: {self.message}"
        marks = " " * (col - 1) + "~" * max(end_col - col, 1)
        lines = [head, text, marks, *(f"HINT: {hint}" for hint in self.hints)]
        if self.span.expanded_from is not None:
            lines.append(Diagnostic(self.span.expanded_from, "expanded from", self.level).render(source))
        return "\n".join(lines)


@dataclass
class ScriptError(PybpfError):
    """One or more errors in a script, each with its place; str() is what bpftrace prints."""

    source: Source
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(d.render(self.source) for d in self.diagnostics)


class Diagnostics:
    """Collects errors and warnings while a pass runs; `check()` raises if any error was seen."""

    def __init__(self, source: Source):
        self.source = source
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def error(self, span: Span, message: str, *hints: str) -> None:
        self.errors.append(Diagnostic(span, message, "ERROR", hints))

    def warning(self, span: Span, message: str, *hints: str) -> None:
        self.warnings.append(Diagnostic(span, message, "WARNING", hints))

    def fail(self, span: Span, message: str, *hints: str) -> "ScriptError":
        """An error that stops the pass at once: `raise diagnostics.fail(...)`."""
        self.error(span, message, *hints)
        return ScriptError(self.source, list(self.errors))

    def check(self) -> None:
        if self.errors:
            raise ScriptError(self.source, list(self.errors))

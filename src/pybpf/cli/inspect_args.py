"""What `pybpf prog`, `pybpf map` and `pybpf btf` share: bpftool's `id ID` object argument."""

from __future__ import annotations

from .io import InputError


def object_id(words: list[str], what: str) -> int | None:
    """`[id] ID` -> ID; nothing -> None (every object)."""
    if words and words[0] == "id":
        words = words[1:]
    if not words:
        return None
    if len(words) != 1 or not (words[0].isascii() and words[0].isdigit()):
        raise InputError(f"expected `id {what.upper()}_ID` (a number), got {' '.join(words)!r}")
    return int(words[0])

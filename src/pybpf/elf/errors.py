"""Errors of the ELF loader."""

from ..errors import PybpfError


class ElfError(PybpfError):
    """A malformed or unsupported BPF object: the message names the file and the place."""

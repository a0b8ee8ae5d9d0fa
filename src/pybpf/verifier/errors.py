"""What a rejected program raises."""

from __future__ import annotations

import errno

from ..errors import PybpfError


class VerifierError(PybpfError):
    """The program is refused; `message` is the kernel's wording, `pc` the instruction."""

    def __init__(self, message: str, pc: int | None = None, code: int = errno.EACCES):
        self.message = message
        self.pc = pc
        self.errno = code
        super().__init__(message if pc is None else f"pc {pc}: {message}")


def reject(message: str, code: int = errno.EACCES) -> VerifierError:
    return VerifierError(message, None, code)

"""The error every Kernel implementation raises for a refused bpf() command."""

from __future__ import annotations

import errno as _errno
import os

from ..errors import PybpfError


class BpfError(PybpfError, OSError):
    """A bpf() command refused: the command, Linux's errno, why, and the verifier log if any."""

    def __init__(self, command: str, err: int, reason: str = "", log: str = ""):
        self.command, self.log = command, log
        name = _errno.errorcode.get(err, "ENOTSUPP" if err == 524 else str(err))
        text = f"{command}: {name} ({os.strerror(err) if err != 524 else 'Not supported'})"
        OSError.__init__(self, err, text + (f": {reason}" if reason else ""))
        self.args = (self.strerror,)

    def __str__(self) -> str:
        return self.args[0] + (f"\n{self.log.rstrip()}" if self.log else "")

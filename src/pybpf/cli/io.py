"""Reading programs from files or standard input, in the forms the commands accept."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..errors import PybpfError

_HEX_TEXT = re.compile(rb"^[0-9a-fA-F\s]*$")


class InputError(PybpfError):
    """A file that cannot be read, or bytes that are not what the command needs."""


def read_input(name: str | None) -> bytes:
    """The bytes of FILE, or of standard input for None or '-'."""
    if name in (None, "-"):
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as err:
        raise InputError(f"{name}: {err.strerror}") from None


def bytecode(data: bytes, origin: str) -> bytes:
    """Raw bytecode, accepting hex text (whitespace allowed) as well as binary."""
    if data and _HEX_TEXT.match(data):
        text = b"".join(data.split())
        if len(text) % 2:
            raise InputError(f"{origin}: odd number of hex digits")
        return bytes.fromhex(text.decode())
    return data


def text(data: bytes, origin: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as err:
        raise InputError(f"{origin}: not UTF-8 text (byte {err.start})") from None

"""bpf_trace_printk's format rules (kernel/bpf/helpers.c, bpf_bprintf_prepare).

At most three arguments; conversions %d %i %u %x %X %c %s %p (with the
flags `0+- `, a width, the l and ll length modifiers, and %pK %px %pi4 %pI4
%pi6 %pI6), `%%`; anything else (%o, a precision, h) makes the helper return
-EINVAL and print nothing, as the kernel does.  Integer arguments are printed at the width their length
modifier gives (int, long, long long), so `%d` of 0xffffffff prints -1.
"""

from __future__ import annotations

import errno
import re

_SPEC = re.compile(r"%(?P<flags>[-+ 0]*)(?P<width>\d*)(?P<prec>)(?P<len>ll|l)?(?P<conv>[diuxXcsp%])"
                   r"(?P<ext>(?<=p)(?:K|x|s|S|B|[iI][46]))?")


class FormatError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.errno = errno.EINVAL


def _int(value: int, length: str | None, signed: bool) -> int:
    bits = 64 if length in ("l", "ll", "z") else 32
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def bprintf(fmt: bytes, args: list[int], read_str, max_args: int = 3) -> bytes:
    """Format like the kernel's bstr_printf; `read_str(addr)` reads a NUL-terminated string."""
    text = fmt.split(b"\0", 1)[0].decode("latin-1")
    out, pos, used = [], 0, 0
    for m in _SPEC.finditer(text):
        out.append(text[pos:m.start()])
        pos = m.end()
        conv = m["conv"]
        if conv == "%":
            out.append("%")
            continue
        if used >= min(max_args, len(args)):
            raise FormatError(f"more than {min(max_args, len(args))} arguments")
        value = args[used]
        used += 1
        spec = "%" + m["flags"] + m["width"] + (f".{m['prec']}" if m["prec"] else "")
        if conv in "di":
            out.append((spec + "d") % _int(value, m["len"], True))
        elif conv in "uxX":
            out.append((spec + conv) % _int(value, m["len"], False))
        elif conv == "c":
            out.append((spec + "c") % chr(value & 0xFF))
        elif conv == "s":
            out.append((spec + "s") % read_str(value).decode("latin-1"))
        else:  # %p and its extensions
            ext = m["ext"]
            if ext in ("i4", "I4"):
                sep = "." if ext == "I4" else ""
                out.append(".".join(str(b) for b in read_str(value, 4, raw=True)) if sep else
                           "".join(f"{b:03d}" for b in read_str(value, 4, raw=True)))
            elif ext in ("i6", "I6"):
                raw = read_str(value, 16, raw=True)
                words = [raw[i:i + 2].hex() for i in range(0, 16, 2)]
                out.append(":".join(words) if ext == "I6" else "".join(words))
            else:
                out.append(f"{value & (2**64 - 1):016x}" if ext in ("x", "K") else f"0x{value & (2**64 - 1):x}")
    rest = text[pos:]
    if "%" in rest:
        raise FormatError(f"unsupported conversion in {rest!r}")
    out.append(rest)
    return "".join(out).encode("latin-1")

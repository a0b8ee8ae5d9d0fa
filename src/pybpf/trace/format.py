"""printf formats: checked against their arguments at compile time, rendered in user space.

Conversions are C's (`%d %i %u %x %X %o %c %s %p %%`, flags `-+ #0`,
width, precision, length modifiers `hh h l ll z j t`), with current
bpftrace's semantics: the value is cast to the C type the conversion and
its length modifier name (`%hhx` 8 bits, `%hx` 16, `%x` and `%d` 32,
`%lx`, `%llx`, `%jx`... 64), `%d` printing it signed and `%u`/`%x`/`%o`
unsigned; `%gr` prints an integer as GFP flag names (gfp_flags.py).
"""

from __future__ import annotations

import re

from .gfp_flags import gfp_text
from .output.text import Buffer, value_text
from .types import Type, kind_name

SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+)?(?:\.(?P<precision>\d+))?(?P<length>hh|h|ll|l|z|j|t)?"
                  r"(?P<conv>gr|r[xh]?|[diuxXocsp%])")
INTEGER_CONVERSIONS = {*"diuxXocp", "gr"}
M64 = (1 << 64) - 1


def conversions(fmt: str) -> list[re.Match]:
    """The conversion specifications of a format, `%%` excluded."""
    return [m for m in SPEC.finditer(fmt) if m.group("conv") != "%"]


def check_format(fmt: str, types: list[Type]) -> str | None:
    """Why these argument types do not fit the format, or None."""
    specs = conversions(fmt)
    stray = re.search(r"%(?![-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t)?(?:gr|r[xh]?|[diuxXocsp%]))", fmt)
    if stray:
        return f"Invalid format string: unknown conversion specifier at offset {stray.start()}"
    if len(types) < len(specs):
        return f"Not enough arguments for format string ({len(types)} supplied, {len(specs)} expected)"
    if len(types) > len(specs):
        return f"Too many arguments for format string ({len(types)} supplied, {len(specs)} expected)"
    for spec, t in zip(specs, types):
        conv = spec.group("conv")
        if conv in INTEGER_CONVERSIONS and not (t.is_int or t.kind == "ptr"):
            return f"%{conv} specifier expects a value of type integer ({kind_name(t)} supplied)"
        if conv.startswith("r") and t.kind != "buffer":
            return f"%{conv} specifier expects a value of type buffer ({kind_name(t)} supplied)"
        if conv == "s" and t.kind not in ("str", "int", "timestamp", "tuple", "username", "buffer", "strerror",
                                        "signal_name", "usym", "ksym", "kstack",
                                        "ustack", "inet", "enum"):
            return f"%s specifier expects a value of type string ({kind_name(t)} supplied)"
    return None


LENGTH_BITS = {"hh": 8, "h": 16, None: 32}  # l, ll, j, z, t: 64


def _signed(value: int, bits: int = 64) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def render(fmt: str, values: list) -> str:
    """The text printf prints for decoded values (ints, or bytes/str for strings)."""
    out, pos, args = [], 0, iter(values)
    for m in SPEC.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        conv = m.group("conv")
        if conv == "%":
            out.append("%")
            continue
        value = next(args)
        spec = "%" + m.group("flags") + (m.group("width") or "") + (
            "." + m.group("precision") if m.group("precision") is not None else "")
        bits = LENGTH_BITS.get(m.group("length"), 64)
        if conv in "di":
            out.append((spec + "d") % _signed(value, bits))
        elif conv in "uxXo":
            out.append((spec + conv.replace("u", "d")) % (value & ((1 << bits) - 1)))
        elif conv == "gr":
            out.append((spec + "s") % gfp_text(value & M64))
        elif conv == "p":
            out.append((spec + "s") % f"0x{value & M64:x}")
        elif conv.startswith("r"):  # %r: escaped; %rx: every byte \\xNN; %rh: hex bytes with spaces
            text = value.text(keep_ascii=conv == "r", escape=conv != "rh") if isinstance(value, Buffer) else \
                value_text(value)
            out.append((spec + "s") % text)
        elif conv == "c":
            out.append((spec + "c") % chr(value & 0xFF))
        else:
            text = value.split(b"\0", 1)[0].decode("utf-8", "replace") if isinstance(value, bytes) else \
                value_text(value)
            out.append((spec + "s") % text)
    out.append(fmt[pos:])
    return "".join(out)

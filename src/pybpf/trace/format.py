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
from functools import lru_cache

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


def _string_text(value) -> str:
    return value.split(b"\0", 1)[0].decode("utf-8", "replace") if isinstance(value, bytes) else value_text(value)


def _c_integer(conv: str, flags: str, width: str, precision: str | None, bits: int):
    """An integer conversion as C's printf writes it, where Python's % differs: `+` and space are for signed
    conversions only, `#` makes octal start with 0 (Python: 0o) and adds no 0x to a zero, a precision turns
    0-padding off and a zero with precision 0 has no digits."""
    base = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X", "o": "o"}[conv]
    mask, wide = (1 << bits) - 1, int(width or 0)

    def text(value: int) -> str:
        value = _signed(value, bits) if conv in "di" else value & mask
        digits = format(abs(value), base)
        if precision is not None:
            digits = "" if int(precision) == 0 and value == 0 else digits.zfill(int(precision))
        sign = ""
        if conv in "di":
            sign = "-" if value < 0 else "+" if "+" in flags else " " if " " in flags else ""
        elif "#" in flags and conv == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif "#" in flags and conv in "xX" and value:
            sign = "0" + conv
        if "-" in flags:
            return (sign + digits).ljust(wide)
        if "0" in flags and precision is None:
            return sign + digits.rjust(wide - len(sign), "0")
        return (sign + digits).rjust(wide)
    return "%s", text


def _conversion(spec: str, conv: str, bits: int):
    """The Python %-conversion of one printf conversion, and the function that prepares its value."""
    if conv in "di":
        return spec + "d", lambda value: _signed(value, bits)
    if conv in "uxXo":
        mask = (1 << bits) - 1
        return spec + conv.replace("u", "d"), lambda value: value & mask
    if conv == "gr":
        return spec + "s", lambda value: gfp_text(value & M64)
    if conv == "p":
        return spec + "s", lambda value: f"0x{value & M64:x}"
    if conv.startswith("r"):  # %r: escaped; %rx: every byte \\xNN; %rh: hex bytes with spaces
        return spec + "s", lambda value: value.text(keep_ascii=conv == "r", escape=conv != "rh") \
            if isinstance(value, Buffer) else value_text(value)
    if conv == "c":
        return spec + "c", lambda value: chr(value & 0xFF)
    return spec + "s", _string_text


@lru_cache(maxsize=None)
def compile_format(fmt: str):
    """A format, parsed once: a function from decoded values (ints, or bytes/str for strings) to the text printf
    prints.  The text between conversions and each conversion's flags, width and precision become one Python
    %-format; each value is first cast as its conversion says (render is this, for one call)."""
    pieces, prepare, pos = [], [], 0
    for m in SPEC.finditer(fmt):
        pieces.append(fmt[pos:m.start()].replace("%", "%%"))
        pos = m.end()
        conv = m.group("conv")
        if conv == "%":
            pieces.append("%%")
            continue
        flags, width, precision = m.group("flags"), m.group("width") or "", m.group("precision")
        spec = "%" + flags + width + ("." + precision if precision is not None else "")
        bits = LENGTH_BITS.get(m.group("length"), 64)
        unsigned_sign = conv not in "di" and set(flags) & {"+", " "}
        if conv in "diuxXo" and (precision is not None or "#" in flags or unsigned_sign):
            piece, cast = _c_integer(conv, flags, width, precision, bits)  # where Python's % is not C's
        else:
            piece, cast = _conversion(spec, conv, bits)
        pieces.append(piece)
        prepare.append(cast)
    pieces.append(fmt[pos:].replace("%", "%%"))
    template = "".join(pieces)
    if not prepare:
        return lambda values: template % ()
    if len(prepare) == 1:
        (only,) = prepare
        return lambda values: template % (only(values[0]),)
    return lambda values: template % tuple([cast(value) for cast, value in zip(prepare, values)])


def render(fmt: str, values) -> str:
    """The text printf prints for decoded values (ints, or bytes/str for strings)."""
    return compile_format(fmt)(values)

"""bpftrace's text output for maps: `@name[keys]: value` lines, stats, and histograms."""

from __future__ import annotations

from ..types import Type

BAR_WIDTH = 52
SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


class Buffer(bytes):
    """buf()'s bytes: printable ASCII as is, other bytes as `\\xNN` (bpftrace's hex_format_buffer)."""

    def text(self, keep_ascii: bool = True, escape: bool = True) -> str:
        if not keep_ascii and not escape:
            return " ".join(f"{b:02x}" for b in self)
        return "".join(chr(b) if keep_ascii and 32 <= b <= 126 else f"\\x{b:02x}" for b in self)

    def __str__(self) -> str:
        return self.text()


def _signal_name(number: int) -> str:
    if not 0 <= number < 65:  # bpftrace's table of strsignal(3) texts
        return "N/A"
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        libc.strsignal.restype = ctypes.c_char_p
        return libc.strsignal(number).decode()
    except (OSError, AttributeError):
        import signal
        return signal.strsignal(number) if number else f"Unknown signal {number}"


def _strerror(number: int) -> str:
    import os
    return os.strerror(number)


def _symbol(address: int) -> str:
    """usym/ksym: no symbol tables of the traced Python program, so an address prints as bpftrace prints
    one it cannot resolve."""
    return f"0x{address & ((1 << 64) - 1):x}"


# Integers of these types print as a name (builtins_strings.py).
NUMBER_NAMES = {"strerror": _strerror, "signal_name": _signal_name, "usym": _symbol, "ksym": _symbol}


def value_text(value, t: Type | None = None) -> str:
    """A key or value as bpftrace prints it: ints in decimal, strings raw, tuples in parentheses, records
    and structs in braces (their own __str__)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(value_text(v) for v in value) + ")"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key_text(key: tuple) -> str:
    return "[" + ", ".join(value_text(k) for k in key) + "]" if key else ""


def _power_label(n: int) -> str:
    """1024 -> 1K: the largest power-of-1024 suffix that divides n exactly."""
    index = 0
    while n and n % 1024 == 0 and index < len(SUFFIXES) - 1:
        n //= 1024
        index += 1
    return f"{n}{SUFFIXES[index]}"


def _bar_line(label: str, count: int, top: int) -> str:
    bar = "@" * (count * BAR_WIDTH // top if top else 0)
    return f"{label:<16}{count:>8} |{bar:<{BAR_WIDTH}}|"


def hist_bucket_end(index: int, k: int = 0) -> int:
    """The first value past hist() bucket `index` (bucket 0: negatives).  Each power of 2 is split into
    2^k buckets; the first 2^(k+1) buckets hold one value each (bpftrace's hist_index_label)."""
    if index <= 2 << k:
        return index
    n = 1 << k
    return (1 << ((index >> k) - 1)) * (n + (index & (n - 1)))


def _hist_label(index: int, k: int) -> str:
    """A bucket end as bpftrace prints it: 1024 -> 1K, 3 << 20 -> 3M."""
    if index <= 2 << k:
        return str(index)
    n = 1 << k
    power = (index >> k) - 1
    decade = power // 10
    return f"{(1 << (power - 10 * decade)) * (n + (index & (n - 1)))}{SUFFIXES[decade]}"


def hist_lines(buckets: dict[int, int], k: int = 0) -> list[str]:
    """hist(n, k): bucket 0 holds negatives, bucket i the values [end(i-1), end(i))."""
    used = [i for i, c in buckets.items() if c]
    if not used:
        return []
    top = max(buckets.values())
    lines = []
    for i in range(min(used), max(used) + 1):
        if i == 0:
            label = "(..., 0)"
        elif hist_bucket_end(i, k) - hist_bucket_end(i - 1, k) == 1:
            label = f"[{_hist_label(i - 1, k)}]"
        else:
            label = f"[{_hist_label(i - 1, k)}, {_hist_label(i, k)})"
        lines.append(_bar_line(label, buckets.get(i, 0), top))
    return lines


def lhist_lines(buckets: dict[int, int], low: int, high: int, step: int) -> list[str]:
    """lhist(): bucket 0 is below min, the last at or above max, the others step wide."""
    used = [i for i, c in buckets.items() if c]
    if not used:
        return []
    top, last = max(buckets.values()), (high - low) // step + 1
    lines = []
    for i in range(min(used), max(used) + 1):
        if i == 0:
            label = f"(..., {low})"
        elif i == last:
            label = f"[{high}, ...)"
        else:
            start = low + (i - 1) * step
            label = f"[{start}, {start + step})"
        lines.append(_bar_line(label, buckets.get(i, 0), top))
    return lines


def zero_entries(value_type: Type) -> list[tuple[tuple, object]]:
    """What print() shows for a scalar map never set: its zero value (none for histograms)."""
    kind = value_type.kind
    if kind in ("hist", "lhist", "tseries"):
        return []
    if kind in ("avg", "stats"):
        return [((), (0, 0))]
    return [((), "" if kind == "str" else 0)] if kind in ("str", "int", "bool", "count", "sum", "min", "max") else []


def select_entries(value_type: Type, entries: list[tuple[tuple, object]], top: int = 0,
                   div: int = 1) -> list[tuple[tuple, object]]:
    """print(@m, top, div): the `top` largest entries (0: all), integer values divided by div."""
    kind = value_type.kind
    if div > 1 and kind in ("int", "count", "sum", "min", "max"):
        entries = [(key, int(value / div)) for key, value in entries]
    if top:
        def rank(entry):
            value = entry[1]
            if kind in ("hist", "lhist"):
                return sum(value.values())
            if kind in ("avg", "stats"):
                return int(value[1] / value[0]) if value[0] else 0
            return value if isinstance(value, int) else 0
        entries = sorted(entries, key=lambda e: (rank(e), e[0]))[-top:]
    return entries


def format_map(name: str, value_type: Type, entries: list[tuple[tuple, object]]) -> list[str]:
    """The lines printing a map at exit (or with print()).

    entries: (key tuple, value) with value an int, str or tuple; (count, total)
    for avg/stats; {bucket: count} for hist/lhist.
    """
    kind = value_type.kind
    lines: list[str] = []
    if kind in ("hist", "lhist"):
        for key, buckets in sorted(entries, key=lambda e: e[0]):
            lines.append(f"{name}{_key_text(key)}: ")
            lines += hist_lines(buckets, *value_type.params) if kind == "hist" else \
                lhist_lines(buckets, *value_type.params)
            lines.append("")
        return lines
    if kind == "tseries":
        from .tseries import graph, series
        for key, points in series(value_type, entries):
            lines += [f"{name}{_key_text(key)}:"] + graph(points) + [""]
        return lines
    if kind in ("avg", "stats"):
        def average(v):
            count, total = v
            return int(total / count) if count else 0
        for key, value in sorted(entries, key=lambda e: (average(e[1]), e[0])):
            count, total = value
            text = str(average(value)) if kind == "avg" else \
                f"{{ .count = {count}, .average = {average(value)}, .total = {total} }}"  # current bpftrace
            lines.append(f"{name}{_key_text(key)}: {text}")
        return lines + [""]
    order = (lambda e: (e[1], e[0])) if kind in ("int", "bool", "count", "sum", "min", "max") else (lambda e: e[0])
    for key, value in sorted(entries, key=order):
        lines.append(f"{name}{_key_text(key)}: {value_text(value)}")
    return lines

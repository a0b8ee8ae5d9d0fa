"""tseries() maps in user space: buckets reduced to one value per epoch, drawn as bpftrace draws them.

A bucket holds (value, meta, epoch); epoch 0 means never used (and reads
as value 0, as in bpftrace).  All keys of a map show the same window: the
`count` epochs ending at the latest epoch any key saw; an epoch of the
window with no bucket prints as `-` (text) or is left out (JSON).
"""

from __future__ import annotations

import datetime
import os
import time

from ..types import Type

M64 = (1 << 64) - 1
GRAPH_WIDTH, PADDING = 53, 21
UNITS = ((1_000_000_000, "s", 0), (1_000_000, "ms", 3), (1_000, "us", 6), (0, "ns", 9))


def _reduce(buckets: dict[int, tuple[int, int, int]], aggregator: str) -> dict[int, int]:
    """{epoch: value} of one key (each bucket holds one epoch; its latest state)."""
    values: dict[int, int] = {}
    for value, meta, epoch in buckets.values():
        if epoch == 0:
            values.setdefault(0, 0)
            continue
        values.setdefault(epoch, int(value / meta) if aggregator == "avg" and meta else value)
    return values


def series(value_type: Type, entries: list[tuple[tuple, dict]]) -> list[tuple[tuple, list[tuple[int, int | None]]]]:
    """Per key: (interval start in ns since the Unix epoch, value or None) over the map's window."""
    from ..builtins_tseries import AGGREGATORS, DUMMY_TS_MAP
    interval, count, aggregator = value_type.params
    reduced = [(key, _reduce(buckets, AGGREGATORS[aggregator])) for key, buckets in entries]
    last = max((max(values, default=0) for _, values in reduced), default=M64)
    first = (last - count + 1) & M64
    offset = 0 if os.environ.get(DUMMY_TS_MAP) else time.time_ns() - time.monotonic_ns()  # monotonic -> wall
    result = []
    for key, values in sorted(reduced, key=lambda e: e[0]):
        used = [epoch for epoch in values if epoch >= first]
        start = min(used, default=last)
        points = [(epoch * interval + offset, values.get(epoch))
                  for epoch in range(max(first, start), last + 1)] if first <= last else []
        result.append((key, points))
    return result


def _clock(ns: int, fmt: str, digits: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime(fmt, time.localtime(seconds))
    return text + (f".{fraction // 10 ** (9 - digits):0{digits}d}" if digits else "")


def graph(points: list[tuple[int, int | None]]) -> list[str]:
    """The text chart of one series: a line per interval, min and max above and below."""
    if not points:
        return ["<no data>"]
    values = [v for _, v in points if v is not None]
    low, high = min(values, default=0), max(values, default=0)
    if low == high:
        low, high = low - 1, high + 1
    interval = (points[-1][0] - points[0][0]) // (len(points) - 1 if len(points) > 1 else 1)
    _, unit, digits = next(u for u in UNITS if interval >= u[0])
    time_fmt = "hh:mm:ss" + (f".{unit}" if digits else "")
    width = len("hh:mm:ss") + (1 + digits if digits else 0)
    scale = f"{str(low):<{PADDING}}{str(high):>{GRAPH_WIDTH - PADDING}}"
    lines = [" " * (width + 1) + scale, f"{time_fmt:<{width + 1}}|{'_' * (GRAPH_WIDTH - 2)}|"]
    zero = int(GRAPH_WIDTH * (0 - low) / (high - low)) if low < 0 < high else 0
    for start, value in points:
        row = [" "] * GRAPH_WIDTH
        row[0] = row[-1] = "|"
        if zero > 0:
            row[zero] = "."
        stamp = _clock(start, "%H:%M:%S", digits)
        if value is None:
            lines.append(f"{stamp} {''.join(row)} -")
            continue
        point = int((GRAPH_WIDTH - 1) * (value - low) / (high - low))
        row[max(0, min(GRAPH_WIDTH - 1, point))] = "*"
        lines.append(f"{stamp} {''.join(row)} {value}")
    lines.append(" " * width + " v" + "_" * (GRAPH_WIDTH - 2) + "v")
    lines.append(" " * width + " " + scale)
    return lines


def json_points(points: list[tuple[int, int | None]]) -> list[dict]:
    """JSON's list: `{"interval_start": "1970-01-01 00:00:00.500000000", "value": 9}`, in UTC."""
    out = []
    for start, value in points:
        if value is None:
            continue
        seconds, fraction = divmod(start, 1_000_000_000)
        stamp = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        out.append({"interval_start": f"{stamp}.{fraction:09d}", "value": value})
    return out

"""bpftrace's `-f json` output: one JSON object a line (NDJSON), as current bpftrace writes it.

Each line is `{"type": KIND, "data": ...}`: `map`, `hist` or `stats` for
maps (scalar maps as `{"@name": value}`, keyed ones as `{"@name": {"k1,k2":
value}}` with tuple keys joined by commas and spaces dropped), `printf`,
`time`, `cat` and `syscall` for text, `value` for print(value).  Integers a
double cannot hold exactly are strings (RFC 8259), as bpftrace does.
Histogram buckets are closed intervals: `{"min": 2, "max": 3, "count": 1}`.
"""

from __future__ import annotations

import json

from ..types import ArrayValue, RecordValue, Type
from .text import hist_bucket_end, value_text


def _json_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if int(float(value)) == value else json.dumps(str(value))
    if isinstance(value, RecordValue):  # a record or struct: an object, its tuples and arrays as lists
        return "{" + ", ".join(f"{json.dumps(name)}: {_json_value(v)}" for name, v in value.items()) + "}"
    if isinstance(value, (tuple, ArrayValue)):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return json.dumps(str(value))


def _key(key: tuple) -> str:
    return ",".join(value_text(k) for k in key).replace(" ", "")


def _buckets(counts: list[tuple[int | None, int | None, int]]) -> str:
    """(min or None, max or None, count) rows trimmed to the used range, as bpftrace's text output is."""
    used = [i for i, (_, _, count) in enumerate(counts) if count]
    if not used:
        return "[]"
    rows = []
    for low, high, count in counts[min(used):max(used) + 1]:
        fields = ([f'"min": {low}'] if low is not None else []) + ([f'"max": {high}'] if high is not None else [])
        rows.append("{" + ", ".join(fields + [f'"count": {count}']) + "}")
    return "[" + ",".join(rows) + "]"


def _hist(buckets: dict[int, int], k: int = 0) -> str:
    """hist(n, k): bucket 0 holds negatives, bucket i the values [end(i-1), end(i)) (text.hist_bucket_end)."""
    top = max(buckets, default=0)
    counts = [(None, -1, buckets.get(0, 0))]
    counts += [(hist_bucket_end(i - 1, k), hist_bucket_end(i, k) - 1, buckets.get(i, 0)) for i in range(1, top + 1)]
    return _buckets(counts)


def _lhist(buckets: dict[int, int], low: int, high: int, step: int) -> str:
    last = (high - low) // step + 1
    counts = [(None, low - 1, buckets.get(0, 0))]
    counts += [(low + (i - 1) * step, low + i * step - 1, buckets.get(i, 0)) for i in range(1, last)]
    counts.append((high, None, buckets.get(last, 0)))
    return _buckets(counts)


def _average(count: int, total: int) -> int:
    return int(total / count) if count else 0


def _map_value(value_type: Type, value) -> str:
    kind = value_type.kind
    if kind == "hist":
        return _hist(value, *value_type.params)
    if kind == "lhist":
        return _lhist(value, *value_type.params)
    if kind == "stats":
        count, total = value
        return f'{{"count": {count}, "average": {_average(count, total)}, "total": {total}}}'
    if kind == "avg":
        return _json_value(_average(*value))
    return _json_value(value)


RECORD_TYPES = {"hist": "hist", "lhist": "hist", "stats": "stats"}


def map_record(name: str, value_type: Type, entries: list[tuple[tuple, object]], keyed: bool) -> str | None:
    """The line for a map at exit or print(@m); None for an empty map (bpftrace prints nothing)."""
    if not entries:
        return None
    if value_type.kind == "tseries":
        from .tseries import json_points, series
        points = {_key(key): json_points(p) for key, p in series(value_type, entries)}
        data = json.dumps(points if keyed else next(iter(points.values())))
        return f'{{"type": "tseries", "data": {{{json.dumps(name)}: {data}}}}}'
    if keyed:
        data = "{" + ", ".join(f"{json.dumps(_key(key))}: {_map_value(value_type, value)}"
                               for key, value in sorted(entries, key=lambda e: e[0])) + "}"
    else:
        data = _map_value(value_type, entries[0][1])
    return f'{{"type": "{RECORD_TYPES.get(value_type.kind, "map")}", "data": {{{json.dumps(name)}: {data}}}}}'


def message_record(kind: str, text: str) -> str:
    """printf, time, cat, system output: `{"type": "printf", "data": "text"}`."""
    return f'{{"type": "{kind}", "data": {json.dumps(text, ensure_ascii=False)}}}'


def value_record(value) -> str:
    return f'{{"type": "value", "data": {_json_value(value)}}}'


def attached_record(count: int) -> str:
    return f'{{"type": "attached_probes", "count": {count}, "data": {{"probes": {count}}}}}'

"""-f json: one JSON object a line, in current bpftrace's record layout."""

import json

import pytest

from pybpf.cli.pybpftrace import main


def records(capsys, script: str) -> list[dict]:
    assert main(["-q", "-f", "json", "--no-cache", "-e", script]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_maps_printf_and_values_are_records(capsys):
    out = records(capsys, 'BEGIN { @scalar = 5; @m["a", 2] = "x y"; printf("n=%d\\n", 7); print(3); exit(); }')
    assert out == [{"type": "printf", "data": "n=7\n"}, {"type": "value", "data": 3},
                   {"type": "map", "data": {"@m": {"a,2": "x y"}}}, {"type": "map", "data": {"@scalar": 5}}]


def test_histograms_are_closed_intervals_over_the_used_range(capsys):
    out = records(capsys, 'BEGIN { @h = hist(-1); @h = hist(2); @l = lhist(50, 0, 100, 10); @l = lhist(1000, 0, 100, 10);'
                          ' @z = hist(3); zero(@z); exit(); }')
    assert out[0] == {"type": "hist", "data": {"@h": [{"max": -1, "count": 1}, {"min": 0, "max": 0, "count": 0},
                                                      {"min": 1, "max": 1, "count": 0},
                                                      {"min": 2, "max": 3, "count": 1}]}}
    assert out[1]["data"]["@l"][0] == {"min": 50, "max": 59, "count": 1}
    assert out[1]["data"]["@l"][-1] == {"min": 100, "count": 1}
    assert out[2] == {"type": "hist", "data": {"@z": []}}


def test_stats_records_and_large_integers_as_strings(capsys):
    out = records(capsys, 'BEGIN { @s["k"] = stats(2); @s["k"] = stats(10); @big = 0x7fffffffffffffff; exit(); }')
    assert out == [{"type": "map", "data": {"@big": "9223372036854775807"}},
                   {"type": "stats", "data": {"@s": {"k": {"count": 2, "average": 6, "total": 12}}}}]


def test_unknown_format_is_an_error(capsys):
    assert main(["-f", "jsonx", "-e", "BEGIN { exit(); }"]) == 1
    assert 'ERROR: Invalid output format "jsonx"' in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["text"])
def test_text_stays_the_default_layout(capsys, fmt):
    assert main(["-q", "-f", fmt, "--no-cache", "-e", "BEGIN { @x = 1; exit(); }"]) == 0
    assert capsys.readouterr().out == "\n\n@x: 1\n"

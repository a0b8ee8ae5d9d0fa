"""tseries(): a time series per map key, in bpftrace's text chart and JSON layout."""

import json

import pytest

from pybpf.cli.pybpftrace import main

# As bpftrace's runtime tests: "now" comes from @ts, moved 10ms per update, 10 updates per 100ms interval;
# their one 100-iteration loop is ten probe runs of 10 here: our verifier, without precision tracking,
# gives up on the 100-iteration loop after minutes ("BPF program is too large") where Linux takes a second.
SCRIPT = ('BEGIN { @ts = (uint64)0; } interval:ms:1 { $i = (uint64)0; while ($i < 10) { '
          '@a = tseries($i % 10, 100ms, 5{agg}); @ts += 10000000; $i++; } @runs++; '
          'if (@runs == 10) { clear(@ts); clear(@runs); exit(); } }')


@pytest.fixture
def dummy_clock(monkeypatch):
    monkeypatch.setenv("BPFTRACE_DUMMY_TS_MAP", "@ts")


@pytest.mark.parametrize("agg, value", [("", 9), (', "min"', 0), (', "max"', 9), (', "avg"', 4), (', "sum"', 45)])
def test_json_has_the_last_intervals(capsys, dummy_clock, agg, value):
    assert main(["-q", "-f", "json", "--no-cache", "-e", SCRIPT.replace("{agg}", agg)]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record == {"type": "tseries", "data": {"@a": [
        {"interval_start": f"1970-01-01 00:00:00.{tenth}00000000", "value": value} for tenth in range(5, 10)]}}


def test_text_chart(capsys, dummy_clock, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    assert main(["--no-cache", "-e", SCRIPT.replace("{agg}", "")]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("@a:")
    assert lines[start + 1:start + 4] == [
        "             8                                                  10",
        "hh:mm:ss.ms  |___________________________________________________|",
        "00:00:00.500 |                         *                         | 9"]
    assert lines[start + 8] == "             v___________________________________________________v"


def test_zeroed_series_is_empty(capsys, dummy_clock):
    assert main(["-q", "-f", "json", "--no-cache", "-e", SCRIPT.replace("{agg}", "").replace(
        "exit();", "zero(@a); exit();")]) == 0
    assert json.loads(capsys.readouterr().out) == {"type": "tseries", "data": {"@a": []}}


@pytest.mark.parametrize("call, message", [
    ("tseries(1, 0, 5)", "tseries() interval_ns must be >= 1 (0 provided)"),
    ("tseries(1, 1s, 0)", "tseries() num_intervals must be >= 1 (0 provided)"),
    ('tseries(1, 1s, 5, "median")', 'tseries() expects one of the following aggregation functions: avg, max, '
                                    'min, sum ("median" provided)'),
])
def test_misuse_is_a_diagnostic(capsys, call, message):
    assert main(["--no-cache", "-e", f"BEGIN {{ @a = {call}; }}"]) == 1
    assert message in capsys.readouterr().err

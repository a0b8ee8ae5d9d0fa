"""The seed scenario: a 12-instruction trace_printk program on a 100 Hz timer for one second."""

import io
import re
import sys

from support.paths import REPO

sys.path.insert(0, str(REPO / "examples"))
import timer_tick  # noqa: E402

LINE = re.compile(r"^ {0,15}\S{1,15}-\d+ +\[\d{3}\] [.a-zA-Z0-9]{5} +\d+\.\d{6}: bpf_trace_printk: BPF tick!\n$")


def test_program_is_twelve_instructions():
    assert sum(insn.size for insn in timer_tick.tick_program()) == 12


def test_one_second_at_100_hz_gives_about_100_ticks():
    out = io.StringIO()
    assert timer_tick.main(["--hz", "100", "--seconds", "1"], out) == 0
    lines = out.getvalue().splitlines(keepends=True)
    ticks = [line for line in lines if "BPF tick!" in line]
    assert 85 <= len(ticks) <= 105, len(ticks)
    for line in ticks:
        assert LINE.match(line), line
    assert all(line == "\n" for line in lines if "BPF tick!" not in line)  # the message's own newline

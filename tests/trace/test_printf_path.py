"""printf's path from record to text: a format parsed once, values decoded by one struct, output in batches.

compile_format must print what C's printf prints with bpftrace's casts
(`%d` of a u64 is its low 32 bits, signed); values_decoder must give what
decode() gives; batching must keep stdout and stderr in the order the
records came.
"""

import io
import struct

import pytest

from pybpf.trace.compiler import compile_script
from pybpf.trace.format import compile_format, render
from pybpf.trace.output.text import Buffer
from pybpf.trace.runtime import Session, decode, values_decoder
from pybpf.trace.types import CAST_TYPES, Type, integer

M64 = (1 << 64) - 1

FORMATS = [  # (format, values, what C's printf prints after bpftrace's casts)
    ("out %d\n", [7], "out 7\n"),
    ("%d", [M64], "-1"),  # %d: the low 32 bits, signed
    ("%ld %lu", [M64, M64], f"-1 {M64}"),
    ("%u", [-1 & M64], "4294967295"),
    ("%hhx %hx %x %lx", [0x1ff, 0x1ffff, 0x1ffffffff, 0x1ffffffff], "ff ffff ffffffff 1ffffffff"),
    ("%#o %#X %+d % d", [8, 255, 5, 5], "010 0XFF +5  5"),
    ("[%#o] [%#6o] [%-#6o] [%#06o] [%#.4o] [%#o]", [0, 8, 8, 8, 8, M64],  # C's, from clang-14's libc
     "[0] [   010] [010   ] [000010] [0010] [037777777777]"),
    ("[%5d] [%-5d] [%05d] [%.3d]", [42, 42, 42, 42], "[   42] [42   ] [00042] [042]"),
    ("[%08.3d] [%06.2x] [%-06.3u]", [7, 255, 5], "[     007] [    ff] [005   ]"),  # a precision ends 0-padding
    ("%s|%5s|%-5s|%.2s", ["abc", "abc", "abc", "abc"], "abc|  abc|abc  |ab"),
    ("%s", [b"bytes\0after"], "bytes"),
    ("%c%c", [72, 0x169], "Hi"),
    ("%p", [0x33], "0x33"),
    ("100%% of %d%%", [3], "100% of 3%"),
    ("no conversions\n", [], "no conversions\n"),
    ("%r|%rx|%rh", [Buffer(b"a\x01"), Buffer(b"a\x01"), Buffer(b"a\x01")], r"a\x01|\x61\x01|61 01"),
]


@pytest.mark.parametrize("fmt, values, text", FORMATS)
def test_a_compiled_format_prints_as_c_with_bpftraces_casts(fmt, values, text):
    assert compile_format(fmt)(values) == text
    assert render(fmt, values) == text


def test_a_format_is_parsed_once():
    assert compile_format("once %d\n") is compile_format("once %d\n")


def record(*words: tuple[str, int]) -> bytes:
    return struct.pack("<Q", 0) + b"".join(struct.pack("<" + code, value) for code, value in words)


@pytest.mark.parametrize("types, data", [
    ((integer(8, True), integer(8, False), integer(4, True)), record(("q", -5), ("Q", M64), ("q", -1))),
    ((CAST_TYPES["uint8"], CAST_TYPES["int16"]), record(("Q", 255), ("q", -300))),
    ((), record()),
    ((Type("str", 8), integer(8, True)), record(("8s", b"abc"), ("q", 9))),
    ((Type("bool", 8), integer(8, True)), record(("Q", 1), ("q", -2))),
])
def test_values_decoder_gives_what_decode_gives(types, data):
    expected, offset = [], 8
    for t in types:
        expected.append(decode(data[offset:], t))
        offset += 8
    assert list(values_decoder(types)(data)) == expected


def test_stdout_and_stderr_keep_the_order_of_the_records():
    script = 'BEGIN { printf("one\\n"); warnf("two"); printf("three\\n"); printf("four\\n"); exit(); }'
    both = io.StringIO()
    session = Session(compile_script(script, cache=False), out=both, err=both)
    session.start()
    session.run()
    session.finish()
    lines = [line for line in both.getvalue().splitlines() if not line.startswith("Attached")]
    assert lines[0] == "one"
    assert lines[1].endswith("WARNING: two")
    assert lines.index("three") > 1 and lines.index("four") == lines.index("three") + 1


def test_many_records_arrive_whole_and_in_order():
    script = 'BEGIN { $i = 0; while ($i < 3000) { printf("line %d of %s\\n", $i, "x"); $i++; } exit(); }'
    out = io.StringIO()
    session = Session(compile_script(script, cache=False), out=out, err=io.StringIO())
    session.start()
    session.run()
    session.finish()
    assert out.getvalue() == "".join(f"line {i} of x\n" for i in range(3000)) + "\n\n"

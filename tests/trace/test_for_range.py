"""`for ($i : start..end)`: a bpf_loop callback, as current bpftrace compiles it, with the bounds read once."""

import pytest

from pybpf import elf
from pybpf.cli.pybpftrace import main
from pybpf.helpers import helper_id
from pybpf.trace.compiler import compile_script
from support.kernel import assert_linux_loads, needs_kernel

OUTPUT = {
    "start up to end": ('begin { for ($i : 2..5) { print($i); } exit(); }', "2\n3\n4\n"),
    "negative start": ('begin { for ($i : (-2)..1) { printf("%d ", $i); } exit(); }', "-2 -1 0 "),
    "no iterations when end <= start": ('begin { for ($i : 5..5) { print("a"); } for ($i : 3..1) { print("b"); } '
                                        'print("done"); exit(); }', "done\n"),
    "a map value bounds it, read once": ('begin { @a = 3; for ($i : 0..@a) { @a += 1; } print(@a); clear(@a); '
                                         'exit(); }', "@a: 6\n"),
    "a parameter's worth of iterations": ('begin { @n = 100000; $sum = 0; for ($i : 0..@n) { $sum += $i; } '
                                          'print($sum); clear(@n); exit(); }', "4999950000\n"),
    "outer variables are shared": ('begin { $v = 1; for ($i : 0..4) { $v *= 2; } print($v); exit(); }', "16\n"),
    "break and continue": ('begin { for ($i : 0..6) { if ($i == 1) { continue; } if ($i == 4) { break; } '
                           'printf("%d ", $i); } exit(); }', "0 2 3 "),
    "return leaves the probe": ('begin { for ($i : 0..3) { if ($i == 1) { return; } printf("%d ", $i); } '
                                'print("after"); } interval:ms:1 { exit(); }', "0 "),
    "nested ranges": ('begin { $n = 0; for ($i : 0..3) { for ($j : 0..$i) { $n += 1; } } print($n); exit(); }',
                      "3\n"),
    "a map loop inside a range": ('begin { @m[1] = 5; $n = 0; for ($i : 0..2) { for ($kv : @m) { $n += $kv.1; } } '
                                  'print($n); clear(@m); exit(); }', "10\n"),
}


@pytest.mark.parametrize("name", OUTPUT)
def test_for_range_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")


def _helpers_called(script: str) -> list[int]:
    (program,) = elf.load(compile_script(script, cache=False).elf).programs
    return [insn.imm for insn in program.insns if insn.code == 0x85 and insn.src == 0]  # call helper


def test_the_body_is_a_bpf_loop_callback():
    """Whatever the bounds, the verifier checks the body once instead of walking every iteration."""
    assert helper_id("loop") in _helpers_called('begin { for ($i : 0..1000000) { @x = $i; } }')


@needs_kernel
@pytest.mark.kernel
def test_linux_accepts_a_range_bounded_by_a_map_value():
    script = 'begin { @n = 7; $s = 0; for ($i : 0..@n) { $s += $i; if ($i == 3) { break; } } print($s); }'
    assert_linux_loads(script)

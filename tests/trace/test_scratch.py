"""Scratch memory (trace/scratch.py): buffers bigger than on_stack_limit in a per-CPU array map, and
strings of max_strlen past 64 bytes that the 512-byte BPF stack could not hold."""

import io
import json

import pytest

from pybpf import elf
from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session
from support import testapp
from support.kernel import needs_kernel

PERCPU_ARRAY = 6
LONG = "x" * 150 + "-the end of a name far longer than sixty-four bytes-" + "y" * 700  # 902 bytes
LINUX = pytest.param(["--kernel", "linux"], marks=[needs_kernel, pytest.mark.kernel], id="linux")


def scratch_map(script: str):
    maps = {m.name: m for m in elf.load(compile_script(script, cache=False).elf).maps}
    return maps.get("scratch")


def test_buffers_past_on_stack_limit_go_to_a_per_cpu_array():
    scratch = scratch_map('begin { $s = "a string of more than thirty-two bytes"; printf("%s\\n", $s); exit(); }')
    assert (scratch.type, scratch.key_size, scratch.max_entries) == (PERCPU_ARRAY, 4, 1)
    assert scratch.value_size >= 2 * 40  # the string's variable and the printf record, each its own region


def test_small_buffers_stay_on_the_stack():
    assert scratch_map('begin { $s = "short"; printf("%s %d\\n", $s, 1); exit(); }') is None
    assert scratch_map('config = { on_stack_limit = 4096 } begin { $s = "a string of more than thirty-two '
                       'bytes"; printf("%s\\n", $s); exit(); }') is None


@pytest.mark.parametrize("kernel", [[], LINUX])
def test_on_stack_limit_0_puts_every_buffer_in_scratch_memory(kernel, capsys):
    """bpftrace's runtime tests (call: on_stack_limit = 0 ...) with map keys, tuples, loops, deletes and a
    count read in BPF; the loop's callback has its own scratch regions after its caller's."""
    script = ('config = { on_stack_limit = 0 } begin { @x[1, 2] = 1; @x[2, 1] = 2; delete(@x[1, 2]); '
              '$t = (1, (2, "XXXX")); print($t); $y = "YY"; for ($kv : @x) { $z = ($kv, $y); print($z); } '
              '@c = count(); @c = count(); printf("%d %s\\n", @c, $y); exit() }')
    assert main([*kernel, "--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out == '(1, (2, XXXX))\n(((2, 1), 2), YY)\n2 YY\n\n\n@c: 2\n@x[2, 1]: 2\n'


def trace_greet(script: str, name: str) -> str:
    out = io.StringIO()
    session = Session(compile_script(script, cache=False), out=out, err=io.StringIO())
    session.start()
    try:
        testapp.greet(name)
    finally:
        session.poll()
        session.finish()
    return out.getvalue()


def test_max_strlen_past_64_reads_long_strings_into_printf_map_keys_and_values():
    out = trace_greet('config = { max_strlen = 1024 } uprobe:support.testapp:greet { $s = str(arg0); '
                      'printf("[%s] %d\\n", $s, sizeof($s)); @keys[$s] = count(); @values[1] = ($s, 7); }', LONG)
    lines = out.splitlines()
    assert lines[0] == f"[{LONG}] 1024"
    assert f"@keys[{LONG}]: 1" in lines and f"@values[1]: ({LONG}, 7)" in lines


def test_max_strlen_still_truncates():
    out = trace_greet('config = { max_strlen = 100 } uprobe:support.testapp:greet { printf("[%s]\\n", str(arg0)); }',
                      LONG)
    assert out.splitlines()[0] == f"[{LONG[:99]}]"


@pytest.mark.parametrize("kernel", [[], LINUX])
def test_long_strings_compare_and_print_in_json(kernel, capsys):
    script = ('config = { max_strlen = 512 } begin { $a = "' + LONG[:400] + '"; $b = $a; @same = $a == $b; '
              '@t = ($a, $b); exit(); }')
    assert main([*kernel, "--no-cache", "-f", "json", "-e", script]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    maps = {name: value for r in records if r["type"] == "map" for name, value in r["data"].items()}
    assert maps == {"@same": True, "@t": [LONG[:400], LONG[:400]]}


MANY_MAPS = "BEGIN { " + " ".join(f"@m{i}[{i}] = count(); @s{i} = sum({i});" for i in range(20)) + " exit(); }"


def test_a_probe_whose_stack_buffers_would_pass_512_bytes_keeps_them_all_in_scratch_memory():
    """Each map touched needs a key and an initial value on the stack: 40 maps in one probe would stop the
    process in LLVM ("Looks like the BPF stack limit is exceeded"); generated again with on_stack_limit 0."""
    scratch = scratch_map(MANY_MAPS)
    assert scratch is not None and scratch.value_size >= 40 * 16


@pytest.mark.parametrize("kernel", [[], LINUX])
def test_many_maps_in_one_probe_run(kernel, capsys):
    assert main([*kernel, "--no-cache", "-e", MANY_MAPS]) == 0
    out = capsys.readouterr().out
    assert all(f"@m{i}[{i}]: 1\n" in out and f"@s{i}: {i}\n" in out for i in range(20))


def test_a_max_strlen_past_a_scratch_element_is_an_error_at_str(capsys):
    assert main(["--no-cache", "-e", 'config = { max_strlen = 40000 } BEGIN { printf("%s", str(0)); }']) != 0
    assert "stdin:1:54-60: ERROR: str: max_strlen 40000 is more than the 32768 bytes a per-CPU scratch buffer " \
           "holds" in capsys.readouterr().err


def test_a_value_too_big_for_stack_and_scratch_is_an_error_not_a_crash(capsys):
    """A 32768-byte string fits a scratch element, its printf record (8 bytes more) does not."""
    assert main(["--no-cache", "-e", 'config = { max_strlen = 32768 } BEGIN { printf("%s", str(0)); }']) != 0
    assert "ERROR: a value of 32776 bytes fits neither the 512-byte BPF stack nor a per-CPU scratch buffer " \
           "(32768 bytes): lower max_strlen" in capsys.readouterr().err


def test_buffers_past_the_bpf_stack_go_to_scratch_memory_whatever_on_stack_limit_says():
    scratch = scratch_map('config = { max_strlen = 1000; on_stack_limit = 4096 } BEGIN { printf("%s", str(0)); }')
    assert scratch is not None and scratch.value_size >= 1000

"""Aggregations in per-CPU maps (trace/percpu.py): the map types, probes counting on several CPUs, the
values read in BPF and printed by user space agreeing, and bpftrace's map-kind error."""

import json
import os

import pytest

from pybpf import elf
from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.source import ScriptError
from support.kernel import needs_kernel

PERCPU_HASH, HASH, LRU_PERCPU_HASH, LRU_HASH = 5, 1, 10, 9

# profile fires on every CPU; exit() stops every probe but END, so END's reads in BPF and the maps printed
# after it see the same counts
EVERY_CPU = ('profile:hz:397 { @c[cpu] = count(); @t = count(); @s = sum(cpu + 1); @mx = max(cpu); '
             '@mn = min(cpu); @a = avg(10); @l = lhist(cpu, 0, 64, 1); @st = stats(cpu); @plain[cpu] = 1; } '
             'interval:ms:300 { exit(); } '
             'END { printf("%d %d %d %d %d\\n", @t, @s, @mx, @mn, @a); '
             'for ($kv : @c) { printf("cpu %d %d\\n", $kv.0, $kv.1); } }')


def map_types(script: str) -> dict[str, int]:
    obj = elf.load(compile_script(script, cache=False).elf)
    return {m.name: m.type for m in obj.maps if m.name.startswith("AT_")}


def test_aggregations_live_in_per_cpu_maps_other_values_in_shared_ones():
    types = map_types('let @l = percpulruhash(8); begin { @c = count(); @s[1] = sum(2); @mn = min(1); @mx = max(1); '
                      '@a = avg(1); @st = stats(1); @h = hist(1); @lh = lhist(1, 0, 10, 1); @l[1] = count(); '
                      '@x = 1; @y["a"] = "b"; exit(); }')
    assert types == {"AT_c": PERCPU_HASH, "AT_s": PERCPU_HASH, "AT_mn": PERCPU_HASH, "AT_mx": PERCPU_HASH,
                     "AT_a": PERCPU_HASH, "AT_st": PERCPU_HASH, "AT_h": PERCPU_HASH, "AT_lh": PERCPU_HASH,
                     "AT_l": LRU_PERCPU_HASH, "AT_x": HASH, "AT_y": HASH}


def test_a_declared_lruhash_of_plain_values_stays_shared():
    assert map_types('let @l = lruhash(2); begin { @l[1] = 1; exit(); }') == {"AT_l": LRU_HASH}


def run_every_cpu(capsys, *kernel: str) -> tuple[list[str], dict]:
    assert main([*kernel, "--no-cache", "-f", "json", "-e", EVERY_CPU]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    printed = "".join(line["data"] for line in lines if line["type"] == "printf").splitlines()
    maps = {name: value for line in lines if line["type"] in ("map", "hist", "stats")
            for name, value in line["data"].items()}
    return printed, maps


def check_every_cpu(printed: list[str], maps: dict, cpus: int) -> None:
    per_cpu = {int(k): v for k, v in maps["@c"].items()}
    assert len(per_cpu) == cpus  # every CPU fired, each counted in its own copy
    total = sum(per_cpu.values())
    assert maps["@t"] == total and maps["@a"] == 10
    assert maps["@s"] == sum((cpu + 1) * n for cpu, n in per_cpu.items())
    assert (maps["@mn"], maps["@mx"]) == (0, cpus - 1)
    assert {b["min"]: b["count"] for b in maps["@l"] if b["count"]} == per_cpu  # lhist buckets: each CPU's
    assert (maps["@st"]["count"], maps["@st"]["total"]) == (total, sum(cpu * n for cpu, n in per_cpu.items()))
    assert printed[0] == f"{total} {maps['@s']} {cpus - 1} 0 10"  # read in BPF: every CPU's copy
    assert sorted(printed[1:]) == sorted(f"cpu {cpu} {n}" for cpu, n in per_cpu.items())  # for ($kv : @c)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: the virtual kernel has one CPU too")
def test_probes_on_several_virtual_cpus_add_up(capsys):
    check_every_cpu(*run_every_cpu(capsys), os.cpu_count())


@needs_kernel
@pytest.mark.kernel
def test_probes_on_several_linux_cpus_add_up(capsys):
    printed, maps = run_every_cpu(capsys, "--kernel", "linux")
    check_every_cpu(printed, maps, len(maps["@c"]))


@pytest.mark.parametrize("kernel", [[], pytest.param(["--kernel", "linux"], marks=[needs_kernel, pytest.mark.kernel])])
def test_zero_clear_and_delete_act_on_every_copy(kernel, capsys):
    script = ('BEGIN { @c = count(); @c = count(); @k[1] = sum(3); @k[2] = sum(4); @d[1] = count(); @d[2] = count(); '
              'delete(@d[1]); zero(@c); clear(@k); exit(); }')
    assert main([*kernel, "--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out == "\n\n@c: 0\n@d[2]: 1\n"


def error_of(script: str) -> str:
    with pytest.raises(ScriptError) as caught:
        compile_script(script, cache=False)
    return str(caught.value)


@pytest.mark.parametrize("script, declared, needed", [
    ("let @a = hash(2); begin { @a[1] = count(); }", "hash", "percpuhash"),
    ("let @a = lruhash(2); begin { @a = hist(3); }", "lruhash", "percpuhash"),
    ("let @a = percpuhash(2); begin { @a[1] = 1; }", "percpuhash", "hash"),
    ("let @a = percpulruhash(2); begin { @a[1] = \"s\"; }", "percpulruhash", "hash"),
])
def test_a_declaration_of_the_wrong_kind_is_bpftraces_error(script, declared, needed):
    assert f"ERROR: Incompatible map types. Type from declaration: {declared}. Type from value/key type: " \
           f"{needed}" in error_of(script)


@pytest.mark.parametrize("script, error", [
    ("BEGIN { @y = count(); @x = @y; }",
     "stdin:1:23-30: ERROR: Map value 'count_t' cannot be assigned from one map to another. The function that "
     "returns this type must be called directly e.g. `@x = count();`.\nBEGIN { @y = count(); @x = @y; }\n"
     "                      ~~~~~~~\nHINT: Add a cast to integer if you want the value of the aggregate, e.g. "
     "`@x = (int64)@y;`."),
    ("BEGIN { @x = 1; @y = stats(5); @x = @y; }",
     "stdin:1:32-39: ERROR: Map value 'stats_t' cannot be assigned from one map to another. The function that "
     "returns this type must be called directly e.g. `@x = stats(arg2);`.\n"
     "BEGIN { @x = 1; @y = stats(5); @x = @y; }\n                               ~~~~~~~"),
    ("BEGIN { @b = hist(1); $x = @b; }",
     "stdin:1:23-30: ERROR: Value 'hist_t' cannot be assigned to a scratch variable.\n"
     "BEGIN { @b = hist(1); $x = @b; }\n                      ~~~~~~~"),
])
def test_an_aggregation_read_whole_follows_bpftraces_assignment_rules(script, error):
    """type_resolver.cpp is_valid_assignment, with its messages (tests/type_checker.cpp)."""
    assert error in error_of(script)


@pytest.mark.parametrize("kernel", [[], pytest.param(["--kernel", "linux"], marks=[needs_kernel, pytest.mark.kernel])])
def test_a_count_read_whole_goes_into_integers_and_variables(kernel, capsys):
    script = ('BEGIN { @a = 1; @b = count(); @b = count(); @a = @b; $v = @b; @c = (uint64)@b; @m = min(-5); '
              '@v = avg(-1); @v = avg(-1); @v = avg(-10); printf("%d %d %d %d\\n", $v, @c + 1, @m, @v); exit(); }')
    assert main([*kernel, "--no-cache", "-e", script]) == 0  # an avg's total divides signed: -12 / 3
    assert capsys.readouterr().out.splitlines()[:5] == ["2 3 -5 -4", "", "", "@a: 2", "@b: 2"]

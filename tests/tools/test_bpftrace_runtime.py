"""tools/bpftrace_runtime.py: bpftrace's runtime-test format, selection and judging, on a small suite."""

import importlib.util
import shutil
import sys

import pytest

from support.paths import REPO

SPEC = importlib.util.spec_from_file_location("bpftrace_runtime", REPO / "tools" / "bpftrace_runtime.py")
runner = sys.modules["bpftrace_runtime"] = importlib.util.module_from_spec(SPEC)  # dataclasses look it up
SPEC.loader.exec_module(runner)

SUITE = """\
NAME passes
PROG begin { printf("SUCCESS %d\\n", 1 + 1); exit(); }
EXPECT SUCCESS 2
TIMEOUT 5

NAME fails on output
PROG BEGIN { printf("other\\n"); exit(); }
EXPECT SUCCESS
TIMEOUT 5

NAME expected error
PROG BEGIN { nosuch(); }
EXPECT_REGEX Unknown function
WILL_FAIL
TIMEOUT 5

NAME needs the kernel
PROG kprobe:do_nanosleep { exit(); }
EXPECT x

NAME a command-line test
RUN {{BPFTRACE}} --version
EXPECT x
"""


def test_parse_select_and_run(tmp_path, capsys):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "mini").write_text(SUITE)
    tests = runner.parse_suite(runtime / "mini")
    assert [t.name for t in tests] == ["passes", "fails on output", "expected error", "needs the kernel",
                                       "a command-line test"]
    assert [runner.selected(t) for t in tests] == [None, None, None, "kernel or user-space probes",
                                                   "RUN (command-line) test"]
    assert runner.main([str(runtime), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "selected 3 tests (BEGIN/END/interval/profile only); passed 2 (66.7%)" in out
    assert "missing EXPECT SUCCESS" in out


AFTER_SUITE = """\
NAME runs its after command once attached
PROG interval:ms:300 { printf("SUCCESS\\n"); exit(); }
EXPECT SUCCESS
AFTER ./testprogs/mark
TIMEOUT 5

NAME names a test program that does not build
PROG BEGIN { exit(); }
AFTER ./testprogs/broken
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the suite's test programs")
def test_testprogs_builds_what_after_names_and_runs_it_in_that_directory(tmp_path, capsys):
    runtime = tmp_path / "tests" / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "after").write_text(AFTER_SUITE)
    (tmp_path / "tests" / "testprogs").mkdir()
    (tmp_path / "tests" / "testprogs" / "mark.c").write_text(
        '#include <stdio.h>\nint main(void) { fclose(fopen("after-ran", "w")); return 0; }\n')
    (tmp_path / "tests" / "testprogs" / "broken.c").write_text("not C\n")
    tests = runner.parse_suite(runtime / "after")
    assert [runner.selected(t) for t in tests] == ["needs AFTER", "needs AFTER"]  # without --testprogs
    built = tmp_path / "built"
    assert runner.main([str(runtime), "--jobs", "1", "--testprogs", str(built)]) == 0
    out = capsys.readouterr().out
    assert "selected 1 tests (BEGIN/END/interval/profile only); passed 1 (100.0%)" in out
    assert "testprog broken not built 1" in out
    assert (built / "after-ran").exists()  # the AFTER command ran, in the --testprogs directory


FEATURE_SUITE = """\
NAME reads a count in BPF
PROG begin { @a = count(); @b = sum(10); printf("%d-%d\\n", (uint64)@a, (int64)@b); exit(); }
EXPECT 1-10
REQUIRES_FEATURE lookup_percpu_elem

NAME needs btf too
PROG begin { exit(); }
REQUIRES_FEATURE lookup_percpu_elem btf
"""


def test_features_selects_the_tests_whose_every_required_feature_is_listed(tmp_path, capsys):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "features").write_text(FEATURE_SUITE)
    first, second = runner.parse_suite(runtime / "features")
    assert first.features == {"lookup_percpu_elem"} and second.features == {"lookup_percpu_elem", "btf"}
    assert runner.selected(first) == "needs REQUIRES_FEATURE"
    assert runner.selected(first, features=frozenset({"lookup_percpu_elem"})) is None
    assert runner.selected(second, features=frozenset({"lookup_percpu_elem"})) == "needs REQUIRES_FEATURE"
    assert runner.main([str(runtime), "--jobs", "1", "--features", "lookup_percpu_elem"]) == 0
    assert "passed 1 (100.0%)" in capsys.readouterr().out

"""Builtin functions of current bpftrace: buf, len, strlen, strerror, signal_name, delete, print(@m, top, div)."""

import pytest

from pybpf.cli.pybpftrace import main


def run(capsys, script: str) -> str:
    assert main(["--no-cache", "-e", script]) == 0
    return capsys.readouterr().out


def error(capsys, script: str) -> str:
    assert main(["--no-cache", "-e", script]) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize("fmt, printed", [("%r", "Hi\\x00\\x01"), ("%rx", "\\x48\\x69\\x00\\x01"),
                                          ("%rh", "48 69 00 01")])
def test_buf_prints_with_escapes_hex_or_hex_bytes(capsys, fmt, printed):
    out = run(capsys, f'BEGIN {{ printf("[{fmt}]\\n", buf("Hi\\x00\\x01", 4)); exit(); }}')
    assert out.splitlines()[0] == f"[{printed}]"


def test_buf_as_map_key_value_and_in_comparisons(capsys):
    out = run(capsys, 'BEGIN { @[buf("ok_key", 7)] = 1; @v = buf("hi", 2); $a = buf("hi", 2); $b = buf("ho", 2); '
                      'printf("%d %d\\n", $a == $a, $a != $b); exit(); }')
    assert "1 1" in out.splitlines()
    assert "@[ok_key\\x00]: 1" in out.splitlines()
    assert "@v: hi" in out.splitlines()


def test_buf_misuse_is_a_diagnostic(capsys):
    assert "buf() expects a length argument for non-array type int8" in error(capsys, "BEGIN { buf(1); }")
    assert "%r specifier expects a value of type buffer (integer supplied)" in \
        error(capsys, 'BEGIN { printf("%r", 1); }')


def test_len_counts_the_elements_of_a_map_with_keys(capsys):
    out = run(capsys, 'BEGIN { @[1] = 1; @[2] = 2; @[3] = 3; delete(@, 2); printf("n=%d\\n", len(@)); exit(); }')
    assert out.splitlines()[0] == "n=2"
    assert "call to len() expects a map with explicit keys (non-scalar map)" in \
        error(capsys, "BEGIN { @ = 0; print(len(@)); }")


def test_strlen_strerror_and_signal_name(capsys):
    out = run(capsys, 'BEGIN { $s = "hello"; print(strlen($s)); print(strerror(22)); printf("%s|%s|%s\\n", '
                      'signal_name(2), signal_name(0), signal_name(1024)); exit(); }')
    assert out.splitlines()[:3] == ["5", "Invalid argument", "Interrupt|Unknown signal 0|N/A"]


def test_delete_says_whether_it_deleted_and_takes_a_scalar_map(capsys):
    out = run(capsys, 'BEGIN { @s = 1; @a[1] = 1; $x = delete(@a, 2); $y = delete(@a, 1); '
                      'printf("%d %d %d\\n", $x, $y, delete(@s)); exit(); }')
    assert out.splitlines()[0] == "0 1 1"
    assert "@s" not in out and "@a" not in out
    assert "call to delete() with a single argument expects a map without explicit keys (scalar map)" in \
        error(capsys, "BEGIN { @a[1] = 1; delete(@a); }")


def test_print_with_top_and_div(capsys):
    out = run(capsys, 'BEGIN { @[1] = 10; @[2] = 30; @[3] = 20; print(@, 2, 10); clear(@); exit(); }')
    assert out.splitlines()[:2] == ["@[3]: 2", "@[2]: 3"]


def test_stats_print_as_a_record_with_signed_averages(capsys):
    out = run(capsys, "BEGIN { @ = stats(-10); @ = stats(-5); @ = stats(5); exit(); }")
    assert "@: { .count = 3, .average = -3, .total = -10 }" in out.splitlines()


def test_hist_takes_a_bits_argument(capsys):
    assert "@h[1]:" in run(capsys, "BEGIN { @h[1] = hist(3, 0); exit(); }")
    lines = run(capsys, "BEGIN { @k = hist(3, 2); @k = hist(225, 2); exit(); }").splitlines()
    assert lines[lines.index("@k: ") + 1].startswith("[3]                    1 |")
    assert lines[lines.index("@k: ") + 6].startswith("[8, 10)                0 |")
    assert lines[-2].startswith("[224, 256)             1 |")  # bpftrace's own example: 225 with k = 2
    assert "hist: bits argument must be an integer literal 0-5" in error(capsys, "BEGIN { @h = hist(3, 9); }")


def test_exit_stops_the_other_probes(capsys):
    out = run(capsys, "interval:ms:1 { @n = count(); exit(); }")
    assert "@n: 1" in out.splitlines()


def test_usym_and_ksym_print_addresses_they_cannot_resolve(capsys):
    out = run(capsys, 'BEGIN { @[usym(1)] = count(); printf("%s\\n", ksym(255)); exit(); }')
    assert out.splitlines()[0] == "0xff"
    assert "@[0x1]: 1" in out.splitlines()


def test_division_by_zero_warns_at_the_operation(capsys):
    assert main(["--no-cache", "-e", "BEGIN { @z = 0; print(10 % @z); exit(); }"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "1"
    assert "stdin:1:23-30: WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. " \
           "1 is being used as the result." in err


def test_bools_stay_bools_in_tuples(capsys):
    assert run(capsys, "BEGIN { print((true, 1 > 2, 3)); exit(); }").splitlines()[0] == "(true, false, 3)"


def test_ntop_and_pton(capsys):
    out = run(capsys, 'BEGIN { printf("%s %s %s\\n", ntop(2, pton("127.0.0.1")), ntop(10, pton("::1")), '
                      'ntop(0x0100007f)); @[ntop(pton("fe80::1"))] = 1; exit(); }')
    assert out.splitlines()[0] == "127.0.0.1 ::1 127.0.0.1"
    assert "@[fe80::1]: 1" in out.splitlines()
    assert 'pton() expects a valid IPv4 or IPv6 address ("1.2.3" provided)' in \
        error(capsys, 'BEGIN { print(ntop(pton("1.2.3"))); }')


def test_curtask_is_a_non_null_address(capsys):
    out = run(capsys, 'BEGIN { printf("%p %d\\n", curtask, curtask ? 1 : 2); exit(); }')
    address, truth = out.splitlines()[0].split()
    assert int(address, 16) != 0 and truth == "1"


def test_statements_after_exit_are_unreachable(capsys):
    assert main(["--no-cache", "-e", "BEGIN { @a = 1; exit(); @a = 2; }"]) == 0
    out, err = capsys.readouterr()
    assert "stdin:1:25-31: WARNING: Unreachable statement." in err
    assert "@a: 1" in out.splitlines()


def test_print_of_a_scalar_map_set_in_a_later_probe_shows_its_zero_value(capsys):
    lines = run(capsys, "BEGIN { print(@); print(@s); exit(); } END { @ = 1; @s = stats(1); }").splitlines()
    assert lines[:3] == ["@: 0", "", "@s: { .count = 0, .average = 0, .total = 0 }"]
    assert "@s: { .count = 1, .average = 1, .total = 1 }" in lines


def test_cat_reads_at_most_max_cat_bytes(capsys, tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.write_text("12345")
    monkeypatch.setenv("BPFTRACE_MAX_CAT_BYTES", "2")
    assert run(capsys, f'BEGIN {{ cat("{path}"); exit(); }}').startswith("12\n")
    assert main(["--no-cache", "-e", 'BEGIN { cat("/does/not/exist"); exit(); }']) == 0
    assert "ERROR: failed to open file '/does/not/exist' (No such file or directory)" in capsys.readouterr().err


def test_nsecs_sw_tai_is_wall_clock_time(capsys):
    import time
    before = time.clock_gettime_ns(time.CLOCK_TAI)
    value = int(run(capsys, 'BEGIN { printf("%llu\\n", nsecs(sw_tai)); exit(); }').splitlines()[0])
    assert before <= value <= time.clock_gettime_ns(time.CLOCK_TAI)


def test_strftime_as_a_map_key(capsys):
    import re
    out = run(capsys, 'BEGIN { @[strftime("%m/%d/%y", nsecs)] = 1; exit(); }')
    assert re.search(r"^@\[\d\d/\d\d/\d\d\]: 1$", out, re.M)


def test_config_print_maps_on_exit(capsys):
    assert "@x" not in run(capsys, "config = { print_maps_on_exit=0 } BEGIN { @x = 1; exit(); }")


def test_a_ternary_statement_may_call_printf(capsys):
    assert run(capsys, 'BEGIN { 1 > 0 ? printf("yes\\n") : printf("no\\n"); exit(); }').splitlines()[0] == "yes"

"""pybpftrace on the Linux kernel: tracepoints, raw tracepoints, records through the ring buffer, maps, -l."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile

import pytest

import pybpf
from pybpf.cli.pybpftrace import main
from pybpf.kernel.linux.kernel import LinuxKernel
from support.kernel import needs_kernel

pytestmark = needs_kernel
needs_cc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the workload")

GETPPIDS = r"""
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    return 0;
}
"""


@pytest.fixture(scope="module")
def getppids(tmp_path_factory):
    """A binary named pybpf_getppid that makes N getppid() system calls (a comm no one else has)."""
    tmp = tmp_path_factory.mktemp("workload")
    (tmp / "w.c").write_text(GETPPIDS)
    subprocess.run(["gcc", "-O2", "-o", str(tmp / "pybpf_getppid"), str(tmp / "w.c")], check=True)
    return str(tmp / "pybpf_getppid")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["--kernel", "linux", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_syscall_tracepoint_counts_our_getppid_calls_exactly():
    script = "tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls = count(); @nr[args->__syscall_nr] = count(); }"
    with pybpf.trace(script, params=[str(os.getpid())], kernel="linux", capture=True) as tracing:
        assert isinstance(tracing.kernel, LinuxKernel)
        for _ in range(1234):
            os.getppid()
    nr = {"x86_64": 110, "aarch64": 173}.get(os.uname().machine)
    assert "@calls: 1234\n" in tracing.output
    if nr is not None:
        assert f"@nr[{nr}]: 1234\n" in tracing.output


@needs_cc
def test_a_command_under_c_is_traced_from_its_first_syscall_and_ends_the_run(capsys, getppids):
    code, out, err = run(capsys, "-e", 'tracepoint:syscalls:sys_enter_getppid /comm == "pybpf_getppid"/ '
                                       '{ @[comm] = count(); }', "-c", f"{getppids} 5000")
    assert code == 0, err
    assert "Attached 1 probe\n" in err
    assert out.endswith("@[pybpf_getppid]: 5000\n\n") or "@[pybpf_getppid]: 5000\n" in out


@needs_cc
def test_wildcard_tracepoints_attach_every_match(capsys, getppids):
    code, out, err = run(capsys, "-e", 'tracepoint:syscalls:sys_enter_getp*id /comm == "pybpf_getppid"/ '
                                       '{ @[probe] = count(); }', "-c", f"{getppids} 300")
    assert code == 0, err
    attached = int(err.split("Attached ")[1].split()[0])
    expected = len([n for n in os.listdir("/sys/kernel/tracing/events/syscalls")
                    if n.startswith("sys_enter_getp") and n.endswith("id")])
    assert attached == expected >= 3  # getpid, getppid, getpgid...
    assert "@[tracepoint:syscalls:sys_enter_getppid]: 300\n" in out


@needs_cc
def test_args_as_a_whole_record_prints_as_current_bpftrace(capsys, getppids):
    code, out, err = run(capsys, "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls[args] = count(); "
                                       "@last = args; } tracepoint:sched:sched_process_exit /pid == cpid/ "
                                       "{ print(args); }", "-c", f"{getppids} 70")
    assert code == 0, err
    nr = {"x86_64": 110, "aarch64": 173}.get(platform.machine(), "[0-9]+")  # getppid's number
    assert re.search(rf"^@calls\[{{ \.__syscall_nr = {nr} }}\]: 70$", out, re.M), out
    assert re.search(rf"^@last: {{ \.__syscall_nr = {nr} }}$", out, re.M), out
    exits = [line for line in out.splitlines() if line.startswith("{ .comm = pybpf_getppid, .pid = ")]
    assert len(exits) == 1 and exits[0].endswith(" }"), out  # char[16] as a string, then the integers


@needs_cc
def test_args_record_is_a_json_object_with_f_json(capsys, getppids):
    code, out, err = run(capsys, "-f", "json", "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
                                                     "{ @a = args; }", "-c", f"{getppids} 3")
    assert code == 0, err
    assert re.search(r'^\{"type": "map", "data": \{"@a": \{"__syscall_nr": \d+\}\}\}$', out, re.M), out


@pytest.mark.parametrize("script, message", [
    ("rawtracepoint:sched_switch { print(args); }", "args as a whole record is not available for rawtracepoint "
                                                    "probes"),
    ("tracepoint:syscalls:sys_enter_getppid,tracepoint:syscalls:sys_enter_read { print(args); }",
     "args: the attach points of this probe have different records (tracepoint:syscalls:sys_enter_read "
     "differs); use args.FIELD"),
])
def test_args_records_pybpftrace_cannot_read_are_errors(capsys, script, message):
    code, out, err = run(capsys, "-e", script)
    assert code == 1 and message in err and "~~~~" in err and "Traceback" not in err


def test_printf_comes_through_the_ring_buffer_in_order(capsys):
    code, out, err = run(capsys, "-e", 'BEGIN { printf("begin %d %s\\n", 42, "x"); } '
                                       'interval:ms:20 { @n = count(); printf("tick %d\\n", @n); '
                                       'if (@n == 5) { exit(); } } END { printf("end\\n"); }')
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:7] == ["begin 42 x", "tick 1", "tick 2", "tick 3", "tick 4", "tick 5", "end"]
    assert "@n: 5" in lines


def test_hist_of_read_sizes_has_the_bucket_of_every_read(tmp_path):
    data = tmp_path / "data"
    data.write_bytes(bytes(100_000))
    script = ("tracepoint:syscalls:sys_exit_read /pid == $1/ { @bytes = hist(args->ret); } "
              "tracepoint:syscalls:sys_enter_read /pid == $1/ { @fds[args->fd] = count(); }")
    with pybpf.trace(script, params=[str(os.getpid())], kernel="linux", capture=True) as tracing:
        fd = os.open(data, os.O_RDONLY)
        try:
            for _ in range(20):
                assert len(os.read(fd, 3000)) == 3000  # 20 reads in [2K, 4K)
            for _ in range(7):
                os.read(fd, 100)  # 7 in [64, 128)
        finally:
            os.close(fd)
    assert "[2K, 4K)              20 |" in tracing.output
    assert "[64, 128)              7 |" in tracing.output
    assert f"@fds[{fd}]: 27\n" in tracing.output


def test_raw_tracepoint_wildcards_attach_every_match(capsys):
    code, out, err = run(capsys, "-e", "rawtracepoint:sys_* { @[probe] = count(); }", "--timeout", "1")
    assert code == 0, err
    assert "Attached 2 probes\n" in err  # sys_enter, sys_exit
    assert "@[rawtracepoint:sys_enter]: " in out and "@[rawtracepoint:sys_exit]: " in out
    code, out, err = run(capsys, "-e", "rawtracepoint:no_such_* { }")
    assert code == 1 and "ERROR: No matches for rawtracepoint no_such_*." in err


def test_raw_tracepoint_args_are_the_kernel_arguments():
    # sys_enter(struct pt_regs *regs, long id): arg1 is the syscall number
    script = "rawtracepoint:sys_enter /pid == $1/ { @ids[arg1] = count(); }"
    with pybpf.trace(script, params=[str(os.getpid())], kernel="linux", capture=True) as tracing:
        for _ in range(77):
            os.getppid()
    nr = {"x86_64": 110, "aarch64": 173}.get(os.uname().machine)
    if nr is not None:
        assert f"@ids[{nr}]: 77\n" in tracing.output


def test_tracepoint_string_fields_and_builtins_read_the_real_task():
    short = tempfile.mkdtemp(prefix="pb", dir="/tmp")  # the path fits bpftrace's 64-byte string
    binary = os.path.join(short, "pybpf_true")
    shutil.copy("/bin/true", binary)
    script = 'tracepoint:sched:sched_process_exec /comm == "pybpf_true"/ { @[args->filename, comm, uid] = count(); }'
    with pybpf.trace(script, kernel="linux", capture=True) as tracing:
        for _ in range(3):
            subprocess.run([str(binary)], check=True)
    shutil.rmtree(short)
    assert f"@[{binary}, pybpf_true, {os.getuid()}]: 3\n" in tracing.output


@pytest.mark.parametrize("script, message", [
    ("tracepoint:syscalls:sys_enter_nope { }", "stdin:1:1-35: ERROR: No matches for tracepoint syscalls:sys_enter_nope."),
    ("tracepoint:nope:* { }", "ERROR: No matches for tracepoint nope:*."),
    ("tracepoint:syscalls:sys_enter_read { @ = args->nope; }",
     "ERROR: Struct/union of type 'struct _tracepoint_syscalls_sys_enter_read' does not contain a field named "
     "'nope'"),
    ("rawtracepoint:no_such_raw_tp { @ = count(); }", "no raw tracepoint 'no_such_raw_tp'"),
    ("software:nosuch:1 { }", "nosuch: unknown software event"),
])
def test_bad_tracepoints_are_bpftrace_style_errors(capsys, script, message):
    code, out, err = run(capsys, "-e", script)
    assert code == 1
    assert message in err
    assert "Traceback" not in err


def test_missing_probes_warn_skips_what_matches_nothing(capsys):
    script = ("config = { missing_probes = warn } tracepoint:syscalls:sys_enter_getppid,tracepoint:nope:nope "
              "{ @n = count(); exit(); } tracepoint:nope:other { @never = 1; } BEGIN { printf(\"up\\n\"); }")
    code = main(["--kernel", "linux", "-e", script, "--timeout", "5"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "WARNING: No matches for tracepoint nope:nope. Skipping." in err
    assert "WARNING: Probe has no valid attach points. It is being removed" in err
    assert "Attached 2 probes" in err and out.startswith("up\n")


def test_list_shows_tracepoints_raw_tracepoints_and_software_events(capsys):
    code, out, _ = run(capsys, "-l", "tracepoint:syscalls:sys_enter_getp*")
    assert code == 0
    assert "tracepoint:syscalls:sys_enter_getppid" in out.splitlines()
    assert all(line.startswith("tracepoint:syscalls:sys_enter_getp") for line in out.splitlines())
    code, out, _ = run(capsys, "-l", "rawtracepoint:sys_e*")
    assert {"rawtracepoint:sys_enter", "rawtracepoint:sys_exit"} <= set(out.splitlines())
    code, out, _ = run(capsys, "-l", "software:*")
    assert "software:page-faults:" in out.splitlines()


def test_kernel_auto_takes_linux_here(capsys):
    assert main(["--kernel", "auto", "-e", "tracepoint:syscalls:sys_enter_getppid { exit(); } "
                                           "BEGIN { printf(\"up\\n\"); }", "--timeout", "5"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("up\n")
    assert "Attached 2 probes" in err


def test_for_over_a_map_in_begin_loads_its_callback_with_named_btf_parameters(capsys):
    # the callback is a sub-program: Linux wants func_info (also for BEGIN's raw tracepoint twin) and a FUNC
    # whose parameters have names
    code, out, err = run(capsys, "-e", "BEGIN { @m[16] = 32; @m[64] = 128; for ($kv : @m) { print($kv); } "
                                       "exit(); }")
    assert code == 0, err
    assert sorted(out.split("\n\n")[0].splitlines()) == ["(16, 32)", "(64, 128)"], out  # in hash order

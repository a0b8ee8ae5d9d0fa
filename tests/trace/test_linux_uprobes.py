"""pybpftrace on the Linux kernel: uprobes, uretprobes and USDT probes of a test binary and of libc."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys

import pytest

import pybpf
from pybpf.cli.pybpftrace import main
from support.kernel import needs_kernel

from kernel.linux_progs import build_probed, have_gcc, have_sdt

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
pytestmark = [needs_kernel, pytest.mark.skipif(not have_gcc(), reason="needs gcc to build "
                                                                      "tests/data/linux/probed.c")]


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """probed.c with a USDT probe (pybpf:tick, one -8@ argument, a semaphore): sys/sdt.h's, else its own note."""
    if have_sdt():
        return build_probed(str(tmp_path_factory.mktemp("sdt")), sdt="sdt.h")
    if platform.machine() == "x86_64":
        return build_probed(str(tmp_path_factory.mktemp("asm")), sdt="asm")
    pytest.skip("needs <sys/sdt.h> (systemtap-sdt-dev) or x86-64 for the program's own stapsdt note")


def traced_run(binary: str, n: int, script: str) -> tuple[list[str], str]:
    """Start binary paused on stdin, trace it by pid (-p), let it make n iterations: (its output, the maps)."""
    child = subprocess.Popen([binary, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with pybpf.trace(script, kernel="linux", capture=True, pid=child.pid) as tracing:
            out, _ = child.communicate("go\n", timeout=30)
        return out.split(), tracing.output
    finally:
        child.kill()
        child.wait()


def test_uprobe_and_uretprobe_see_every_call_its_arguments_and_return_value(probed):
    script = (f"uprobe:{probed}:pybpf_add {{ @calls = count(); @b = sum(arg1); @fn[func] = count(); }} "
              f"uretprobe:{probed}:pybpf_add {{ @last = max(retval); @returns = count(); }}")
    out, maps = traced_run(probed, 500, script)
    total = sum(range(500))
    assert out[0] == str(total)
    for line in ("@calls: 500", f"@b: {total}", "@fn[pybpf_add]: 500", f"@last: {total}", "@returns: 500"):
        assert line + "\n" in maps


def test_usdt_probe_reads_its_argument_and_raises_the_semaphore_for_the_traced_pid(probed):
    out, maps = traced_run(probed, 321, f"usdt:{probed}:pybpf:tick {{ @ticks = count(); @i = sum(arg0); "
                                        f"@top = max(arg0); }}")
    assert out[1] == "321"  # every iteration saw the semaphore raised
    assert "@ticks: 321\n" in maps and f"@i: {sum(range(321))}\n" in maps and "@top: 320\n" in maps


def test_uprobe_on_libc_by_name_counts_our_calls():
    getppid = ctypes.CDLL(None).getppid
    with pybpf.trace("uprobe:libc:getppid { @[pid] = count(); }", kernel="linux", capture=True,
                     pid=os.getpid()) as tracing:
        for _ in range(250):
            getppid()
    assert f"@[{os.getpid()}]: 250\n" in tracing.output


def cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    """pybpftrace --kernel linux ARGV as a command, its -c child reading stdin."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    return subprocess.run([sys.executable, "-m", "pybpf.cli.pybpftrace", "--kernel", "linux", *argv],
                          input=stdin, capture_output=True, text=True, timeout=120, env=env)


def test_uprobe_wildcards_expand_to_the_binary_functions(probed):
    done = cli("-e", f"uprobe:{probed}:pybpf_* {{ @[probe] = count(); }}", "-c", f"{probed} 40", stdin="go\n")
    assert done.returncode == 0, done.stderr
    assert "Attached 1 probe\n" in done.stderr
    assert f"@[uprobe:{probed}:pybpf_add]: 40\n" in done.stdout


def test_c_runs_a_binary_paused_until_the_probes_are_attached(probed):
    done = cli("-e", f"uretprobe:{probed}:pybpf_add {{ @ = count(); }}", "-c", f"{probed} 1000", stdin="go\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{sum(range(1000))} ")  # the command's own output, then the map
    assert "@: 1000\n" in done.stdout


def test_c_traces_uprobes_of_the_command_only(probed):
    # the command is a shell that starts probed: bpftrace's -c limits uprobes to the command's own process
    done = cli("-e", f"uprobe:{probed}:pybpf_add {{ @ = count(); }} END {{ printf(\"end\\n\"); }}",
               "-c", f"/bin/sh -c 'echo go | {probed} 10'")
    assert done.returncode == 0, done.stderr
    assert "end\n" in done.stdout and "@: " not in done.stdout


def test_c_raises_usdt_semaphores_in_the_command_held_after_its_exec(probed):
    done = cli("-e", f"usdt:{probed}:pybpf:tick {{ @ticks = count(); }}", "-c", f"{probed} 50", stdin="go\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{sum(range(50))} 50\n")  # every iteration saw the semaphore raised
    assert "@ticks: 50\n" in done.stdout


def test_usdt_sites_whose_arguments_differ_in_layout_each_read_their_own(probed):
    from pybpf.kernel.linux import usdt
    sites = usdt.find_probe(probed, "pybpf", "total")
    assert len(usdt.layouts(sites)) == 2  # the sum in a register, the constant -1 ($-1)
    done = cli("-e", f"usdt:{probed}:pybpf:total {{ @[arg0] = count(); }}", "-c", f"{probed} 30", stdin="go\n")
    assert done.returncode == 0, done.stderr
    assert f"@[{sum(range(30))}]: 1\n" in done.stdout and "@[-1]: 1\n" in done.stdout


def test_cpid_is_the_pid_of_the_command(probed):
    done = cli("-e", f"uprobe:{probed}:pybpf_add {{ @[pid == cpid] = count(); }} "
               "tracepoint:syscalls:sys_enter_read /pid == cpid/ { @reads = count(); }",
               "-c", f"{probed} 40", stdin="go\n")
    assert done.returncode == 0, done.stderr
    assert "@[true]: 40\n" in done.stdout and "@[false]" not in done.stdout
    assert "@reads: " in done.stdout  # its fgets(stdin), by its pid


def test_c_with_a_command_that_cannot_start_is_an_error_and_runs_nothing(tmp_path):
    script = tmp_path / "no_interpreter"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    done = cli("-e", "BEGIN { printf(\"began\\n\"); }", "-c", str(script))
    assert done.returncode == 1 and "began" not in done.stdout
    assert f"ERROR: -c: command '{script}' could not be started" in done.stderr


def test_list_shows_a_binary_uprobes_and_usdt_probes(probed, capsys):
    assert main(["--kernel", "linux", "-l", f"uprobe:{probed}:*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"uprobe:{probed}:pybpf_add" in lines and f"uprobe:{probed}:main" in lines
    assert f"usdt:{probed}:pybpf:tick" in lines
    assert main(["--kernel", "linux", "-l", f"usdt:{probed}:*"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"usdt:{probed}:pybpf:tick", f"usdt:{probed}:pybpf:total"]


@pytest.mark.parametrize("script, message", [
    ("uprobe:/no/such/binary:f { }", "ERROR: uprobe target file '/no/such/binary' does not exist or is not "
                                     "executable"),
    ("uprobe:/bin/true:no_such_function_here { }", "ERROR: Could not resolve symbol: /bin/true:no_such_function_here"),
    ("usdt:/bin/true:nope:nothing { }", "ERROR: Could not find USDT probe nope:nothing in"),
])
def test_bad_uprobes_are_bpftrace_style_errors(capsys, script, message):
    assert main(["--kernel", "linux", "-e", script]) == 1
    err = capsys.readouterr().err
    assert message in err and "~~~" in err and "Traceback" not in err


def test_p_with_a_pid_that_does_not_exist_is_an_error(capsys):
    assert main(["--kernel", "linux", "-p", "999999999", "-e", "uprobe:libc:getpid { @ = count(); }"]) == 1
    assert capsys.readouterr().err == "ERROR: pid '999999999' does not exist\n"

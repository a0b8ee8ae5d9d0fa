"""pybpftrace on the Linux kernel: profile, interval and software events fire at their rates; what the host lacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.kernel.linux.perf import online_cpus
from support.kernel import needs_kernel

pytestmark = needs_kernel


def counts(out: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(@\w*): (\d+)$", out, re.M)}


def test_profile_fires_on_every_cpu_and_interval_on_one(capsys):
    cpus = online_cpus()
    # cpu-clock samples only a running CPU: keep every CPU busy for the window
    burn = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in cpus]
    try:
        time.sleep(0.3)
        code = main(["--kernel", "linux", "-e", "profile:hz:100 { @p = count(); @cpus[cpu] = count(); } "
                                                "interval:ms:50 { @i = count(); }", "--timeout", "1.5"])
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    out, err = capsys.readouterr()
    assert code == 0, err
    found = counts(out)
    assert 0.5 * 150 * len(cpus) < found["@p"] < 1.5 * 150 * len(cpus), out
    assert 15 <= found["@i"] <= 45, out
    assert len(re.findall(r"^@cpus\[\d+\]: \d+$", out, re.M)) == len(cpus)


def test_interval_exit_ends_the_run_after_n_ticks(capsys):
    start = time.monotonic()
    code = main(["--kernel", "linux", "-e", "interval:ms:100 { @n = count(); if (@n == 3) { exit(); } }"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert counts(out)["@n"] == 3
    assert time.monotonic() - start >= 0.25  # three periods of 100 ms went by


def test_software_event_counts_page_faults_of_a_command(capsys, tmp_path):
    touch = tmp_path / "touch.py"
    touch.write_text("import mmap\nm = mmap.mmap(-1, 400 * 4096)\nfor i in range(400): m[i * 4096] = 1\n")
    code = main(["--kernel", "linux", "-e", 'software:page-faults:1 /comm == "pybpf-faults"/ { @f = count(); }',
                 "-c", f"{sys.executable} -c \"import ctypes, runpy; ctypes.CDLL(None).prctl(15, b'pybpf-faults'); "
                       f"runpy.run_path('{touch}')\""])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert counts(out)["@f"] >= 400  # one fault a page touched at least


@pytest.mark.parametrize("script, message", [
    ("kprobe:vfs_read { @ = count(); }", "this kernel has no kprobes"),
    ("kretprobe:vfs_read { @ = count(); }", "this kernel has no kprobes"),
    ("fentry:vfs_read { @ = count(); }", "fentry/fexit"),
    ("hardware:cycles:100000 { @ = count(); }", "no hardware PMU"),
])
def test_what_this_host_lacks_is_named_and_nothing_stays_attached(capsys, script, message):
    kind = script.split(":")[0]
    if kind in ("kprobe", "kretprobe") and os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    if kind == "hardware" and os.path.exists("/sys/bus/event_source/devices/cpu"):
        pytest.skip("this machine has a hardware PMU")
    fds = set(os.listdir("/proc/self/fd"))
    code = main(["--kernel", "linux", "-e", "BEGIN { printf(\"begun\\n\"); } " + script])
    out, err = capsys.readouterr()
    assert code == 1
    assert message in err
    assert f"ERROR: Error attaching probe: '{script.split()[0]}'" in err
    assert "begun" not in out  # BEGIN runs only once every probe is attached
    assert set(os.listdir("/proc/self/fd")) <= fds

"""pybpftrace on the Linux kernel leaves nothing behind: SIGINT or SIGTERM at any moment, or a failed attach.

Each run's maps carry a name of its own (AT_k<random>); programs hold their
maps and links and perf events hold their programs, so when no map of that
name is left in the kernel, nothing of the run is.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pybpf.kernel.linux import LinuxKernel
from support.kernel import needs_kernel

pytestmark = needs_kernel
SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def our_maps(kernel: LinuxKernel, prefix: str) -> list[str]:
    names, next_id = [], 0
    while (next_id := kernel.get_next_id("map", next_id)) is not None:
        try:
            fd = kernel.get_fd_by_id("map", next_id)
        except Exception:  # freed between the two calls
            continue
        try:
            name = kernel.info(fd)["name"]
        finally:
            kernel.close(fd)
        if name.startswith(prefix):
            names.append(name)
    return names


def maps_left(kernel: LinuxKernel, prefix: str, seconds: float = 5.0) -> list[str]:
    """our_maps once the kernel has freed what the exited process held (it frees programs, links and maps
    after an RCU grace period, not at the exit itself)."""
    deadline = time.monotonic() + seconds
    while (names := our_maps(kernel, prefix)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return names


def start(script: str, *extra: str, stdin=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "pybpf.cli.pybpftrace", "--kernel", "linux", "-e", script,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=stdin)


def stop(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:  # a signal that landed before the handlers: once more
        proc.send_signal(sig)
        return proc.communicate(timeout=20)


@pytest.mark.parametrize("round", range(8))
def test_a_signal_at_a_random_moment_leaves_no_map_prog_or_link(round):
    kernel = LinuxKernel()
    rng = random.Random(round)
    tag = f"k{rng.getrandbits(32):08x}"
    script = (f"tracepoint:syscalls:sys_enter_getppid {{ @{tag}a = count(); }} "
              f"interval:ms:5 {{ @{tag}b = count(); printf(\"tick\\n\"); }} "
              f"tracepoint:syscalls:sys_enter_read {{ @{tag}c = hist(args->count); }} "
              f"uprobe:libc:getppid {{ @{tag}d = count(); }} END {{ printf(\"end\\n\"); }}")
    sig = (signal.SIGINT, signal.SIGTERM)[round % 2]
    proc = start(script, "--no-cache")
    time.sleep(rng.uniform(0.0, 2.5))  # during start-up, compile, load, attach or the run
    out, err = stop(proc, sig)
    assert "Traceback" not in err or "KeyboardInterrupt" in err, err
    if "Attached 5 probes" in err and proc.returncode == 0:
        assert f"\n@{tag}b: " in out and "end\n" in out  # END ran, the maps were printed
    assert maps_left(kernel, f"AT_{tag}") == []


def test_an_attach_that_fails_midway_detaches_what_it_had_attached():
    kernel = LinuxKernel()
    tag = f"k{random.getrandbits(32):08x}"
    proc = start(f"tracepoint:syscalls:sys_enter_getppid {{ @{tag} = count(); }} "
                 f"interval:ms:10 {{ @{tag}x = count(); }} tracepoint:syscalls:sys_enter_read {{ @{tag}y = count(); }}"
                 f" kprobe:vfs_read {{ @{tag}z = count(); }} rawtracepoint:no_such_raw_tp {{ @{tag}w = count(); }}")
    out, err = proc.communicate(timeout=60)
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        assert "no raw tracepoint 'no_such_raw_tp'" in err
    else:
        assert "ERROR: Error attaching probe: 'kprobe:vfs_read'" in err
    assert proc.returncode == 1 and "Traceback" not in err
    assert maps_left(kernel, f"AT_{tag}") == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_tracing_runs_end_prints_the_maps_and_detaches(sig):
    kernel = LinuxKernel()
    tag = f"k{random.getrandbits(32):08x}"
    proc = start(f"interval:ms:5 {{ @{tag} = count(); }} END {{ printf(\"end\\n\"); }}")
    deadline = time.monotonic() + 30
    while not our_maps(kernel, f"AT_{tag}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert our_maps(kernel, f"AT_{tag}") == [f"AT_{tag}"]  # loaded: the kernel names the map after it
    time.sleep(0.3)
    out, err = stop(proc, sig)
    assert proc.returncode == 0 and "Attached 2 probes" in err
    assert "end\n" in out and f"@{tag}: " in out
    assert maps_left(kernel, f"AT_{tag}") == []


def running(binary: str) -> list[int]:
    """Processes whose executable is binary (zombies, whose exe link is gone, are not counted)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == binary:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build tests/data/linux/probed.c")
@pytest.mark.parametrize("round", range(6))
def test_a_signal_with_c_stacks_and_usdt_semaphores_leaves_no_map_and_no_command(round, tmp_path):
    # -c holds its command with ptrace until the probes are attached; the command waits on a stdin that
    # never gets a line, so it is still there when the signal comes, held or running
    from kernel.linux_progs import build_probed
    probed = build_probed(str(tmp_path), sdt="asm" if platform.machine() == "x86_64" else "")
    kernel = LinuxKernel()
    rng = random.Random(100 + round)
    tag = f"k{rng.getrandbits(32):08x}"
    usdt = f"usdt:{probed}:pybpf:total {{ @{tag}u = count(); }} " if platform.machine() == "x86_64" else ""
    script = (f"{usdt}uprobe:{probed}:pybpf_add {{ @{tag}s[ustack, kstack] = count(); }} "
              f"tracepoint:syscalls:sys_enter_read /pid == cpid/ {{ @{tag}r[args] = count(); }}")
    sig = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)[round % 3]
    proc = start(script, "--no-cache", "-c", f"{probed} 5", stdin=subprocess.PIPE)
    time.sleep(rng.uniform(0.0, 2.5))
    out, err = stop(proc, sig)
    assert "Traceback" not in err or "KeyboardInterrupt" in err, err
    assert maps_left(kernel, f"AT_{tag}") == []
    if sig != signal.SIGKILL:  # pybpftrace ended its command (SIGKILL: a held one dies with it, EXITKILL)
        deadline = time.monotonic() + 5
        while running(probed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running(probed) == []
    for pid in running(probed):  # a command SIGKILL left running, waiting on its stdin
        os.kill(pid, signal.SIGKILL)


def test_a_script_printing_what_its_own_writes_trigger_still_ends_on_sigterm():
    # every line it prints is a write() that makes another record: the reader must not loop forever
    kernel = LinuxKernel()
    tag = f"k{random.getrandbits(32):08x}"
    proc = start(f"tracepoint:syscalls:sys_enter_write {{ @{tag} = count(); printf(\"write %d\\n\", pid); }}")
    deadline = time.monotonic() + 30
    while not our_maps(kernel, f"AT_{tag}") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    out, err = stop(proc, signal.SIGTERM)
    assert proc.returncode == 0 and f"@{tag}: " in out, err
    assert maps_left(kernel, f"AT_{tag}") == []

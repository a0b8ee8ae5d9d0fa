"""pybpftrace on the Linux kernel (--kernel linux) next to bpftrace 0.17, on the same machine, in the same run.

Run as root: python3 bench/pybpftrace_linux_vs_bpftrace.py [--runs N] [--syscalls N]

| figure | how |
|---|---|
| start-up | from process start to the first line BEGIN prints (BEGIN runs once every probe is attached) |
| peak RSS | the tracer process's ru_maxrss, over the start-up runs |
| ns / syscall | a counting probe on sys_enter_getppid while a C workload makes N getppid() calls: (traced - untraced) wall time / N, the smallest of the runs |
| instructions | the xlated length of each program the tracer loaded for the same script, read while it runs (`/proc/PID/fdinfo` prog ids, then BPF_OBJ_GET_INFO_BY_FD as bpftool does); BEGIN/END not counted |

pybpftrace runs with its object cache warm (one untimed run first). Ratios are
pybpftrace / bpftrace (below 1: pybpftrace is smaller or faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

WORKLOAD = r"""
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    return 0;
}
"""
COUNTING = "tracepoint:syscalls:sys_enter_getppid { @calls = count(); }"


def scripts(probed: str | None) -> dict[str, str]:
    """The side-by-side scripts (tests/trace/test_linux_vs_bpftrace.py), for the instruction counts."""
    found = {
        "count getppid": COUNTING,
        "syscalls by process": "tracepoint:raw_syscalls:sys_enter { @[comm, args->id] = count(); }",
        "read size hist": "tracepoint:syscalls:sys_exit_read { @bytes = hist(args->ret); }",
        "stacks": "tracepoint:syscalls:sys_enter_getppid { @[kstack, ustack] = count(); }",
    }
    if probed:
        found["uprobe latency"] = (f"uprobe:{probed}:pybpf_add {{ @start[tid] = nsecs; }} "
                                   f"uretprobe:{probed}:pybpf_add /@start[tid]/ {{ @ns = hist(nsecs - @start[tid]); "
                                   f"delete(@start[tid]); }}")
    return found


def command(tracer: str, script: str) -> list[str]:
    if tracer == "bpftrace":
        return ["bpftrace", "-e", script]
    return [sys.executable, "-m", "pybpf.cli.pybpftrace", "--kernel", "linux", "-e", script]


def start_tracer(tracer: str, script: str) -> tuple[subprocess.Popen, float]:
    """Start a tracer with a BEGIN that prints 'ready'; return it once it has, and the seconds it took."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # Python's bytecode cache, as a user's second run has it
    start = time.perf_counter()
    proc = subprocess.Popen(command(tracer, 'BEGIN { printf("ready\\n"); } ' + script), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("ready"):
            return proc, time.perf_counter() - start
    raise RuntimeError(f"{tracer} exited before BEGIN ran ({proc.wait()})")


def stop_tracer(proc: subprocess.Popen) -> int:
    """SIGINT (again each second: bpftrace 0.17 misses one sent right after BEGIN), drain, reap; peak RSS in KiB."""
    drain = threading.Thread(target=proc.stdout.read, daemon=True)
    drain.start()
    while True:
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = 0
                drain.join()
                return usage.ru_maxrss
            time.sleep(0.01)


def loaded_insns(pid: int) -> list[tuple[str, int]]:
    """(name, xlated instructions) of every BPF program process pid holds, BEGIN/END left out."""
    from pybpf.kernel.linux import LinuxKernel
    kernel, ids = LinuxKernel(), set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    found = []
    for prog_id in sorted(ids):
        fd = kernel.get_fd_by_id("prog", prog_id)
        try:
            info = kernel.info(fd)
        finally:
            kernel.close(fd)
        if not info["name"].upper().startswith(("BEGIN", "END")):
            found.append((info["name"], info["xlated_prog_len"] // 8))
    return found


def run_workload(binary: str, n: int) -> float:
    start = time.perf_counter()
    subprocess.run([binary, str(n)], check=True)
    return time.perf_counter() - start


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--syscalls", type=int, default=1_000_000)
    args = parser.parse_args()
    from pybpf.kernel.linux.syscall import kernel_available
    ok, why = kernel_available()
    if not ok or shutil.which("bpftrace") is None or shutil.which("gcc") is None:
        print(f"skipped: needs the kernel's bpf() ({why}), bpftrace and gcc")
        return 0
    tmp = tempfile.mkdtemp(prefix="pybpf-bench-")
    with open(os.path.join(tmp, "w.c"), "w") as f:
        f.write(WORKLOAD)
    workload = os.path.join(tmp, "pybpf_getppid")
    subprocess.run(["gcc", "-O2", "-o", workload, os.path.join(tmp, "w.c")], check=True)
    probed = os.path.join(tmp, "probed")
    subprocess.run(["gcc", "-O2", "-o", probed, os.path.join(ROOT, "tests", "data", "linux", "probed.c")], check=True)
    tracers = ("pybpftrace", "bpftrace")

    stop_tracer(start_tracer("pybpftrace", COUNTING)[0])  # warm the object cache
    startup = {t: [] for t in tracers}
    rss = {t: 0 for t in tracers}
    for _ in range(args.runs):
        for tracer in tracers:
            proc, seconds = start_tracer(tracer, COUNTING)
            startup[tracer].append(seconds)
            rss[tracer] = max(rss[tracer], stop_tracer(proc))

    untraced = min(run_workload(workload, args.syscalls) for _ in range(args.runs))
    per_syscall = {}
    for tracer in tracers:
        times = []
        for _ in range(args.runs):
            proc, _ = start_tracer(tracer, COUNTING)
            times.append(run_workload(workload, args.syscalls))
            stop_tracer(proc)
        per_syscall[tracer] = max(0.0, (min(times) - untraced) / args.syscalls * 1e9)

    insns = {}
    for case, script in scripts(probed).items():
        for tracer in tracers:
            proc, _ = start_tracer(tracer, script)
            insns[case, tracer] = loaded_insns(proc.pid)
            stop_tracer(proc)

    print(f"pybpftrace --kernel linux vs bpftrace (same machine, same run; {args.runs} runs, "
          f"{args.syscalls} getppid() calls)\n")
    print(f"{'figure':<34}{'pybpftrace':>14}{'bpftrace':>14}{'ratio':>10}")
    ours, theirs = min(startup["pybpftrace"]), min(startup["bpftrace"])
    print(f"{'start-up to BEGIN (s, best)':<34}{ours:>14.3f}{theirs:>14.3f}{ratio(ours, theirs):>10}")
    print(f"{'peak RSS (MiB)':<34}{rss['pybpftrace'] / 1024:>14.1f}{rss['bpftrace'] / 1024:>14.1f}"
          f"{ratio(rss['pybpftrace'], rss['bpftrace']):>10}")
    print(f"{'untraced getppid (ns)':<34}{untraced / args.syscalls * 1e9:>14.1f}")
    print(f"{'added ns / syscall, count()':<34}{per_syscall['pybpftrace']:>14.1f}{per_syscall['bpftrace']:>14.1f}"
          f"{ratio(per_syscall['pybpftrace'], per_syscall['bpftrace']):>10}")
    print("\ninstructions (xlated) of the generated programs")
    for case in scripts(probed):
        ours, theirs = insns[case, "pybpftrace"], insns[case, "bpftrace"]
        a, b = sum(n for _, n in ours), sum(n for _, n in theirs)
        print(f"  {case:<32}{a:>14}{b:>14}{ratio(a, b):>10}   "
              f"({', '.join(str(n) for _, n in ours)} / {', '.join(str(n) for _, n in theirs)})")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

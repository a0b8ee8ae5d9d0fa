"""Run bpftrace's own runtime tests (tests/runtime of the bpftrace repository) against a bpftrace command.

    python3 tools/bpftrace_runtime.py PATH/TO/bpftrace/tests/runtime [--bpftrace CMD] [--jobs N] [-v] [--filter RE]

The bpftrace repository is not part of pybpf: point this at a checkout.
Selected are the PROG tests whose probes are only BEGIN, END, interval and
profile and that need nothing else of the host (no REQUIRES, REQUIRES_FEATURE but those `--features` names,
BEFORE/AFTER, SETUP, NEW_PIDNS or other architectures).  Each runs as the
suite's own runner runs it (`CMD -e 'PROG'`, `-q -f json` for JSON
expectations, ENV set, SIGINT at TIMEOUT counted from the tracer's
"Attached N probes" line, as the suite's runner counts it from attach), and
is judged by its EXPECT* lines and exit status.  With `--testprogs DIR` the
tests that run an AFTER command once the probes are attached are in too: the
suite's test programs they name are built with gcc into DIR/testprogs, and
the tests run in DIR.  Printed: the pass count, and the failures grouped
by cause (the first ERROR line, or what was expected and missing).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_PROBE = re.compile(r"(?:^|[\s,}])(?:kprobe|kretprobe|uprobe|uretprobe|tracepoint|rawtracepoint|usdt|software|"
                          r"hardware|watchpoint|asyncwatchpoint|fentry|fexit|kfunc|kretfunc|iter|self|t|rt|k|kr|u|"
                          r"ur|U|s|h|w|aw|f|fr|it):", re.M)
# With --kernel linux the tests of the probes pybpftrace attaches on Linux are in too (tracepoints, raw
# tracepoints, software events); uprobe/usdt tests need the suite's testprogs, the rest what this host lacks.
LINUX_KERNEL_PROBE = re.compile(r"(?:^|[\s,}])(?:kprobe|kretprobe|uprobe|uretprobe|usdt|hardware|watchpoint|"
                                r"asyncwatchpoint|fentry|fexit|kfunc|kretfunc|iter|self|k|kr|u|ur|U|h|w|aw|f|fr|it):",
                                re.M)
EXCLUDING = ("REQUIRES", "REQUIRES_FEATURE", "BEFORE", "AFTER", "SETUP", "CLEANUP", "NEW_PIDNS", "SKIP_IF_ENV_HAS",
             "MIN_KERNEL", "MAX_KERNEL")


@dataclass
class Test:
    suite: str
    name: str
    prog: str = ""
    run: str = ""
    expects: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 5.0
    env: dict[str, str] = field(default_factory=dict)
    will_fail: bool = False
    return_code: int = 0
    directives: set[str] = field(default_factory=set)
    arch: list[str] = field(default_factory=list)
    after: str = ""
    features: set[str] = field(default_factory=set)  # REQUIRES_FEATURE names


def parse_suite(path: Path) -> list[Test]:
    tests, current, previous = [], None, ""
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if current is not None and previous and line[:len(previous) + 1].isspace():
            # indented past the previous directive's name: it goes on (as the suite's parser.py reads it)
            rest = line[len(previous) + 1:]
            if previous == "PROG":
                current.prog += "\n" + rest
                continue
            if previous in ("EXPECT", "EXPECT_REGEX") and current.expects:
                kind, text = current.expects[-1]
                current.expects[-1] = (kind, text + "\n" + rest)
                continue
        key, _, value = line.partition(" ")
        value = value.strip()  # as the suite's parser.py splits the stripped line: `EXPECT  yes` expects "yes"
        previous = key
        if key == "NAME":
            current = Test(path.name, value)
            tests.append(current)
            continue
        if current is None:
            continue
        current.directives.add(key)
        if key == "PROG":
            current.prog = value
        elif key == "RUN":
            current.run = value
        elif key in ("EXPECT", "EXPECT_NONE", "EXPECT_REGEX", "EXPECT_REGEX_NONE", "EXPECT_JSON", "EXPECT_FILE"):
            current.expects.append((key, value))
        elif key == "TIMEOUT":
            current.timeout = float(value)
        elif key == "ENV":
            name, _, setting = value.partition("=")
            current.env[name] = setting
        elif key == "WILL_FAIL":
            current.will_fail = True
        elif key == "RETURN_CODE":
            current.return_code = int(value)
        elif key == "ARCH":
            current.arch = value.split("|")
        elif key == "AFTER":
            current.after = value
        elif key == "REQUIRES_FEATURE":
            current.features.update(value.split())
    return tests


def selected(test: Test, kernel: str = "virtual", testprogs: set[str] | None = None,
             features: frozenset[str] = frozenset()) -> str | None:
    """Why a test is out of scope, or None if it is in (`testprogs`: the test programs built for AFTER;
    `features`: the REQUIRES_FEATURE names to take as present)."""
    if not test.prog:
        return "RUN (command-line) test"
    if (LINUX_KERNEL_PROBE if kernel == "linux" else KERNEL_PROBE).search(test.prog):
        return "kernel or user-space probes"
    excluding = set(EXCLUDING)
    if testprogs is not None and test.after:
        missing = sorted(set(re.findall(r"\./testprogs/(\w+)", test.after)) - testprogs)
        if missing:
            return f"testprog {missing[0]} not built"
        excluding.discard("AFTER")
    if test.features and test.features <= features:
        excluding.discard("REQUIRES_FEATURE")
    hit = sorted(test.directives & excluding)
    if hit:
        return f"needs {hit[0]}"
    if test.arch and platform.machine() not in test.arch:
        return "other architecture"
    if any(kind == "EXPECT_FILE" for kind, _ in test.expects):
        return "EXPECT_FILE"
    return None


def check(kind: str, expect: str, output: str, root: Path) -> bool:
    if kind == "EXPECT":
        return re.search(rf"^\s*{re.escape(expect)}\s*$", output, re.M) is not None
    if kind == "EXPECT_NONE":
        return re.search(rf"^\s*{re.escape(expect)}\s*$", output, re.M) is None
    if kind == "EXPECT_REGEX":
        return re.search(expect, output, re.M) is not None
    if kind == "EXPECT_REGEX_NONE":
        return re.search(expect, output, re.M) is None
    if kind == "EXPECT_JSON":
        path = root.parent / expect if not os.path.isabs(expect) else Path(expect)
        try:
            wanted = path.read_text().strip()
            if path.suffix == ".ndjson":
                return [json.loads(x) for x in output.strip().splitlines()] == \
                    [json.loads(x) for x in wanted.splitlines()]
            return json.loads(output.strip()) == json.loads(wanted)
        except (OSError, ValueError):
            return False
    return False


ATTACHED = re.compile(r"^Attach(?:ing|ed) \d+ probes?")  # pybpftrace's and bpftrace 0.17's words
ATTACH_TIMEOUT = 30.0  # seconds to start and attach before TIMEOUT counts, as the suite's runner allows


def build_testprogs(tests: list[Test], root: Path, into: Path) -> set[str]:
    """The suite's test programs AFTER commands name, built as its CMakeLists builds them (-g -O0)."""
    names = {name for test in tests for name in re.findall(r"\./testprogs/(\w+)", test.after)}
    (into / "testprogs").mkdir(parents=True, exist_ok=True)
    if not (into / "runtime").exists():
        (into / "runtime").symlink_to(root.resolve())
    built = set()
    for name in sorted(names):
        source, binary = root.parent / "testprogs" / f"{name}.c", into / "testprogs" / name
        if binary.exists() or (source.exists() and subprocess.run(
                ["gcc", "-g", "-O0", "-o", str(binary), str(source), f"-I{root.parent / 'testprogs'}"],
                capture_output=True).returncode == 0):
            built.add(name)
    return built


def _communicate(process: subprocess.Popen, test: Test, cwd: Path, quiet: bool) -> tuple[str, str]:
    """The tracer's output, its TIMEOUT counted from its attach line (from its start when -q hides it),
    with the test's AFTER command started at that line; (output, "") or (output, why it failed)."""
    lines: list[str] = []
    attached = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if ATTACHED.match(line):
                attached.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started, after = time.monotonic(), None
    if not quiet:
        while not attached.is_set() and process.poll() is None and time.monotonic() - started < ATTACH_TIMEOUT:
            attached.wait(0.02)
    if attached.is_set() and test.after:
        after = subprocess.Popen(["bash", "-c", test.after], cwd=cwd, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    why = ""
    try:
        process.wait(timeout=test.timeout - (0 if attached.is_set() else time.monotonic() - started))
    except (subprocess.TimeoutExpired, ValueError):
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            why = "hung after SIGINT"
    reader.join(timeout=5)
    if after is not None:
        try:
            after.wait(timeout=1)
        except subprocess.TimeoutExpired:
            os.killpg(after.pid, signal.SIGKILL)
            after.wait()
    return "".join(lines), why


def run_test(test: Test, command: str, root: Path, cwd: Path | None = None) -> tuple[bool, str]:
    use_json = any(kind == "EXPECT_JSON" for kind, _ in test.expects)
    prog = test.prog.replace("'", "'\\''")
    shell = f"{command} {'-q -f json ' if use_json else ''}-e '{prog}'"
    env = dict(os.environ, **test.env)
    cwd = cwd or root.parent
    process = subprocess.Popen(["bash", "-c", shell], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=cwd, start_new_session=True, errors="replace")
    output, why = _communicate(process, test, cwd, quiet=use_json)
    if why:
        return False, why
    missing = [f"{kind} {expect}" for kind, expect in test.expects if not check(kind, expect, output, root)]
    error = next((line for line in output.splitlines() if "ERROR" in line and "RLIMIT_MEMLOCK" not in line), None)
    if test.will_fail:
        if process.returncode == 0:
            return False, "succeeded, WILL_FAIL expected an error"
    elif process.returncode != test.return_code:
        return False, error or f"exit status {process.returncode}"
    if missing:
        return False, error or f"missing {missing[0][:100]}"
    return True, ""


def cause(reason: str) -> str:
    """Failures grouped: the error message without the script location and quoted names."""
    reason = re.sub(r"^stdin:\d+:\d+-\d+: ", "", reason)
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", reason)[:110]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runtime", type=Path, help="the tests/runtime directory of a bpftrace checkout")
    parser.add_argument("--bpftrace", default=None,
                        help="the command under test (default: pybpftrace, with --kernel KERNEL)")
    parser.add_argument("--kernel", default="virtual", choices=["virtual", "linux"],
                        help="linux: pybpftrace --kernel linux, and the tracepoint, rawtracepoint and software "
                             "tests selected too (the same selection for any --bpftrace)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every failing test")
    parser.add_argument("--testprogs", type=Path, default=None,
                        help="build the suite's test programs here and select the tests with an AFTER command")
    parser.add_argument("--filter", default=None, metavar="REGEX",
                        help="only the selected tests whose SUITE.NAME matches REGEX (as the suite's own --filter)")
    parser.add_argument("--features", default="", metavar="F1,F2",
                        help="select the tests whose every REQUIRES_FEATURE is listed here (`--info` names, "
                             "e.g. lookup_percpu_elem)")
    args = parser.parse_args(argv)
    if args.bpftrace is None:
        args.bpftrace = f"{sys.executable} -m pybpf.cli.pybpftrace" + (" --kernel linux" if args.kernel == "linux"
                                                                       else "")
    if not args.runtime.is_dir():
        parser.error(f"{args.runtime} is not a directory (a bpftrace checkout's tests/runtime)")
    tests, skipped = [], collections.Counter()
    suites = [test for path in sorted(p for p in args.runtime.iterdir() if p.is_file() and not p.suffix)
              for test in parse_suite(path)]
    testprogs = build_testprogs(suites, args.runtime, args.testprogs) if args.testprogs else None
    for test in suites:
        why = selected(test, args.kernel, testprogs, frozenset(filter(None, args.features.split(","))))
        if not why and args.filter and not re.search(args.filter, f"{test.suite}.{test.name}"):
            why = "filtered out"
        if why:
            skipped[why] += 1
        else:
            tests.append(test)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda t: (t, *run_test(t, args.bpftrace, args.runtime, args.testprogs)), tests))
    passed = sum(ok for _, ok, _ in results)
    by_suite = collections.defaultdict(lambda: [0, 0])
    causes = collections.Counter()
    for test, ok, reason in results:
        by_suite[test.suite][0] += ok
        by_suite[test.suite][1] += 1
        if not ok:
            causes[cause(reason)] += 1
            if args.verbose:
                print(f"FAIL {test.suite}: {test.name}: {reason}")
    scope = "BEGIN/END/interval/profile" + ("/tracepoint/rawtracepoint/software" if args.kernel == "linux" else "")
    print(f"selected {len(tests)} tests ({scope} only); passed {passed} "
          f"({100 * passed / max(len(tests), 1):.1f}%)")
    print("by suite: " + ", ".join(f"{s} {p}/{n}" for s, (p, n) in sorted(by_suite.items())))
    print("failures by cause:")
    for reason, count in causes.most_common():
        print(f"  {count:4d}  {reason}")
    print("not selected: " + ", ".join(f"{why} {n}" for why, n in skipped.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

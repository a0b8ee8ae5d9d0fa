"""pybpftrace on the Linux kernel: `-l` over the kernel's probes and a binary's, and `-c` for any command.

`-c CMD` forks a child that asks to be traced (PTRACE_TRACEME) and execs CMD:
the kernel stops it right after the exec, before CMD's first instruction.
The probes are attached to the stopped command (its binary is mapped by then,
so its USDT semaphores can be raised, as bpftrace does), then PTRACE_DETACH
lets it run, and the run ends when it exits.  PTRACE_O_EXITKILL kills a
command still held when pybpftrace itself dies.
"""

from __future__ import annotations

import ctypes
import fnmatch
import os
import shlex
import shutil
import signal
import threading

from ..errors import PybpfError


def _tracepoints() -> list[str]:
    from ..kernel.linux.tracefs import tracefs_root
    events = f"{tracefs_root()}/events"
    return [f"tracepoint:{category}:{event}" for category in sorted(os.listdir(events))
            if os.path.isdir(f"{events}/{category}")
            for event in sorted(os.listdir(f"{events}/{category}")) if os.path.isdir(f"{events}/{category}/{event}")]


def _raw_tracepoints() -> list[str]:
    from ..kernel.linux.tracefs import raw_tracepoints
    return [f"rawtracepoint:{name}" for name in raw_tracepoints()]


def _perf_events() -> list[str]:
    from ..kernel.linux import perf
    return [f"software:{name}:" for name in perf.SOFTWARE_EVENTS] + \
        [f"hardware:{name}:" for name in perf.HARDWARE_EVENTS]


def _binary_probes(path: str) -> list[str]:
    """The uprobes (functions) and USDT probes (usdt:PATH:PROVIDER:NAME) of one binary or library."""
    from ..kernel.linux import usdt
    from ..kernel.linux.uprobe import SymbolError, function_symbols, resolve_binary
    try:
        real = resolve_binary(path)
    except SymbolError:
        raise PybpfError(f"uprobe target file '{path}' does not exist or is not executable") from None
    lines = [f"uprobe:{path}:{name}" for name in sorted(function_symbols(real))]
    return lines + sorted({f"usdt:{path}:{p.provider}:{p.name}" for p in usdt.probes(real)})


def list_probes(pattern: str, write) -> int:
    """bpftrace -l: every probe matching the pattern (a probe type alone lists all of that type)."""
    kind, _, rest = pattern.partition(":")
    if kind in ("uprobe", "uretprobe", "usdt", "u", "ur", "U") and rest:
        lines = _binary_probes(rest.split(":")[0])
        if kind in ("usdt", "U"):
            lines = [line for line in lines if line.startswith("usdt:")]
        elif kind in ("uretprobe", "ur"):
            lines = [line.replace("uprobe:", "uretprobe:", 1) for line in lines if line.startswith("uprobe:")]
        # a binary's uprobes and its USDT probes: the pattern after the probe type picks among both
        return _write_matching([line for line in lines if fnmatch.fnmatchcase(line.split(":", 1)[1], rest)], "*",
                               write)
    return _write_matching(_tracepoints() + _raw_tracepoints() + _perf_events(), pattern, write)


def _write_matching(lines: list[str], pattern: str, write) -> int:
    if ":" not in pattern and pattern != "*":
        pattern = f"*{pattern}*"
    count = 0
    for line in lines:
        if fnmatch.fnmatchcase(line, pattern) or fnmatch.fnmatchcase(line.split(":")[0], pattern) or \
                fnmatch.fnmatchcase(line.rstrip(":"), pattern):
            write(line)
            count += 1
    return count


PTRACE_TRACEME, PTRACE_SETOPTIONS, PTRACE_DETACH, PTRACE_O_EXITKILL = 0, 0x4200, 17, 0x100000


def _ptrace(request: int, pid: int, data: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    return libc.ptrace(request, pid, None, ctypes.c_void_p(data))


class PausedCommand:
    """CMD forked, exec'd and held at its first instruction until `resume()`; `done` is set when it exits.

    Where ptrace is refused (a seccomp or Yama policy), the child stops itself
    before the exec instead (SIGSTOP, resumed with SIGCONT)."""

    def __init__(self, command: str, done: threading.Event):
        argv = shlex.split(command)
        if not argv:
            raise PybpfError("-c: an empty command")
        program = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        if program is None or not os.access(program, os.X_OK):
            raise PybpfError(f"-c: command '{argv[0]}' not found or not executable")
        self.done, self.returncode, self._held = done, None, True
        self.pid = os.fork()
        if self.pid == 0:  # the child: stopped by the kernel after the exec (or by itself before it)
            try:
                if _ptrace(PTRACE_TRACEME, 0) != 0:
                    os.kill(os.getpid(), signal.SIGSTOP)
                os.execv(program, argv)
            finally:
                os._exit(127)
        _, status = os.waitpid(self.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):  # the exec failed
            self.returncode, self._held = os.waitstatus_to_exitcode(status), False
            done.set()
            raise PybpfError(f"-c: command '{argv[0]}' could not be started (exit status {self.returncode})")
        self._traced = os.WSTOPSIG(status) == signal.SIGTRAP
        if self._traced:
            _ptrace(PTRACE_SETOPTIONS, self.pid, PTRACE_O_EXITKILL)
        self._waiter = threading.Thread(target=self._wait, daemon=True, name="pybpftrace -c")

    def _wait(self) -> None:
        while True:
            _, status = os.waitpid(self.pid, 0)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                break
        self.returncode = os.waitstatus_to_exitcode(status)
        self.done.set()

    def resume(self) -> None:
        """Let the command run (the probes are attached)."""
        if self._held:
            self._held = False
            if self._traced:
                _ptrace(PTRACE_DETACH, self.pid)
            else:
                os.kill(self.pid, signal.SIGCONT)
            self._waiter.start()

    def close(self) -> None:
        """A command that never ran is killed; one still running when tracing ends is sent SIGTERM."""
        if self._held:
            self._held = False
            os.kill(self.pid, signal.SIGKILL)
            self._waiter.start()
        elif not self.done.is_set():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self._waiter.is_alive():
            self._waiter.join(timeout=5)

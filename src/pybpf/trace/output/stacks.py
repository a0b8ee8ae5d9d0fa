"""kstack/ustack values in user space: a stack id, its ips read from the stack map, in bpftrace's modes.

A kernel's `stacks` object symbolises the ips: the virtual kernel's
`symbolize(ip)` (Python frames), or Linux's `kernel(ip)`, `user(ip, pid,
perf)` and `build_id(ip, pid)` (kernel/linux/symbols.StackSymbols)."""

from __future__ import annotations

STACK_READERS: list = []  # the running session's (limit, stack id) -> (ips, symboliser), set by runtime.Session
INDENT = 8


def stack_reader(kernel, map_fds):
    """A reader of the session's stack maps; map_fds() gives the loaded object's map fds by name."""
    from ..builtins_stacks import stack_map

    def read(limit: int, stack_id: int) -> list[int]:
        fd = map_fds().get(stack_map(limit)) if stack_id >= 0 else None
        if fd is None:
            return []
        try:
            data = kernel.map_lookup(fd, stack_id.to_bytes(4, "little"))
        except OSError:
            return []
        ips = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
        return [ip for ip in ips if ip]

    return read, getattr(kernel, "stacks", None)


def _frame(stacks, ip: int, user: bool, pid: int, mode: str) -> str:
    """One frame's text: symbol+offset on Linux, the virtual kernel's Python frame, else the address."""
    if hasattr(stacks, "user"):
        if mode == "build_id":
            return stacks.build_id(ip, pid)
        return stacks.user(ip, pid, mode == "perf") if user else stacks.kernel(ip, mode == "perf")
    if mode == "build_id":
        return f"{ip:x}"
    return stacks.symbolize(ip) if stacks is not None else f"{ip:#x}"


class Stack:
    """A kstack/ustack value: its stack id and, for ustack, the process it was taken in."""

    def __init__(self, stack_id: int, limit: int, mode: int, user: bool = False, pid: int = 0):
        self.stack_id, self.limit, self.mode, self.user, self.pid = stack_id, limit, mode, user, pid

    def __eq__(self, other) -> bool:
        return isinstance(other, Stack) and (self.stack_id, self.mode, self.pid) == \
            (other.stack_id, other.mode, other.pid)

    def __lt__(self, other) -> bool:
        return (self.stack_id, self.pid) < (other.stack_id, other.pid)

    def __hash__(self) -> int:
        return hash((self.stack_id, self.pid))

    def __str__(self) -> str:
        from ..builtins_stacks import MODES
        mode = MODES[self.mode]
        if not STACK_READERS:
            return "\n"
        read, stacks = STACK_READERS[0]
        lines = [""]
        for ip in read(self.limit, self.stack_id):
            if mode == "raw":
                lines.append(f"{ip:x}")
            elif mode == "build_id":
                lines.append(_frame(stacks, ip, self.user, self.pid, mode))
            elif mode == "perf":
                lines.append(f"\t{ip:x} {_frame(stacks, ip, self.user, self.pid, mode)}")
            else:
                lines.append(" " * INDENT + _frame(stacks, ip, self.user, self.pid, mode))
        return "\n".join(lines) + "\n"


def decode_stack(data: bytes, limit: int, mode: int, user: bool = False) -> Stack:
    """A stack value: the stack id (a negative errno when none was taken) in the low 32 bits, and for ustack
    the tgid in the high 32 (builtins_stacks.emit_stack)."""
    stack_id = int.from_bytes(data[:4], "little", signed=True)
    return Stack(stack_id, limit, mode, user, int.from_bytes(data[4:8], "little") if user else 0)

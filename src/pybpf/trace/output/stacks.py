"""kstack/ustack values in user space: a stack id, its ips read from the stack map, in bpftrace's modes."""

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

    symbolize = getattr(getattr(kernel, "stacks", None), "symbolize", None) or (lambda ip: f"{ip:#x}")
    return read, symbolize


class Stack:
    def __init__(self, stack_id: int, limit: int, mode: int):
        self.stack_id, self.limit, self.mode = stack_id, limit, mode

    def __eq__(self, other) -> bool:
        return isinstance(other, Stack) and (self.stack_id, self.mode) == (other.stack_id, other.mode)

    def __lt__(self, other) -> bool:
        return self.stack_id < other.stack_id

    def __hash__(self) -> int:
        return hash(self.stack_id)

    def __str__(self) -> str:
        from ..builtins_stacks import MODES
        mode = MODES[self.mode]
        if not STACK_READERS:
            return "\n"
        read, symbolize = STACK_READERS[0]
        lines = [""]
        for ip in read(self.limit, self.stack_id):
            if mode in ("raw", "build_id"):
                lines.append(f"{ip:x}")
            elif mode == "perf":
                lines.append(f"\t{ip:x} {symbolize(ip)}")
            else:
                lines.append(" " * INDENT + symbolize(ip))
        return "\n".join(lines) + "\n"


def decode_stack(data: bytes, limit: int, mode: int) -> Stack:
    return Stack(int.from_bytes(data[:8], "little", signed=True), limit, mode)

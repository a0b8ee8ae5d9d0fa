"""tracefs: where it is mounted, tracepoint ids and formats, the trace pipe.

A tracepoint's id (`events/CATEGORY/NAME/id`) is the `config` of a
PERF_TYPE_TRACEPOINT perf event; its `format` file gives the layout of the
record a BPF_PROG_TYPE_TRACEPOINT program sees as its context.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from ...errors import PybpfError

_BASES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


class TracefsError(PybpfError):
    """tracefs is missing, or an event does not exist in it."""


def tracefs_root() -> str:
    """The mounted tracefs directory, mounting it at /sys/kernel/tracing when root and it is not."""
    for base in _BASES:
        if os.path.exists(f"{base}/events"):
            return base
    if os.geteuid() == 0 and os.path.isdir(_BASES[0]):
        subprocess.run(["mount", "-t", "tracefs", "nodev", _BASES[0]], capture_output=True)
        if os.path.exists(f"{_BASES[0]}/events"):
            return _BASES[0]
    raise TracefsError("tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing as root)")


def tracepoint_id(category: str, name: str) -> int:
    """The perf `config` of tracepoint CATEGORY:NAME."""
    path = f"{tracefs_root()}/events/{category}/{name}/id"
    try:
        with open(path) as f:
            return int(f.read())
    except FileNotFoundError:
        raise TracefsError(f"no tracepoint {category}:{name} in this kernel (no {path})") from None


@dataclass(frozen=True)
class Field:
    decl: str  # as tracefs writes it: "int __syscall_nr", "char comm[16]"
    name: str
    offset: int
    size: int
    signed: bool


_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<sig>\d+);")


def tracepoint_format(category: str, name: str) -> list[Field]:
    """The fields of tracepoint CATEGORY:NAME's record, common_* fields first, in offset order."""
    path = f"{tracefs_root()}/events/{category}/{name}/format"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        raise TracefsError(f"no tracepoint {category}:{name} in this kernel (no {path})") from None
    fields = []
    for m in _FIELD.finditer(text):
        decl = m["decl"].strip()
        ident = re.sub(r"\[.*\]$", "", decl).split()[-1].lstrip("*")
        fields.append(Field(decl, ident, int(m["off"]), int(m["size"]), m["sig"] == "1"))
    return sorted(fields, key=lambda f: f.offset)


def raw_tracepoints() -> list[str]:
    """Every raw tracepoint's name: the kernel's BTF has a `btf_trace_NAME` typedef for each ([] without
    /sys/kernel/btf/vmlinux)."""
    try:
        with open("/sys/kernel/btf/vmlinux", "rb") as f:
            data = f.read()
    except OSError:
        return []
    return sorted({m.decode() for m in re.findall(rb"(?<=\0)btf_trace_(\w+)(?=\0)", data)})


def trace_pipe_path() -> str:
    """The trace pipe, where bpf_trace_printk writes."""
    return f"{tracefs_root()}/trace_pipe"


def open_trace_pipe() -> int:
    """A non-blocking fd on the trace pipe (poll it with `poll.Poller`)."""
    return os.open(trace_pipe_path(), os.O_RDONLY | os.O_NONBLOCK)

"""Which virtual-kernel attach point a program's ELF section names.

libbpf's section names, read for the virtual kernel: a Python module is
the "binary" of a uprobe, audit events are the tracepoints of the
`audit` category, and profiling runs on the virtual CPUs.

| section | attach target |
|---|---|
| `uprobe/MODULE:QUALNAME` | `pyfunc:MODULE:QUALNAME` |
| `uretprobe/MODULE:QUALNAME` | `pyfunc.return:MODULE:QUALNAME` |
| `usdt/PROVIDER:NAME` | `usdt:PROVIDER:NAME` |
| `tracepoint/audit/EVENT`, `tp/audit/EVENT` | `audit:EVENT` |
| `perf_event` | `profile` at 99 Hz |
"""

from __future__ import annotations

SECTION_TARGETS = (
    ("uprobe/", "pyfunc:"),
    ("uretprobe/", "pyfunc.return:"),
    ("usdt/", "usdt:"),
    ("tracepoint/audit/", "audit:"),
    ("tp/audit/", "audit:"),
)


def target_for_section(section: str) -> str | None:
    """The attach target for a program in `section`, or None when the virtual kernel has none."""
    if section == "perf_event":
        return "profile"
    for prefix, target in SECTION_TARGETS:
        if section.startswith(prefix) and len(section) > len(prefix):
            return target + section[len(prefix):]
    return None

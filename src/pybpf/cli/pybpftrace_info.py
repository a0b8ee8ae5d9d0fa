"""`pybpftrace --info`: the build and the virtual kernel's features, in the layout of `bpftrace --info`.

bpftrace's runtime-test runner reads these lines ("send_signal: yes",
"Loop support: yes", "btf: no") to skip the tests whose REQUIRES_FEATURE the
kernel lacks; the helper lines come from pybpf's helper registry (a helper
the virtual kernel implements is "yes"), the feature lines from this table.
"""

from __future__ import annotations

import os
import platform

# What `bpftrace --info` lists under "Kernel helpers", by helper name (the runner's keys).
HELPERS = {"probe_read": "probe_read", "probe_read_str": "probe_read_str", "probe_read_user": "probe_read_user",
           "probe_read_user_str": "probe_read_user_str", "probe_read_kernel": "probe_read_kernel",
           "probe_read_kernel_str": "probe_read_kernel_str", "get_current_cgroup_id": "get_current_cgroup_id",
           "send_signal": "send_signal", "override_return": "override_return", "get_boot_ns": "ktime_get_boot_ns",
           "dpath": "d_path", "skboutput": "skb_output", "get_tai_ns": "ktime_get_tai_ns",
           "get_func_ip": "get_func_ip", "jiffies64": "jiffies64", "for_each_map_elem": "for_each_map_elem",
           "get_ns_current_pid_tgid": "get_ns_current_pid_tgid", "lookup_percpu_elem": "map_lookup_percpu_elem"}

# The virtual kernel's answers under "Kernel features" and "Probe types" (what it can attach and run).
FEATURES = {"Instruction limit": "1000000", "Loop support": "yes", "btf": "no", "module btf": "no",
            "map batch": "no", "uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount)": "no",
            "kprobe_multi": "no", "kprobe_session": "no", "uprobe_multi": "no"}
PROBE_TYPES = {"kprobe": "no", "tracepoint": "yes (Python audit events)", "perf_event": "yes (interval, profile)",
               "fentry": "no", "iter": "no"}


def info_lines() -> list[str]:
    from .. import __version__
    from ..helpers import REGISTRY, helper_id

    def implemented(name: str) -> str:
        number = helper_id(name)
        spec = REGISTRY.get(number) if number else None
        return "yes" if spec is not None and spec.impl is not None else "no"

    try:
        import llvmlite
        llvm = f"llvmlite {llvmlite.__version__}"
    except ImportError:
        llvm = "llvmlite not installed"
    lines = ["System", f"  OS: {platform.system()} {platform.release()} {platform.version()}",
             f"  Arch: {platform.machine()}", "", "Build", f"  version: pybpftrace v{__version__}",
             f"  LLVM: {llvm}", "  bcc library path resolution: no", "  libdw (DWARF support): no",
             "  blazesym (advanced symbolization): no", "", "Kernel helpers (the virtual kernel)"]
    lines += [f"  {label}: {implemented(name)}" for label, name in HELPERS.items()]
    lines += ["", "Kernel features (the virtual kernel)"] + [f"  {k}: {v}" for k, v in FEATURES.items()]
    lines += ["", "Map types"] + ["  hash: yes", "  percpu hash: yes", "  array: yes", "  percpu array: yes",
                                   "  stack_trace: yes", "  perf_event_array: yes", "  ringbuf: yes"]
    lines += ["", "Probe types"] + [f"  {k}: {v}" for k, v in PROBE_TYPES.items()]
    lines += ["", f"  cpus: {os.cpu_count() or 1}"]
    return lines

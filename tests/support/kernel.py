"""Skip marks for tests that need the running kernel's bpf()."""

import pytest

from pybpf.kernel.linux.syscall import kernel_available

AVAILABLE, REASON = kernel_available()
needs_kernel = pytest.mark.skipif(not AVAILABLE, reason=f"needs the Linux kernel's bpf(): {REASON}")


def trace_pipe_path():
    """The kernel's trace_pipe, mounting tracefs when root and it is not mounted; None if unavailable."""
    import os
    import subprocess

    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(f"{base}/trace_pipe"):
            return f"{base}/trace_pipe"
    if os.geteuid() == 0 and os.path.isdir("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], capture_output=True)
        if os.path.exists("/sys/kernel/tracing/trace_pipe"):
            return "/sys/kernel/tracing/trace_pipe"
    return None

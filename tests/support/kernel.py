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


def skip_if_kernel_lacks_helper(log: str) -> None:
    """Skip when the running kernel refused a program only because its build offers a helper to no such program.

    Mainline 6.18 gives XDP programs bpf_xdp_adjust_meta; some builds (6.18.44-fc here) refuse it with
    "program of this type cannot use helper". A comparison with such a kernel has nothing to compare.
    """
    import platform
    import re

    refused = re.search(r"program of this type cannot use helper (\S+)", log or "")
    if refused:
        pytest.skip(f"this kernel ({platform.release()}) refuses {refused.group(1)} to the program's type")

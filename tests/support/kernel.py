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


def assert_linux_loads(script: str) -> None:
    """Compile a pybpftrace script and load its object into the running kernel, then close it again; a refusal
    fails the test with the end of the kernel's verifier log."""
    from pybpf import elf
    from pybpf.kernel.errors import BpfError
    from pybpf.kernel.linux import LinuxKernel
    from pybpf.kernel.loader import load_object
    from pybpf.trace.compiler import compile_script

    kernel = LinuxKernel()
    try:
        loaded = load_object(kernel, elf.load(compile_script(script, cache=False).elf))
    except BpfError as err:
        pytest.fail(f"{err.args[0]}\n" + "\n".join((err.log or "").splitlines()[-8:]))
    for fd in loaded.fds():
        kernel.close(fd)

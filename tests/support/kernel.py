"""Skip marks for tests that need the running kernel's bpf()."""

import pytest

from pybpf.kernel.linux.syscall import kernel_available

AVAILABLE, REASON = kernel_available()
needs_kernel = pytest.mark.skipif(not AVAILABLE, reason=f"needs the Linux kernel's bpf(): {REASON}")

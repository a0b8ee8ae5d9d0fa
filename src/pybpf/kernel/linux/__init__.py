"""pybpf.kernel.linux: the running Linux kernel behind the Kernel protocol (bpf(2) through ctypes)."""

from .kernel import LinuxKernel, LinuxMap, object_info

__all__ = ["LinuxKernel", "LinuxMap", "object_info"]

"""The virtual kernel: an in-process BPF subsystem with Linux's numbering and semantics."""

from .kernel import Loaded, TestRun, VirtualKernel
from .trace_pipe import TracePipe

__all__ = ["Loaded", "TestRun", "TracePipe", "VirtualKernel"]

"""The virtual kernel's view of application probes (see pybpf.usdt)."""

from ...usdt import Probe, find, probe, probes

__all__ = ["Probe", "find", "probe", "probes"]

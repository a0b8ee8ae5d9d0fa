"""pybpf.kernel.linux"""

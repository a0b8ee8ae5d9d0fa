"""pybpf.kernel"""

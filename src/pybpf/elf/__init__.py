"""pybpf.elf"""

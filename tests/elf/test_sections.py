"""libbpf's section-name conventions."""

import pytest

from pybpf.elf import find_section_def
from pybpf.uapi import AttachType as A
from pybpf.uapi import ProgType as P


@pytest.mark.parametrize("name,prog_type,attach", [
    ("socket", P.BPF_PROG_TYPE_SOCKET_FILTER, 0),
    ("kprobe/do_sys_open", P.BPF_PROG_TYPE_KPROBE, 0),
    ("kprobe", P.BPF_PROG_TYPE_KPROBE, 0),
    ("kprobe.multi/tcp_*", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI),
    ("uprobe.s//bin/sh:main", P.BPF_PROG_TYPE_KPROBE, 0),
    ("usdt/libc:setjmp", P.BPF_PROG_TYPE_KPROBE, 0),
    ("tp/syscalls/sys_enter_write", P.BPF_PROG_TYPE_TRACEPOINT, 0),
    ("raw_tp/sched_switch", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0),
    ("tp_btf/sched_switch", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP),
    ("fentry/do_unlinkat", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY),
    ("fexit/do_unlinkat", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT),
    ("lsm/file_open", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC),
    ("xdp", P.BPF_PROG_TYPE_XDP, A.BPF_XDP),
    ("xdp/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP),
    ("tc/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    ("classifier", P.BPF_PROG_TYPE_SCHED_CLS, 0),
    ("cgroup_skb/egress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_EGRESS),
    ("cgroup/connect4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_CONNECT),
    ("perf_event", P.BPF_PROG_TYPE_PERF_EVENT, 0),
    ("iter/task", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER),
    ("syscall", P.BPF_PROG_TYPE_SYSCALL, 0),
])
def test_known_sections(name, prog_type, attach):
    definition = find_section_def(name)
    assert (definition.prog_type, definition.attach_type) == (prog_type, attach)


@pytest.mark.parametrize("name", ["kprobex", "socketx", "xdp2", ".text", "maps", "tracepointfoo"])
def test_unknown_sections(name):
    assert find_section_def(name) is None


def test_sleepable_variants():
    assert find_section_def("uprobe.s//bin/sh:main").sleepable
    assert not find_section_def("uprobe//bin/sh:main").sleepable

"""libbpf's section-name conventions."""

import pytest

from pybpf.elf import SECTION_DEFS, find_section_def
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
    ("sk_reuseport/migrate", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE),
    ("sk_skb/stream_parser", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_PARSER),
    ("cgroup/sock", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE),
    ("cgroup/dev", P.BPF_PROG_TYPE_CGROUP_DEVICE, A.BPF_CGROUP_DEVICE),
    ("struct_ops/tcp_init", P.BPF_PROG_TYPE_STRUCT_OPS, 0),
    ("raw_tp.w/x", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0),
    ("freplace/f", P.BPF_PROG_TYPE_EXT, 0),
    ("netfilter", P.BPF_PROG_TYPE_NETFILTER, A.BPF_NETFILTER),
    ("sk_lookup", P.BPF_PROG_TYPE_SK_LOOKUP, A.BPF_SK_LOOKUP),
    ("action", P.BPF_PROG_TYPE_SCHED_ACT, 0),
])
def test_known_sections(name, prog_type, attach):
    definition = find_section_def(name)
    assert (definition.prog_type, definition.attach_type) == (prog_type, attach)


@pytest.mark.parametrize("name", ["kprobex", "socketx", "xdp2", ".text", "maps", "tracepointfoo",
                                  "socket/x", "xdp/x", "classifier/x", "cgroup_skb"])
def test_unknown_sections(name):
    assert find_section_def(name) is None


@pytest.mark.parametrize("name", ["uprobe.s//bin/sh:main", "lsm.s/file_open", "fentry.s/x", "tp.s/a/b",
                                  "raw_tp.s/x", "tp_btf.s/x", "iter.s/task", "syscall", "usdt.s/a:b"])
def test_sleepable_variants(name):
    assert find_section_def(name).sleepable


@pytest.mark.parametrize("name", ["uprobe//bin/sh:main", "lsm/file_open", "tp/a/b", "xdp"])
def test_not_sleepable(name):
    assert not find_section_def(name).sleepable


def test_libbpf_flags():
    assert find_section_def("fentry/x").attach_btf and find_section_def("tp_btf/x").attach_btf
    assert not find_section_def("kprobe/x").attach_btf
    assert find_section_def("xdp.frags").xdp_frags and not find_section_def("xdp").xdp_frags
    assert find_section_def("xdp.frags/devmap").attach_type == A.BPF_XDP_DEVMAP


def test_each_rows_own_name_matches_only_that_row():
    # libbpf's table has no overlapping patterns, so the first match is the only match.
    for definition in SECTION_DEFS:
        assert [d for d in SECTION_DEFS if d.matches(definition.kind)] == [definition]


def test_table_covers_every_program_type_libbpf_names():
    assert {d.prog_type for d in SECTION_DEFS} == set(P) - {P.BPF_PROG_TYPE_UNSPEC}

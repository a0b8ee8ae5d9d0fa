"""Program section names, as libbpf reads them (tools/lib/bpf/libbpf.c, section_defs).

`SECTION_DEFS` maps a section-name pattern to the program type and expected
attach type libbpf gives it.  A pattern ending in `+` matches the bare name
or the name followed by `/...` (`kprobe/do_sys_open`, `tracepoint/sched/x`);
other patterns match exactly.  The first matching row wins, so longer
patterns come before their prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..uapi import AttachType as A
from ..uapi import ProgType as P


@dataclass(frozen=True)
class SectionDef:
    pattern: str
    prog_type: P
    attach_type: A | int
    sleepable: bool = False

    def matches(self, name: str) -> bool:
        if self.pattern.endswith("+"):
            prefix = self.pattern[:-1]
            return name == prefix or name.startswith(prefix + "/")
        return name == self.pattern

    @property
    def kind(self) -> str:
        """The pattern without its `+`: `kprobe`, `tracepoint`, `xdp`..."""
        return self.pattern.rstrip("+")


def _d(pattern: str, prog_type: P, attach_type: A | int = 0, sleepable: bool = False) -> SectionDef:
    return SectionDef(pattern, prog_type, attach_type, sleepable)


SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket", P.BPF_PROG_TYPE_SOCKET_FILTER),
    _d("sk_reuseport/migrate", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE),
    _d("sk_reuseport", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT),
    _d("kprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI),
    _d("kretprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI),
    _d("kprobe.session+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_SESSION),
    _d("uprobe.multi.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, True),
    _d("uretprobe.multi.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, True),
    _d("uprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI),
    _d("uretprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI),
    _d("uprobe.session.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_SESSION, True),
    _d("uprobe.session+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_SESSION),
    _d("kprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("kretprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("uprobe.s+", P.BPF_PROG_TYPE_KPROBE, 0, True),
    _d("uprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("uretprobe.s+", P.BPF_PROG_TYPE_KPROBE, 0, True),
    _d("uretprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("ksyscall+", P.BPF_PROG_TYPE_KPROBE),
    _d("kretsyscall+", P.BPF_PROG_TYPE_KPROBE),
    _d("usdt.s+", P.BPF_PROG_TYPE_KPROBE, 0, True),
    _d("usdt+", P.BPF_PROG_TYPE_KPROBE),
    _d("tc/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    _d("tc/egress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_EGRESS),
    _d("tcx/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    _d("tcx/egress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_EGRESS),
    _d("tc", P.BPF_PROG_TYPE_SCHED_CLS),
    _d("classifier", P.BPF_PROG_TYPE_SCHED_CLS),
    _d("action", P.BPF_PROG_TYPE_SCHED_ACT),
    _d("netkit/primary", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_NETKIT_PRIMARY),
    _d("netkit/peer", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_NETKIT_PEER),
    _d("tracepoint+", P.BPF_PROG_TYPE_TRACEPOINT),
    _d("tp+", P.BPF_PROG_TYPE_TRACEPOINT),
    _d("raw_tracepoint.w+", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE),
    _d("raw_tp.w+", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE),
    _d("raw_tracepoint+", P.BPF_PROG_TYPE_RAW_TRACEPOINT),
    _d("raw_tp+", P.BPF_PROG_TYPE_RAW_TRACEPOINT),
    _d("tp_btf+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP),
    _d("fentry.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, True),
    _d("fentry+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY),
    _d("fmod_ret.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, True),
    _d("fmod_ret+", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN),
    _d("fexit.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, True),
    _d("fexit+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT),
    _d("freplace+", P.BPF_PROG_TYPE_EXT),
    _d("lsm.s+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, True),
    _d("lsm_cgroup+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_CGROUP),
    _d("lsm+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC),
    _d("iter.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, True),
    _d("iter+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER),
    _d("syscall", P.BPF_PROG_TYPE_SYSCALL, 0, True),
    _d("xdp.frags/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP),
    _d("xdp/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP),
    _d("xdp.frags/cpumap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_CPUMAP),
    _d("xdp/cpumap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_CPUMAP),
    _d("xdp.frags", P.BPF_PROG_TYPE_XDP, A.BPF_XDP),
    _d("xdp", P.BPF_PROG_TYPE_XDP, A.BPF_XDP),
    _d("perf_event", P.BPF_PROG_TYPE_PERF_EVENT),
    _d("lwt_in", P.BPF_PROG_TYPE_LWT_IN),
    _d("lwt_out", P.BPF_PROG_TYPE_LWT_OUT),
    _d("lwt_xmit", P.BPF_PROG_TYPE_LWT_XMIT),
    _d("lwt_seg6local", P.BPF_PROG_TYPE_LWT_SEG6LOCAL),
    _d("sockops", P.BPF_PROG_TYPE_SOCK_OPS, A.BPF_CGROUP_SOCK_OPS),
    _d("sk_skb/stream_parser", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_PARSER),
    _d("sk_skb/stream_verdict", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_VERDICT),
    _d("sk_skb/verdict", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_VERDICT),
    _d("sk_skb", P.BPF_PROG_TYPE_SK_SKB),
    _d("sk_msg", P.BPF_PROG_TYPE_SK_MSG, A.BPF_SK_MSG_VERDICT),
    _d("lirc_mode2", P.BPF_PROG_TYPE_LIRC_MODE2, A.BPF_LIRC_MODE2),
    _d("flow_dissector", P.BPF_PROG_TYPE_FLOW_DISSECTOR, A.BPF_FLOW_DISSECTOR),
    _d("cgroup_skb/ingress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_INGRESS),
    _d("cgroup_skb/egress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_EGRESS),
    _d("cgroup/skb", P.BPF_PROG_TYPE_CGROUP_SKB),
    _d("cgroup/sock_create", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE),
    _d("cgroup/sock_release", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_RELEASE),
    _d("cgroup/sock", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE),
    _d("cgroup/post_bind4", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET4_POST_BIND),
    _d("cgroup/post_bind6", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET6_POST_BIND),
    _d("cgroup/bind4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_BIND),
    _d("cgroup/bind6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_BIND),
    _d("cgroup/connect4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_CONNECT),
    _d("cgroup/connect6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_CONNECT),
    _d("cgroup/connect_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_CONNECT),
    _d("cgroup/sendmsg4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP4_SENDMSG),
    _d("cgroup/sendmsg6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP6_SENDMSG),
    _d("cgroup/sendmsg_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_SENDMSG),
    _d("cgroup/recvmsg4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP4_RECVMSG),
    _d("cgroup/recvmsg6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP6_RECVMSG),
    _d("cgroup/recvmsg_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_RECVMSG),
    _d("cgroup/getpeername4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_GETPEERNAME),
    _d("cgroup/getpeername6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_GETPEERNAME),
    _d("cgroup/getpeername_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_GETPEERNAME),
    _d("cgroup/getsockname4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_GETSOCKNAME),
    _d("cgroup/getsockname6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_GETSOCKNAME),
    _d("cgroup/getsockname_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_GETSOCKNAME),
    _d("cgroup/sysctl", P.BPF_PROG_TYPE_CGROUP_SYSCTL, A.BPF_CGROUP_SYSCTL),
    _d("cgroup/getsockopt", P.BPF_PROG_TYPE_CGROUP_SOCKOPT, A.BPF_CGROUP_GETSOCKOPT),
    _d("cgroup/setsockopt", P.BPF_PROG_TYPE_CGROUP_SOCKOPT, A.BPF_CGROUP_SETSOCKOPT),
    _d("cgroup/dev", P.BPF_PROG_TYPE_CGROUP_DEVICE, A.BPF_CGROUP_DEVICE),
    _d("struct_ops.s+", P.BPF_PROG_TYPE_STRUCT_OPS, 0, True),
    _d("struct_ops+", P.BPF_PROG_TYPE_STRUCT_OPS),
    _d("sk_lookup", P.BPF_PROG_TYPE_SK_LOOKUP, A.BPF_SK_LOOKUP),
    _d("netfilter", P.BPF_PROG_TYPE_NETFILTER, A.BPF_NETFILTER),
)


def find_section_def(name: str) -> SectionDef | None:
    """The definition libbpf would use for a program in section `name`, or None."""
    for definition in SECTION_DEFS:
        if definition.matches(name):
            return definition
    return None

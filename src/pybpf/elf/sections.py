"""Program section names, as libbpf reads them (tools/lib/bpf/libbpf.c, `section_defs`).

`SECTION_DEFS` is libbpf's table, row for row and in its order: a
section-name pattern, the program type, the expected attach type (Linux's
numbering, `pybpf.uapi`) and libbpf's flags.  A pattern ending in `+`
matches the bare name or the name followed by `/...` (`kprobe`,
`kprobe/do_sys_open`, `tracepoint/sched/x`); other patterns match exactly.
No two rows match one name, so the order does not decide anything.

Left out: libbpf's rows whose attach types came after the 6.18 uapi
(`fsession`, `fentry.multi`, `fexit.multi` and their sleepable forms).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..uapi import AttachType, ProgType

# libbpf's enum sec_def_flags, the ones that say something about the program.
ATTACH_BTF = 4  # the attach target is a BTF id (a kernel function, a tracepoint's BTF)
SLEEPABLE = 8  # loaded with BPF_F_SLEEPABLE
XDP_FRAGS = 16  # loaded with BPF_F_XDP_HAS_FRAGS
USDT = 32  # a USDT probe: a uprobe with libbpf's USDT argument spec


@dataclass(frozen=True)
class SectionDef:
    pattern: str
    prog_type: ProgType
    attach_type: AttachType | int
    flags: int = 0

    def matches(self, name: str) -> bool:
        if self.pattern.endswith("+"):
            prefix = self.pattern[:-1]
            return name == prefix or name.startswith(prefix + "/")
        return name == self.pattern

    @property
    def kind(self) -> str:
        """The pattern without its `+`: `kprobe`, `tracepoint`, `xdp`..."""
        return self.pattern.rstrip("+")

    @property
    def sleepable(self) -> bool:
        return bool(self.flags & SLEEPABLE)

    @property
    def attach_btf(self) -> bool:
        return bool(self.flags & ATTACH_BTF)

    @property
    def xdp_frags(self) -> bool:
        return bool(self.flags & XDP_FRAGS)


def _d(pattern: str, prog_type: str, attach_type: str | int, flags: int) -> SectionDef:
    attach = AttachType["BPF_" + attach_type] if attach_type else 0
    return SectionDef(pattern, ProgType["BPF_PROG_TYPE_" + prog_type], attach, flags)


# Rows as libbpf writes them: SEC_DEF("socket", SOCKET_FILTER, 0, SEC_NONE) ...
SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket",                  "SOCKET_FILTER",           0,                                 0),
    _d("sk_reuseport/migrate",    "SK_REUSEPORT",            "SK_REUSEPORT_SELECT_OR_MIGRATE",  0),
    _d("sk_reuseport",            "SK_REUSEPORT",            "SK_REUSEPORT_SELECT",             0),
    _d("kprobe+",                 "KPROBE",                  0,                                 0),
    _d("uprobe+",                 "KPROBE",                  0,                                 0),
    _d("uprobe.s+",               "KPROBE",                  0,                                 SLEEPABLE),
    _d("kretprobe+",              "KPROBE",                  0,                                 0),
    _d("uretprobe+",              "KPROBE",                  0,                                 0),
    _d("uretprobe.s+",            "KPROBE",                  0,                                 SLEEPABLE),
    _d("kprobe.multi+",           "KPROBE",                  "TRACE_KPROBE_MULTI",              0),
    _d("kretprobe.multi+",        "KPROBE",                  "TRACE_KPROBE_MULTI",              0),
    _d("kprobe.session+",         "KPROBE",                  "TRACE_KPROBE_SESSION",            0),
    _d("uprobe.multi+",           "KPROBE",                  "TRACE_UPROBE_MULTI",              0),
    _d("uretprobe.multi+",        "KPROBE",                  "TRACE_UPROBE_MULTI",              0),
    _d("uprobe.session+",         "KPROBE",                  "TRACE_UPROBE_SESSION",            0),
    _d("uprobe.multi.s+",         "KPROBE",                  "TRACE_UPROBE_MULTI",              SLEEPABLE),
    _d("uretprobe.multi.s+",      "KPROBE",                  "TRACE_UPROBE_MULTI",              SLEEPABLE),
    _d("uprobe.session.s+",       "KPROBE",                  "TRACE_UPROBE_SESSION",            SLEEPABLE),
    _d("ksyscall+",               "KPROBE",                  0,                                 0),
    _d("kretsyscall+",            "KPROBE",                  0,                                 0),
    _d("usdt+",                   "KPROBE",                  0,                                 USDT),
    _d("usdt.s+",                 "KPROBE",                  0,                                 USDT | SLEEPABLE),
    _d("tc/ingress",              "SCHED_CLS",               "TCX_INGRESS",                     0),
    _d("tc/egress",               "SCHED_CLS",               "TCX_EGRESS",                      0),
    _d("tcx/ingress",             "SCHED_CLS",               "TCX_INGRESS",                     0),
    _d("tcx/egress",              "SCHED_CLS",               "TCX_EGRESS",                      0),
    _d("tc",                      "SCHED_CLS",               0,                                 0),
    _d("classifier",              "SCHED_CLS",               0,                                 0),
    _d("action",                  "SCHED_ACT",               0,                                 0),
    _d("netkit/primary",          "SCHED_CLS",               "NETKIT_PRIMARY",                  0),
    _d("netkit/peer",             "SCHED_CLS",               "NETKIT_PEER",                     0),
    _d("tracepoint+",             "TRACEPOINT",              0,                                 0),
    _d("tp+",                     "TRACEPOINT",              0,                                 0),
    _d("tracepoint.s+",           "TRACEPOINT",              0,                                 SLEEPABLE),
    _d("tp.s+",                   "TRACEPOINT",              0,                                 SLEEPABLE),
    _d("raw_tracepoint+",         "RAW_TRACEPOINT",          0,                                 0),
    _d("raw_tp+",                 "RAW_TRACEPOINT",          0,                                 0),
    _d("raw_tracepoint.s+",       "RAW_TRACEPOINT",          0,                                 SLEEPABLE),
    _d("raw_tp.s+",               "RAW_TRACEPOINT",          0,                                 SLEEPABLE),
    _d("raw_tracepoint.w+",       "RAW_TRACEPOINT_WRITABLE", 0,                                 0),
    _d("raw_tp.w+",               "RAW_TRACEPOINT_WRITABLE", 0,                                 0),
    _d("tp_btf+",                 "TRACING",                 "TRACE_RAW_TP",                    ATTACH_BTF),
    _d("tp_btf.s+",               "TRACING",                 "TRACE_RAW_TP",                    ATTACH_BTF | SLEEPABLE),
    _d("fentry+",                 "TRACING",                 "TRACE_FENTRY",                    ATTACH_BTF),
    _d("fmod_ret+",               "TRACING",                 "MODIFY_RETURN",                   ATTACH_BTF),
    _d("fexit+",                  "TRACING",                 "TRACE_FEXIT",                     ATTACH_BTF),
    _d("fentry.s+",               "TRACING",                 "TRACE_FENTRY",                    ATTACH_BTF | SLEEPABLE),
    _d("fmod_ret.s+",             "TRACING",                 "MODIFY_RETURN",                   ATTACH_BTF | SLEEPABLE),
    _d("fexit.s+",                "TRACING",                 "TRACE_FEXIT",                     ATTACH_BTF | SLEEPABLE),
    _d("freplace+",               "EXT",                     0,                                 ATTACH_BTF),
    _d("lsm+",                    "LSM",                     "LSM_MAC",                         ATTACH_BTF),
    _d("lsm.s+",                  "LSM",                     "LSM_MAC",                         ATTACH_BTF | SLEEPABLE),
    _d("lsm_cgroup+",             "LSM",                     "LSM_CGROUP",                      ATTACH_BTF),
    _d("iter+",                   "TRACING",                 "TRACE_ITER",                      ATTACH_BTF),
    _d("iter.s+",                 "TRACING",                 "TRACE_ITER",                      ATTACH_BTF | SLEEPABLE),
    _d("syscall",                 "SYSCALL",                 0,                                 SLEEPABLE),
    _d("xdp.frags/devmap",        "XDP",                     "XDP_DEVMAP",                      XDP_FRAGS),
    _d("xdp/devmap",              "XDP",                     "XDP_DEVMAP",                      0),
    _d("xdp.frags/cpumap",        "XDP",                     "XDP_CPUMAP",                      XDP_FRAGS),
    _d("xdp/cpumap",              "XDP",                     "XDP_CPUMAP",                      0),
    _d("xdp.frags",               "XDP",                     "XDP",                             XDP_FRAGS),
    _d("xdp",                     "XDP",                     "XDP",                             0),
    _d("perf_event",              "PERF_EVENT",              0,                                 0),
    _d("lwt_in",                  "LWT_IN",                  0,                                 0),
    _d("lwt_out",                 "LWT_OUT",                 0,                                 0),
    _d("lwt_xmit",                "LWT_XMIT",                0,                                 0),
    _d("lwt_seg6local",           "LWT_SEG6LOCAL",           0,                                 0),
    _d("sockops",                 "SOCK_OPS",                "CGROUP_SOCK_OPS",                 0),
    _d("sk_skb/stream_parser",    "SK_SKB",                  "SK_SKB_STREAM_PARSER",            0),
    _d("sk_skb/stream_verdict",   "SK_SKB",                  "SK_SKB_STREAM_VERDICT",           0),
    _d("sk_skb/verdict",          "SK_SKB",                  "SK_SKB_VERDICT",                  0),
    _d("sk_skb",                  "SK_SKB",                  0,                                 0),
    _d("sk_msg",                  "SK_MSG",                  "SK_MSG_VERDICT",                  0),
    _d("lirc_mode2",              "LIRC_MODE2",              "LIRC_MODE2",                      0),
    _d("flow_dissector",          "FLOW_DISSECTOR",          "FLOW_DISSECTOR",                  0),
    _d("cgroup_skb/ingress",      "CGROUP_SKB",              "CGROUP_INET_INGRESS",             0),
    _d("cgroup_skb/egress",       "CGROUP_SKB",              "CGROUP_INET_EGRESS",              0),
    _d("cgroup/skb",              "CGROUP_SKB",              0,                                 0),
    _d("cgroup/sock_create",      "CGROUP_SOCK",             "CGROUP_INET_SOCK_CREATE",         0),
    _d("cgroup/sock_release",     "CGROUP_SOCK",             "CGROUP_INET_SOCK_RELEASE",        0),
    _d("cgroup/sock",             "CGROUP_SOCK",             "CGROUP_INET_SOCK_CREATE",         0),
    _d("cgroup/post_bind4",       "CGROUP_SOCK",             "CGROUP_INET4_POST_BIND",          0),
    _d("cgroup/post_bind6",       "CGROUP_SOCK",             "CGROUP_INET6_POST_BIND",          0),
    _d("cgroup/bind4",            "CGROUP_SOCK_ADDR",        "CGROUP_INET4_BIND",               0),
    _d("cgroup/bind6",            "CGROUP_SOCK_ADDR",        "CGROUP_INET6_BIND",               0),
    _d("cgroup/connect4",         "CGROUP_SOCK_ADDR",        "CGROUP_INET4_CONNECT",            0),
    _d("cgroup/connect6",         "CGROUP_SOCK_ADDR",        "CGROUP_INET6_CONNECT",            0),
    _d("cgroup/connect_unix",     "CGROUP_SOCK_ADDR",        "CGROUP_UNIX_CONNECT",             0),
    _d("cgroup/sendmsg4",         "CGROUP_SOCK_ADDR",        "CGROUP_UDP4_SENDMSG",             0),
    _d("cgroup/sendmsg6",         "CGROUP_SOCK_ADDR",        "CGROUP_UDP6_SENDMSG",             0),
    _d("cgroup/sendmsg_unix",     "CGROUP_SOCK_ADDR",        "CGROUP_UNIX_SENDMSG",             0),
    _d("cgroup/recvmsg4",         "CGROUP_SOCK_ADDR",        "CGROUP_UDP4_RECVMSG",             0),
    _d("cgroup/recvmsg6",         "CGROUP_SOCK_ADDR",        "CGROUP_UDP6_RECVMSG",             0),
    _d("cgroup/recvmsg_unix",     "CGROUP_SOCK_ADDR",        "CGROUP_UNIX_RECVMSG",             0),
    _d("cgroup/getpeername4",     "CGROUP_SOCK_ADDR",        "CGROUP_INET4_GETPEERNAME",        0),
    _d("cgroup/getpeername6",     "CGROUP_SOCK_ADDR",        "CGROUP_INET6_GETPEERNAME",        0),
    _d("cgroup/getpeername_unix", "CGROUP_SOCK_ADDR",        "CGROUP_UNIX_GETPEERNAME",         0),
    _d("cgroup/getsockname4",     "CGROUP_SOCK_ADDR",        "CGROUP_INET4_GETSOCKNAME",        0),
    _d("cgroup/getsockname6",     "CGROUP_SOCK_ADDR",        "CGROUP_INET6_GETSOCKNAME",        0),
    _d("cgroup/getsockname_unix", "CGROUP_SOCK_ADDR",        "CGROUP_UNIX_GETSOCKNAME",         0),
    _d("cgroup/sysctl",           "CGROUP_SYSCTL",           "CGROUP_SYSCTL",                   0),
    _d("cgroup/getsockopt",       "CGROUP_SOCKOPT",          "CGROUP_GETSOCKOPT",               0),
    _d("cgroup/setsockopt",       "CGROUP_SOCKOPT",          "CGROUP_SETSOCKOPT",               0),
    _d("cgroup/dev",              "CGROUP_DEVICE",           "CGROUP_DEVICE",                   0),
    _d("struct_ops+",             "STRUCT_OPS",              0,                                 0),
    _d("struct_ops.s+",           "STRUCT_OPS",              0,                                 SLEEPABLE),
    _d("sk_lookup",               "SK_LOOKUP",               "SK_LOOKUP",                       0),
    _d("netfilter",               "NETFILTER",               "NETFILTER",                       0),
)


def find_section_def(name: str) -> SectionDef | None:
    """The definition libbpf would use for a program in section `name`, or None."""
    for definition in SECTION_DEFS:
        if definition.matches(name):
            return definition
    return None

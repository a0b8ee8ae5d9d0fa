"""Which context accesses each program type allows (the kernel's is_valid_access).

One `CtxRules` per program type: the context's size, the fields that hold
pointers (and the pointer type a load gives), the fields a program may
write, the fields it may not touch at all, and the default field width for
narrow loads.  `ctx_access` applies the rules as
net/core/filter.c and kernel/trace/bpf_trace.c do for Linux 6.18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..uapi import AttachType, ProgType
from .regs import BTF_ID, PACKET, PACKET_END, PACKET_META, SOCK, SOCK_COMMON, TP_BUFFER

READ, WRITE = "read", "write"

# struct __sk_buff (include/uapi/linux/bpf.h): field -> (offset, size).
SKB = {
    "len": (0, 4), "pkt_type": (4, 4), "mark": (8, 4), "queue_mapping": (12, 4), "protocol": (16, 4),
    "vlan_present": (20, 4), "vlan_tci": (24, 4), "vlan_proto": (28, 4), "priority": (32, 4),
    "ingress_ifindex": (36, 4), "ifindex": (40, 4), "tc_index": (44, 4), "cb": (48, 20),
    "hash": (68, 4), "tc_classid": (72, 4), "data": (76, 4), "data_end": (80, 4), "napi_id": (84, 4),
    "family": (88, 4), "remote_ip4": (92, 4), "local_ip4": (96, 4), "remote_ip6": (100, 16),
    "local_ip6": (116, 16), "remote_port": (132, 4), "local_port": (136, 4), "data_meta": (140, 4),
    "flow_keys": (144, 8), "tstamp": (152, 8), "wire_len": (160, 4), "gso_segs": (164, 4),
    "sk": (168, 8), "gso_size": (176, 4), "tstamp_type": (180, 1), "hwtstamp": (184, 8),
}
SKB_SIZE = 192


def _field_at(fields: dict[str, tuple[int, int]], off: int) -> str | None:
    for name, (start, size) in fields.items():
        if start <= off < start + size:
            return name
    return None


def narrow_ok(off: int, size: int, size_default: int) -> bool:
    """bpf_ctx_narrow_access_ok()."""
    return size <= size_default and not size & (size - 1)


@dataclass(frozen=True)
class SkbRules:
    """__sk_buff access for one program type: denied fields, writable fields, pointer fields."""

    deny: frozenset[str]
    write: frozenset[str]
    pointers: dict[str, str] = field(default_factory=dict)
    deny_mark: bool = False
    tstamp_type: bool = False  # tc programs may read the u8 tstamp_type

    def check(self, off: int, size: int, kind: str) -> tuple[bool, str | None]:
        name = _field_at(SKB, off)
        if name in self.deny or (self.deny_mark and name == "mark"):
            return False, None
        if kind == WRITE and name not in self.write:
            return False, None
        if name == "tstamp_type" and self.tstamp_type:
            return size == 1 and off == 180, None
        ok = _skb_common(off, size, kind, name)
        if name == "sk" and ok:
            return True, SOCK_COMMON
        return ok, self.pointers.get(name) if name in ("data", "data_end", "data_meta") else None


def _skb_common(off: int, size: int, kind: str, name: str | None) -> bool:
    """bpf_skb_is_valid_access()."""
    if off < 0 or off >= SKB_SIZE or off % size:
        return False
    if name == "cb":
        return off + size <= 68
    if name in ("remote_ip6", "local_ip6", "remote_ip4", "local_ip4", "data", "data_meta", "data_end"):
        return size == 4
    if name == "flow_keys":
        return False
    if name == "hwtstamp":
        return kind != WRITE and size == 8
    if name == "tstamp":
        return size == 8
    if name == "sk":
        return kind != WRITE and size == 8 and off == 168
    if name == "tstamp_type" or name is None:
        return False
    if kind == WRITE:
        return size == 4
    return narrow_ok(off, size, 4)


_PKT = {"data": PACKET, "data_end": PACKET_END}
_FAMILY_TO_PORT = frozenset({"family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port",
                             "local_port"})
SKB_RULES: dict[int, SkbRules] = {
    ProgType.BPF_PROG_TYPE_SOCKET_FILTER: SkbRules(
        frozenset({"tc_classid", "data", "data_meta", "data_end", "tstamp", "wire_len", "hwtstamp"}) | _FAMILY_TO_PORT,
        frozenset({"cb"})),
    ProgType.BPF_PROG_TYPE_SCHED_CLS: SkbRules(
        _FAMILY_TO_PORT, frozenset({"mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping"}),
        {**_PKT, "data_meta": PACKET_META}, tstamp_type=True),
    ProgType.BPF_PROG_TYPE_CGROUP_SKB: SkbRules(
        frozenset({"tc_classid", "data_meta", "wire_len"}), frozenset({"mark", "priority", "cb", "tstamp"}), _PKT),
    ProgType.BPF_PROG_TYPE_SK_SKB: SkbRules(
        frozenset({"tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp"}),
        frozenset({"tc_index", "priority"}), _PKT, deny_mark=True),
    ProgType.BPF_PROG_TYPE_LWT_IN: SkbRules(
        frozenset({"tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp"}) | _FAMILY_TO_PORT,
        frozenset({"mark", "priority", "cb"}), _PKT),
}
SKB_RULES[ProgType.BPF_PROG_TYPE_SCHED_ACT] = SKB_RULES[ProgType.BPF_PROG_TYPE_SCHED_CLS]
for _t in (ProgType.BPF_PROG_TYPE_LWT_OUT, ProgType.BPF_PROG_TYPE_LWT_XMIT, ProgType.BPF_PROG_TYPE_LWT_SEG6LOCAL):
    SKB_RULES[_t] = SKB_RULES[ProgType.BPF_PROG_TYPE_LWT_IN]
SKB_RULES[ProgType.BPF_PROG_TYPE_FLOW_DISSECTOR] = SkbRules(
    frozenset(SKB) - {"data", "data_end", "flow_keys"}, frozenset(), _PKT)


# -- other contexts ----------------------------------------------------------------
XDP_MD = {"data": (0, 4), "data_end": (4, 4), "data_meta": (8, 4), "ingress_ifindex": (12, 4),
          "rx_queue_index": (16, 4), "egress_ifindex": (20, 4)}
SK_LOOKUP = {"sk": (0, 8), "family": (8, 4), "protocol": (12, 4), "remote_ip4": (16, 4), "remote_ip6": (20, 16),
             "remote_port": (36, 2), "pad": (38, 2), "local_ip4": (40, 4), "local_ip6": (44, 16),
             "local_port": (60, 4), "ingress_ifindex": (64, 4)}
SOCK_ADDR = {"user_family": (0, 4), "user_ip4": (4, 4), "user_ip6": (8, 16), "user_port": (24, 4),
             "family": (28, 4), "type": (32, 4), "protocol": (36, 4), "msg_src_ip4": (40, 4),
             "msg_src_ip6": (44, 16), "sk": (64, 8)}
BPF_SOCK = {"bound_dev_if": (0, 4), "family": (4, 4), "type": (8, 4), "protocol": (12, 4), "mark": (16, 4),
            "priority": (20, 4), "src_ip4": (24, 4), "src_ip6": (28, 16), "src_port": (44, 4),
            "dst_port": (48, 2), "pad": (50, 2), "dst_ip4": (52, 4), "dst_ip6": (56, 16), "state": (72, 4),
            "rx_queue_mapping": (76, 4)}
# struct bpf_sockopt and struct bpf_sock_ops: a u64 field (pointer or counter) is loaded whole or not at all.
SOCKOPT_SIZE = 40
SOCKOPT_POINTERS = {0: SOCK, 8: PACKET, 16: PACKET_END}
SOCKOPT_RETVAL, SOCKOPT_LEVEL, SOCKOPT_OPTNAME, SOCKOPT_OPTLEN = 36, 24, 28, 32
SOCK_OPS_SIZE = 224
SOCK_OPS_POINTERS = {184: SOCK + "?", 192: PACKET, 200: PACKET_END}
SOCK_OPS_U64 = (168, 176, 216)  # bytes_received, bytes_acked, skb_hwtstamp
SOCK_OPS_WRITABLE = (4, 164)  # reply, sk_txhash
SOCK_OPS_TCP_FLAGS = 212
NF_CTX_SIZE = 16  # struct bpf_nf_ctx: state, skb
PT_REGS_SIZE = 168  # struct pt_regs on x86-64
PERF_MAX_TRACE_SIZE = 8192
MAX_BPF_FUNC_ARGS = 12


def _xdp(off, size, kind, attach, capable):
    if attach != AttachType.BPF_XDP_DEVMAP and off == 20:
        return False, None
    if kind == WRITE:
        return False, None
    kinds = {0: PACKET, 4: PACKET_END, 8: PACKET_META}
    ok = 0 <= off < 24 and not off % size and size == 4
    return ok, kinds.get(off) if ok else None


def _sk_lookup(off, size, kind, attach, capable):
    if off < 0 or off >= 72 or off % size or kind != READ:
        return False, None
    name = _field_at(SK_LOOKUP, off)
    if name == "sk":
        return (size == 8 and off == 0), SOCK + "?"
    if name == "remote_port":
        return size == 4 or narrow_ok(off, size, 2), None
    if name == "pad":
        return narrow_ok(off, size, 2), None
    if name is None:
        return False, None
    return narrow_ok(off, size, 4), None


def _sock_addr(off, size, kind, attach, capable):
    if off < 0 or off >= 72 or off % size:
        return False, None
    name = _field_at(SOCK_ADDR, off)
    if name == "sk":
        return (kind == READ and size == 8 and off == 64), SOCK if kind == READ else None
    if name in ("user_ip4", "user_ip6", "msg_src_ip4", "msg_src_ip6", "user_port"):
        start, length = SOCK_ADDR[name]
        # bpf_ctx_wide_access_ok(): an aligned u64 wholly inside one of the two IPv6 arrays
        wide = size == 8 and name in ("user_ip6", "msg_src_ip6") and not off % 8 and off + 8 <= start + length
        if kind == WRITE:
            return size == 4 or wide, None
        return narrow_ok(off, size, 4) or wide, None
    if name in ("user_family", "family", "type", "protocol"):
        return kind == READ and size == 4, None
    return False, None


def _bpf_sock(off, size, kind, attach, capable):
    if off < 0 or off >= 80 or off % size:
        return False, None
    name = _field_at(BPF_SOCK, off)
    if kind == WRITE:
        return name in ("bound_dev_if", "mark", "priority") and size == 4, None
    if name in ("dst_port", "pad"):
        return narrow_ok(off, size, 2) or (name == "dst_port" and size == 4), None
    return name is not None and narrow_ok(off, size, 4), None


def _sockopt(off, size, kind, attach, capable):
    """cg_sockopt_is_valid_access()."""
    if off < 0 or off >= SOCKOPT_SIZE or off % size:
        return False, None
    getsockopt = attach == AttachType.BPF_CGROUP_GETSOCKOPT
    if kind == WRITE:
        if off == SOCKOPT_RETVAL:
            return size == 4 and getsockopt, None
        if off in (SOCKOPT_LEVEL, SOCKOPT_OPTNAME):
            return size == 4 and attach == AttachType.BPF_CGROUP_SETSOCKOPT, None
        return off == SOCKOPT_OPTLEN and size == 4, None
    field = off & ~7
    if field in SOCKOPT_POINTERS:
        return size == 8, SOCKOPT_POINTERS[field]
    if off == SOCKOPT_RETVAL:
        return size == 4 and getsockopt, None
    return size == 4, None


def _sock_ops(off, size, kind, attach, capable):
    """sock_ops_is_valid_access()."""
    if off < 0 or off >= SOCK_OPS_SIZE or off % size:
        return False, None
    if kind == WRITE:
        return off in SOCK_OPS_WRITABLE and size == 4, None
    field = off & ~7
    if field in SOCK_OPS_POINTERS:
        return size == 8, SOCK_OPS_POINTERS[field]
    if field in SOCK_OPS_U64:
        return size == 8, None
    if off == SOCK_OPS_TCP_FLAGS:
        return narrow_ok(off, size, 4), None
    return size == 4, None


def _netfilter(off, size, kind, attach, capable):
    """nf_is_valid_access(): two trusted pointers, nf_hook_state and sk_buff."""
    ok = 0 <= off < NF_CTX_SIZE and kind == READ and size == 8 and not off % 8
    return ok, BTF_ID if ok else None


def _tracepoint(off, size, kind, attach, capable):
    return (8 <= off < PERF_MAX_TRACE_SIZE and kind == READ and not off % size), None


def _kprobe(off, size, kind, attach, capable):
    return (0 <= off < PT_REGS_SIZE and kind == READ and not off % size and off + size <= PT_REGS_SIZE), None


def _perf_event(off, size, kind, attach, capable):
    if off < 0 or off >= PT_REGS_SIZE + 16 or kind != READ or off % size:
        return False, None
    if off >= PT_REGS_SIZE:
        return narrow_ok(off, size, 8), None
    return size == 8, None


def _raw_tp(off, size, kind, attach, capable):
    return (0 <= off < 8 * MAX_BPF_FUNC_ARGS and kind == READ and not off % size), None


def _raw_tp_writable(off, size, kind, attach, capable):
    if off == 0:
        return (size == 8 and kind == READ), TP_BUFFER
    return _raw_tp(off, size, kind, attach, capable)


def _syscall(off, size, kind, attach, capable):
    return (0 <= off < 0xFFFF and not off % size), None


# struct sk_reuseport_md: data, data_end, len, eth_protocol, ip_protocol, bind_inany, hash, sk, migrating_sk.
REUSEPORT_SIZE = 56
REUSEPORT_POINTERS = {0: PACKET, 8: PACKET_END, 40: SOCK, 48: SOCK_COMMON + "?"}


def _sk_reuseport(off, size, kind, attach, capable):
    """sk_reuseport_is_valid_access()."""
    if off < 0 or off >= REUSEPORT_SIZE or off % size or kind != READ:
        return False, None
    if off in REUSEPORT_POINTERS:
        return size == 8, REUSEPORT_POINTERS[off]
    if off == 32:  # hash
        return size == 4, None
    if 20 <= off < 24 and size < 2:  # eth_protocol: no narrower than sk_buff's protocol
        return False, None
    return 16 <= off < 32 and narrow_ok(off, size, 4), None


# struct sk_msg_md: data, data_end, then u32 family .. size (16..72), then the sk pointer at 72.
SK_MSG_SIZE = 80
SK_MSG_POINTERS = {0: PACKET, 8: PACKET_END, 72: SOCK}


def _sk_msg(off, size, kind, attach, capable):
    """sk_msg_is_valid_access(): read-only; the pointers whole, the other fields as u32."""
    if off < 0 or off >= SK_MSG_SIZE or kind != READ or off % size:
        return False, None
    if off in SK_MSG_POINTERS:
        return size == 8, SK_MSG_POINTERS[off]
    return 16 <= off < 72 and size == 4, None


def _generic(limit: int):
    """Read-only narrow access inside a context of `limit` bytes (types without finer rules here)."""
    def check(off, size, kind, attach, capable):
        return (0 <= off < limit and off + size <= limit and not off % size and kind == READ), None
    return check


CtxCheck = Callable[[int, int, str, int, bool], tuple[bool, str | None]]
OTHER_RULES: dict[int, CtxCheck] = {
    ProgType.BPF_PROG_TYPE_XDP: _xdp,
    ProgType.BPF_PROG_TYPE_SK_LOOKUP: _sk_lookup,
    ProgType.BPF_PROG_TYPE_CGROUP_SOCK_ADDR: _sock_addr,
    ProgType.BPF_PROG_TYPE_CGROUP_SOCK: _bpf_sock,
    ProgType.BPF_PROG_TYPE_TRACEPOINT: _tracepoint,
    ProgType.BPF_PROG_TYPE_KPROBE: _kprobe,
    ProgType.BPF_PROG_TYPE_PERF_EVENT: _perf_event,
    ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT: _raw_tp,
    ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: _raw_tp_writable,
    ProgType.BPF_PROG_TYPE_TRACING: _raw_tp,
    ProgType.BPF_PROG_TYPE_LSM: _raw_tp,
    ProgType.BPF_PROG_TYPE_EXT: _raw_tp,
    ProgType.BPF_PROG_TYPE_SYSCALL: _syscall,
    ProgType.BPF_PROG_TYPE_SOCK_OPS: _sock_ops,
    ProgType.BPF_PROG_TYPE_SK_MSG: _sk_msg,
    ProgType.BPF_PROG_TYPE_CGROUP_DEVICE: _generic(12),
    ProgType.BPF_PROG_TYPE_CGROUP_SYSCTL: _generic(8),
    ProgType.BPF_PROG_TYPE_CGROUP_SOCKOPT: _sockopt,
    ProgType.BPF_PROG_TYPE_SK_REUSEPORT: _sk_reuseport,
    ProgType.BPF_PROG_TYPE_NETFILTER: _netfilter,
}


def ctx_access(prog_type: int, off: int, size: int, kind: str, attach: int = 0,
               capable: bool = True) -> tuple[bool, str | None]:
    """(allowed, pointer type a load gives or None for a scalar); a type ending in '?' may be NULL."""
    rules = SKB_RULES.get(prog_type)
    if rules is not None:
        if prog_type == ProgType.BPF_PROG_TYPE_CGROUP_SKB and not capable:
            name = _field_at(SKB, off)
            if name in ("data", "data_end") or (kind == WRITE and name == "tstamp"):
                return False, None
        ok, pointer = rules.check(off, size, kind)
        if ok and pointer == SOCK_COMMON:
            return True, SOCK_COMMON + "?"
        return ok, pointer
    check = OTHER_RULES.get(prog_type)
    if check is None:
        return False, None
    return check(off, size, kind, attach, capable)


# -- socket pointers (bpf_sock_is_valid_access and friends) ------------------------
_SOCK_RANGES = ("src_ip4", "src_ip6", "dst_ip4", "dst_ip6")
TCP_SOCK_END = 112
TCP_SOCK_U64 = (80, 88)


def sock_access(kind: str, off: int, size: int) -> bool:
    """May a program read `size` bytes at `off` of a struct bpf_sock / bpf_tcp_sock pointer?"""
    if kind == "tcp_sock":
        if off < 0 or off >= TCP_SOCK_END or off % size:
            return False
        return size == (8 if off in TCP_SOCK_U64 else 4)
    if off < 0 or off >= 80 or off % size:
        return False
    if kind == "sock_common" and 8 <= off < 24:
        return False
    name = _field_at(BPF_SOCK, off)
    if off in (4, 8, 12, 44, 72, 76) or name in _SOCK_RANGES:
        return narrow_ok(off, size, 4)
    if name == "dst_port":
        return narrow_ok(off, size, 4 if size == 4 else 2)
    if name == "pad":
        return False
    return size == 4

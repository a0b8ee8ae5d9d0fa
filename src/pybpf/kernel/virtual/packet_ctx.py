"""BPF_PROG_TEST_RUN for packet programs: the packet, its context, and what comes back.

Linux's net/bpf/test_run.c, as the 6.18 kernel behaves (checked field by
field against it in tests/virtual/test_packet_vs_kernel.py):

- XDP: the packet sits after 256 bytes of headroom in a 4096-byte frame, of
  which the last 320 bytes are reserved, so 3520 bytes are linear and the
  rest become fragments the program cannot reach (bpf_xdp_adjust_tail
  grows or shrinks the last one).  `struct xdp_md` holds data, data_end and
  data_meta as 32-bit pointers; a context passed in sets the metadata
  length (`data`) and the linear length (`data_end`, the rest becoming
  fragments), may set ingress_ifindex 1 (the loopback device) and must
  leave the rest zero.  data_out runs from data_meta; ctx_out gives data
  and data_end back as offsets from data_meta.
- sk_buff programs (socket filter, tc, cgroup skb, lwt): `struct __sk_buff`
  is filled as eth_type_trans leaves it on the loopback device (len,
  pkt_type, protocol, ifindex 1).  Programs other than tc see the packet
  from its network header (the 14-byte Ethernet header pulled); data_out
  then carries that header zeroed.  A context passed in may set only the
  fields test_run copies in (mark, priority, ingress_ifindex, ifindex, cb,
  tstamp, wire_len, gso_segs, gso_size, hwtstamp); the same fields, with
  ifindex and wire_len, come back in ctx_out.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

from ...uapi import ProgType
from ...vm.memory import AddressSpace, Region
from ...vm.packet import ETH_HLEN, METALEN_MAX, SKB_SHARED_INFO, Packet
from ..errors import BpfError

COMMAND = "BPF_PROG_TEST_RUN"
PAGE_SIZE = 4096
XDP_PACKET_HEADROOM = 256
XDP_MD_SIZE = 24
NET_SKB_PAD = 64
SK_BUFF_SIZE = 192
LOOPBACK_IFINDEX = 1
ETH_P_802_3, ETH_P_802_2, ETH_P_802_3_MIN = 0x0001, 0x0004, 0x0600
PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 2, 3

XDP_TYPES = {ProgType.BPF_PROG_TYPE_XDP}
SKB_TYPES = {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS,
             ProgType.BPF_PROG_TYPE_SCHED_ACT, ProgType.BPF_PROG_TYPE_CGROUP_SKB, ProgType.BPF_PROG_TYPE_LWT_IN,
             ProgType.BPF_PROG_TYPE_LWT_OUT, ProgType.BPF_PROG_TYPE_LWT_XMIT}
L2_TYPES = {ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT}  # see the Ethernet header

# struct xdp_md: field -> offset (all __u32)
XDP_MD = {"data": 0, "data_end": 4, "data_meta": 8, "ingress_ifindex": 12, "rx_queue_index": 16,
          "egress_ifindex": 20}
# struct __sk_buff: field -> (offset, size)
SK_BUFF = {"len": (0, 4), "pkt_type": (4, 4), "mark": (8, 4), "protocol": (16, 4), "priority": (32, 4),
           "ingress_ifindex": (36, 4), "ifindex": (40, 4), "cb": (48, 20), "data": (76, 4), "data_end": (80, 4),
           "data_meta": (140, 4), "tstamp": (152, 8), "wire_len": (160, 4), "gso_segs": (164, 4),
           "gso_size": (176, 4), "hwtstamp": (184, 8)}
# The __sk_buff fields a test run copies in from ctx_in and back out to ctx_out.
SKB_CTX_IN = ("mark", "priority", "ingress_ifindex", "ifindex", "cb", "tstamp", "wire_len", "gso_segs",
              "gso_size", "hwtstamp")


def _u32(buf, offset: int) -> int:
    return struct.unpack_from("<I", buf, offset)[0]


def _fail(err: int, why: str):
    raise BpfError(COMMAND, err, why)


@dataclass
class PacketRun:
    """A packet and its context in VM memory, for one test run."""

    packet: Packet
    ctx: Region
    kind: str  # "xdp" or "skb"
    ctx_in: bytes
    l3: bool = False  # sk_buff program that sees the packet from its network header

    def data_out(self) -> bytes:
        if self.kind == "xdp":
            return self.packet.output()
        if self.l3:
            return bytes(ETH_HLEN) + self.packet.output(self.packet.data)
        return self.packet.output(self.packet.data)

    def ctx_out(self) -> bytes:
        if not self.ctx_in:
            return b""
        if self.kind == "xdp":
            # data and data_end come back as offsets from data_meta
            out = bytearray(self.ctx_in[:XDP_MD_SIZE].ljust(XDP_MD_SIZE, b"\0"))
            p = self.packet
            struct.pack_into("<II", out, 0, p.data - p.data_meta, p.data_end - p.data_meta)
            return bytes(out)
        skb = self.ctx.read()
        out = bytearray(SK_BUFF_SIZE)
        for name in SKB_CTX_IN:
            offset, size = SK_BUFF[name]
            out[offset:offset + size] = skb[offset:offset + size]
        struct.pack_into("<I", out, SK_BUFF["ifindex"][0], LOOPBACK_IFINDEX)
        struct.pack_into("<I", out, SK_BUFF["wire_len"][0], _u32(skb, SK_BUFF["wire_len"][0]) or self.packet.size)
        return bytes(out)

    def close(self, mem: AddressSpace) -> None:
        mem.unmap(self.ctx)
        self.packet.close()


def prepare(mem: AddressSpace, prog_type: int, data: bytes, ctx: bytes) -> PacketRun | None:
    """The packet and context for a test run of `prog_type`, or None if it is not a packet program."""
    if prog_type in XDP_TYPES:
        return _xdp(mem, data, ctx)
    if prog_type in SKB_TYPES:
        return _skb(mem, prog_type, data, ctx)
    return None


def _xdp(mem: AddressSpace, data: bytes, ctx: bytes) -> PacketRun:
    if len(data) < ETH_HLEN:
        _fail(errno.EINVAL, f"packet of {len(data)} bytes is shorter than ETH_HLEN ({ETH_HLEN})")
    if any(ctx[XDP_MD_SIZE:]):
        _fail(errno.E2BIG, f"ctx has non-zero bytes past struct xdp_md ({XDP_MD_SIZE} bytes)")
    md = ctx[:XDP_MD_SIZE].ljust(XDP_MD_SIZE, b"\0")
    meta_len = _u32(md, XDP_MD["data"])
    ingress = _u32(md, XDP_MD["ingress_ifindex"])
    if _u32(md, XDP_MD["data_meta"]) or _u32(md, XDP_MD["egress_ifindex"]):
        _fail(errno.EINVAL, "ctx: xdp_md.data_meta and egress_ifindex must be 0")
    linear = PAGE_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO
    if ctx:
        # A context sets the metadata length (data) and the linear part (data_end); the rest are fragments.
        linear = min(linear, _u32(md, XDP_MD["data_end"]))
        if _u32(md, XDP_MD["data_end"]) > len(data):
            _fail(errno.EINVAL, f"ctx: xdp_md.data_end {_u32(md, XDP_MD['data_end'])} is past the packet's "
                                f"{len(data)} bytes")
    if meta_len > linear or meta_len % 4 or meta_len > METALEN_MAX:
        _fail(errno.EINVAL, f"ctx: metadata length {meta_len} (xdp_md.data) is not a multiple of 4 "
                            f"within the linear part")
    if ingress not in (0, LOOPBACK_IFINDEX):
        _fail(errno.ENODEV, f"ctx: no device with ifindex {ingress} (the virtual kernel has only lo, ifindex 1)")
    if _u32(md, XDP_MD["rx_queue_index"]):
        _fail(errno.EINVAL, "ctx: rx_queue_index must be 0 (lo has one queue)")
    packet = Packet(mem, data[:linear], headroom=XDP_PACKET_HEADROOM, frame_size=PAGE_SIZE, meta_len=meta_len,
                    frags=data[linear:])
    region = mem.map("ctx (xdp_md)", XDP_MD_SIZE)

    def publish(p: Packet) -> None:
        struct.pack_into("<III", region.view, 0, p.data, p.data_end, p.data_meta)

    packet.on_change = publish
    publish(packet)
    struct.pack_into("<I", region.view, XDP_MD["ingress_ifindex"], LOOPBACK_IFINDEX)
    return PacketRun(packet, region, "xdp", bytes(ctx))


def _skb(mem: AddressSpace, prog_type: int, data: bytes, ctx: bytes) -> PacketRun:
    if len(data) < ETH_HLEN:
        _fail(errno.EINVAL, f"packet of {len(data)} bytes is shorter than ETH_HLEN ({ETH_HLEN})")
    if any(ctx[SK_BUFF_SIZE:]):
        _fail(errno.E2BIG, f"ctx has non-zero bytes past struct __sk_buff ({SK_BUFF_SIZE} bytes)")
    given = bytearray(ctx[:SK_BUFF_SIZE].ljust(SK_BUFF_SIZE, b"\0"))
    allowed = bytearray(SK_BUFF_SIZE)
    for name in SKB_CTX_IN:
        offset, size = SK_BUFF[name]
        allowed[offset:offset + size] = given[offset:offset + size]
    if allowed != given:
        first = next(i for i in range(SK_BUFF_SIZE) if allowed[i] != given[i])
        _fail(errno.EINVAL, f"ctx: __sk_buff byte {first} may not be set by a test run (only {', '.join(SKB_CTX_IN)})")
    l3 = prog_type not in L2_TYPES
    length = len(data) - (ETH_HLEN if l3 else 0)
    wire_len = _u32(given, SK_BUFF["wire_len"][0])
    if wire_len and wire_len < length:
        _fail(errno.EINVAL, f"ctx: wire_len {wire_len} is shorter than the packet ({length} bytes)")
    if _u32(given, SK_BUFF["ifindex"][0]) not in (0, LOOPBACK_IFINDEX):
        _fail(errno.ENODEV, "ctx: the virtual kernel has only lo, ifindex 1")
    frame = NET_SKB_PAD + len(data) + SKB_SHARED_INFO
    packet = Packet(mem, data, headroom=NET_SKB_PAD, frame_size=frame, offset=ETH_HLEN if l3 else 0)
    skb = allowed
    dest, ethertype = data[:6], int.from_bytes(data[12:14], "big")
    if ethertype < ETH_P_802_3_MIN:
        ethertype = ETH_P_802_3 if data[14:16] == b"\xff\xff" else ETH_P_802_2
    pkt_type = PACKET_HOST if dest == bytes(6) else PACKET_MULTICAST if dest[0] & 1 else PACKET_OTHERHOST
    for name, value in (("len", length), ("pkt_type", pkt_type), ("protocol", int.from_bytes(
            ethertype.to_bytes(2, "big"), "little")), ("ifindex", LOOPBACK_IFINDEX)):
        struct.pack_into("<I", skb, SK_BUFF[name][0], value)
    region = mem.map("ctx (__sk_buff)", bytes(skb))

    def publish(p: Packet) -> None:
        for name, value in (("data", p.data), ("data_end", p.data_end), ("data_meta", p.data)):
            struct.pack_into("<I", region.view, SK_BUFF[name][0], value)

    packet.on_change = publish
    publish(packet)
    return PacketRun(packet, region, "skb", bytes(ctx), l3)

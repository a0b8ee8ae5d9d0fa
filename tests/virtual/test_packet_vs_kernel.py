"""Packet programs under BPF_PROG_TEST_RUN: the virtual kernel against Linux, case by case.

Each case runs one program on one packet (and context) on both kernels and
compares the verdict: (retval, data_out, ctx_out), or the errno when the
run is refused.  The programs are hand-written (every context field and
adjustment helper at its limits) and clang-built (tests/data/packet).
"""

import errno

import pytest

from pybpf import elf
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import ProgType
from support.kernel import needs_kernel, skip_if_kernel_lacks_helper
from support.paths import DATA

XDP, TC, SOCKET, CGROUP = (ProgType.BPF_PROG_TYPE_XDP, ProgType.BPF_PROG_TYPE_SCHED_CLS,
                           ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_CGROUP_SKB)
OBJECT = elf.load(DATA / "packet" / "packet.o")
CLANG = {p.name: (p.prog_type, encode(p.insns)) for p in OBJECT.programs}
PKT = bytes(range(1, 61))


def u32(value: int) -> bytes:
    return (value & 0xFFFFFFFF).to_bytes(4, "little")


def ipv4_udp(dport: int, *, vlan: bool = False, proto: int = 17) -> bytes:
    eth = bytes.fromhex("020000000001" "020000000002") + (b"\x81\x00\x00\x05" if vlan else b"") + b"\x08\x00"
    ip = bytes([0x45, 0, 0, 28, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    udp = (1234).to_bytes(2, "big") + dport.to_bytes(2, "big") + (8).to_bytes(2, "big") + bytes(2)
    return eth + ip + udp + b"payload!"


def asm(prog_type, text):
    return prog_type, encode(assemble(text))


XDP_DLEN = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = r3\nr0 -= r2\nexit"
HELPER = "r6 = r1\nr2 = {delta}\ncall {helper}\nexit"
CASES = {
    # socket filters see the packet from the network header
    "sf len": (asm(SOCKET, "r0 = *(u32 *)(r1 + 0)\nexit"), PKT, b""),
    "sf ld_abs": (asm(SOCKET, "r6 = r1\nr0 = *(u32 *)skb[0]\nexit"), PKT, b""),
    "sf ld_abs past end": (asm(SOCKET, "r6 = r1\nr0 = *(u8 *)skb[46]\nexit"), PKT, b""),
    "sf protocol": (asm(SOCKET, "r0 = *(u32 *)(r1 + 16)\nexit"), PKT, b""),
    "sf ctx": (asm(SOCKET, "r0 = 0\nexit"), PKT, bytes(192)),
    "sf udp": (CLANG["sock_udp"], ipv4_udp(9), b""),
    "sf tcp": (CLANG["sock_udp"], ipv4_udp(9, proto=6), b""),
    "sf short": (asm(SOCKET, "r0 = 0\nexit"), bytes(13), b""),
    # tc sees the Ethernet header and its data pointers
    "tc len": (asm(TC, "r0 = *(u32 *)(r1 + 0)\nexit"), PKT, b""),
    "tc data": (asm(TC, "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\nr0 = r3\nr0 -= r2\nexit"), PKT, b""),
    "tc pkt_type multicast": (asm(TC, "r0 = *(u32 *)(r1 + 4)\nexit"), PKT, b""),
    "tc pkt_type host": (asm(TC, "r0 = *(u32 *)(r1 + 4)\nexit"), bytes(60), b""),
    "tc pkt_type other": (asm(TC, "r0 = *(u32 *)(r1 + 4)\nexit"), b"\x02" * 60, b""),
    "tc 802.3": (asm(TC, "r0 = *(u32 *)(r1 + 16)\nexit"), bytes(12) + b"\x00\x20\xff\xff" + bytes(44), b""),
    "tc 802.2": (asm(TC, "r0 = *(u32 *)(r1 + 16)\nexit"), bytes(12) + b"\x00\x20\xaa\xaa" + bytes(44), b""),
    "tc mark in and out": (asm(TC, "r0 = *(u32 *)(r1 + 8)\nr2 = 7\n*(u32 *)(r1 + 8) = r2\nexit"), PKT,
                           bytes(8) + u32(5) + bytes(180)),
    "tc cb priority": (asm(TC, "r0 = *(u32 *)(r1 + 48)\nr2 = *(u32 *)(r1 + 32)\nr0 += r2\nexit"), PKT,
                       bytes(32) + u32(3) + bytes(12) + u32(40) + bytes(140)),
    "tc ctx len refused": (asm(TC, "r0 = 0\nexit"), PKT, u32(5) + bytes(188)),
    "tc ctx wire_len short": (asm(TC, "r0 = 0\nexit"), PKT, bytes(160) + u32(1) + bytes(28)),
    "tc ctx wire_len": (asm(TC, "r0 = *(u32 *)(r1 + 160)\nexit"), PKT, bytes(160) + u32(100) + bytes(28)),
    "tc ttl": (CLANG["tc_ttl"], ipv4_udp(7), bytes(192)),
    "tc ttl not ip": (CLANG["tc_ttl"], PKT, bytes(192)),
    "tc write": (asm(TC, "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\nr4 = r2\nr4 += 1\n"
                         "if r4 > r3 goto +2\nr5 = 0x77\n*(u8 *)(r2 + 0) = r5\nr0 = 0\nexit"), PKT, b""),
    "tc short": (asm(TC, "r0 = 0\nexit"), bytes(13), b""),
    # XDP: pointers, context, and the adjustment helpers at their limits
    "xdp data": (asm(XDP, XDP_DLEN), PKT, b""),
    "xdp data linear max": (asm(XDP, XDP_DLEN), bytes(3520), b""),
    "xdp data with frags": (asm(XDP, XDP_DLEN), bytes(range(256)) * 16, b""),
    "xdp meta": (asm(XDP, "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 8)\nr0 = r2\nr0 -= r3\nexit"), PKT, b""),
    "xdp ingress": (asm(XDP, "r0 = *(u32 *)(r1 + 12)\nexit"), PKT, b""),
    "xdp short": (asm(XDP, "r0 = 2\nexit"), bytes(13), b""),
    "xdp ctx zero": (asm(XDP, "r0 = 2\nexit"), PKT, bytes(24)),
    "xdp ctx meta": (asm(XDP, "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 8)\nr0 = r2\nr0 -= r3\nexit"), PKT,
                     u32(4) + u32(60) + bytes(16)),
    "xdp ctx data_end": (asm(XDP, "r0 = 2\nexit"), PKT, bytes(4) + u32(59) + bytes(16)),
    "xdp ctx ingress": (asm(XDP, "r0 = *(u32 *)(r1 + 12)\nexit"), PKT, bytes(12) + u32(1) + bytes(8)),
    "xdp ctx data past data_end": (asm(XDP, "r0 = 2\nexit"), PKT, u32(4) + bytes(20)),
    "xdp ctx data_meta": (asm(XDP, "r0 = 2\nexit"), PKT, bytes(8) + u32(1) + bytes(12)),
    "xdp ctx rx queue": (asm(XDP, "r0 = 2\nexit"), PKT, bytes(16) + u32(1) + bytes(4)),
    "xdp ctx egress": (asm(XDP, "r0 = 2\nexit"), PKT, bytes(20) + u32(1)),
}
for name, ctx in (("ctx zero", bytes(24)), ("ctx linear 20", bytes(4) + u32(20) + bytes(16))):
    CASES[f"xdp data {name}"] = (asm(XDP, XDP_DLEN), PKT, ctx)
    for delta in (4, -4, -40, -50):
        CASES[f"xdp adjust_tail {delta} {name}"] = (asm(XDP, HELPER.format(delta=delta, helper=65)), PKT, ctx)
for delta in (4, -4, -216, -217, 46, 47):
    CASES[f"xdp adjust_head {delta}"] = (asm(XDP, HELPER.format(delta=delta, helper=44)), PKT, b"")
for delta in (-46, -47, 10, 3460, 3461):
    CASES[f"xdp adjust_tail {delta}"] = (asm(XDP, HELPER.format(delta=delta, helper=65)), PKT, b"")
for delta in (-4, -8, -64, -176, -6, 4):
    CASES[f"xdp adjust_meta {delta}"] = (asm(XDP, HELPER.format(delta=delta, helper=54)), PKT, b"")
for delta in (100, 3000, -500):
    CASES[f"xdp adjust_tail {delta} with frags"] = (asm(XDP, HELPER.format(delta=delta, helper=65)), bytes(5000), b"")
CASES["xdp meta then head"] = (asm(XDP, "r6 = r1\nr2 = -8\ncall 54\nr1 = r6\nr2 = 4\ncall 44\n"
                                        "r2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 8)\nr0 = r2\nr0 -= r3\nexit"),
                               PKT, bytes(4) + u32(60) + bytes(16))
CASES["xdp echo udp 7"] = (CLANG["xdp_echo"], ipv4_udp(7), b"")
CASES["xdp echo vlan"] = (CLANG["xdp_echo"], ipv4_udp(7, vlan=True), b"")
CASES["xdp echo udp 9"] = (CLANG["xdp_echo"], ipv4_udp(9), b"")
CASES["xdp echo tcp"] = (CLANG["xdp_echo"], ipv4_udp(7, proto=6), b"")
CASES["xdp echo runt"] = (CLANG["xdp_echo"], PKT[:20], b"")
CASES["xdp trailer"] = (CLANG["xdp_trailer"], ipv4_udp(7), bytes(4) + u32(len(ipv4_udp(7))) + bytes(16))
CASES["xdp trailer no linear part"] = (CLANG["xdp_trailer"], ipv4_udp(7), bytes(24))


def outcome(load, run, case):
    (prog_type, code), data, ctx = CASES[case]
    fd = load(prog_type, code)
    try:
        result = run(fd, data, ctx)
    except (BpfError, OSError) as err:
        return ("errno", err.errno)
    return (result.retval, result.data_out.hex(), result.ctx_out.hex())


def virtual(case):
    kernel = VirtualKernel()
    return outcome(lambda t, code: kernel.prog_load(t, code).fd,
                   lambda fd, data, ctx: kernel.prog_test_run(fd, data, ctx=ctx), case)


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES)
def test_packet_run_matches_linux(case):
    from pybpf.kernel.linux import syscall

    fds = []

    def load(prog_type, code):
        try:
            fds.append(syscall.prog_load(prog_type, code).fd)
        except syscall.KernelError as err:
            skip_if_kernel_lacks_helper(err.log)
            raise
        return fds[-1]

    def run(fd, data, ctx):
        return syscall.prog_test_run(fd, data, ctx=ctx, data_out_size=len(data) + 8192,
                                     ctx_out_size=len(ctx) and max(len(ctx), 192))

    try:
        linux = outcome(load, run, case)
    finally:
        for fd in fds:
            syscall.close(fd)
    assert virtual(case) == linux


# The same programs, with what they must do spelled out (these run without the kernel too).

def test_xdp_echo_swaps_addresses_and_strips_the_vlan_tag():
    retval, out, _ = virtual("xdp echo vlan")
    out = bytes.fromhex(out)
    assert retval == 3  # XDP_TX
    assert out[:12] == bytes.fromhex("020000000002" "020000000001") and out[12:14] == b"\x08\x00"
    assert out[26:30] == bytes([10, 0, 0, 2]) and out[30:34] == bytes([10, 0, 0, 1])
    assert len(out) == len(ipv4_udp(7))
    assert virtual("xdp echo udp 9")[0] == 1 and virtual("xdp echo tcp")[0] == 2  # XDP_DROP, XDP_PASS


def test_adjustments_respect_the_kernel_limits():
    assert virtual("xdp adjust_head -216")[0] == 0
    assert virtual("xdp adjust_head -217")[0] == (-errno.EINVAL) & 0xFFFFFFFF
    assert virtual("xdp adjust_head 47")[0] == (-errno.EINVAL) & 0xFFFFFFFF  # fewer than ETH_HLEN bytes left
    assert virtual("xdp adjust_tail 3461")[0] == (-errno.EINVAL) & 0xFFFFFFFF  # past the frame's linear end
    assert virtual("xdp adjust_meta -6")[0] == (-errno.EACCES) & 0xFFFFFFFF
    grown = bytes.fromhex(virtual("xdp adjust_tail 10")[1])
    assert grown == PKT + bytes(10)


def test_trailer_and_metadata_come_back_in_data_out():
    retval, out, ctx_out = virtual("xdp trailer")
    out, packet = bytes.fromhex(out), ipv4_udp(7)
    assert retval == 2
    assert out == (0x1122334455667788).to_bytes(8, "little") + packet + u32(len(packet))
    assert bytes.fromhex(ctx_out)[:8] == u32(8) + u32(len(out))  # data, data_end: offsets from data_meta
    assert virtual("xdp trailer no linear part")[0] == 0  # XDP_ABORTED: data_end - data is 0


def test_socket_filters_start_at_the_network_header():
    retval, out, _ = virtual("sf ld_abs")
    assert retval == int.from_bytes(PKT[14:18], "big")
    assert bytes.fromhex(out) == bytes(14) + PKT[14:]
    assert virtual("sf udp")[0] == len(ipv4_udp(9)) - 14 and virtual("sf tcp")[0] == 20
    assert virtual("sf ld_abs past end")[0] == 0


def test_tc_context_fields_and_writes():
    retval, out, ctx_out = virtual("tc ttl")
    ctx_out = bytes.fromhex(ctx_out)
    assert retval == len(ipv4_udp(7)) + 1
    assert bytes.fromhex(out)[22] == 63  # the TTL, decremented in place
    assert ctx_out[48:52] == u32(len(ipv4_udp(7)))  # cb[0] comes back
    assert ctx_out[8:12] == u32(0x0008 ^ 3)  # mark = protocol (be16 0x0800 read as le) ^ PACKET_OTHERHOST
    assert virtual("tc ctx len refused") == ("errno", errno.EINVAL)
    assert virtual("xdp short") == ("errno", errno.EINVAL)


def test_nothing_of_a_run_stays_mapped():
    kernel = VirtualKernel()
    (prog_type, code), data, ctx = CASES["xdp trailer"]
    fd = kernel.prog_load(prog_type, code).fd
    before = len(list(kernel.mem))
    kernel.prog_test_run(fd, data, ctx=ctx)
    with pytest.raises(BpfError):
        kernel.prog_test_run(fd, bytes(5))
    assert len(list(kernel.mem)) == before

/* Packet programs for the test-run comparison between the virtual kernel and Linux. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>

#define SEC(name) __attribute__((section(name), used))

static long (*bpf_xdp_adjust_head)(struct xdp_md *ctx, int delta) = (void *)44;
static long (*bpf_xdp_adjust_tail)(struct xdp_md *ctx, int delta) = (void *)65;
static long (*bpf_xdp_adjust_meta)(struct xdp_md *ctx, int delta) = (void *)54;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to, __u32 len) = (void *)26;

struct vlan { __be16 tci; __be16 proto; };

/* Echo UDP port 7 back (swap MACs, IPs and ports: XDP_TX), drop other UDP,
 * strip one 802.1Q tag first, pass the rest. */
SEC("xdp")
int xdp_echo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	if (eth->h_proto == __builtin_bswap16(ETH_P_8021Q)) {
		struct ethhdr copy = *eth;
		struct vlan *tag = (void *)(eth + 1);
		if ((void *)(tag + 1) > end)
			return XDP_DROP;
		copy.h_proto = tag->proto;
		if (bpf_xdp_adjust_head(ctx, (int)sizeof(*tag)))
			return XDP_ABORTED;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		eth = data;
		if ((void *)(eth + 1) > end)
			return XDP_ABORTED;
		*eth = copy;
	}
	if (eth->h_proto != __builtin_bswap16(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	struct udphdr *udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	if (udp->dest != __builtin_bswap16(7))
		return XDP_DROP;
	unsigned char mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	__be32 addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	__be16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	return XDP_TX;
}

/* Append a 4-byte trailer holding the packet's old length; put 8 bytes of metadata in front. */
SEC("xdp")
int xdp_trailer(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	if (len > 1024)
		return XDP_PASS;
	asm volatile("%0 &= 0x7ff" : "+r"(len));  /* keep the bounded value: clang would recompute it */
	if (bpf_xdp_adjust_tail(ctx, 4) || bpf_xdp_adjust_meta(ctx, -8))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	void *meta = (void *)(long)ctx->data_meta;
	if (data + len + 4 > end || meta + 8 > data)
		return XDP_ABORTED;
	__builtin_memcpy(data + len, &len, 4);
	*(__u64 *)meta = 0x1122334455667788ULL;
	return XDP_PASS;
}

/* tc: mark the packet with its protocol, TTL-decrement IPv4, return its length. */
SEC("tc")
int tc_ttl(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	skb->mark = skb->protocol ^ skb->pkt_type;
	skb->cb[0] = skb->len;
	if ((void *)(eth + 1) > end || eth->h_proto != __builtin_bswap16(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 0;
	ip->ttl--;
	return skb->len + skb->ifindex;
}

/* Socket filter: keep UDP packets whole, everything else truncated to 20 bytes. */
SEC("socket")
int sock_udp(struct __sk_buff *skb)
{
	__u8 proto;
	if (bpf_skb_load_bytes(skb, 9, &proto, 1))
		return 0;
	return proto == IPPROTO_UDP ? skb->len : 20;
}

char _license[] SEC("license") = "GPL";

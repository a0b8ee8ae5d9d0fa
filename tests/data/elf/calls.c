/* bpf-to-bpf calls: nested static sub-programs, a global .text function shared
 * by two programs, and a callback passed by address (bpf_loop). */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *)181;

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_squares(__u64 a, __u64 b)
{
	return square(a) + square(b);
}

__noinline int shared(int x)
{
	return x ^ 0x5a;
}

static int add_index(__u32 index, void *ctx)
{
	*(__u64 *)ctx += index;
	return 0;
}

SEC("xdp")
int nested_calls(struct xdp_md *ctx)
{
	return sum_squares(ctx->data, ctx->data_end) > 7 ? shared(2) : 2;
}

SEC("socket")
int uses_callback(struct __sk_buff *skb)
{
	__u64 total = 0;
	bpf_loop(skb->len, add_index, &total, 0);
	return total + shared(skb->len);
}

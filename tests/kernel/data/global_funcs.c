/* Global (non-static) functions, which Linux verifies on their own against their BTF signatures, beside a
 * static one verified in its caller's context; globals in .data, .rodata and .bss. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 factor = 7; /* .rodata: frozen before the programs load */
__u32 calls = 1;                 /* .data */
__u64 out_mix, out_len;          /* .bss */

__noinline int mix(int a, int b)
{
	return a * 31 + (b ^ 0x5a);
}

__noinline int skb_len(struct __sk_buff *skb)
{
	return skb->len;
}

static __noinline int scaled(int x)
{
	return x * factor;
}

SEC("socket")
int global_socket(struct __sk_buff *skb)
{
	return mix(skb_len(skb), scaled(3)) & 0xffff;
}

SEC("xdp")
int global_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	return mix(end - data, 1) > 2000 ? 2 : 1;
}

SEC("syscall")
int global_syscall(void *ctx)
{
	out_mix = mix(calls, factor);
	out_len = scaled(calls + 1);
	calls++;
	return 0;
}

/* Several programs in one object, sections of several types, and sub-programs. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

static __noinline __u64 mix(__u64 a, __u64 b)
{
	return (a * 31) ^ (b >> 3);
}

__noinline int global_helper(int x)
{
	return x * 3 + 1;
}

SEC("socket")
int count_bytes(struct __sk_buff *skb)
{
	__u64 acc = 0;
	for (int i = 0; i < 8; i++)
		acc = mix(acc, skb->len + i);
	return acc & 0xff;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return 1; /* XDP_DROP */
	return 2 + (global_helper(*(__u8 *)data) & 0); /* XDP_PASS */
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(void *ctx)
{
	char fmt[] = "openat %llu\n";
	bpf_trace_printk(fmt, sizeof(fmt), bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("kprobe/do_sys_openat2")
int kprobe_open(void *ctx)
{
	return mix(bpf_ktime_get_ns(), 7) & 1;
}

SEC("uretprobe//bin/bash:readline")
int on_readline(void *ctx)
{
	return 0;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	return skb->mark == 7 ? 2 : 0;
}

SEC("socket")
int second_socket(struct __sk_buff *skb)
{
	return global_helper(skb->len) > 100;
}

/* Probes for the virtual kernel: a Python function's entry and a USDT probe, with a ring buffer. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} sizes SEC(".maps");

/* struct pybpf_probe_ctx: u64 args[8]; u64 retval; u64 func_ip; u64 nargs; */
struct probe_ctx { __u64 args[8]; __u64 retval; __u64 func_ip; __u64 nargs; };

SEC("uprobe/support.testapp:add")
int on_add(struct probe_ctx *ctx)
{
	__u64 key = ctx->args[0], one = 1, *count = bpf_map_lookup_elem(&calls, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&calls, &key, &one, 0);
	return 0;
}

SEC("usdt/testapp:request")
int on_request(struct probe_ctx *ctx)
{
	__u64 *size = bpf_ringbuf_reserve(&sizes, sizeof(*size), 0);
	if (!size)
		return 0;
	*size = ctx->args[1];
	bpf_ringbuf_submit(size, 0);
	return 0;
}

SEC("kprobe/do_sys_openat2")
int not_virtual(void *ctx)
{
	return 0;
}

/* BTF-defined maps of several types, and global data in .data, .rodata and .bss. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	__u32 pid;
	__u64 ts;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct event);
} last_event SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_out SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps");

__u64 total = 5;                 /* .data */
const volatile __u32 threshold = 100; /* .rodata */
__u32 hits;                      /* .bss */

SEC("tracepoint/sched/sched_switch")
int count_switch(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &pid);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&counts, &pid, &one, 0);
	total += 1;
	if (pid > threshold)
		hits++;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->ts = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
	__u32 zero = 0;
	struct event *last = bpf_map_lookup_elem(&last_event, &zero);
	if (last)
		last->pid = pid;
	bpf_perf_event_output(ctx, &perf_out, 0xffffffffULL, &pid, sizeof(pid));
	return 0;
}

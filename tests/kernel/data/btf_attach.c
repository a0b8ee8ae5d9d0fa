/* Programs whose attach point is a BTF id the loader finds in the kernel's BTF: tp_btf on a raw tracepoint
 * (its typedef btf_trace_NAME), the context's arguments typed by it. */
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))

char LICENSE[] SEC("license") = "GPL";

__u64 switches, preempted;

SEC("tp_btf/sched_switch")
int on_switch(__u64 *ctx)
{
	switches++;
	preempted += ctx[0] & 1; /* bool preempt */
	return 0;
}

SEC("tp_btf/sched_process_exit")
int on_exit(__u64 *ctx)
{
	return 0;
}

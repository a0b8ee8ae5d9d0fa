/* CO-RE facts about the kernel that do not depend on its memory layout (existence, enum values), and the
 * layout of a UAPI context (struct __sk_buff), which both kernels lay out as Linux's. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))

char LICENSE[] SEC("license") = "GPL";

#define __core __attribute__((preserve_access_index))
struct task_struct { int pid; int no_such_member_pybpf; } __core;
struct no_such_type_pybpf { int x; } __core;
struct sk_buff_core { __u32 len; __u32 pkt_type; __u32 mark; } __core;
enum bpf_map_type { BPF_MAP_TYPE_RINGBUF = 1000, BPF_MAP_TYPE_NO_SUCH_PYBPF = 1001 };

enum { BYTE_OFFSET = 0, FIELD_EXISTS = 2, TYPE_EXISTS = 0, ENUMVAL_EXISTS = 0, ENUMVAL_VALUE = 1 };

__u64 out[8];

SEC("syscall")
int core_exists(void *ctx)
{
	struct task_struct *t = 0;
	out[0] = __builtin_preserve_field_info(t->pid, FIELD_EXISTS);
	out[1] = __builtin_preserve_field_info(t->no_such_member_pybpf, FIELD_EXISTS);
	out[2] = __builtin_preserve_type_info(*t, TYPE_EXISTS);
	out[3] = __builtin_preserve_type_info(*(struct no_such_type_pybpf *)0, TYPE_EXISTS);
	out[4] = __builtin_preserve_enum_value(*(enum bpf_map_type *)BPF_MAP_TYPE_RINGBUF, ENUMVAL_VALUE);
	out[5] = __builtin_preserve_enum_value(*(enum bpf_map_type *)BPF_MAP_TYPE_NO_SUCH_PYBPF, ENUMVAL_EXISTS);
	return 0;
}

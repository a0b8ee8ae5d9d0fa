typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
static void *(*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
char LICENSE[] SEC("license") = "GPL";
/* deliberately not the kernel's layout: CO-RE must find the real offsets */
struct task_struct { long pad[3]; int tgid; int pid; } __attribute__((preserve_access_index));
__u64 out_pid, out_tgid, out_size, out_exists;
SEC("syscall")
int read_task(void *ctx)
{
	struct task_struct *task = bpf_get_current_task();
	int pid = 0, tgid = 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &task->pid);
	bpf_probe_read_kernel(&tgid, sizeof(tgid), &task->tgid);
	out_pid = pid;
	out_tgid = tgid;
	out_size = __builtin_preserve_field_info(task->pid, 1);
	out_exists = __builtin_preserve_field_info(task->tgid, 2);
	return 0;
}

/* CO-RE: field offsets, sizes and existence, type ids and sizes, enum values,
 * recorded as .BTF.ext relocations for the loader to apply against kernel BTF. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

static void *(*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;

#define __core __attribute__((preserve_access_index))

struct mm_struct { __u64 total_vm; } __core;
struct task_struct {
	int pid;
	int tgid;
	struct mm_struct *mm;
	unsigned int flags: 3;
	unsigned int prio: 5;
} __core;
enum task_state { TASK_RUNNING = 0, TASK_DEAD = 64 };

enum { FIELD_EXISTS = 2, TYPE_EXISTS = 0, TYPE_SIZE = 1, ENUMVAL_VALUE = 1, BYTE_SIZE = 1 };

SEC("kprobe/do_exit")
int trace_exit(void *ctx)
{
	struct task_struct *task = bpf_get_current_task();
	int pid = 0;
	struct mm_struct *mm = 0;
	__u64 vm = 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &task->pid);
	bpf_probe_read_kernel(&mm, sizeof(mm), &task->mm);
	bpf_probe_read_kernel(&vm, sizeof(vm), &mm->total_vm);
	if (__builtin_preserve_field_info(task->tgid, FIELD_EXISTS))
		vm += __builtin_preserve_field_info(task->prio, BYTE_SIZE);
	vm += __builtin_btf_type_id(*task, 0);
	vm += __builtin_preserve_type_info(*mm, TYPE_SIZE);
	vm += __builtin_preserve_enum_value(*(enum task_state *)TASK_DEAD, ENUMVAL_VALUE);
	return pid + vm;
}

/* .kconfig externs of each kind the loader fills from the running kernel's configuration. */
#include "bpf_defs.h"

#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))

char LICENSE[] SEC("license") = "GPL";

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;                        /* a number */
extern char CONFIG_BPF_SYSCALL __kconfig;              /* y */
extern int CONFIG_PYBPF_NO_SUCH_OPTION __kconfig __weak; /* unset: 0 */

__u64 out[4];

SEC("syscall")
int read_config(void *ctx)
{
	out[0] = LINUX_KERNEL_VERSION;
	out[1] = CONFIG_HZ;
	out[2] = CONFIG_BPF_SYSCALL;
	out[3] = CONFIG_PYBPF_NO_SUCH_OPTION;
	return 0;
}

/* Externs resolved by the loader: libbpf's .kconfig variables. */
#include "bpf_defs.h"

#define __kconfig __attribute__((section(".kconfig")))

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;

char LICENSE[] SEC("license") = "GPL";

SEC("socket")
int read_kconfig(void *ctx)
{
	return LINUX_KERNEL_VERSION > 0x060000 ? CONFIG_HZ : 0;
}

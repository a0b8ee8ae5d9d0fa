/* A global function taking `void *`: its size cannot be known, so Linux refuses the call (EINVAL,
 * "arg#0 reference type('UNKNOWN ') size cannot be determined", "Caller passes invalid args"). */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

__noinline int peek(void *p)
{
	return p != 0;
}

SEC("socket")
int void_arg(struct __sk_buff *skb)
{
	int x = 1;
	return peek(&x);
}

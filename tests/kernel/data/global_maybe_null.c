/* A global function reads through its pointer argument without a NULL check: Linux verifies it on its own,
 * where the argument may be NULL, and refuses it (EACCES) although its only caller passes a stack pointer. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

__noinline int first(int *p)
{
	return *p;
}

SEC("socket")
int maybe_null(struct __sk_buff *skb)
{
	int x = skb->len;
	return first(&x);
}

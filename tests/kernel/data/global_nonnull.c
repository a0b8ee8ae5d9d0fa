/* The same read is safe once the argument is __arg_nonnull: the caller's pointer is checked at the call
 * (4 readable and writable bytes), the callee verified once with a non-NULL 4-byte pointer. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

__noinline int first(int *p __attribute__((btf_decl_tag("arg:nonnull"))))
{
	return *p + 1;
}

SEC("socket")
int nonnull(struct __sk_buff *skb)
{
	int x = skb->len;
	return first(&x);
}

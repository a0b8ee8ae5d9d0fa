/* Global data: .data, .bss, .rodata, custom .data.* / .rodata.* sections, a
 * string literal (.rodata.str1.1), static variables reached through the
 * section symbol, and a pointer in .data to another global (R_BPF_64_ABS64). */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

__u64 packets = 3;                            /* .data */
__u32 table[4] = {10, 20, 30, 40};            /* .data */
__u64 bytes;                                  /* .bss */
const volatile __u32 limit = 1500;            /* .rodata */
const volatile char banner[8] = "pybpf";      /* .rodata */
__u32 tuned SEC(".data.tuning") = 7;          /* a custom .data.* section */
const volatile __u16 port SEC(".rodata.cfg") = 8080;  /* a custom .rodata.* section */
static __u64 hidden = 9;                      /* static: relocated via the section symbol */
__u32 *table_ptr = &table[2];                 /* R_BPF_64_ABS64 in .rel.data */

SEC("socket")
int use_globals(struct __sk_buff *skb)
{
	packets++;
	bytes += skb->len;
	hidden += table[3] + tuned + port;
	if (skb->len > limit)
		bpf_trace_printk("too long: %u\n", 14, skb->len);
	return banner[0] + hidden;
}

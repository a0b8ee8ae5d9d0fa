/* BTF-defined map attributes: sizes given as __uint, flags, pinning, NUMA
 * node, map_extra; map-in-map and program arrays with initial slots
 * (filled through .rel.maps). */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

enum { BPF_MAP_TYPE_PROG_ARRAY = 3, BPF_MAP_TYPE_LRU_HASH = 9, BPF_MAP_TYPE_HASH_OF_MAPS = 13,
       BPF_MAP_TYPE_BLOOM_FILTER = 30 };
enum { BPF_F_NO_PREALLOC = 1, BPF_F_NUMA_NODE = 4 };
enum { LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME };

struct key { __u32 saddr; __u32 daddr; __u16 sport; __u16 dport; };

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, struct key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE);
	__uint(numa_node, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, 8);
	__uint(value_size, 16);
	__uint(max_entries, 32);
} sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__type(value, __u32);
	__uint(max_entries, 100);
	__uint(map_extra, 3);
} seen SEC(".maps");

struct inner_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner_hash inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_hash);
} by_proto SEC(".maps") = {
	.values = { [1] = &inner_a, [3] = &inner_b },
};

SEC("socket")
int tail_a(struct __sk_buff *skb)
{
	return 1;
}

SEC("socket")
int tail_b(struct __sk_buff *skb)
{
	return 2;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_a, [1] = (void *)&tail_b },
};

SEC("socket")
int dispatch(struct __sk_buff *skb)
{
	__u32 proto = skb->len & 3;
	struct key k = {};
	void *inner = bpf_map_lookup_elem(&by_proto, &proto);
	if (inner)
		bpf_map_lookup_elem(inner, &proto);
	bpf_map_lookup_elem(&flows, &k);
	bpf_map_lookup_elem(&sized, &k);
	bpf_map_lookup_elem(&seen, &proto);
	bpf_map_lookup_elem(&jump_table, &proto);
	return 0;
}

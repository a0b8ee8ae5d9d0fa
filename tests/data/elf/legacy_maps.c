/* A legacy "maps" section (struct bpf_map_def), as older samples and bcc-era objects use. */
#include "bpf_defs.h"

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH, .key_size = 4, .value_size = 8, .max_entries = 64,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY, .key_size = 4, .value_size = 16, .max_entries = 8, .map_flags = 0,
};

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x060c00;

SEC("kprobe/sys_write")
int count_writes(void *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&legacy_hash, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	void *a = bpf_map_lookup_elem(&legacy_array, &key);
	return a != 0;
}

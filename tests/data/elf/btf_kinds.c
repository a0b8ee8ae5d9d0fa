/* Every BTF kind clang-14 emits: int, pointer, array, struct, union, enum,
 * forward declaration, typedef, volatile, const, restrict, function and
 * prototype, variable, data section, float, declaration and type tags. */
#include "bpf_defs.h"

char LICENSE[] SEC("license") = "GPL";

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

struct opaque;                          /* FWD */
union word { __u32 whole; __u8 bytes[4]; };
enum color { RED, GREEN = 5, BLUE = -1 };
typedef int (*handler_t)(void *ctx, long arg);

struct sample {
	const char *name;                   /* CONST */
	volatile __u64 counter;             /* VOLATILE */
	void *restrict buf;                 /* RESTRICT */
	union word w;                       /* UNION */
	enum color c;                       /* ENUM */
	struct opaque *priv;                /* pointer to a FWD */
	handler_t on_event;                 /* TYPEDEF of a pointer to a FUNC_PROTO */
	int (*matrix)[3];                   /* pointer to an array */
	char *argv[2];                      /* array of pointers */
	float ratio;                        /* FLOAT */
	double scale;
	unsigned int flags: 4, mode: 12;    /* bitfields */
	int __user *uptr;                   /* TYPE_TAG */
	struct { short x, y; } pos;         /* anonymous struct */
	_Bool ok;
	long tagged __tag("counter");       /* DECL_TAG on a member */
};

struct sample samples[2];               /* VAR in DATASEC .bss */
char * const read_only_ptr = 0;         /* const pointer */
const volatile unsigned char cfg_level = 3;

static __noinline __tag("helper") int handle(struct sample *s __tag("arg"), long arg)
{
	return s->c + arg;
}

SEC("raw_tp/sys_enter")
int kinds(void *ctx)
{
	samples[0].ratio = 0;
	return handle(&samples[0], cfg_level) + (read_only_ptr != 0);
}

/* Runs one ring buffer program compiled for AArch64 (tests/vm/test_jit_aarch64_run.py) under qemu-aarch64.
 *
 * The program was compiled for a ring buffer whose data area (twice SIZE bytes) and control words
 * sit at the page-aligned addresses DATA and CONTROL; this maps them (MAP_FIXED, zeroed) before
 * running, as RingBufMap allocates them.  The generated table gives DATA, SIZE, CONTROL and RUNS.  After each run a consumer that
 * reads everything is stood in for (the consumer position set to the producer's) when
 * consume_after(run) holds, as the test does on the interpreter.  Output: each run's r0 and status,
 * then the ring's first SIZE bytes and the producer, consumer and drop counts, in hex.
 */
typedef unsigned long u64;

extern const u64 DATA, SIZE, CONTROL, RUNS;
extern u64 loop_0(u64 *state, u64 n, u64 r1);

enum { STATUS = 0, LIMIT = 3, R0 = 13, STACKS = 16, WORDS = 32, FRAMES = 8 };
enum { PRODUCER_POS = 0, CONSUMER_POS = 1, DROPPED = 2 };

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}

u64 pybpf_jit_helper(u64 *state, u64 pc, u64 id, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) {
    state[STATUS] = 1;  /* the ring's handovers to Python must not happen here */
    return 0;
}
u64 pybpf_jit_check(u64 *state, u64 pc, u64 addr, u64 flags) { state[STATUS] = 1; return 1; }
void *memset(void *to, int c, unsigned long n) { unsigned char *p = to; while (n--) *p++ = (unsigned char)c; return to; }
void *memcpy(void *to, const void *from, unsigned long n) {
    unsigned char *p = to;
    const unsigned char *q = from;
    while (n--) *p++ = *q++;
    return to;
}

static unsigned char stacks[FRAMES][512] __attribute__((aligned(16)));
static const char hex[] = "0123456789abcdef";
static char out[1 << 16];
static int used;

static void put_word(u64 value) {
    for (int shift = 60; shift >= 0; shift -= 4)
        out[used++] = hex[(value >> shift) & 15];
}

static void flush(void) {
    sys6(64, 1, (long)out, used, 0, 0, 0);
    used = 0;
}

static int consume_after(u64 run) { return run % 3 == 2 || run % 7 == 0; }

static void map_at(u64 address, u64 size) {  /* PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED */
    if ((u64)sys6(222, address, size, 3, 0x32, -1, 0) != address)
        sys6(93, 2, 0, 0, 0, 0, 0);
}

void _start(void) {
    map_at(DATA, 2 * SIZE);
    map_at(CONTROL, 4096);
    u64 *control = (u64 *)CONTROL;
    for (u64 run = 0; run < RUNS; run++) {
        u64 state[WORDS] = {0};
        for (int i = 0; i < FRAMES; i++)
            state[STACKS + i] = (u64)(stacks[i] + 512);
        state[LIMIT] = ~0UL;
        loop_0(state, 1, 0);
        put_word(state[R0]);
        out[used++] = ' ';
        out[used++] = hex[state[STATUS] & 15];
        out[used++] = '\n';
        if (consume_after(run))
            control[CONSUMER_POS] = control[PRODUCER_POS];
    }
    flush();
    const unsigned char *data = (const unsigned char *)DATA;
    for (u64 i = 0; i < SIZE; i++) {
        out[used++] = hex[data[i] >> 4];
        out[used++] = hex[data[i] & 15];
        if (used > (int)sizeof out - 4)
            flush();
    }
    out[used++] = '\n';
    for (int i = PRODUCER_POS; i <= DROPPED; i++) {
        put_word(control[i]);
        out[used++] = '\n';
    }
    flush();
    sys6(93, 0, 0, 0, 0, 0, 0);
}

/* Runs native-engine programs compiled for AArch64 (tests/vm/test_jit_aarch64_run.py) under qemu-aarch64.
 *
 * Freestanding (no C library): the test links this with a generated table of programs (TESTS) and
 * their objects.  For each it lays out the `state` words as NativeEngine does (vm/jit/layout.py:
 * the frame ends, the step limit, r2 = the memory's length, the region table for checked code),
 * calls the program's `loop` entry once with r1 = its memory, and prints "R0 STATUS" in hex, one
 * line a program.  The callbacks into Python are stand-ins: a helper returns 0, a refused access
 * is a fault (status 1); the libc functions the code calls are Linux system calls.
 */
typedef unsigned long u64;

struct test {
    u64 (*loop)(u64 *state, u64 n, u64 r1);
    unsigned char *mem;
    u64 len;
    int checked;
};
extern const struct test TESTS[];
extern const u64 NTESTS;

enum { STATUS = 0, LIMIT = 3, R0 = 13, STACKS = 16, RUN_ARGS = 24, REGIONS = 29, WORDS = 32, FRAMES = 8 };

static long sys3(long n, long a, long b, long c) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

u64 pybpf_jit_helper(u64 *state, u64 pc, u64 id, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) { return 0; }
u64 pybpf_jit_check(u64 *state, u64 pc, u64 addr, u64 flags) { state[STATUS] = 1; return 1; }
void *memset(void *to, int c, unsigned long n) { unsigned char *p = to; while (n--) *p++ = (unsigned char)c; return to; }
void *memcpy(void *to, const void *from, unsigned long n) {
    unsigned char *p = to;
    const unsigned char *q = from;
    while (n--) *p++ = *q++;
    return to;
}
int clock_gettime(int clock, void *ts) { return (int)sys3(113, clock, (long)ts, 0); }
int getpid(void) { return (int)sys3(172, 0, 0, 0); }
int gettid(void) { return (int)sys3(178, 0, 0, 0); }

static unsigned char stacks[FRAMES][512] __attribute__((aligned(16)));

void _start(void) {
    static const char hex[] = "0123456789abcdef";
    for (u64 t = 0; t < NTESTS; t++) {
        const struct test *test = &TESTS[t];
        u64 state[WORDS] = {0};
        u64 rows[6], header[2] = {0, (u64)rows};  /* NativeTable: sorted (start, end, writable) */
        u64 frames[3] = {(u64)stacks, (u64)stacks + sizeof stacks, 1};
        u64 memory[3] = {(u64)test->mem, (u64)test->mem + test->len, 1};
        int mem_first = test->len && memory[0] < frames[0];
        for (int i = 0; i < 3; i++) {
            rows[i] = mem_first ? memory[i] : frames[i];
            rows[3 + i] = mem_first ? frames[i] : memory[i];
        }
        header[0] = test->len ? 2 : 1;
        for (int i = 0; i < FRAMES; i++)
            state[STACKS + i] = (u64)(stacks[i] + 512);
        state[LIMIT] = test->checked ? 1000000 : ~0UL;
        state[RUN_ARGS + 1] = test->len;
        state[REGIONS] = (u64)header;
        test->loop(state, 1, (u64)test->mem);
        char line[24];
        int n = 0;
        for (int shift = 60; shift >= 0; shift -= 4)
            line[n++] = hex[(state[R0] >> shift) & 15];
        line[n++] = ' ';
        line[n++] = hex[state[STATUS] & 15];
        line[n++] = '\n';
        sys3(64, 1, (long)line, n);
    }
    sys3(93, 0, 0, 0);
}

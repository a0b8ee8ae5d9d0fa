/* A small program for the uprobe and USDT tests: waits for a line on stdin,
 * then calls pybpf_add N times (a uprobe/uretprobe target) and fires the USDT
 * probe pybpf:tick N times (with a semaphore when built with sys/sdt.h), then
 * pybpf:total twice from two sites whose argument differs in layout (the sum
 * in a register, the constant -1).
 * Prints the sum and how many iterations saw the semaphore raised. */
#include <stdio.h>
#include <stdlib.h>
#if defined(HAVE_SDT) || defined(HAVE_ASM_SDT)
unsigned short pybpf_tick_semaphore __attribute__((unused, section(".probes")));
unsigned short pybpf_total_semaphore __attribute__((unused, section(".probes")));
#define TICK_ENABLED() (pybpf_tick_semaphore != 0)
#endif
#ifdef HAVE_SDT
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#define TICK(i) STAP_PROBE1(pybpf, tick, i)
#define TOTAL(v) STAP_PROBE1(pybpf, total, v)
#elif defined(HAVE_ASM_SDT)
/* The same note sys/sdt.h writes (x86-64 only), for machines without systemtap-sdt-dev:
 * pc, .stapsdt.base, semaphore, then "provider\0name\0args\0"; "nor" lets gcc pass a
 * constant as $N, as sys/sdt.h does. */
#define TICK(i) ASM_PROBE1("tick", pybpf_tick_semaphore, i)
#define TOTAL(v) ASM_PROBE1("total", pybpf_total_semaphore, v)
#define ASM_PROBE1(name, semaphore, v) __asm__ __volatile__( \
    "990: nop\n" \
    ".pushsection .note.stapsdt,\"?\",\"note\"\n" \
    ".balign 4\n" \
    ".4byte 992f-991f, 994f-993f, 3\n" \
    "991: .asciz \"stapsdt\"\n" \
    "992: .balign 4\n" \
    "993: .8byte 990b\n" \
    ".8byte _.stapsdt.base\n" \
    ".8byte " #semaphore "\n" \
    ".asciz \"pybpf\"\n" \
    ".asciz \"" name "\"\n" \
    ".asciz \"-8@%0\"\n" \
    "994: .balign 4\n" \
    ".popsection\n" \
    ".ifndef _.stapsdt.base\n" \
    ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
    ".weak _.stapsdt.base\n" \
    ".hidden _.stapsdt.base\n" \
    "_.stapsdt.base: .space 1\n" \
    ".size _.stapsdt.base, 1\n" \
    ".popsection\n" \
    ".endif\n" :: "nor"((long)(v)))
#else
#define TICK(i) ((void)(i))
#define TOTAL(v) ((void)(v))
#define TICK_ENABLED() 0
#endif

__attribute__((noinline)) long pybpf_add(long a, long b)
{
    __asm__ volatile("" ::: "memory");
    return a + b;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10, sum = 0, enabled = 0;
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    for (long i = 0; i < n; i++) {
        sum = pybpf_add(sum, i);
        if (TICK_ENABLED())
            enabled++;
        TICK(i);
    }
    TOTAL(sum);
    TOTAL(-1);
    printf("%ld %ld\n", sum, enabled);
    return 0;
}

/* A small program for the uprobe and USDT tests: waits for a line on stdin,
 * then calls pybpf_add N times (a uprobe/uretprobe target) and fires the USDT
 * probe pybpf:tick N times (with a semaphore when built with sys/sdt.h).
 * Prints the sum and how many iterations saw the semaphore raised. */
#include <stdio.h>
#include <stdlib.h>
#ifdef HAVE_SDT
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short pybpf_tick_semaphore __attribute__((unused, section(".probes")));
#define TICK(i) STAP_PROBE1(pybpf, tick, i)
#define TICK_ENABLED() (pybpf_tick_semaphore != 0)
#else
#define TICK(i) ((void)(i))
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
    printf("%ld %ld\n", sum, enabled);
    return 0;
}

/* bench_util.h -- what every benchmark program does the same way: pinning
 * itself to one CPU and reading clocks. Header-only; benchmarks only. */
#ifndef WH_BENCH_UTIL_H
#define WH_BENCH_UTIL_H

#include <sched.h>
#include <time.h>

/* Seconds on clock c (CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID
 * or CLOCK_THREAD_CPUTIME_ID for CPU time). */
static inline double bench_now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the calling process on CPU cpu only (cpu < 0: anywhere); best effort,
 * so a figure is "per core" even when the machine is busy. */
static inline void bench_pin_cpu(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

#endif

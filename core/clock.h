/* clock.h -- the project's one source of time: monotonic and wall-clock milliseconds.
 *
 * Timeouts, backoffs and intervals use wh_mono_ms() (never goes back, not
 * moved by NTP); timestamps that leave the process (heartbeats, status
 * files, event-time lag) use wh_wall_ms(). wh_cond_deadline() turns a
 * relative wait into the absolute CLOCK_REALTIME deadline that
 * pthread_cond_timedwait expects. All are async-signal-safe and thread-safe. */
#ifndef WH_CLOCK_H
#define WH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t wh_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds on the monotonic clock (arbitrary origin). */
static inline int64_t wh_mono_ms(void) { return wh_clock_ms(CLOCK_MONOTONIC); }

/* Milliseconds since 1970-01-01 UTC. */
static inline int64_t wh_wall_ms(void) { return wh_clock_ms(CLOCK_REALTIME); }

/* Nanoseconds on the monotonic clock, for benchmarks and rate control. */
static inline int64_t wh_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Nanoseconds since 1970-01-01 UTC: timestamps compared across processes
 * (a row's commit or generation time against its arrival at a subscriber). */
static inline int64_t wh_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CLOCK_REALTIME instant ms milliseconds from now (ms >= 0), as
 * pthread_cond_timedwait wants it. */
static inline struct timespec wh_cond_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

#endif

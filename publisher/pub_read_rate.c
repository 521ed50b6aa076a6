/* pub_read_rate.c -- the token bucket behind the catch-up caravans' read-rate cap (see pub_read_rate.h). */
#include <assert.h>

#include "publisher/pub_read_rate.h"

void pub_read_rate_init(pub_read_rate *r, int64_t now_ms)
{
    r->tokens = 0;
    r->last_ms = now_ms;
}

int64_t pub_read_rate_take(pub_read_rate *r, uint64_t n, int64_t rate, int64_t now_ms)
{
    int64_t elapsed = now_ms > r->last_ms ? now_ms - r->last_ms : 0;
    r->last_ms = now_ms;
    if (rate <= 0) {
        r->tokens = 0;
        return 0;
    }
    double burst = (double)rate / 4;
    r->tokens += (double)elapsed * (double)rate / 1000.0;
    if (r->tokens > burst)
        r->tokens = burst;
    r->tokens -= (double)n;
    if (r->tokens >= 0)
        return 0;
    int64_t ms = (int64_t)(-r->tokens * 1000.0 / (double)rate) + 1;
    assert(ms > 0);
    return ms;
}

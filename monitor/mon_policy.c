/* mon_policy.c -- backoff and crash-loop decisions (see mon_policy.h). */
#include <assert.h>
#include <string.h>

#include "monitor/mon_policy.h"
#include "wormhole/error.h"

static const char *const restart_names[] = { "always", "on-failure", "never" };

int mon_restart_parse(const char *s, mon_restart *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, restart_names[i]) == 0) {
            *out = (mon_restart)i;
            return WH_OK;
        }
    return WH_ERR_CONFIG;
}

const char *mon_restart_name(mon_restart r)
{
    return (unsigned)r < 3 ? restart_names[r] : "?";
}

int64_t mon_backoff_ms(int64_t initial_ms, int64_t max_ms, double multiplier, unsigned failures)
{
    if (failures == 0)
        return 0;
    if (initial_ms < 0)
        initial_ms = 0;
    if (max_ms < initial_ms)
        max_ms = initial_ms;
    if (multiplier < 1.0)
        multiplier = 1.0;
    double d = (double)initial_ms;
    for (unsigned i = 1; i < failures && d < (double)max_ms; i++)
        d *= multiplier;
    return d >= (double)max_ms ? max_ms : (int64_t)d;
}

void mon_history_add(mon_history *h, int64_t now)
{
    if (h->n == MON_HISTORY_MAX) {
        memmove(h->t, h->t + 1, (MON_HISTORY_MAX - 1) * sizeof h->t[0]);
        h->n--;
    }
    assert(h->n == 0 || h->t[h->n - 1] <= now);
    h->t[h->n++] = now;
}

unsigned mon_history_count(mon_history *h, int64_t now, int64_t window_ms)
{
    unsigned drop = 0;
    while (drop < h->n && h->t[drop] < now - window_ms)
        drop++;
    if (drop) {
        memmove(h->t, h->t + drop, (h->n - drop) * sizeof h->t[0]);
        h->n -= drop;
    }
    return h->n;
}

void mon_runstate_reset(mon_runstate *rs)
{
    rs->failures = 0;
    rs->crash_looping = false;
    rs->hist.n = 0;
}

mon_verdict mon_policy_decide(const mon_policy *p, mon_runstate *rs, bool failed, bool stuck,
                              int64_t run_ms, int64_t now, int64_t *delay_ms)
{
    assert(p && rs && delay_ms);
    *delay_ms = 0;
    if (!stuck && run_ms >= p->reset_after_ms)
        mon_runstate_reset(rs);
    if (p->restart == MON_RESTART_NEVER || (p->restart == MON_RESTART_ON_FAILURE && !failed))
        return MON_VERDICT_STOP;
    if (rs->failures < UINT32_MAX)
        rs->failures++;
    if (rs->crash_looping ||
        mon_history_count(&rs->hist, now, p->window_ms) >= p->max_restarts) {
        rs->crash_looping = true;
        *delay_ms = p->retry_ms;
        return MON_VERDICT_FAILED;
    }
    *delay_ms = mon_backoff_ms(p->initial_ms, p->max_ms, p->multiplier, rs->failures);
    return MON_VERDICT_RESTART;
}

/* test_mon_policy.c -- backoff delays, crash-loop counting and restart decisions of the monitor. */
#include <string.h>

#include "../check.h"
#include "monitor/mon_policy.h"
#include "wormhole/error.h"

static mon_policy policy(mon_restart r)
{
    mon_policy p = {
        .restart = r, .initial_ms = 100, .max_ms = 1000, .multiplier = 2.0,
        .reset_after_ms = 5000, .max_restarts = 3, .window_ms = 10000, .retry_ms = 60000,
    };
    return p;
}

int main(void)
{
    /* Backoff: initial * multiplier^(n-1), capped. */
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 2.0, 0), 0);
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 2.0, 1), 100);
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 2.0, 2), 200);
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 2.0, 4), 800);
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 2.0, 5), 1000);
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 2.0, 4000000000u), 1000);
    CHECK_EQ_INT(mon_backoff_ms(100, 1000, 1.0, 50), 100);
    CHECK_EQ_INT(mon_backoff_ms(300, 1000, 1.5, 3), 675);
    CHECK_EQ_INT(mon_backoff_ms(0, 0, 2.0, 3), 0);
    CHECK_EQ_INT(mon_backoff_ms(86400000, 86400000, 100.0, 1000), 86400000);

    /* History: entries older than the window drop out. */
    mon_history h;
    memset(&h, 0, sizeof h);
    mon_history_add(&h, 1000);
    mon_history_add(&h, 2000);
    mon_history_add(&h, 9000);
    CHECK_EQ_INT(mon_history_count(&h, 9000, 10000), 3);
    CHECK_EQ_INT(mon_history_count(&h, 11500, 10000), 2);
    CHECK_EQ_INT(mon_history_count(&h, 19001, 10000), 0);
    for (int i = 0; i < MON_HISTORY_MAX + 10; i++)
        mon_history_add(&h, 20000 + i);
    CHECK_EQ_INT(h.n, MON_HISTORY_MAX);
    CHECK_EQ_INT(h.t[0], 20010);

    /* Policy names. */
    mon_restart r;
    CHECK_EQ_INT(mon_restart_parse("on-failure", &r), WH_OK);
    CHECK_EQ_INT(r, MON_RESTART_ON_FAILURE);
    CHECK_EQ_INT(mon_restart_parse("sometimes", &r), WH_ERR_CONFIG);
    CHECK_EQ_STR(mon_restart_name(MON_RESTART_NEVER), "never");

    /* Restart policies. */
    mon_policy p = policy(MON_RESTART_NEVER);
    mon_runstate rs;
    int64_t delay;
    memset(&rs, 0, sizeof rs);
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 10, 0, &delay), MON_VERDICT_STOP);
    p = policy(MON_RESTART_ON_FAILURE);
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, false, false, 10, 0, &delay), MON_VERDICT_STOP);
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 10, 0, &delay), MON_VERDICT_RESTART);
    CHECK_EQ_INT(delay, 100);

    /* Quick failures back off exponentially, then the crash loop is capped:
     * 3 restarts within the window are allowed, the 4th makes it failed. */
    p = policy(MON_RESTART_ALWAYS);
    memset(&rs, 0, sizeof rs);
    int64_t now = 1000;
    int64_t want[] = { 100, 200, 400 };
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 50, now, &delay),
                     MON_VERDICT_RESTART);
        CHECK_EQ_INT(delay, want[i]);
        now += delay;
        mon_history_add(&rs.hist, now);     /* the restart happens */
        now += 50;
    }
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 50, now, &delay), MON_VERDICT_FAILED);
    CHECK_EQ_INT(delay, 60000);
    CHECK(rs.crash_looping);
    /* A failed retry that fails again stays failed even outside the window. */
    now += 60000;
    mon_history_add(&rs.hist, now);
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 50, now + 50, &delay),
                 MON_VERDICT_FAILED);
    /* A healthy run resets everything: the next failure waits the initial delay. */
    now += 100000;
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 6000, now, &delay),
                 MON_VERDICT_RESTART);
    CHECK_EQ_INT(delay, 100);
    CHECK(!rs.crash_looping);
    CHECK_EQ_INT(rs.failures, 1);

    /* A long run that ended stuck is not healthy. */
    memset(&rs, 0, sizeof rs);
    rs.failures = 3;
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, true, 600000, now, &delay),
                 MON_VERDICT_RESTART);
    CHECK_EQ_INT(delay, 800);

    /* Clean exits under "always" are restarts too, and are capped the same way. */
    memset(&rs, 0, sizeof rs);
    now = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(mon_policy_decide(&p, &rs, false, false, 1, now, &delay),
                     MON_VERDICT_RESTART);
        mon_history_add(&rs.hist, now + delay);
        now += delay + 1;
    }
    CHECK_EQ_INT(mon_policy_decide(&p, &rs, false, false, 1, now, &delay), MON_VERDICT_FAILED);

    /* Restarts spread wider than the window never make it failed. */
    memset(&rs, 0, sizeof rs);
    p.reset_after_ms = 1000000;
    now = 0;
    for (int i = 0; i < 20; i++) {
        CHECK_EQ_INT(mon_policy_decide(&p, &rs, true, false, 4000, now, &delay),
                     MON_VERDICT_RESTART);
        mon_history_add(&rs.hist, now);
        now += 4000;
    }
    mon_runstate_reset(&rs);
    CHECK_EQ_INT(rs.failures, 0);
    CHECK_EQ_INT(rs.hist.n, 0);
    return check_done("test_mon_policy");
}

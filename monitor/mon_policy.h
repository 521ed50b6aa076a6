/* mon_policy.h -- the pure restart policy: backoff delays and crash-loop detection.
 *
 * No clocks and no processes here: callers pass "now" (monotonic
 * milliseconds) so that every decision is a function of its inputs and can
 * be unit-tested. */
#ifndef MON_POLICY_H
#define MON_POLICY_H

#include <stdbool.h>
#include <stdint.h>

typedef enum mon_restart {
    MON_RESTART_ALWAYS,       /* restart after any exit */
    MON_RESTART_ON_FAILURE,   /* restart after a non-zero exit, a signal or a stuck kill */
    MON_RESTART_NEVER,        /* never restart automatically */
} mon_restart;

/* Parses "always", "on-failure" or "never"; returns WH_OK or WH_ERR_CONFIG. */
int mon_restart_parse(const char *s, mon_restart *out);
const char *mon_restart_name(mon_restart r);

/* The delay before restart number `failures` (1 = first failure since the
 * last healthy run): initial * multiplier^(failures-1), capped at max.
 * failures == 0 gives 0. Never overflows. */
int64_t mon_backoff_ms(int64_t initial_ms, int64_t max_ms, double multiplier, unsigned failures);

/* Start times of recent automatic restarts, oldest first. */
#define MON_HISTORY_MAX 1024
typedef struct mon_history {
    int64_t  t[MON_HISTORY_MAX];
    unsigned n;
} mon_history;

/* Records a restart at now (drops the oldest entry when full). */
void mon_history_add(mon_history *h, int64_t now);
/* Drops entries older than now - window_ms and returns how many remain. */
unsigned mon_history_count(mon_history *h, int64_t now, int64_t window_ms);

typedef struct mon_policy {
    mon_restart restart;
    int64_t  initial_ms, max_ms;     /* backoff */
    double   multiplier;
    int64_t  reset_after_ms;         /* a run at least this long (and not stuck) is healthy */
    unsigned max_restarts;           /* crash loop: this many restarts ... */
    int64_t  window_ms;              /* ... within this window ... */
    int64_t  retry_ms;               /* ... means failed, retried this often */
} mon_policy;

/* What the policy remembers between exits of one instance. Zero = fresh. */
typedef struct mon_runstate {
    unsigned    failures;       /* exits since the last healthy run */
    bool        crash_looping;  /* in the failed state until a healthy run */
    mon_history hist;           /* automatic restarts */
} mon_runstate;

typedef enum mon_verdict {
    MON_VERDICT_STOP,      /* do not restart (policy) */
    MON_VERDICT_RESTART,   /* restart after *delay_ms */
    MON_VERDICT_FAILED,    /* crash loop: mark failed, retry after *delay_ms */
} mon_verdict;

/* Decides what follows an exit the monitor did not ask for. failed: the
 * exit was not clean (non-zero code, signal, stuck kill, exec failure);
 * stuck: the monitor killed it for missing heartbeats; run_ms: how long it
 * ran. A healthy run (run_ms >= reset_after_ms and not stuck) resets the
 * backoff and the crash-loop state first. Updates rs. */
mon_verdict mon_policy_decide(const mon_policy *p, mon_runstate *rs, bool failed, bool stuck,
                              int64_t run_ms, int64_t now, int64_t *delay_ms);

/* Forgets failures and crash-loop state (after a config change). */
void mon_runstate_reset(mon_runstate *rs);

#endif

/* pub_caravan.c -- caravans: one mapper reader feeding a group of flows at the same position (see pub_caravan.h).
 *
 * The thread reads a batch, and for each member flow applies its filter and
 * encodes the matching updates into the flow's output buffer, then advances
 * the flow's processed position over the whole batch (filtered-out updates
 * included), and wakes the loop to send (waiting for it, without dropping
 * anyone, while it has a member's large output still to take). A member
 * whose window stays full for caravan_wait_ms leaves the caravan at a batch
 * boundary; the loop gives it a reader of its own from its processed
 * position, so a slow subscriber never holds back the others. Flows whose
 * resume position equals a caravan's current position join it, and two
 * caravans that stand at the same position merge: that is how a flow that
 * split off comes back once it has caught up, at the latest at the head of
 * the log where both wait. A new caravan gathers its flows before its first
 * read (delivery.caravan_gather_ms, pub_caravans_place), so that flows that
 * start together share it; caravans that are not the lead read under
 * delivery.catchup_read_bytes_per_s (pub_read_rate.h).
 *
 * A caravan keeps its flows in one array: members[0, nmembers) are fed,
 * members[nmembers, nmembers + nleavers) were dropped by the thread and wait
 * for the loop to collect them. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "publisher/pub_bootstrap.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_read_rate.h"

/* How often a caravan whose start position has not reached this copy's log
 * yet seeks again (caravan_wait_arrival). */
#define CARAVAN_ARRIVAL_POLL_MS 500

typedef struct pub_caravan {
    struct pub_caravan *next;
    pub_caravans *set;
    pthread_t  thread;
    bool       started;        /* the thread runs (loop thread) */
    pub_mutex  mu;
    pthread_cond_t cond;       /* a member's window opened, a member left, or stop */
    pub_flow **members;        /* under mu: members, then leavers */
    uint32_t   nmembers, nleavers, capmembers;
    wh_pos     start;          /* where it began */
    bool       start_incl;     /* ... at start itself (a recorded start), not after it */
    wh_pos     last;           /* under mu: position of the last update read; start until then */
    bool       reading;        /* under mu: has read at least one batch */
    bool       at_head;        /* under mu: the last read found nothing new */
    int64_t    last_ts;        /* under mu: event time of the last update read (s; 0 unknown) */
    int64_t    waiting_since_ms; /* under mu: wall ms since the start position is awaited; 0 no */
    char       waiting_why[512]; /* under mu: why (the seek's WH_ERR_NOT_YET sentence) */
    atomic_bool stop;
    atomic_bool dead;          /* the thread ended on an error (err is written) */
    bool       flow_level;     /* written before dead: the error is its flows' alone */
    int        rc;             /* written before dead: the error's WH_ERR_* */
    atomic_llong beat_ms;      /* last time the thread came back from its mapper */
    pub_schema_seen schemas;   /* the thread's: schema_ids whose names are in pub->schemas */
    pub_shared_enc shared;     /* the thread's: the batch encoded once for its members */
    char       err[1024];
    uint64_t   id;
    int64_t    created_ms;     /* loop thread: wh_mono_ms() when made (gathering, place) */
    int64_t    joined_ms;      /* loop thread: when a flow last joined */
    atomic_bool capped;        /* a catch-up caravan: the read-rate cap applies (loop writes) */
    atomic_ullong bytes_read;  /* log bytes its mapper read (its thread writes) */
} pub_caravan;

struct pub_caravans {
    publisher   *pub;
    pub_caravan *list;         /* newest first */
    uint64_t     next_id;
    atomic_bool  leavers;      /* a caravan thread dropped a member: collect */
    atomic_ullong log_bytes_read;  /* log bytes read by every reader since start */
    atomic_ullong readers_started; /* caravan threads started since start */
};

/* ---- the member array (c->mu held) ---------------------------------------------------------- */

static void members_check(pub_caravan *c)
{
    assert(pub_mutex_held(&c->mu));
    assert(c->nmembers + c->nleavers <= c->capmembers);
    (void)c;
}

/* Room for extra more flows. */
static bool members_reserve(pub_caravan *c, uint32_t extra)
{
    uint32_t need = c->nmembers + c->nleavers + extra;
    if (need <= c->capmembers)
        return true;
    uint32_t cap = c->capmembers ? c->capmembers * 2 : 8;
    if (cap < need)
        cap = need;
    pub_flow **mm = realloc(c->members, cap * sizeof *mm);
    if (!mm)
        return false;
    c->members = mm;
    c->capmembers = cap;
    return true;
}

/* Appends f to the members (room reserved); the first leaver moves to the end. */
static void members_add(pub_caravan *c, pub_flow *f)
{
    members_check(c);
    assert(c->nmembers + c->nleavers < c->capmembers);
    if (c->nleavers)
        c->members[c->nmembers + c->nleavers] = c->members[c->nmembers];
    c->members[c->nmembers++] = f;
}

/* Turns member k into a leaver. */
static void members_drop(pub_caravan *c, uint32_t k)
{
    members_check(c);
    assert(k < c->nmembers);
    pub_flow *f = c->members[k];
    c->members[k] = c->members[c->nmembers - 1];
    c->members[c->nmembers - 1] = f;
    c->nmembers--;
    c->nleavers++;
}

/* Removes f, member or leaver; false if it is neither. */
static bool members_remove(pub_caravan *c, pub_flow *f)
{
    members_check(c);
    uint32_t n = c->nmembers + c->nleavers, k = 0;
    while (k < n && c->members[k] != f)
        k++;
    if (k == n)
        return false;
    if (k < c->nmembers) {
        /* Fill the hole with the last member, and that one's slot with the last leaver. */
        c->members[k] = c->members[c->nmembers - 1];
        c->members[c->nmembers - 1] = c->members[n - 1];
        c->nmembers--;
    } else {
        c->members[k] = c->members[n - 1];
        c->nleavers--;
    }
    return true;
}

/* ---- the caravan thread --------------------------------------------------------------------- */

/* Whether a seek error belongs to the caravan's flows alone (their
 * position), not to the log everybody reads (docs/RUNBOOK.md "A flow
 * failed"): a position purged from the log, one this mapper cannot use, or
 * one it cannot parse. Seeking to the oldest position is never one. */
static bool seek_error_is_flow_level(const pub_caravan *c, int rc)
{
    return c->start.set && (rc == WH_ERR_PURGED || rc == WH_ERR_INVALID || rc == WH_ERR_PARSE);
}

/* Creates the mapper and seeks to where the caravan begins; *seeking tells
 * whether a failure came from the seek. */
static int caravan_open(pub_caravan *c, wh_mapper **m, bool *seeking, char *err, size_t errlen)
{
    const pub_config *cfg = &c->set->pub->cfg;
    *seeking = false;
    int rc = wh_mapper_create(cfg->mapper_name, cfg->mapper_options, cfg->shard, true, m, err,
                              errlen);
    if (rc != WH_OK)
        return rc;
    *seeking = true;
    /* Positions from ZooKeeper went through wh_mapper_localize (pub_zk.c):
     * a physical part left here belongs to this copy's log. */
    return wh_mapper_seek(*m, &c->start, c->start_incl, err, errlen);
}

/* The caravan's start position is not in this copy's log yet (a replica
 * that lags, WH_ERR_NOT_YET): wait and seek again, never starting from a
 * later point. Logged once each way and shown in the status file
 * (pub_caravans_view). Returns the last seek's result. */
static int caravan_wait_arrival(pub_caravan *c, wh_mapper *m, int rc, char *err, size_t errlen)
{
    int64_t since = wh_wall_ms();
    char at[WH_POS_LOGICAL_TEXT_MAX];
    wh_pos_format_logical(&c->start, at, sizeof at);
    pub_mutex_lock(&c->mu);
    wh_warn(WH_AREA_CARAVAN, "caravan %llu (app %s%s) waits: %s; seeking again every %d ms "
            "until it arrives", (unsigned long long)c->id,
            c->nmembers ? c->members[0]->app : "?", c->nmembers > 1 ? " and others" : "", err,
            CARAVAN_ARRIVAL_POLL_MS);
    c->waiting_since_ms = since;
    snprintf(c->waiting_why, sizeof c->waiting_why, "%s", err);
    while (rc == WH_ERR_NOT_YET && !atomic_load(&c->stop)) {
        pub_mutex_wait(&c->mu, &c->cond, CARAVAN_ARRIVAL_POLL_MS);
        pub_mutex_unlock(&c->mu);
        atomic_store(&c->beat_ms, wh_mono_ms());
        rc = wh_mapper_seek(m, &c->start, c->start_incl, err, errlen);
        pub_mutex_lock(&c->mu);
    }
    c->waiting_since_ms = 0;
    c->waiting_why[0] = '\0';
    pub_mutex_unlock(&c->mu);
    if (rc == WH_OK)
        wh_info(WH_AREA_CARAVAN, "caravan %llu: position %s arrived in this copy's log after "
                "%lld ms: reading", (unsigned long long)c->id, at,
                (long long)(wh_wall_ms() - since));
    return rc;
}

/* The first member of c that still needs its start recorded, copied into
 * app (c->mu held); false when none. */
static bool member_needing_start(pub_caravan *c, char *app, size_t len)
{
    bool found = false;
    for (uint32_t k = 0; k < c->nmembers && !found; k++) {
        pub_flow *f = c->members[k];
        pub_mutex_lock(&f->mu);
        found = f->needs_start && (app[0] == '\0' || strcmp(app, f->app) == 0);
        if (found)
            snprintf(app, len, "%s", f->app);
        pub_mutex_unlock(&f->mu);
    }
    return found;
}

/* A new app's start is recorded before it receives anything (docs/ZOOKEEPER.md,
 * "A new app's start"). Before the first batch of a caravan that began at
 * the oldest position, whose members have no position: each member's start,
 * the position of the batch's first update, goes to ZooKeeper as "start,
 * not yet delivered", and the batch waits until ZooKeeper has confirmed the
 * write; the member's acknowledged position is that start from then on.
 * Members that join meanwhile get theirs too; one that leaves is no longer
 * waited for. Called and returns with c->mu held, which it releases while
 * it asks the ZooKeeper agent (whose lock is never held with a caravan's).
 * Returns false when the caravan stops first. */
static bool caravan_record_starts(pub_caravan *c, const wh_update *first)
{
    publisher *p = c->set->pub;
    wh_pos start;
    if (!wh_pos_from_view(&start, &first->pos))
        return true;   /* a position too long: the delivery fails and says so */
    for (;;) {
        char app[512] = "";
        if (!member_needing_start(c, app, sizeof app))
            return true;
        pub_mutex_unlock(&c->mu);
        uint64_t gen = pub_zk_note_start(p->zk, app, &start);
        if (gen == 0)
            pub_fatal(p, "out of memory recording the start of app %s", app);
        bool written = false, waiting = gen != 0;
        while (waiting && !(written = pub_zk_written(p->zk, app, gen)) &&
               !atomic_load(&c->stop)) {
            nanosleep(&(struct timespec){ 0, 5 * 1000000 }, NULL);
            atomic_store(&c->beat_ms, wh_mono_ms());   /* waiting for ZooKeeper, not stuck */
            pub_mutex_lock(&c->mu);
            waiting = member_needing_start(c, app, sizeof app);   /* it may have left */
            pub_mutex_unlock(&c->mu);
        }
        pub_mutex_lock(&c->mu);
        if (atomic_load(&c->stop) || gen == 0)
            return false;
        for (uint32_t k = 0; written && k < c->nmembers; k++) {
            pub_flow *f = c->members[k];
            pub_mutex_lock(&f->mu);
            if (f->needs_start && strcmp(f->app, app) == 0) {
                f->acked = start;
                f->acked_start = true;
                f->needs_start = false;
            }
            pub_mutex_unlock(&f->mu);
        }
        if (written)
            wh_debug(WH_AREA_CARAVAN, "app %s: its start is recorded in ZooKeeper", app);
    }
}

static bool member_full(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    bool full = pub_flow_window_full_locked(f);
    pub_mutex_unlock(&f->mu);
    return full;
}

/* Drops member k (c->mu held); the loop collects it and gives it a reader of its own. */
static void caravan_drop(pub_caravan *c, uint32_t k, const char *why)
{
    wh_info(WH_AREA_CARAVAN, "app %s leaves caravan %llu: %s", c->members[k]->app,
            (unsigned long long)c->id, why);
    members_drop(c, k);
    atomic_store(&c->set->leavers, true);
    pub_wake(c->set->pub);
}

/* Before a batch (c->mu held): members whose window is full get
 * caravan_wait_ms to drain, then leave; a lone member with a full window
 * simply waits, it is the slow one. */
static void caravan_wait_windows(pub_caravan *c)
{
    publisher *p = c->set->pub;
    int64_t deadline = wh_mono_ms() + atomic_load(&p->caravan_wait_ms);
    for (;;) {
        bool any_full = false;
        for (uint32_t k = 0; k < c->nmembers && !any_full; k++)
            any_full = member_full(c->members[k]);
        if (!any_full || wh_mono_ms() >= deadline || atomic_load(&c->stop))
            break;
        pub_mutex_wait(&c->mu, &c->cond, 10);
    }
    for (uint32_t k = 0; k < c->nmembers && c->nmembers > 1;) {
        if (member_full(c->members[k]))
            caravan_drop(c, k, "its subscriber is slower than the others (window full)");
        else
            k++;
    }
    while (c->nmembers == 1 && !atomic_load(&c->stop) && member_full(c->members[0]))
        pub_mutex_wait(&c->mu, &c->cond, 50);
}

/* Adds the column names of the tables in ups[0..n) that this reader meets
 * for the first time to the publisher's names (pub_schema.h), so that every
 * flow's filter is checked against all tables read so far. */
static void caravan_note_schemas(pub_caravan *c, const wh_update *ups, int n)
{
    pub_schemas *names = c->set->pub->schemas;
    for (int i = 0; names && i < n; i++) {
        const wh_update *u = &ups[i];
        if ((!u->has_before && !u->has_after) || pub_schema_seen_has(&c->schemas, u))
            continue;
        if (!pub_schemas_note(names, u) || !pub_schema_seen_add(&c->schemas, u))
            wh_warn(WH_AREA_CARAVAN, "caravan %llu: out of memory recording the columns of "
                    "table %s", (unsigned long long)c->id, u->table ? u->table : "?");
    }
}

static bool member_backlogged(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    bool backlogged = pub_flow_backlogged_locked(f);
    pub_mutex_unlock(&f->mu);
    return backlogged;
}

/* Before a batch (c->mu held): when the loop has not taken a member's large
 * output yet, it is behind; wait for it rather than queue up to a window per
 * flow, as a reader that sent by itself would. Nobody leaves for it: the
 * subscribers are not the slow ones. The loop nudges us when it takes such
 * an output (pub_caravan_nudge); the short timeout covers a missed nudge. */
static void caravan_wait_loop(pub_caravan *c)
{
    for (;;) {
        bool behind = false;
        for (uint32_t k = 0; k < c->nmembers && !behind; k++)
            behind = member_backlogged(c->members[k]);
        if (!behind || atomic_load(&c->stop))
            return;
        pub_mutex_wait(&c->mu, &c->cond, 1);
    }
}

/* Encodes a batch for every member and records how far the caravan has read
 * (c->mu held). A member whose filter does not fit a table's schema stops
 * there and leaves (the loop stops its flow). Returns 0 or a fatal error
 * described in err. */
static int caravan_deliver(pub_caravan *c, const wh_update *ups, int n, char *err, size_t errlen)
{
    bool ready = false;
    int rc = WH_OK;
    caravan_note_schemas(c, ups, n);
    /* Encoded once for all members; a lone member encodes for itself (no copy kept). */
    pub_shared_enc *shared = c->nmembers > 1 ? &c->shared : NULL;
    if (shared)
        pub_shared_enc_begin(shared, ups, n);
    for (uint32_t k = 0; k < c->nmembers && rc == WH_OK;) {
        pub_flow *f = c->members[k];
        pub_mutex_lock(&f->mu);
        pub_schemas *names = c->set->pub->schemas;
        rc = f->boot ? pub_boot_encode_locked(f, names, ups, n, &ready, err, errlen)
                     : pub_flow_encode_shared_locked(f, names, ups, n, shared, &ready, err,
                                                     errlen);
        int stop = f->stop_pending;
        pub_mutex_unlock(&f->mu);
        if (stop)   /* it cannot take an update: the loop fails the flow */
            caravan_drop(c, k, stop == WH_ERR_CONFIG ? "its filter does not fit a table's schema"
                                                     : "its subscriber cannot take an update");
        else
            k++;
    }
    if (ready)
        pub_wake(c->set->pub);   /* the loop sends */
    wh_pos_from_view(&c->last, &ups[n - 1].pos);
    c->reading = true;
    c->at_head = false;
    c->last_ts = ups[n - 1].ts;
    return rc;
}

/* A position's text for messages: its physical form, or the logical one for
 * a position that has only that (another copy's, docs/FAILOVER.md). */
static const char *pos_text(const wh_pos *p, char *buf, size_t len)
{
    if (!p->has_log_name && p->has_logical)
        wh_pos_format_logical(p, buf, len);
    else
        wh_pos_format_physical(p, buf, len);
    return buf;
}

/* Whether a member's bootstrap chunk waits for the stream: a hint that
 * shortens the wait for new log data. */
static bool caravan_boot_waiting(pub_caravan *c)
{
    bool any = false;
    pub_mutex_lock(&c->mu);
    for (uint32_t k = 0; k < c->nmembers && !any; k++)
        any = pub_boot_waiting(c->members[k]->boot);
    pub_mutex_unlock(&c->mu);
    return any;
}

/* The reader is at the head of the log (c->mu held): it stands in this
 * copy's log (pub_boot_arrived_locked: bootstrapping members' workers may
 * read) and members' bootstrap chunks read before the read began go out now
 * (pub_boot_idle_locked); a
 * member whose filter does not fit the chunk's table is dropped, as in
 * caravan_deliver. */
static int caravan_boot_idle(pub_caravan *c, int64_t read_start, char *err, size_t errlen)
{
    bool ready = false;
    int rc = WH_OK;
    for (uint32_t k = 0; k < c->nmembers && rc == WH_OK;) {
        pub_flow *f = c->members[k];
        int stop = 0;
        if (pub_boot_active(f->boot)) {
            pub_mutex_lock(&f->mu);
            pub_boot_arrived_locked(f);
            if (pub_boot_waiting(f->boot) && !pub_flow_window_full_locked(f))
                rc = pub_boot_idle_locked(f, c->set->pub->schemas, read_start, &ready, err,
                                          errlen);
            stop = f->stop_pending;
            pub_mutex_unlock(&f->mu);
        }
        if (stop)
            caravan_drop(c, k, stop == WH_ERR_CONFIG ? "its filter does not fit a table's schema"
                                                     : "its subscriber cannot take an update");
        else
            k++;
    }
    if (ready)
        pub_wake(c->set->pub);
    return rc;
}

static void caravan_died(pub_caravan *c, int rc, bool flow_level, const char *err)
{
    const pub_config *cfg = &c->set->pub->cfg;
    char where[WH_POS_LOGICAL_TEXT_MAX] = "the oldest position";
    if (c->last.set)
        pos_text(&c->last, where, sizeof where);
    else if (c->start.set)
        pos_text(&c->start, where, sizeof where);
    snprintf(c->err, sizeof c->err, "mapper %s (reading shard %s %s %s): %s",
             cfg->mapper_name, cfg->shard, !c->reading && c->start_incl ? "from" : "after",
             where, err[0] ? err : wh_err_str(rc));
    c->rc = rc;
    c->flow_level = flow_level;
    atomic_store(&c->dead, true);
    pub_wake(c->set->pub);
}

/* Adds the log bytes the mapper read since the last call (*seen) to the
 * counters, and returns how long a catch-up caravan pauses before its next
 * read under delivery.catchup_read_bytes_per_s (0 for the lead). */
static int64_t caravan_account(pub_caravan *c, const wh_mapper *m, uint64_t *seen,
                               pub_read_rate *rr)
{
    uint64_t n = m->log_bytes >= *seen ? m->log_bytes - *seen : 0;
    *seen = m->log_bytes;
    if (n) {
        atomic_fetch_add(&c->set->log_bytes_read, n);
        atomic_fetch_add(&c->bytes_read, n);
    }
    int64_t rate = atomic_load(&c->capped) ? atomic_load(&c->set->pub->catchup_read_bytes_per_s)
                                           : 0;
    return pub_read_rate_take(rr, n, rate, wh_mono_ms());
}

/* The most updates to read in one batch: delivery.batch_size, and for a
 * capped caravan no more than about a tenth of a second of its rate (by the
 * last batch's bytes per update), so that its reading is smooth rather
 * than a large batch and a long pause. */
static int caravan_batch_max(pub_caravan *c, uint64_t bytes_per_update)
{
    int64_t max = atomic_load(&c->set->pub->batch_size);
    int64_t rate = atomic_load(&c->capped) ? atomic_load(&c->set->pub->catchup_read_bytes_per_s)
                                           : 0;
    if (rate > 0 && bytes_per_update > 0) {
        int64_t fit = rate / 10 / (int64_t)bytes_per_update;
        if (fit < max)
            max = fit < 1 ? 1 : fit;
    }
    return (int)max;
}

/* Sleeps ms (the read-rate cap) without c->mu, in slices that keep the
 * heartbeat going; ends early on stop or once the caravan leads. */
static void caravan_pause(pub_caravan *c, int64_t ms)
{
    int64_t until = wh_mono_ms() + ms;
    while (ms > 0 && !atomic_load(&c->stop) && atomic_load(&c->capped)) {
        int64_t left = until - wh_mono_ms();
        if (left <= 0)
            break;
        if (left > 50)
            left = 50;
        nanosleep(&(struct timespec){ left / 1000, (left % 1000) * 1000000 }, NULL);
        atomic_store(&c->beat_ms, wh_mono_ms());
    }
}

static void *caravan_main(void *arg)
{
    pub_caravan *c = arg;
    publisher *p = c->set->pub;
    wh_mapper *m = NULL;
    char err[1024] = "";
    bool seeking, flow_level = false;
    int rc = caravan_open(c, &m, &seeking, err, sizeof err);
    if (rc == WH_ERR_NOT_YET && seeking)
        rc = caravan_wait_arrival(c, m, rc, err, sizeof err);
    if (rc != WH_OK)
        flow_level = seeking && seek_error_is_flow_level(c, rc);
    uint64_t seen = 0;   /* m->log_bytes accounted; the seek's reading counts too */
    int64_t pause = 0;
    uint64_t bytes_per_update = 0;   /* of the last batch: sizes capped batches */
    pub_read_rate rr;
    pub_read_rate_init(&rr, wh_mono_ms());
    while (rc == WH_OK && !atomic_load(&c->stop)) {
        const wh_update *ups;
        caravan_pause(c, pause);
        int64_t read_start = wh_mono_ms();
        uint64_t before = seen;
        int max = caravan_batch_max(c, bytes_per_update);
        int n = m->ops->next_batch(m, &ups, max, caravan_boot_waiting(c) ? 2 : 100, err,
                                   sizeof err);
        atomic_store(&c->beat_ms, wh_mono_ms());
        pause = caravan_account(c, m, &seen, &rr);
        if (n > 0 && seen > before)
            bytes_per_update = (seen - before) / (uint64_t)n + 1;
        if (n == WH_ERR_AGAIN || n == WH_ERR_EOF) {
            pub_mutex_lock(&c->mu);
            c->at_head = true;
            rc = caravan_boot_idle(c, read_start, err, sizeof err);
            pub_mutex_unlock(&c->mu);
            if (n == WH_ERR_EOF)
                nanosleep(&(struct timespec){ 0, 20 * 1000000 }, NULL);
            continue;
        }
        if (n < 0) {
            rc = n;
            /* The start position went from the log between seek and read. */
            pub_mutex_lock(&c->mu);
            flow_level = !c->reading && n == WH_ERR_PURGED && c->start.set;
            pub_mutex_unlock(&c->mu);
            break;
        }
        atomic_fetch_add_explicit(&p->updates_decoded, (unsigned long long)n,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&p->batches_decoded, 1, memory_order_relaxed);
        pub_mutex_lock(&c->mu);
        caravan_wait_windows(c);
        caravan_wait_loop(c);
        if (!c->reading && !c->start.set && !caravan_record_starts(c, &ups[0])) {
            pub_mutex_unlock(&c->mu);
            break;
        }
        rc = caravan_deliver(c, ups, n, err, sizeof err);
        pub_mutex_unlock(&c->mu);
    }
    if (rc != WH_OK && !atomic_load(&c->stop))
        caravan_died(c, rc, flow_level, err);
    wh_mapper_destroy(m);
    return NULL;
}

/* ---- one caravan (loop thread) ----------------------------------------------------------------- */

static pub_caravan *caravan_new(pub_caravans *s, const wh_pos *start, bool start_incl)
{
    pub_caravan *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->set = s;
    c->start = *start;
    c->start_incl = start_incl;
    c->last = *start;
    c->id = ++s->next_id;
    c->created_ms = c->joined_ms = wh_mono_ms();
    atomic_init(&c->capped, false);
    atomic_init(&c->bytes_read, 0);
    atomic_init(&c->stop, false);
    atomic_init(&c->dead, false);
    atomic_init(&c->beat_ms, wh_mono_ms());
    pub_mutex_init(&c->mu);
    pthread_cond_init(&c->cond, NULL);
    pub_shared_enc_init(&c->shared);
    return c;
}

/* Stops and joins the thread, then frees; c must have no flow left. */
static void caravan_free(pub_caravan *c)
{
    if (!c)
        return;
    if (c->started) {
        atomic_store(&c->stop, true);
        pub_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cond);
        pub_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    assert(c->nmembers == 0 && c->nleavers == 0);
    pub_schema_seen_free(&c->schemas);
    pub_shared_enc_free(&c->shared);
    pub_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c->members);
    free(c);
}

/* Whether a member or leaver of c is bootstrapping (c->mu held): such a
 * flow reads alone, so that emitting its chunks never delays other flows
 * (docs/BOOTSTRAP.md); it may share a caravan again once its bootstrap is done. */
static bool caravan_has_boot(const pub_caravan *c)
{
    for (uint32_t k = 0; k < c->nmembers + c->nleavers; k++)
        if (pub_boot_active(c->members[k]->boot))
            return true;
    return false;
}

/* Takes f in if the caravan stands at f's resume position (a batch boundary):
 * the next update both need is the same (a recorded start is read
 * inclusively, so it matches only a caravan that has not read yet). */
static bool caravan_join(pub_caravan *c, pub_flow *f)
{
    bool ok = false;
    assert(!f->caravan && f->state == FLOW_STREAMING);
    pub_mutex_lock(&c->mu);
    bool incl = !c->reading && c->start_incl;
    bool apart = c->nmembers + c->nleavers > 0 &&
                 (pub_boot_active(f->boot) || caravan_has_boot(c));
    if (!atomic_load(&c->dead) && !apart && wh_pos_equal(&c->last, &f->resume) &&
        incl == f->resume_start && members_reserve(c, 1)) {
        pub_mutex_lock(&f->mu);
        pub_flow_rewind_locked(f, &f->resume, f->resume_start);
        pub_mutex_unlock(&f->mu);
        members_add(c, f);
        f->caravan = c;
        c->joined_ms = wh_mono_ms();
        ok = true;
    }
    pub_mutex_unlock(&c->mu);
    return ok;
}

/* Moves every member of from into into when both have read up to the same
 * position; returns how many moved. */
static uint32_t caravan_merge(pub_caravan *into, pub_caravan *from)
{
    assert(into != from);
    /* Two caravan locks at once, taken only if free: a caravan busy
     * delivering a batch is not waited for (the loop thread must not
     * stall), the next tick tries again. */
    uint32_t moved = 0;
    if (!pub_mutex_trylock(&into->mu))
        return 0;
    if (!pub_mutex_trylock(&from->mu)) {
        pub_mutex_unlock(&into->mu);
        return 0;
    }
    /* Both threads are outside their delivery (we hold their locks), so
     * each member of either has been handed exactly the updates up to its
     * caravan's last position: when those are equal, into's next batch is
     * what from's members need next. */
    if (atomic_load(&into->dead) || atomic_load(&from->dead) || !into->reading ||
        !from->reading || from->nmembers == 0 || into->nmembers == 0 ||
        !wh_pos_equal(&into->last, &from->last) || caravan_has_boot(into) ||
        caravan_has_boot(from))
        goto out;
    /* A member still far behind on acknowledgements would only be dropped
     * again: merge once the windows are at most half full. */
    uint64_t half = (uint64_t)atomic_load(&into->set->pub->window_bytes) / 2;
    for (uint32_t k = 0; k < from->nmembers; k++) {
        pub_flow *f = from->members[k];
        pub_mutex_lock(&f->mu);
        bool behind = pub_flow_unacked_bytes_locked(f) > half;
        pub_mutex_unlock(&f->mu);
        if (behind)
            goto out;
    }
    if (!members_reserve(into, from->nmembers))
        goto out;   /* try again at the next tick */
    while (from->nmembers > 0) {
        pub_flow *f = from->members[0];
        members_remove(from, f);
        members_add(into, f);
        f->caravan = into;
        moved++;
    }
    pthread_cond_broadcast(&from->cond);   /* a lone member's wait ends: nothing to wait for */
out:
    pub_mutex_unlock(&from->mu);
    pub_mutex_unlock(&into->mu);
    return moved;
}

/* ---- the set (loop thread) ---------------------------------------------------------------------- */

pub_caravans *pub_caravans_new(publisher *p)
{
    pub_caravans *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pub = p;
    atomic_init(&s->leavers, false);
    atomic_init(&s->log_bytes_read, 0);
    atomic_init(&s->readers_started, 0);
    return s;
}

void pub_caravans_free(pub_caravans *s)
{
    if (!s)
        return;
    while (s->list) {
        pub_caravan *c = s->list;
        s->list = c->next;
        caravan_free(c);
    }
    free(s);
}

/* Puts f in a caravan standing at its resume position; false if none. */
static bool place_join(pub_caravans *s, pub_flow *f)
{
    for (pub_caravan *c = s->list; c; c = c->next)
        if (caravan_join(c, f)) {
            wh_debug(WH_AREA_CARAVAN, "app %s joins caravan %llu", f->app,
                     (unsigned long long)c->id);
            return true;
        }
    return false;
}

/* Creates a caravan at f's resume position, with f; it is not started yet. */
static void place_new(pub_caravans *s, pub_flow *f)
{
    pub_caravan *c = caravan_new(s, &f->resume, f->resume_start);
    if (!c || !caravan_join(c, f)) {
        caravan_free(c);
        pub_fatal(s->pub, "cannot start a reader thread for app %s", f->app);
        return;
    }
    c->next = s->list;
    s->list = c;
    wh_debug(WH_AREA_CARAVAN, "app %s starts caravan %llu", f->app, (unsigned long long)c->id);
}

static uint32_t caravans_count(const pub_caravans *s)
{
    uint32_t n = 0;
    for (const pub_caravan *c = s->list; c; c = c->next)
        n++;
    return n;
}

/* Whether f still needs a caravan. */
static bool unplaced(const pub_flow *f)
{
    return f->state == FLOW_STREAMING && !f->caravan;
}

/* The unplaced flow that has waited longest for a caravan (then list order). */
static pub_flow *longest_waiting(pub_flow *flows)
{
    pub_flow *best = NULL;
    for (pub_flow *f = flows; f; f = f->next)
        if (unplaced(f) && (!best || (f->caravan_waiting_ms && (!best->caravan_waiting_ms ||
                                      f->caravan_waiting_ms < best->caravan_waiting_ms))))
            best = f;
    return best;
}

/* delivery.max_caravans is reached: f waits for a caravan, first come first
 * served (said once, and listed in the status file). */
static void place_wait(pub_caravans *s, pub_flow *f, uint32_t count)
{
    if (f->caravan_waiting_ms)
        return;
    f->caravan_waiting_ms = wh_wall_ms();
    char at[WH_POS_LOGICAL_TEXT_MAX] = "the oldest position";
    if (f->resume.set)
        wh_pos_format_physical(&f->resume, at, sizeof at);
    wh_warn(WH_AREA_CARAVAN, "app %s waits for a reader: no caravan stands at its position %s "
            "and %u caravans run, the cap delivery.max_caravans (%lld); it gets the next one "
            "that ends, in the order flows began to wait", f->app, at, count,
            (long long)atomic_load(&s->pub->max_caravans));
}

/* Whether f is about to stream from where a new caravan starts: connecting
 * for the first time (not after a failure), at the same resume position. */
static bool flow_coming(const pub_flow *f, const pub_caravan *c)
{
    bool coming = f->state == FLOW_CONNECTING || f->state == FLOW_HELLO ||
                  (f->state == FLOW_BACKOFF && f->backoff_until == 0);
    return coming && f->resume_start == c->start_incl && wh_pos_equal(&f->resume, &c->start);
}

/* Whether the new caravan c may start reading: it has gathered the flows
 * that start with it. It waits delivery.caravan_gather_ms after the last
 * flow joined, while a flow at its start position is still connecting, and
 * while the ZooKeeper agent is reading apps and instances that changed
 * (their flows do not exist yet), but at most GATHER_MAX_FACTOR times that
 * long after it was made. */
#define GATHER_MAX_FACTOR 25
static bool caravan_gathered(pub_caravans *s, pub_caravan *c, pub_flow *flows, int64_t now)
{
    int64_t g = atomic_load(&s->pub->caravan_gather_ms);
    if (g <= 0 || now - c->created_ms >= GATHER_MAX_FACTOR * g)
        return true;
    if (now - c->joined_ms < g)
        return false;
    if (s->pub->zk && pub_zk_assign_settling(s->pub->zk))
        return false;
    for (pub_flow *f = flows; f; f = f->next)
        if (flow_coming(f, c))
            return false;
    return true;
}

void pub_caravans_place(pub_caravans *s, pub_flow *flows)
{
    /* First every flow that finds a caravan at its position (one not
     * reading yet included), then new caravans for the others, those that
     * have waited longest first, up to the cap. */
    for (pub_flow *f = flows; f; f = f->next)
        if (unplaced(f) && place_join(s, f) && f->caravan_waiting_ms) {
            wh_info(WH_AREA_CARAVAN, "app %s has a reader after waiting %lld ms for one",
                    f->app, (long long)(wh_wall_ms() - f->caravan_waiting_ms));
            f->caravan_waiting_ms = 0;
        }
    int64_t cap = atomic_load(&s->pub->max_caravans);
    uint32_t count = caravans_count(s);
    pub_flow *f;
    while ((f = longest_waiting(flows)) != NULL && (cap <= 0 || count < (uint64_t)cap)) {
        if (f->caravan_waiting_ms)
            wh_info(WH_AREA_CARAVAN, "app %s has a reader after waiting %lld ms for one",
                    f->app, (long long)(wh_wall_ms() - f->caravan_waiting_ms));
        f->caravan_waiting_ms = 0;
        place_new(s, f);
        if (atomic_load(&s->pub->has_fatal))
            return;
        count++;
        /* The others at the same position join it. */
        for (pub_flow *g = flows; g; g = g->next)
            if (unplaced(g) && place_join(s, g))
                g->caravan_waiting_ms = 0;
    }
    for (f = flows; f; f = f->next)
        if (unplaced(f))
            place_wait(s, f, count);
    /* Start the caravans that have gathered their flows: one that read
     * before the others were placed would have left its start position,
     * and flows at the same position would start a second reader there. */
    int64_t now = wh_mono_ms();
    for (pub_caravan *c = s->list; c; c = c->next) {
        if (c->started)
            continue;
        atomic_store(&c->beat_ms, now);   /* gathering, not stuck */
        if (!caravan_gathered(s, c, flows, now))
            continue;
        if (pthread_create(&c->thread, NULL, caravan_main, c) != 0) {
            pub_fatal(s->pub, "cannot start a reader thread for app %s",
                      c->nmembers ? c->members[0]->app : "?");
            return;
        }
        c->started = true;
        atomic_fetch_add(&s->readers_started, 1);
        wh_debug(WH_AREA_CARAVAN, "caravan %llu starts reading with %u flow%s",
                 (unsigned long long)c->id, c->nmembers, c->nmembers == 1 ? "" : "s");
    }
}

bool pub_caravans_collect(pub_caravans *s)
{
    if (!atomic_exchange(&s->leavers, false))
        return false;
    for (pub_caravan *c = s->list; c; c = c->next) {
        pub_mutex_lock(&c->mu);
        while (c->nleavers > 0) {
            pub_flow *f = c->members[c->nmembers + c->nleavers - 1];
            assert(f->caravan == c);
            c->nleavers--;
            f->caravan = NULL;
            /* Continue from what it already has. */
            pub_mutex_lock(&f->mu);
            f->resume = f->processed;
            f->resume_start = f->processed_start;
            pub_mutex_unlock(&f->mu);
        }
        pub_mutex_unlock(&c->mu);
    }
    return true;
}

void pub_caravan_leave(pub_caravans *s, pub_flow *f)
{
    pub_caravan *c = f->caravan;
    (void)s;
    if (!c)
        return;
    pub_mutex_lock(&c->mu);
    bool found = members_remove(c, f);
    assert(found);
    (void)found;
    f->caravan = NULL;
    pthread_cond_broadcast(&c->cond);   /* a wait for f's window ends */
    pub_mutex_unlock(&c->mu);
}

void pub_caravan_kick(pub_flow *f)
{
    pub_caravan *c = f->caravan;
    if (!c)
        return;
    pub_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cond);
    pub_mutex_unlock(&c->mu);
}

void pub_caravan_nudge(pub_flow *f)
{
    pub_caravan *c = f->caravan;
    if (!c || !pub_mutex_trylock(&c->mu))
        return;   /* busy delivering: not waiting */
    pthread_cond_broadcast(&c->cond);
    pub_mutex_unlock(&c->mu);
}

/* Orders two positions of the same log: < 0 when a comes before b, 0 equal,
 * > 0 after; *known false when they cannot be compared (one has a file
 * name and the other not, or only logical parts). Unset means the oldest
 * position. File names compare by length first, then bytes: binlog names
 * end in a counter that grows a digit past .999999. */
static int pos_order(const wh_pos *a, const wh_pos *b, bool *known)
{
    *known = true;
    if (!a->set || !b->set)
        return (int)a->set - (int)b->set;
    if (a->has_log_name != b->has_log_name || (!a->has_log_name && a->has_logical)) {
        *known = false;
        return 0;
    }
    if (a->has_log_name) {
        size_t la = strlen(a->log_name), lb = strlen(b->log_name);
        if (la != lb)
            return la < lb ? -1 : 1;
        int c = strcmp(a->log_name, b->log_name);
        if (c)
            return c;
    }
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Marks the catch-up caravans, to which delivery.catchup_read_bytes_per_s
 * applies: every started caravan but the lead (the one furthest ahead) and
 * those at the head of the log. When two positions cannot be ordered no
 * caravan is capped. */
static void caravans_mark_lead(pub_caravans *s)
{
    pub_caravan *lead = NULL;
    wh_pos lead_pos;
    bool known = true;
    for (pub_caravan *c = s->list; c && known; c = c->next) {
        if (!c->started)
            continue;
        pub_mutex_lock(&c->mu);
        wh_pos at = c->last;
        pub_mutex_unlock(&c->mu);
        if (!lead || pos_order(&at, &lead_pos, &known) > 0) {
            lead = c;
            lead_pos = at;
        }
    }
    for (pub_caravan *c = s->list; c; c = c->next) {
        pub_mutex_lock(&c->mu);
        bool capped = known && c->started && c != lead && !c->at_head;
        pub_mutex_unlock(&c->mu);
        if (capped != atomic_load(&c->capped))
            wh_debug(WH_AREA_CARAVAN, "caravan %llu is %s", (unsigned long long)c->id,
                     capped ? "a catch-up caravan: its read rate is capped"
                            : "the lead or at the head: its read rate is not capped");
        atomic_store(&c->capped, capped);
    }
}

void pub_caravans_counters(pub_caravans *s, uint64_t *log_bytes_read, uint64_t *readers_started)
{
    *log_bytes_read = atomic_load(&s->log_bytes_read);
    *readers_started = atomic_load(&s->readers_started);
}

void pub_caravans_merge(pub_caravans *s)
{
    caravans_mark_lead(s);
    for (pub_caravan *a = s->list; a; a = a->next)
        for (pub_caravan *b = a->next; b; b = b->next) {
            /* the older caravan stays: its members are the majority as a rule */
            pub_caravan *into = a->id < b->id ? a : b, *from = into == a ? b : a;
            uint32_t n = caravan_merge(into, from);
            if (n)
                wh_info(WH_AREA_CARAVAN, "caravan %llu merges into caravan %llu (%u flow%s): "
                        "both read up to the same position",
                        (unsigned long long)from->id, (unsigned long long)into->id, n,
                        n == 1 ? "" : "s");
        }
}

void pub_caravans_reap(pub_caravans *s)
{
    for (pub_caravan **pp = &s->list; *pp;) {
        pub_caravan *c = *pp;
        pub_mutex_lock(&c->mu);
        bool empty = c->nmembers == 0 && c->nleavers == 0;
        pub_mutex_unlock(&c->mu);
        if (empty) {
            *pp = c->next;
            wh_debug(WH_AREA_CARAVAN, "caravan %llu ends", (unsigned long long)c->id);
            caravan_free(c);
        } else {
            pp = &c->next;
        }
    }
}

const char *pub_caravans_failed(pub_caravans *s)
{
    for (pub_caravan *c = s->list; c; c = c->next)
        if (atomic_load(&c->dead) && !c->flow_level)
            return c->err;
    return NULL;
}

/* The app's policy "on_purged":"oldest": f resumes from the oldest position
 * still in the log; what lay between its position and that one is lost,
 * which the WARN says. */
static void flow_skip_to_oldest(pub_caravans *s, pub_flow *f, const pub_caravan *c)
{
    char at[WH_POS_LOGICAL_TEXT_MAX] = "?";
    pos_text(&c->start, at, sizeof at);
    wh_warn(WH_AREA_PUBLISHER, "app %s: shard %s: its position %s was purged from the log; "
            "on_purged is \"oldest\": resuming from the oldest position still in the log, "
            "the updates in between are lost to this app (%s)", f->app, s->pub->cfg.shard, at,
            c->err);
    /* No position now: its next caravan records a new start (the oldest) before
     * its first update. */
    pub_mutex_lock(&f->mu);
    memset(&f->acked, 0, sizeof f->acked);
    memset(&f->resume, 0, sizeof f->resume);
    f->acked_start = f->resume_start = false;
    pub_flow_rewind_locked(f, &f->resume, false);
    pub_mutex_unlock(&f->mu);
}

bool pub_caravans_fail_flows(pub_caravans *s)
{
    bool any = false;
    for (pub_caravan *c = s->list; c; c = c->next) {
        if (!atomic_load(&c->dead) || !c->flow_level)
            continue;
        for (;;) {
            pub_mutex_lock(&c->mu);
            pub_flow *f = c->nmembers + c->nleavers ? c->members[0] : NULL;
            if (f) {
                members_remove(c, f);
                f->caravan = NULL;
            }
            pub_mutex_unlock(&c->mu);
            if (!f)
                break;
            /* Every member joined at the caravan's start: they share the reason. */
            if (c->rc == WH_ERR_PURGED && f->on_purged_oldest)
                flow_skip_to_oldest(s, f, c);
            else
                pub_flow_fail_for_good(f, c->rc, &c->start, c->err);
            any = true;
        }
    }
    return any;
}

void pub_caravans_check(pub_caravans *s, pub_flow *flows)
{
#ifndef NDEBUG
    size_t in_caravans = 0, with_caravan = 0;
    for (pub_caravan *c = s->list; c; c = c->next) {
        pub_mutex_lock(&c->mu);
        members_check(c);
        assert(c->started || c->nleavers == 0);
        for (uint32_t k = 0; k < c->nmembers + c->nleavers; k++) {
            assert(c->members[k]->caravan == c);
            for (uint32_t j = 0; j < k; j++)
                assert(c->members[j] != c->members[k]);
            in_caravans++;
        }
        pub_mutex_unlock(&c->mu);
    }
    /* Each listed flow names the caravan that lists it, so with equal counts
     * every flow that names a caravan is listed exactly once. */
    for (pub_flow *f = flows; f; f = f->next)
        if (f->caravan) {
            assert(f->state == FLOW_STREAMING);
            with_caravan++;
        }
    assert(in_caravans == with_caravan);
#else
    (void)s;
    (void)flows;
#endif
}

bool pub_caravans_view(pub_caravans *s, uint32_t i, pub_caravan_view *v)
{
    pub_caravan *c = s->list;
    while (c && i-- > 0)
        c = c->next;
    if (!c)
        return false;
    pub_mutex_lock(&c->mu);
    v->id = c->id;
    v->beat_ms = atomic_load(&c->beat_ms);
    v->reading = c->reading;
    v->at_head = c->at_head;
    v->last_ts = c->last_ts;
    v->members = c->nmembers;
    v->last = c->last;
    v->bytes_read = atomic_load(&c->bytes_read);
    v->capped = atomic_load(&c->capped);
    v->waiting_since_ms = c->waiting_since_ms;
    snprintf(v->waiting_why, sizeof v->waiting_why, "%s", c->waiting_why);
    pub_mutex_unlock(&c->mu);
    return true;
}

bool pub_caravan_flow_at_head(const pub_flow *f)
{
    pub_caravan *c = f->caravan;
    if (!c)
        return false;
    pub_mutex_lock(&c->mu);
    bool at_head = c->reading && c->at_head;
    pub_mutex_unlock(&c->mu);
    return at_head;
}

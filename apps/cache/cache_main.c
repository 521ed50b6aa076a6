/* cache_main.c -- wormhole-cache: a subscriber app that keeps memcached and Redis caches in step with a datastore.
 *
 * Threads:
 *  - the subscriber's loop (main thread, wh_subscriber_run) calls on_batch,
 *    which renders each batch's cache ops under the rules and queues them;
 *  - the worker applies queued batches in order, several at a time, as one
 *    pipelined round per cache, and acknowledges a batch (manual ack) only
 *    once every cache confirmed every op of it; a cache that fails holds
 *    back every later acknowledgement while the worker retries it with
 *    exponential backoff, so the publisher's window fills and delivery
 *    pauses without losing anything;
 *  - the stats thread prints a line per interval and rewrites the status
 *    file.
 * app.mu guards the queue, the shard table, the counters and the fatal
 * error; the rules belong to the loop thread, the backends to the worker. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wormhole/subscriber.h>

#include "apps/cache/cache.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "core/update_json.h"

#define AREA            WH_AREA_SUBSCRIBER
#define MAX_SHARDS      256
#define POOL_MAX        64
#define POS_LEN         320

/* One delivered batch and the ops it calls for. */
typedef struct app_batch {
    struct app_batch *next;
    uint64_t     flow, seq;      /* for wh_subscriber_ack */
    uint32_t     shard;          /* index in app.shards */
    uint32_t     updates;
    cache_oplist ops;
    size_t       bytes;          /* what it counts against apply.max_pending_bytes */
    uint32_t     deletes;        /* its OP_DELETE ops */
    int64_t      due;            /* mono ms its second delete is due (redelete list) */
    char         logical[POS_LEN], physical[POS_LEN];   /* its last update's position */
    int64_t      ts;             /* its last update's event time */
} app_batch;

typedef struct shard_state {
    char     name[128];
    bool     held;
    uint64_t applied;            /* updates acknowledged */
    char     logical[POS_LEN], physical[POS_LEN];
    int64_t  ts;                 /* event time of the last applied update (s) */
    int64_t  applied_at;         /* wall ms when it was applied */
} shard_state;

typedef struct cache_state {
    bool     up_once, down;
    int64_t  down_since;         /* mono ms */
    uint64_t failures;           /* failed rounds */
    char     error[1024];        /* the last failure */
} cache_state;

static struct app {
    cache_config   *cfg;
    wh_subscriber  *sub;
    cache_backend  *be[CACHE_MAX_CACHES];
    const char     *status_file;

    pthread_mutex_t mu;
    pthread_cond_t  work, space, tick;
    app_batch      *head, *tail, *pool;
    app_batch      *rd_head, *rd_tail;   /* applied batches waiting for their second delete */
    uint64_t        rd_batches;
    uint32_t        npool;
    uint64_t        queued_batches, queued_updates, queued_bytes;
    uint64_t        inflight_updates;
    shard_state     shards[MAX_SHARDS];
    uint32_t        nshards;
    cache_state     cs[CACHE_MAX_CACHES];
    bool            stopping;
    char            fatal[2048];
    struct {
        uint64_t received, applied, rounds, failed_rounds, fallbacks, redeletes;
        cache_counts c;
    } n;
    int64_t         started;     /* wall ms */
} app = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .space = PTHREAD_COND_INITIALIZER,
    .tick = PTHREAD_COND_INITIALIZER,
};

static atomic_bool signalled;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&signalled, true);
    wh_subscriber_stop(app.sub);
}

/* Records the first unrecoverable error and stops the subscriber. Any thread. */
static void fail(const char *msg)
{
    pthread_mutex_lock(&app.mu);
    if (!app.fatal[0])
        snprintf(app.fatal, sizeof app.fatal, "%s", msg);
    app.stopping = true;
    pthread_cond_broadcast(&app.work);
    pthread_cond_broadcast(&app.space);
    pthread_cond_broadcast(&app.tick);
    pthread_mutex_unlock(&app.mu);
    wh_subscriber_stop(app.sub);
}

/* ---- batches and the queue ---------------------------------------------------------------- */

static app_batch *batch_get(void)
{
    pthread_mutex_lock(&app.mu);
    app_batch *b = app.pool;
    if (b) {
        app.pool = b->next;
        app.npool--;
    }
    pthread_mutex_unlock(&app.mu);
    if (!b)
        b = calloc(1, sizeof *b);
    if (b) {
        cache_oplist_reset(&b->ops);
        b->next = NULL;
        b->logical[0] = b->physical[0] = '\0';
        b->ts = 0;
    }
    return b;
}

/* Called with app.mu held. */
static void batch_put_locked(app_batch *b)
{
    if (app.npool >= POOL_MAX || b->ops.data.cap > (16u << 20)) {
        cache_oplist_free(&b->ops);
        free(b);
        return;
    }
    b->next = app.pool;
    app.pool = b;
    app.npool++;
}

static uint32_t shard_index_locked(const char *name)
{
    for (uint32_t i = 0; i < app.nshards; i++)
        if (strcmp(app.shards[i].name, name) == 0)
            return i;
    if (app.nshards == MAX_SHARDS)
        return MAX_SHARDS - 1;   /* more shards than a status can show: share the last row */
    shard_state *s = &app.shards[app.nshards];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return app.nshards++;
}

/* Does op get a second delete? The deletes of delete rules do; a set rule's
 * delete (of a key the row moved away from) does not: the app itself may set
 * that key again for another row meanwhile. */
static bool redeletable(const cache_op *op)
{
    return op->kind == OP_DELETE && app.cfg->rules[op->rule].action == RULE_DELETE;
}

/* ---- subscriber callbacks (loop thread) --------------------------------------------------- */

static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    (void)opaque;
    char err[2048];
    app_batch *b = batch_get();
    if (!b) {
        fail("out of memory for a batch");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = cache_rules_apply(app.cfg, &ups[i], &b->ops, err, sizeof err);
        if (rc) {
            if (rc == WH_ERR_NOMEM)
                snprintf(err, sizeof err, "out of memory rendering the ops of a batch");
            pthread_mutex_lock(&app.mu);
            batch_put_locked(b);
            pthread_mutex_unlock(&app.mu);
            fail(err);
            return -1;      /* not acknowledged: the publisher delivers it again */
        }
    }
    const wh_update *last = &ups[n - 1];
    if (wh_position_logical(&last->pos, b->logical, sizeof b->logical) == 0)
        b->logical[0] = '\0';
    wh_position_physical(&last->pos, b->physical, sizeof b->physical);
    b->ts = last->ts;
    b->flow = d->flow;
    b->seq = d->seq;
    b->updates = (uint32_t)n;
    b->bytes = sizeof *b + b->ops.n * sizeof(cache_op) + b->ops.data.len;
    b->deletes = 0;
    for (uint32_t i = 0; i < b->ops.n; i++)
        b->deletes += redeletable(&b->ops.ops[i]);

    int64_t deadline = wh_mono_ms() + 1000;
    pthread_mutex_lock(&app.mu);
    b->shard = shard_index_locked(d->shard);
    while (!app.stopping && app.queued_batches > 0 &&
           app.queued_bytes + b->bytes > (uint64_t)app.cfg->max_pending_bytes &&
           wh_mono_ms() < deadline) {
        struct timespec ts = wh_cond_deadline(100);
        pthread_cond_timedwait(&app.space, &app.mu, &ts);
    }
    if (app.stopping || (app.queued_batches > 0 &&
                         app.queued_bytes + b->bytes > (uint64_t)app.cfg->max_pending_bytes)) {
        bool stopping = app.stopping;
        batch_put_locked(b);
        pthread_mutex_unlock(&app.mu);
        if (!stopping)
            wh_warn(AREA, "the apply queue holds %" PRIu64 " bytes (apply.max_pending_bytes): "
                    "refusing a batch of shard %s, which the publisher delivers again",
                    app.queued_bytes, d->shard);
        return WH_ERR_AGAIN;   /* backpressure, not the batch's fault: not a failed attempt */
    }
    if (app.tail)
        app.tail->next = b;
    else
        app.head = b;
    app.tail = b;
    app.queued_batches++;
    app.queued_updates += n;
    app.queued_bytes += b->bytes;
    app.n.received += n;
    app.n.fallbacks += b->ops.fallbacks;
    pthread_cond_signal(&app.work);
    pthread_mutex_unlock(&app.mu);
    return 0;
}

static void on_notice(void *opaque, const char *shard, bool held)
{
    (void)opaque;
    pthread_mutex_lock(&app.mu);
    app.shards[shard_index_locked(shard)].held = held;
    pthread_mutex_unlock(&app.mu);
    wh_info(AREA, "shard %s %s", shard, held ? "assigned" : "released");
}

/* ---- the worker: apply rounds, acknowledge ------------------------------------------------ */

/* Sends every op of the group to each cache it names, then confirms them
 * all. On failure *failed is the cache that failed. */
static int apply_round(app_batch *group, bool deletes_only, uint32_t *failed,
                       cache_counts *counts, char *err, size_t errlen)
{
    uint32_t used = 0;
    for (app_batch *b = group; b; b = b->next)
        for (uint32_t i = 0; i < b->ops.n; i++)
            if (!deletes_only || redeletable(&b->ops.ops[i]))
                used |= b->ops.ops[i].caches;
    used &= (uint32_t)((1ull << app.cfg->ncaches) - 1);
    for (uint32_t c = 0; c < app.cfg->ncaches; c++) {
        if (!(used & (1u << c)))
            continue;
        cache_backend *be = app.be[c];
        *failed = c;
        int rc = be->ops->begin(be, err, errlen);
        for (app_batch *b = group; b && rc == WH_OK; b = b->next)
            for (uint32_t i = 0; i < b->ops.n && rc == WH_OK; i++)
                if ((b->ops.ops[i].caches & (1u << c)) &&
                    (!deletes_only || redeletable(&b->ops.ops[i])))
                    rc = be->ops->add(be, &b->ops.ops[i], b->ops.data.data, err, errlen);
        if (rc == WH_OK)
            rc = be->ops->flush(be, err, errlen);
        if (rc)
            return rc;
    }
    for (uint32_t c = 0; c < app.cfg->ncaches; c++) {
        if (!(used & (1u << c)))
            continue;
        *failed = c;
        int rc = app.be[c]->ops->confirm(app.be[c], counts, err, errlen);
        if (rc)
            return rc;
    }
    /* Every cache used confirmed: note the ones that were down. */
    for (uint32_t c = 0; c < app.cfg->ncaches; c++) {
        if (!(used & (1u << c)))
            continue;
        cache_state *s = &app.cs[c];
        if (s->down)
            wh_info(AREA, "cache '%s' (%s) is up again after %.1f s (%" PRIu64 " failed "
                    "attempts); applying the held-back updates", app.cfg->caches[c].name,
                    app.be[c]->desc, (double)(wh_mono_ms() - s->down_since) / 1000.0,
                    s->failures);
        else if (!s->up_once)
            wh_info(AREA, "cache '%s' (%s) is up", app.cfg->caches[c].name, app.be[c]->desc);
        pthread_mutex_lock(&app.mu);
        s->down = false;
        s->up_once = true;
        s->failures = 0;
        pthread_mutex_unlock(&app.mu);
    }
    return WH_OK;
}

/* Applies group (every op, or its deletes only) until every cache confirmed
 * it, retrying failed rounds with exponential backoff. False if the app
 * stopped first. */
static bool run_round(app_batch *group, bool deletes_only, int64_t *backoff)
{
    char err[1024];
    for (;;) {
        cache_counts counts = { 0 };
        uint32_t failed = 0;
        if (apply_round(group, deletes_only, &failed, &counts, err, sizeof err) == WH_OK) {
            pthread_mutex_lock(&app.mu);
            app.n.rounds++;
            if (deletes_only) {
                app.n.redeletes += counts.deletes;
            } else {
                app.n.c.deletes += counts.deletes;
                app.n.c.sets += counts.sets;
                app.n.c.flushes += counts.flushes;
                app.n.c.unstorable += counts.unstorable;
            }
            app.n.c.hits += counts.hits;
            pthread_mutex_unlock(&app.mu);
            *backoff = app.cfg->retry_min_ms;
            return true;
        }
        /* Drop every connection of the round: none may keep unread replies. */
        for (uint32_t c = 0; c < app.cfg->ncaches; c++)
            app.be[c]->ops->reset(app.be[c]);
        cache_state *s = &app.cs[failed];
        pthread_mutex_lock(&app.mu);
        app.n.failed_rounds++;
        s->failures++;
        snprintf(s->error, sizeof s->error, "%s", err);
        bool first = !s->down;
        if (first) {
            s->down = true;
            s->down_since = wh_mono_ms();
        }
        pthread_mutex_unlock(&app.mu);
        if (first)
            wh_warn(AREA, "cache '%s' is down: %s; holding back acknowledgements and "
                    "retrying with backoff (%lld to %lld ms)", app.cfg->caches[failed].name,
                    err, (long long)app.cfg->retry_min_ms, (long long)app.cfg->retry_max_ms);
        else
            wh_debug(AREA, "cache '%s': attempt %" PRIu64 " failed: %s",
                     app.cfg->caches[failed].name, s->failures, err);
        pthread_mutex_lock(&app.mu);
        int64_t until = wh_mono_ms() + *backoff;
        while (!app.stopping && wh_mono_ms() < until) {
            struct timespec ts = wh_cond_deadline(until - wh_mono_ms());
            pthread_cond_timedwait(&app.work, &app.mu, &ts);
        }
        bool stop = app.stopping;
        pthread_mutex_unlock(&app.mu);
        *backoff = *backoff * 2 > app.cfg->retry_max_ms ? app.cfg->retry_max_ms : *backoff * 2;
        if (stop)
            return false;
    }
}

/* Takes the queue's first batches, while the round stays under
 * apply.group_ops ops. Called with app.mu held; the queue is not empty. */
static app_batch *take_group_locked(void)
{
    app_batch *group = app.head, *last = app.head;
    uint64_t ops = group->ops.n, updates = group->updates, bytes = group->bytes;
    uint32_t nb = 1;
    while (last->next && ops + last->next->ops.n <= (uint64_t)app.cfg->group_ops) {
        last = last->next;
        ops += last->ops.n;
        updates += last->updates;
        bytes += last->bytes;
        nb++;
    }
    app.head = last->next;
    if (!app.head)
        app.tail = NULL;
    last->next = NULL;
    app.queued_batches -= nb;
    app.queued_updates -= updates;
    app.queued_bytes -= bytes;
    app.inflight_updates = updates;
    pthread_cond_broadcast(&app.space);
    return group;
}

/* Takes the redelete list's due batches (up to apply.group_ops deletes).
 * Called with app.mu held; the first one is due. */
static app_batch *take_due_locked(int64_t now)
{
    app_batch *group = app.rd_head, *last = app.rd_head;
    uint64_t dels = group->deletes;
    while (last->next && last->next->due <= now &&
           dels + last->next->deletes <= (uint64_t)app.cfg->group_ops) {
        last = last->next;
        dels += last->deletes;
    }
    app.rd_head = last->next;
    if (!app.rd_head)
        app.rd_tail = NULL;
    last->next = NULL;
    for (app_batch *b = group; b; b = b->next)
        app.rd_batches--;
    return group;
}

static void *worker_main(void *arg)
{
    (void)arg;
    int64_t backoff = app.cfg->retry_min_ms;
    for (;;) {
        app_batch *group = NULL;
        bool redelete = false;
        pthread_mutex_lock(&app.mu);
        while (!app.stopping) {
            int64_t now = wh_mono_ms();
            if (app.rd_head && app.rd_head->due <= now) {
                group = take_due_locked(now);
                redelete = true;
                break;
            }
            if (app.head) {
                group = take_group_locked();
                break;
            }
            if (app.rd_head) {
                struct timespec ts = wh_cond_deadline(app.rd_head->due - now);
                pthread_cond_timedwait(&app.work, &app.mu, &ts);
            } else {
                pthread_cond_wait(&app.work, &app.mu);
            }
        }
        pthread_mutex_unlock(&app.mu);
        if (!group)
            break;      /* stopping */

        bool done = run_round(group, redelete, &backoff);

        pthread_mutex_lock(&app.mu);
        int64_t due = wh_mono_ms() + app.cfg->redelete_ms;
        for (app_batch *b = group, *next; b; b = next) {
            next = b->next;
            b->next = NULL;
            if (done && !redelete) {
                /* Acknowledge in delivery order: acks are cumulative per flow. */
                shard_state *sh = &app.shards[b->shard];
                wh_sub_delivery d = { sh->name, b->flow, b->seq };
                wh_subscriber_ack(app.sub, &d);
                sh->applied += b->updates;
                if (b->logical[0] || b->physical[0]) {
                    memcpy(sh->logical, b->logical, sizeof sh->logical);
                    memcpy(sh->physical, b->physical, sizeof sh->physical);
                }
                sh->ts = b->ts;
                sh->applied_at = wh_wall_ms();
                app.n.applied += b->updates;
                if (app.cfg->redelete_ms > 0 && b->deletes > 0) {
                    b->due = due;
                    if (app.rd_tail)
                        app.rd_tail->next = b;
                    else
                        app.rd_head = b;
                    app.rd_tail = b;
                    app.rd_batches++;
                    continue;
                }
            }
            batch_put_locked(b);
        }
        if (!redelete)
            app.inflight_updates = 0;
        pthread_mutex_unlock(&app.mu);
        if (!done)
            break;
    }
    return NULL;
}

/* ---- statistics and the status file ------------------------------------------------------- */

typedef struct stats_snap {
    uint64_t received, applied, ops, deletes, sets, flushes, unstorable, hits, fallbacks;
    uint64_t redeletes, redelete_batches;
    uint64_t failed_rounds, queued, inflight;
    int64_t  at;                   /* mono ms */
} stats_snap;

static void snap_locked(stats_snap *s)
{
    s->received = app.n.received;
    s->applied = app.n.applied;
    s->deletes = app.n.c.deletes;
    s->sets = app.n.c.sets;
    s->flushes = app.n.c.flushes;
    s->ops = s->deletes + s->sets + s->flushes;
    s->unstorable = app.n.c.unstorable;
    s->hits = app.n.c.hits;
    s->fallbacks = app.n.fallbacks;
    s->redeletes = app.n.redeletes;
    s->redelete_batches = app.rd_batches;
    s->failed_rounds = app.n.failed_rounds;
    s->queued = app.queued_updates;
    s->inflight = app.inflight_updates;
    s->at = wh_mono_ms();
}

static double rate(uint64_t now, uint64_t before, int64_t ms)
{
    return ms > 0 ? (double)(now - before) * 1000.0 / (double)ms : 0.0;
}

static void put_kv_str(wh_buf *b, const char *k, const char *v, bool comma)
{
    if (comma)
        wh_buf_putc(b, ',');
    wh_json_put_string(b, k, strlen(k));
    wh_buf_putc(b, ':');
    if (v)
        wh_json_put_string(b, v, strlen(v));
    else
        wh_buf_puts(b, "null");
}

/* Writes the status file: FILE.tmp, then rename (readers never see half a file). */
static void write_status(const stats_snap *s, const stats_snap *prev, const char *state)
{
    if (!app.status_file)
        return;
    wh_buf b = WH_BUF_INIT;
    int64_t ms = s->at - prev->at, now = wh_wall_ms();
    wh_buf_putc(&b, '{');
    put_kv_str(&b, "state", state, false);
    put_kv_str(&b, "app", app.cfg->app, true);
    put_kv_str(&b, "instance", app.sub ? wh_subscriber_instance(app.sub) : NULL, true);
    wh_buf_printf(&b, ",\"pid\":%d,\"time_ms\":%lld,\"uptime_s\":%.1f", (int)getpid(),
                  (long long)now, (double)(now - app.started) / 1000.0);
    wh_buf_printf(&b, ",\"updates_received\":%" PRIu64 ",\"updates_applied\":%" PRIu64
                  ",\"updates_queued\":%" PRIu64 ",\"applied_per_s\":%.1f,\"ops_per_s\":%.1f",
                  s->received, s->applied, s->queued + s->inflight,
                  rate(s->applied, prev->applied, ms), rate(s->ops, prev->ops, ms));
    wh_buf_printf(&b, ",\"ops\":{\"delete\":%" PRIu64 ",\"set\":%" PRIu64 ",\"flush\":%" PRIu64
                  ",\"unstorable\":%" PRIu64 ",\"set_fallbacks\":%" PRIu64 ",\"redis_hits\":%"
                  PRIu64 ",\"second_delete\":%" PRIu64 "},\"second_delete_batches\":%" PRIu64
                  ",\"failed_rounds\":%" PRIu64, s->deletes, s->sets, s->flushes,
                  s->unstorable, s->fallbacks, s->hits, s->redeletes, s->redelete_batches,
                  s->failed_rounds);
    wh_buf_puts(&b, ",\"caches\":[");
    pthread_mutex_lock(&app.mu);
    for (uint32_t c = 0; c < app.cfg->ncaches; c++) {
        const cache_state *cs = &app.cs[c];
        wh_buf_puts(&b, c ? ",{" : "{");
        put_kv_str(&b, "name", app.cfg->caches[c].name, false);
        put_kv_str(&b, "server", app.be[c]->desc, true);
        put_kv_str(&b, "state", cs->down ? "down" : cs->up_once ? "up" : "unused", true);
        wh_buf_printf(&b, ",\"down_for_s\":%.1f,\"failed_attempts\":%" PRIu64,
                      cs->down ? (double)(wh_mono_ms() - cs->down_since) / 1000.0 : 0.0,
                      cs->failures);
        put_kv_str(&b, "last_error", cs->error[0] ? cs->error : NULL, true);
        wh_buf_putc(&b, '}');
    }
    wh_buf_puts(&b, "],\"shards\":{");
    for (uint32_t i = 0; i < app.nshards; i++) {
        const shard_state *sh = &app.shards[i];
        if (i)
            wh_buf_putc(&b, ',');
        wh_json_put_string(&b, sh->name, strlen(sh->name));
        wh_buf_printf(&b, ":{\"held\":%s,\"applied\":%" PRIu64, sh->held ? "true" : "false",
                      sh->applied);
        put_kv_str(&b, "logical", sh->logical[0] ? sh->logical : NULL, true);
        put_kv_str(&b, "physical", sh->physical[0] ? sh->physical : NULL, true);
        wh_buf_printf(&b, ",\"ts\":%lld,\"age_s\":%lld,\"applied_ms_ago\":%lld}",
                      (long long)sh->ts, sh->ts ? (long long)(now / 1000 - sh->ts) : -1LL,
                      sh->applied_at ? (long long)(now - sh->applied_at) : -1LL);
    }
    pthread_mutex_unlock(&app.mu);
    wh_buf_puts(&b, "}}\n");
    if (!wh_buf_ok(&b)) {
        wh_buf_free(&b);
        return;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", app.status_file);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, app.status_file) != 0) {
        static bool warned;
        if (!warned)
            wh_warn(AREA, "cannot write the status file %s: %s (warned once)", app.status_file,
                    strerror(errno));
        warned = true;
        unlink(tmp);
    }
    wh_buf_free(&b);
}

static void print_stats(const stats_snap *s, const stats_snap *prev)
{
    char shards[1024];
    size_t len = 0;
    int64_t now = wh_wall_ms();
    shards[0] = '\0';
    pthread_mutex_lock(&app.mu);
    for (uint32_t i = 0; i < app.nshards && len < sizeof shards; i++) {
        const shard_state *sh = &app.shards[i];
        int w = snprintf(shards + len, sizeof shards - len, "; shard %s at %s, age %llds",
                         sh->name, sh->logical[0] ? sh->logical
                                   : sh->physical[0] ? sh->physical : "(none)",
                         sh->ts ? (long long)(now / 1000 - sh->ts) : -1LL);
        if (w > 0)
            len += (size_t)w;
    }
    uint32_t down = 0;
    for (uint32_t c = 0; c < app.cfg->ncaches; c++)
        down += app.cs[c].down;
    pthread_mutex_unlock(&app.mu);
    int64_t ms = s->at - prev->at;
    wh_info(AREA, "stats: %.0f updates/s applied (%" PRIu64 " in all, %" PRIu64 " queued), "
            "%.0f cache ops/s (%" PRIu64 " deletes, %" PRIu64 " sets, %" PRIu64 " flushes, %"
            PRIu64 " unstorable), %" PRIu64 " failed rounds, %u of %u caches down%s",
            rate(s->applied, prev->applied, ms), s->applied, s->queued + s->inflight,
            rate(s->ops, prev->ops, ms), s->deletes, s->sets, s->flushes, s->unstorable,
            s->failed_rounds, down, app.cfg->ncaches, shards);
}

static void *stats_main(void *arg)
{
    (void)arg;
    stats_snap prev, line_prev, cur;
    pthread_mutex_lock(&app.mu);
    snap_locked(&prev);
    pthread_mutex_unlock(&app.mu);
    line_prev = prev;
    int64_t interval = app.cfg->stats_interval_ms;
    int64_t next_line = interval ? wh_mono_ms() + interval : INT64_MAX;
    for (;;) {
        /* The status file every status_interval_ms; the line every interval. */
        int64_t wake = wh_mono_ms() + (app.status_file ? app.cfg->status_interval_ms : 1000);
        if (next_line < wake)
            wake = next_line;
        pthread_mutex_lock(&app.mu);
        while (!app.stopping && wh_mono_ms() < wake) {
            struct timespec ts = wh_cond_deadline(wake - wh_mono_ms());
            pthread_cond_timedwait(&app.tick, &app.mu, &ts);
        }
        bool stop = app.stopping;
        snap_locked(&cur);
        pthread_mutex_unlock(&app.mu);
        if (stop)
            break;
        write_status(&cur, &prev, "running");
        prev = cur;
        if (cur.at >= next_line) {
            print_stats(&cur, &line_prev);
            line_prev = cur;
            next_line = cur.at + interval;
        }
    }
    return NULL;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"NAME\n"
"    wormhole-cache - keep memcached and Redis caches in step with a datastore\n"
"\n"
"SYNOPSIS\n"
"    wormhole-cache --config FILE [--status-file FILE] [--debug AREAS]\n"
"    wormhole-cache --config FILE --check\n"
"    wormhole-cache --help | --help-config\n"
"\n"
"DESCRIPTION\n"
"    Joins a wormhole subscriber app as one instance and turns every row change\n"
"    of the ruled tables into cache operations: by default it deletes (invalidates)\n"
"    each key the rules derive from the row's before and after images, so readers\n"
"    refill it from the database; a rule may instead set the key to a value\n"
"    rendered from the row. Operations are pipelined, one round trip per group\n"
"    of batches and cache, and a batch is acknowledged to the publisher only after\n"
"    every cache confirmed every operation of it. A cache that is down holds back\n"
"    acknowledgements (the publisher pauses and later redelivers) while it is\n"
"    retried with exponential backoff. See docs/APPS.md for the guarantees.\n"
"\n"
"OPTIONS\n"
"    --config FILE       the JSON configuration (CONFIG below); required\n"
"    --status-file FILE  rewrite FILE every second (stats.status_interval_ms) with a\n"
"                        JSON status: counters, caches, each shard's last applied\n"
"                        position and its age; written to FILE.tmp and renamed;\n"
"                        overrides stats.status_file\n"
"    --check             load and check the configuration, print the filter sent\n"
"                        to publishers, and exit\n"
"    --debug AREAS       debug logging for areas (subscriber,protocol,zk,filter or all)\n"
"    --help              this text;  --help-config: every setting with its default\n"
"\n"
"CONFIG\n"
"    {\"subscriber\": {\"zookeeper\": \"127.0.0.1:2181\", \"app\": \"cache\"},\n"
"     \"caches\": [{\"name\": \"mc\", \"type\": \"memcached\", \"servers\": [\"127.0.0.1:11211\"]},\n"
"                {\"name\": \"r\", \"type\": \"redis\", \"servers\": [\"127.0.0.1:6379\"]}],\n"
"     \"rules\": [{\"table\": \"shop.users\", \"keys\": [\"user:{id}\", \"email:{email}\"]},\n"
"               {\"table\": \"shop.posts\", \"keys\": [\"feed:{owner_id}\"],\n"
"                \"filter\": \"status = 'public'\", \"caches\": [\"r\"]},\n"
"               {\"table\": \"shop.users\", \"keys\": [\"user-json:{id}\"], \"action\": \"set\",\n"
"                \"value\": \"{*}\", \"ttl\": 3600}]}\n"
"    A template's {col} is the column's value in the image (before image: the old\n"
"    key, after image: the new key); {{ and }} are literal braces. Values render as\n"
"    docs/APPS.md says (NULL as \"null\", bytes as hex, DATETIME as\n"
"    2024-01-02T03:04:05). A key whose columns changed is invalidated under its\n"
"    old and its new value. on_ddl: ignore | stop | flush. wormhole-cache\n"
"    --help-config lists every setting.\n"
"\n"
"EXIT STATUS\n"
"    0  stopped cleanly (SIGTERM or SIGINT)\n"
"    1  unrecoverable error, named by the one ERROR line before exit: ZooKeeper\n"
"       registration failed at start, a rule cannot be applied to an update (a\n"
"       template names a column the table does not have, or the image does not\n"
"       carry), DDL on a table whose rule says on_ddl stop, out of memory. The\n"
"       update was not acknowledged: after the fix a restart resumes with it.\n"
"       Caches that are down are not errors: they are retried forever.\n"
"    2  bad usage or configuration (restarting will not help)\n"
"\n"
"EXAMPLES\n"
"    wormhole-cache --config /etc/wormhole/cache.json --status-file /run/wh-cache.json\n"
"    wormhole-cache --config cache.json --check\n");
}

static int setup_logging(const cache_config *c, const char *debug, char *err, size_t errlen)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    int level = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(c->log_level, levels[i]) == 0)
            level = i;
    if (level < 0)
        return wh_seterr(err, errlen, WH_ERR_CONFIG, "%s: key 'log.level': '%s' is not error, "
                         "warn, info or debug", c->path, c->log_level);
    wh_log_set_level((wh_log_level)level);
    const char *areas = debug ? debug : c->log_debug;
    if (areas[0] && wh_log_set_debug(areas) != WH_OK)
        return wh_seterr(err, errlen, WH_ERR_CONFIG, "unknown debug area in '%s'", areas);
    return WH_OK;
}

int main(int argc, char **argv)
{
    enum { OPT_STATUS = 256, OPT_DEBUG, OPT_HELP_CONFIG, OPT_CHECK };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "status-file", required_argument, NULL, OPT_STATUS },
        { "debug", required_argument, NULL, OPT_DEBUG },
        { "check", no_argument, NULL, OPT_CHECK },
        { "help-config", no_argument, NULL, OPT_HELP_CONFIG },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *status = NULL, *debug = NULL;
    bool check = false;
    char err[2048];
    int c, exit_code = 1;
    pthread_t worker, stats;
    bool worker_started = false, stats_started = false;

    wh_log_set_ident("wormhole-cache");
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case OPT_STATUS: status = optarg; break;
        case OPT_DEBUG: debug = optarg; break;
        case OPT_CHECK: check = true; break;
        case OPT_HELP_CONFIG:
            printf("Settings of the wormhole-cache config file (JSON; dotted keys are nested "
                   "objects):\n");
            wh_config_print_help(stdout, cache_config_fields);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "usage: wormhole-cache --config FILE [--status-file FILE] "
                    "[--debug AREAS] (--help for more)\n");
            return 2;
        }
    }
    if (optind != argc || !config) {
        fprintf(stderr, "usage: wormhole-cache --config FILE [--status-file FILE] "
                "[--debug AREAS] (--help for more)\n");
        return 2;
    }
    if (cache_config_load(config, &app.cfg, err, sizeof err) != WH_OK ||
        setup_logging(app.cfg, debug, err, sizeof err) != WH_OK) {
        wh_error(AREA, "%s", err);
        cache_config_free(app.cfg);
        return 2;
    }
    cache_config *cfg = app.cfg;
    if (check) {
        printf("%s: %u caches, %u rules; filter sent to publishers: %s\n", config, cfg->ncaches,
               cfg->nrules, cfg->sub_filter);
        cache_config_free(cfg);
        return 0;
    }
    app.status_file = status ? status : (cfg->status_file[0] ? cfg->status_file : NULL);
    app.started = wh_wall_ms();
    for (uint32_t i = 0; i < cfg->ncaches; i++)
        if (cache_backend_new(&cfg->caches[i], &app.be[i]) != WH_OK) {
            wh_error(AREA, "out of memory creating cache '%s'", cfg->caches[i].name);
            goto out;
        }

    char host[256];
    int port = 0;
    cache_split_hostport(cfg->listen, host, sizeof host, &port);   /* checked at load */
    wh_sub_options o;
    wh_sub_options_init(&o);
    o.zk_connect = cfg->zk_connect;
    o.zk_root = cfg->zk_root;
    o.zk_user = cfg->zk_user[0] ? cfg->zk_user : NULL;
    o.zk_secret_file = cfg->zk_secret_file[0] ? cfg->zk_secret_file : NULL;
    o.zk_session_timeout_ms = (int)cfg->session_ms;
    o.zk_wait_ms = (int)cfg->zk_wait_ms;
    o.app = cfg->app;
    o.instance = cfg->instance[0] ? cfg->instance : NULL;
    o.filter = cfg->sub_filter;
    o.shards = (const char *const *)cfg->shard_list;
    o.listen_host = host;
    o.listen_port = port;
    o.advertise_host = cfg->advertise[0] ? cfg->advertise : NULL;
    o.manual_ack = true;
    o.heartbeat_timeout_ms = (int)cfg->heartbeat_timeout_ms;
    app_tls_options(&cfg->tls, &o);
    o.on_batch = on_batch;
    o.on_shard_notice = on_notice;
    int rc = wh_subscriber_new(&o, &app.sub, err, sizeof err);
    if (rc != WH_OK) {
        wh_error(AREA, "%s", err);
        exit_code = rc == WH_ERR_CONFIG || rc == WH_ERR_PARSE ? 2 : 1;
        goto out;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&worker, NULL, worker_main, NULL) != 0) {
        wh_error(AREA, "cannot start the worker thread");
        goto out;
    }
    worker_started = true;
    if (pthread_create(&stats, NULL, stats_main, NULL) != 0) {
        wh_error(AREA, "cannot start the statistics thread");
        goto out;
    }
    stats_started = true;
    wh_info(AREA, "instance %s of app %s listening on %s; %u caches, %u rules; filter: %s",
            wh_subscriber_instance(app.sub), cfg->app, wh_subscriber_endpoint(app.sub),
            cfg->ncaches, cfg->nrules, cfg->sub_filter);
    rc = wh_subscriber_run(app.sub, err, sizeof err);
    pthread_mutex_lock(&app.mu);
    app.stopping = true;
    pthread_cond_broadcast(&app.work);
    pthread_cond_broadcast(&app.space);
    pthread_cond_broadcast(&app.tick);
    bool fatal = app.fatal[0] != '\0';
    pthread_mutex_unlock(&app.mu);
    if (fatal)
        wh_error(AREA, "%s", app.fatal);
    else if (rc != WH_OK)
        wh_error(AREA, "%s", err);
    else
        exit_code = 0;
out:
    pthread_mutex_lock(&app.mu);
    app.stopping = true;
    pthread_cond_broadcast(&app.work);
    pthread_cond_broadcast(&app.tick);
    pthread_mutex_unlock(&app.mu);
    if (worker_started)
        pthread_join(worker, NULL);
    if (stats_started)
        pthread_join(stats, NULL);
    if (app.status_file && app.sub) {
        stats_snap s;
        pthread_mutex_lock(&app.mu);
        snap_locked(&s);
        pthread_mutex_unlock(&app.mu);
        write_status(&s, &s, exit_code == 0 ? "stopped" : "failed");
    }
    wh_subscriber_free(app.sub);
    for (uint32_t i = 0; i < cfg->ncaches; i++)
        cache_backend_free(app.be[i]);
    while (app.head) {
        app_batch *b = app.head;
        app.head = b->next;
        cache_oplist_free(&b->ops);
        free(b);
    }
    while (app.rd_head) {
        app_batch *b = app.rd_head;
        app.rd_head = b->next;
        cache_oplist_free(&b->ops);
        free(b);
    }
    while (app.pool) {
        app_batch *b = app.pool;
        app.pool = b->next;
        cache_oplist_free(&b->ops);
        free(b);
    }
    cache_config_free(cfg);
    return exit_code;
}

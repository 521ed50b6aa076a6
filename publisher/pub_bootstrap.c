/* pub_bootstrap.c -- a flow's bootstrap: the worker that reads chunks and the caravan-side emission at the watermark (see pub_bootstrap.h).
 *
 * State of a bootstrap, under f->mu:
 *   cursor   where the worker reads next (table, key after which to read)
 *   ready    a chunk read and not emitted yet, with its window open
 *   emitted  the progress after the newest emitted chunk (seq emitted_seq)
 *   acked    the progress the app acknowledged (seq acked_seq), what ZooKeeper gets
 * The worker reads chunk c+1 while chunk c waits for its ACK; chunk c+1 is
 * emitted only once c is acknowledged (emitted_seq == acked_seq). */
#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/snapshot.h"
#include "protocol/zk_bootstrap.h"
#include "publisher/pub_boot_window.h"
#include "publisher/pub_bootstrap.h"
#include "publisher/pub_flow.h"

typedef struct boot_prog {
    uint32_t table;
    json_t  *key;            /* owned; NULL: from the table's start */
    uint64_t rows, table_rows, estimate, dropped;
    bool     done;
} boot_prog;

struct pub_boot {
    pub_flow *f;
    zku_boot_request req;
    int64_t   started_ms;
    pthread_t thread;
    bool      started;
    atomic_bool stop;
    atomic_bool waiting;     /* ready is set: the caravan should look soon */
    atomic_bool finished;    /* the app acknowledged every table */
    pthread_cond_t cond;     /* with f->mu: ready was taken, or reset, or stop */
    wh_snapshot *snap;       /* the worker's */

    /* under f->mu */
    uint64_t  gen;           /* moves on each reset: a read begun before is dropped */
    boot_prog cursor, emitted, acked;
    uint64_t  emitted_seq, acked_seq;
    bool      stored;        /* the acknowledged progress is in ZooKeeper (ticket written):
                                the next chunk may go (pub_boot_stored) */
    uint64_t  ticket;        /* the agent's ticket for it (pub_zk_note_boot) */
    bool      arrived;       /* the flow's reader stands in this copy's log (it delivered a
                                batch or found the head) since the last reset: a snapshot
                                read from now on is at or after the flow's position, also
                                when that position is another copy's (docs/FAILOVER.md) */
    bool      has_ready;
    wh_snapshot_chunk ready; /* points into snap: the worker reads nothing more until taken */
    bool      ready_first;   /* the first chunk of its table: snapshot_begin goes first */
    uint32_t  ready_table;
    boot_prog ready_after;   /* the cursor after the ready chunk */
    int64_t   ready_ms;
    boot_window win;
    const char **win_keys;   /* the window's key names (copies) */
    uint32_t  win_nkey;
    wh_pos    emit_pos;      /* the position snapshot updates carry */
    wh_update *out;          /* emission buffer */
    uint32_t  cap_out;
    uint64_t  retries;       /* chunks read again (window overflow, snapshot behind) */
    int64_t   view_t0_ms;    /* status: when this publisher began serving it (wh_mono_ms) */
    uint64_t  view_rows0;    /* ... and the rows acknowledged then */
};

static void prog_clear(boot_prog *p)
{
    json_decref(p->key);
    memset(p, 0, sizeof *p);
}

/* dst = src, with its own reference to the key. */
static void prog_copy(boot_prog *dst, const boot_prog *src)
{
    json_t *k = src->key ? json_incref(src->key) : NULL;
    json_decref(dst->key);
    *dst = *src;
    dst->key = k;
}

static void *worker_main(void *arg);

pub_boot *pub_boot_new(pub_flow *f, const char *request_json, const char *progress_json)
{
    char err[512];
    if (!request_json)
        return NULL;
    pub_boot *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->f = f;
    b->stored = true;   /* nothing acknowledged yet: nothing to wait for */
    if (zku_boot_request_from_json(request_json, strlen(request_json), &b->req, err,
                                   sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "app %s: %s; no bootstrap", f->app, err);
        goto none;
    }
    b->started_ms = wh_wall_ms();
    zku_boot_progress pr;
    if (progress_json && zku_boot_progress_from_json(progress_json, strlen(progress_json), &pr,
                                                     err, sizeof err) == WH_OK) {
        if (strcmp(pr.id, b->req.id) == 0) {
            if (pr.done) {
                zku_boot_progress_free(&pr);
                goto none;
            }
            b->acked = (boot_prog){ .table = pr.table, .key = pr.key, .rows = pr.rows,
                                    .table_rows = pr.table_rows, .estimate = pr.estimate,
                                    .dropped = pr.dropped };
            pr.key = NULL;
            b->started_ms = pr.started_ms ? pr.started_ms : b->started_ms;
            wh_info(WH_AREA_PUBLISHER, "app %s: bootstrap %s resumes at table %u of %u after "
                    "%" PRIu64 " rows", f->app, b->req.id, pr.table, b->req.ntables, pr.rows);
        }
        zku_boot_progress_free(&pr);
    } else if (progress_json) {
        wh_warn(WH_AREA_PUBLISHER, "app %s: %s; the bootstrap starts over", f->app, err);
    }
    if (b->acked.table >= b->req.ntables)
        goto none;
    prog_copy(&b->emitted, &b->acked);
    prog_copy(&b->cursor, &b->acked);
    b->view_t0_ms = wh_mono_ms();
    b->view_rows0 = b->acked.rows;
    pthread_cond_init(&b->cond, NULL);
    atomic_init(&b->stop, false);
    atomic_init(&b->waiting, false);
    atomic_init(&b->finished, false);
    if (pthread_create(&b->thread, NULL, worker_main, b) != 0) {
        pthread_cond_destroy(&b->cond);
        wh_error(WH_AREA_PUBLISHER, "app %s: cannot start the bootstrap thread", f->app);
        goto none;
    }
    b->started = true;
    return b;
none:
    prog_clear(&b->acked);
    zku_boot_request_free(&b->req);
    free(b);
    return NULL;
}

void pub_boot_free(pub_boot *b)
{
    if (!b)
        return;
    if (b->started) {
        pub_mutex_lock(&b->f->mu);
        atomic_store(&b->stop, true);
        pthread_cond_broadcast(&b->cond);
        pub_mutex_unlock(&b->f->mu);
        pthread_join(b->thread, NULL);
        pthread_cond_destroy(&b->cond);
    }
    wh_snapshot_close(b->snap);
    boot_window_free(&b->win);
    for (uint32_t k = 0; b->win_keys && k < b->win_nkey; k++)
        free((char *)b->win_keys[k]);
    free((void *)b->win_keys);
    prog_clear(&b->cursor);
    prog_clear(&b->emitted);
    prog_clear(&b->acked);
    prog_clear(&b->ready_after);
    zku_boot_request_free(&b->req);
    free(b->out);
    free(b);
}

bool pub_boot_needed(const char *request_json, const char *progress_json)
{
    zku_boot_request r;
    zku_boot_progress pr;
    char err[256];
    if (!request_json)
        return false;
    bool needed = zku_boot_request_from_json(request_json, strlen(request_json), &r, err,
                                             sizeof err) == WH_OK;
    if (needed && progress_json &&
        zku_boot_progress_from_json(progress_json, strlen(progress_json), &pr, err,
                                    sizeof err) == WH_OK) {
        needed = strcmp(pr.id, r.id) != 0 || !pr.done;
        zku_boot_progress_free(&pr);
    }
    zku_boot_request_free(&r);
    return needed;
}

bool pub_boot_same_request(const pub_boot *b, const char *request_json)
{
    zku_boot_request r;
    char err[256];
    bool same = request_json && zku_boot_request_from_json(request_json, strlen(request_json),
                                                           &r, err, sizeof err) == WH_OK &&
                strcmp(r.id, b->req.id) == 0;
    if (request_json)
        zku_boot_request_free(&r);
    return same;
}

bool pub_boot_active(const pub_boot *b)
{
    return b && !atomic_load(&b->finished);
}

bool pub_boot_waiting(const pub_boot *b)
{
    return b && atomic_load(&b->waiting);
}

/* ---- the worker ------------------------------------------------------------------------------ */

static void sleep_ms(int64_t ms)
{
    if (ms > 0)
        nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000 }, NULL);
}

/* Waits (f->mu held) until the worker may read: no chunk ready, the flow
 * has a position, something left to read. False on stop. */
static bool worker_wait(pub_boot *b)
{
    pub_flow *f = b->f;
    while (!atomic_load(&b->stop)) {
        if (!b->has_ready && f->processed.set && b->arrived && b->cursor.table < b->req.ntables)
            return true;
        pub_mutex_wait(&f->mu, &b->cond, 100);
    }
    return false;
}

/* ---- a window opened at a logical position (worker, f->mu not held) ------------------------ */

/* Whether the snapshot at `at` holds the transaction at low when low is
 * known only in its logical form: the flow resumed on another copy of the
 * shard (docs/FAILOVER.md "Positions across copies") and has delivered
 * nothing from this copy yet, so boot_snapshot_covers cannot compare it
 * with this copy's binlog position. The GTID state at `at` says it
 * (docs/BOOTSTRAP.md "Resuming"). True also when the positions cannot be
 * compared at all (no GTIDs: a copy without them cannot be taken over). */
static bool logical_low_covered(pub_boot *b, const wh_pos *low, const wh_pos *at)
{
    char state[WH_POS_LOGICAL_MAX * 4], err[512];
    if (!low->set || low->has_log_name || !at->has_log_name || !low->has_logical)
        return true;
    int rc = wh_snapshot_gtid_state(b->snap, at, state, sizeof state, err, sizeof err);
    if (rc == WH_ERR_UNSUPPORTED)
        return true;
    if (rc != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "app %s: bootstrap %s: %s; the chunk is read again",
                b->f->app, b->req.id, err);
        return false;
    }
    int covers = boot_snapshot_covers_gtid(low, state);
    wh_debug(WH_AREA_PUBLISHER, "app %s: bootstrap chunk at %s:%" PRIu64 " (GTID state %s) "
             "against the logical position %s: %s", b->f->app, at->log_name, at->offset, state,
             low->logical, covers > 0 ? "holds it" : covers == 0 ? "lacks it" : "not comparable");
    return covers != 0;
}

/* Reads one chunk and makes it ready, or drops it (reset meanwhile, or its
 * snapshot older than the window). Called and returns with f->mu held;
 * releases it while it reads. Returns the rows read, or a negative error. */
static int worker_chunk(pub_boot *b, char *err, size_t errlen)
{
    pub_flow *f = b->f;
    publisher *p = f->pub;
    uint64_t gen = b->gen;
    boot_prog cur = { 0 };
    prog_copy(&cur, &b->cursor);
    const char *db = b->req.db[cur.table], *table = b->req.table[cur.table];
    uint32_t limit = (uint32_t)atomic_load(&p->boot_chunk_rows);
    pub_mutex_unlock(&f->mu);

    int rc = WH_OK;
    if (!b->snap)
        rc = wh_snapshot_open(p->cfg.mapper_name, p->cfg.mapper_options, p->cfg.shard, &b->snap,
                              err, errlen);
    if (rc == WH_OK && !cur.key && cur.table_rows == 0)
        rc = wh_snapshot_estimate(b->snap, db, table, &cur.estimate, err, errlen);
    /* The key's column names, for the window (copied: the reader's change with its table). */
    const char *const *names = NULL;
    uint32_t nkey = 0;
    if (rc == WH_OK)
        rc = wh_snapshot_keys(b->snap, db, table, &names, &nkey, err, errlen);
    const char **keys = rc == WH_OK ? calloc(nkey ? nkey : 1, sizeof *keys) : NULL;
    bool keys_ok = keys != NULL;
    for (uint32_t k = 0; keys && k < nkey; k++)
        keys_ok = (keys[k] = strdup(names[k])) != NULL && keys_ok;
    pub_mutex_lock(&f->mu);
    assert(!b->win.open);   /* closed by the last emission, drop or reset */
    if (b->win_keys) {
        for (uint32_t k = 0; k < b->win_nkey; k++)
            free((char *)b->win_keys[k]);
        free((void *)b->win_keys);
    }
    b->win_keys = keys;
    b->win_nkey = keys ? nkey : 0;
    if (rc != WH_OK || gen != b->gen || !keys_ok) {
        prog_clear(&cur);
        return rc != WH_OK ? rc : keys_ok ? 0 : WH_ERR_NOMEM;
    }
    /* The window opens where the flow stands now, before the snapshot. */
    boot_window_open(&b->win, &f->processed, db, table, keys, nkey,
                     (uint64_t)atomic_load(&p->boot_window_keys));
    wh_pos low = f->processed;
    pub_mutex_unlock(&f->mu);

    wh_snapshot_chunk c;
    rc = wh_snapshot_read(b->snap, db, table, cur.key, limit, &c, err, errlen);
    bool covered = rc != WH_OK || logical_low_covered(b, &low, &c.at);

    pub_mutex_lock(&f->mu);
    if (rc != WH_OK || gen != b->gen || !b->win.open) {
        if (gen == b->gen)
            boot_window_close(&b->win);
        prog_clear(&cur);
        return rc;
    }
    if (!covered || !boot_snapshot_covers(&b->win.low, &c.at) || b->win.overflow) {
        /* The flow passed a transaction the snapshot lacks (it was in the
         * binlog, not yet committed in the engine), or the stream changed
         * more keys than the window holds: read the chunk again. */
        b->retries++;
        wh_debug(WH_AREA_PUBLISHER, "app %s: bootstrap chunk of %s.%s read again (%s)", f->app,
                 db, table, b->win.overflow ? "window overflow" : "snapshot behind the stream");
        boot_window_close(&b->win);
        prog_clear(&cur);
        return 0;
    }
    b->ready = c;
    b->ready_first = !cur.key;
    b->ready_table = cur.table;
    b->ready_ms = wh_mono_ms();
    prog_clear(&b->ready_after);
    b->ready_after = cur;
    b->ready_after.table_rows += c.n;
    if (c.n)
        b->ready_after.key = json_deep_copy(c.last_key);
    else
        b->ready_after.key = NULL;
    json_decref(cur.key);
    if (c.done) {
        b->ready_after.table++;
        b->ready_after.table_rows = 0;
        b->ready_after.estimate = 0;
        json_decref(b->ready_after.key);
        b->ready_after.key = NULL;
    }
    prog_copy(&b->cursor, &b->ready_after);
    b->has_ready = true;
    atomic_store(&b->waiting, true);
    return (int)c.n;
}

static void *worker_main(void *arg)
{
    pub_boot *b = arg;
    pub_flow *f = b->f;
    publisher *p = f->pub;
    char err[1024];
    int64_t backoff = 200, window_start = wh_mono_ms();
    uint64_t window_rows = 0;
    pub_mutex_lock(&f->mu);
    while (worker_wait(b)) {
        err[0] = '\0';
        int n = worker_chunk(b, err, sizeof err);
        if (n == WH_ERR_UNSUPPORTED || n == WH_ERR_NOT_FOUND || n == WH_ERR_PARSE) {
            /* A table without a primary key, a missing one, a stored key
             * that does not fit the table: retrying cannot help. */
            wh_error(WH_AREA_PUBLISHER, "app %s: bootstrap %s stops: %s; ask for a new one "
                     "(wormhole-ctl bootstrap) without that table", f->app, b->req.id,
                     err[0] ? err : wh_err_str(n));
            while (!atomic_load(&b->stop))
                pub_mutex_wait(&f->mu, &b->cond, 1000);
            break;
        }
        if (n < 0) {
            pub_mutex_unlock(&f->mu);
            wh_warn(WH_AREA_PUBLISHER, "app %s: bootstrap %s: %s; retrying in %lld ms", f->app,
                    b->req.id, err[0] ? err : wh_err_str(n), (long long)backoff);
            sleep_ms(backoff);
            backoff = backoff < 10000 ? backoff * 2 : 10000;
            pub_mutex_lock(&f->mu);
            continue;
        }
        backoff = 200;
        /* The read-rate cap: sleep off what runs ahead of rows_per_sec. */
        int64_t cap = atomic_load(&p->boot_rows_per_sec);
        window_rows += (uint64_t)n;
        if (cap > 0) {
            int64_t due = window_start + (int64_t)(window_rows * 1000 / (uint64_t)cap);
            int64_t now = wh_mono_ms();
            if (due > now) {
                pub_mutex_unlock(&f->mu);
                sleep_ms(due - now);
                pub_mutex_lock(&f->mu);
            }
            if (now - window_start > 10000) {
                window_start = now;
                window_rows = 0;
            }
        }
    }
    pub_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- emission (caravan thread, f->mu held) ---------------------------------------------------- */

static wh_update marker(pub_boot *b, int op, uint32_t table, const wh_position *pos)
{
    /* A RocksDB column family has no db (""): none, as on its stream's updates. */
    const char *db = b->req.db[table][0] ? b->req.db[table] : NULL;
    return (wh_update){ .shard = b->f->pub->cfg.shard, .op = (uint8_t)op, .pos = *pos,
                        .ts = wh_wall_ms() / 1000, .txn.last = true, .db = db,
                        .table = b->req.table[table] };
}

/* Encodes markers past the filter (and so past its schema check: a marker
 * has no row): the app always learns where a table's rows begin and end. */
static int encode_markers(pub_flow *f, const wh_update *u, int n, bool *ready, char *err,
                          size_t errlen)
{
    wh_filter *keep = f->filter;
    f->filter = NULL;
    int rc = pub_flow_encode_locked(f, NULL, u, n, ready, err, errlen);
    f->filter = keep;
    return rc;
}

/* Encodes a chunk's m rows (all of one table, with one column list:
 * mysql_snapshot.c): the first with the filter's schema check
 * (pub_schema.h) after noting the table's columns in names, the others
 * without it. Snapshot rows carry no schema_id, so the per-flow cache of
 * checked schemas would not spare a check per row. */
static int encode_rows(pub_flow *f, pub_schemas *names, const wh_update *rows, uint32_t m,
                       bool *ready, char *err, size_t errlen)
{
    if (f->filter && names && !pub_schemas_note(names, &rows[0]))
        return wh_seterr(err, errlen, WH_ERR_NOMEM, "app %s: out of memory recording the "
                         "columns of table %s", f->app, rows[0].table ? rows[0].table : "?");
    int rc = pub_flow_encode_locked(f, names, rows, 1, ready, err, errlen);
    if (rc == WH_OK && m > 1 && !f->stop_pending)
        rc = pub_flow_encode_locked(f, NULL, rows + 1, (int)m - 1, ready, err, errlen);
    return rc;
}

/* The previous chunk is acknowledged and its progress stored: a kill of the
 * publisher now re-sends at most the chunk about to go. */
static bool can_emit(const pub_boot *b)
{
    return b->has_ready && b->emitted_seq == b->acked_seq && b->stored;
}

static int emit_locked(pub_flow *f, pub_schemas *names, bool *ready, char *err, size_t errlen)
{
    pub_boot *b = f->boot;
    assert(can_emit(b));
    const wh_snapshot_chunk *c = &b->ready;
    if (b->win.overflow) {
        /* The window stopped recording keys while the chunk waited (more keys
         * than it holds, or a RocksDB merge): read the chunk again. */
        b->retries++;
        b->has_ready = false;
        atomic_store(&b->waiting, false);
        boot_window_close(&b->win);
        prog_copy(&b->cursor, &b->emitted);
        pthread_cond_broadcast(&b->cond);
        return WH_OK;
    }
    if (b->cap_out < c->n) {
        wh_update *o = realloc(b->out, c->n * sizeof *o);
        if (!o)
            return wh_seterr(err, errlen, WH_ERR_NOMEM, "app %s: out of memory for a bootstrap "
                             "chunk of %u rows", f->app, c->n);
        b->out = o;
        b->cap_out = c->n;
    }
    b->emit_pos = f->processed;   /* a copy: encoding moves f->processed to what it is given */
    wh_position pos;
    wh_pos_to_view(&b->emit_pos, &pos);
    int64_t ts = wh_wall_ms() / 1000;
    uint32_t m = 0, dropped = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (b->win.open && boot_window_drops(&b->win, &c->rows[i].after)) {
            dropped++;
            continue;
        }
        b->out[m] = c->rows[i];
        b->out[m].pos = pos;
        b->out[m].ts = ts;
        m++;
    }
    int rc = WH_OK;
    wh_update mk;
    if (b->ready_first) {
        mk = marker(b, WH_OP_SNAPSHOT_BEGIN, b->ready_table, &pos);
        rc = encode_markers(f, &mk, 1, ready, err, errlen);
    }
    if (rc == WH_OK && m > 0)
        rc = encode_rows(f, names, b->out, m, ready, err, errlen);
    if (rc == WH_OK && f->stop_pending)
        return WH_OK;   /* the flow fails (pub_flow_stop_pending): the chunk is not emitted */
    if (rc == WH_OK && c->done) {
        mk = marker(b, WH_OP_SNAPSHOT_END, b->ready_table, &pos);
        rc = encode_markers(f, &mk, 1, ready, err, errlen);
    }
    if (rc != WH_OK)
        return rc;
    prog_copy(&b->emitted, &b->ready_after);
    b->emitted.rows = b->acked.rows + m;
    b->emitted.dropped = b->acked.dropped + dropped;
    b->emitted.done = b->emitted.table >= b->req.ntables;
    b->emitted_seq++;
    f->boot_emitted = b->emitted_seq;
    b->has_ready = false;
    atomic_store(&b->waiting, false);
    boot_window_close(&b->win);
    pthread_cond_broadcast(&b->cond);
    if (c->done)
        wh_info(WH_AREA_PUBLISHER, "app %s: bootstrap %s: table %s.%s sent (%" PRIu64 " rows "
                "in all so far)", f->app, b->req.id, b->req.db[b->ready_table],
                b->req.table[b->ready_table], b->emitted.rows);
    pub_flow_mark_locked(f);   /* the ACK of this marker acknowledges the chunk */
    return WH_OK;
}

void pub_boot_arrived_locked(pub_flow *f)
{
    pub_boot *b = f->boot;
    assert(pub_mutex_held(&f->mu));
    if (!b->arrived) {
        b->arrived = true;
        pthread_cond_broadcast(&b->cond);   /* the worker may read */
    }
}

int pub_boot_encode_locked(pub_flow *f, pub_schemas *names, const wh_update *ups, int n,
                           bool *ready, char *err, size_t errlen)
{
    pub_boot *b = f->boot;
    assert(pub_mutex_held(&f->mu));
    pub_boot_arrived_locked(f);
    int start = 0, rc = WH_OK;
    for (int i = 0; i < n && rc == WH_OK; i++) {
        if (can_emit(b) && f->processed.set && boot_pos_reached(&ups[i].pos, &b->ready.at)) {
            if (i > start)
                rc = pub_flow_encode_locked(f, names, ups + start, i - start, ready, err,
                                            errlen);
            start = i;
            if (rc == WH_OK && !f->stop_pending)
                rc = emit_locked(f, names, ready, err, errlen);
        }
        boot_window_note(&b->win, &ups[i]);
    }
    if (rc == WH_OK && n > start)
        rc = pub_flow_encode_locked(f, names, ups + start, n - start, ready, err, errlen);
    return rc;
}

int pub_boot_idle_locked(pub_flow *f, pub_schemas *names, int64_t read_start_ms, bool *ready,
                         char *err, size_t errlen)
{
    pub_boot *b = f->boot;
    assert(pub_mutex_held(&f->mu));
    if (!can_emit(b) || b->ready_ms >= read_start_ms || !f->processed.set || f->stop_pending)
        return WH_OK;
    return emit_locked(f, names, ready, err, errlen);
}

/* ---- acknowledgement and reset (loop thread) --------------------------------------------------- */

char *pub_boot_acked(pub_flow *f)
{
    pub_boot *b = f->boot;
    char err[256], *out = NULL;
    pub_mutex_lock(&f->mu);
    if (f->boot_acked > b->acked_seq && f->boot_acked == b->emitted_seq) {
        b->acked_seq = f->boot_acked;
        b->stored = false;   /* until pub_boot_stored says the agent wrote it */
        prog_copy(&b->acked, &b->emitted);
        zku_boot_progress pr = { .table = b->acked.table, .key = b->acked.key,
                                 .rows = b->acked.rows, .table_rows = b->acked.table_rows,
                                 .estimate = b->acked.estimate, .dropped = b->acked.dropped,
                                 .done = b->acked.done, .started_ms = b->started_ms,
                                 .updated_ms = wh_wall_ms() };
        snprintf(pr.id, sizeof pr.id, "%s", b->req.id);
        if (zku_boot_progress_to_json(&pr, &out, err, sizeof err) != WH_OK) {
            wh_warn(WH_AREA_PUBLISHER, "app %s: %s", f->app, err);
            b->stored = true;   /* nothing to store: nothing to wait for */
        }
        pthread_cond_broadcast(&b->cond);
        if (b->acked.done)
            atomic_store(&b->finished, true);
        if (b->acked.done)
            wh_info(WH_AREA_PUBLISHER, "app %s: bootstrap %s done: %" PRIu64 " rows, %" PRIu64
                    " dropped for newer stream updates, %" PRIu64 " chunks read again", f->app,
                    b->req.id, b->acked.rows, b->acked.dropped, b->retries);
    }
    pub_mutex_unlock(&f->mu);
    return out;
}

void pub_boot_set_ticket(pub_flow *f, uint64_t ticket)
{
    pub_boot *b = f->boot;
    pub_mutex_lock(&f->mu);
    assert(!b->stored);
    b->ticket = ticket;
    b->stored = ticket == 0;
    pub_mutex_unlock(&f->mu);
}

bool pub_boot_stored(pub_flow *f, uint64_t written)
{
    pub_boot *b = f->boot;
    bool now = false;
    pub_mutex_lock(&f->mu);
    if (!b->stored && written >= b->ticket) {
        b->stored = now = true;
        pthread_cond_broadcast(&b->cond);
    }
    pub_mutex_unlock(&f->mu);
    return now;
}

bool pub_boot_store_pending(const pub_flow *f)
{
    /* No lock: the loop thread is the only one that writes stored. */
    return f->boot && !f->boot->stored;
}

void pub_boot_reset_locked(pub_boot *b)
{
    assert(pub_mutex_held(&b->f->mu));
    b->gen++;
    b->arrived = false;   /* the flow's next reader seeks again (it may wait: h3's lagging copy) */
    b->has_ready = false;
    atomic_store(&b->waiting, false);
    boot_window_close(&b->win);
    b->emitted_seq = b->acked_seq;
    prog_copy(&b->emitted, &b->acked);
    prog_copy(&b->cursor, &b->acked);
    pthread_cond_broadcast(&b->cond);
}

/* ---- progress for the status file (loop thread) ----------------------------------------------- */

bool pub_boot_view_get(pub_flow *f, pub_boot_view *v)
{
    pub_boot *b = f->boot;
    memset(v, 0, sizeof *v);
    if (!pub_boot_active(b))
        return false;
    pub_mutex_lock(&f->mu);
    const boot_prog *e = &b->emitted;
    snprintf(v->id, sizeof v->id, "%s", b->req.id);
    if (e->table < b->req.ntables)
        snprintf(v->table, sizeof v->table, "%s.%s", b->req.db[e->table],
                 b->req.table[e->table]);
    v->table_index = e->table;
    v->tables = b->req.ntables;
    v->rows = e->rows;
    v->rows_acked = b->acked.rows;
    v->table_rows = e->table_rows;
    v->estimate = e->estimate;
    v->reread = b->retries;
    double secs = (double)(wh_mono_ms() - b->view_t0_ms) / 1000.0;
    v->rows_per_sec = secs > 0.5 && e->rows > b->view_rows0 ? (double)(e->rows - b->view_rows0) /
                                                              secs : 0;
    v->eta_s = -1;
    if (v->rows_per_sec > 0 && v->table[0])
        v->eta_s = e->estimate > e->table_rows
                       ? (int64_t)((double)(e->estimate - e->table_rows) / v->rows_per_sec) : 0;
    pub_mutex_unlock(&f->mu);
    return true;
}

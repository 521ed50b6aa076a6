/* synthetic_mapper.c -- the "synthetic" mapper: generated updates for benchmarks and tests.
 *
 * Produces insert updates into tables bench.t0..tN-1 with columns id (int),
 * k (uint), name (string), price (decimal) and gen_ns (int: CLOCK_REALTIME
 * nanoseconds when the update was generated, for latency measurements).
 * Positions are "SEQ/0" with SEQ = 1, 2, ...; every update is its own
 * transaction. Options: updates (0 = endless), rate (updates per second,
 * 0 = as fast as possible), tables. It reads no datastore, so the publisher,
 * the benchmarks and wormhole-logcat can run without one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "mappers/synthetic/synthetic_mapper.h"

typedef struct synth_opts {
    int64_t updates, rate, tables;
} synth_opts;

static const wh_cfg_field synth_fields[] = {
    { "updates", WH_CFG_INT, offsetof(synth_opts, updates), "0", 0, INT64_MAX,
      "Number of updates to generate; 0 = endless." },
    { "rate", WH_CFG_INT, offsetof(synth_opts, rate), "0", 0, 100000000,
      "Updates per second; 0 = as fast as possible." },
    { "tables", WH_CFG_INT, offsetof(synth_opts, tables), "4", 1, 1000,
      "Number of tables t0..tN-1 the updates are spread over." },
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

#define SYNTH_COLS 5
static const char *const synth_names[SYNTH_COLS] = { "id", "k", "name", "price", "gen_ns" };

typedef struct synth {
    wh_mapper   base;
    synth_opts  o;
    const char *shard;
    uint64_t    next;          /* next sequence number to produce */
    uint64_t    produced;      /* since the start, for the rate */
    int64_t     start_ns;
    char      **tables;
    wh_update  *ups;
    wh_value   *vals;
    char       *text;          /* per-update strings: name and price */
    int         cap;
} synth;

/* Wall-clock nanoseconds: the gen_ns column (core/clock.h has wall time in
 * milliseconds only; latency needs finer). */
static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void synth_destroy(wh_mapper *m)
{
    synth *s = (synth *)m;
    if (!s)
        return;
    for (int64_t i = 0; s->tables && i < s->o.tables; i++)
        free(s->tables[i]);
    free(s->tables);
    free(s->ups);
    free(s->vals);
    free(s->text);
    free(s);
}

static int synth_check(const json_t *options, char *errbuf, size_t errlen)
{
    synth_opts o;
    json_t *empty = options ? NULL : json_object();
    int rc = wh_config_apply(options ? options : empty, "synthetic mapper options",
                             synth_fields, &o, errbuf, errlen);
    json_decref(empty);
    return rc;
}

static int synth_create(const json_t *options, const char *shard, wh_mapper **out,
                        char *errbuf, size_t errlen)
{
    synth *s = calloc(1, sizeof *s);
    if (!s)
        return WH_ERR_NOMEM;
    s->base.ops = &wh_mapper_synthetic;
    s->shard = shard;
    json_t *empty = options ? NULL : json_object();
    int rc = wh_config_apply(options ? options : empty, "synthetic mapper options",
                             synth_fields, &s->o, errbuf, errlen);
    json_decref(empty);
    if (rc) {
        free(s);
        return rc;
    }
    s->tables = calloc((size_t)s->o.tables, sizeof *s->tables);
    if (!s->tables)
        goto oom;
    for (int64_t i = 0; i < s->o.tables; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%lld", (long long)i);
        if (!(s->tables[i] = strdup(name)))
            goto oom;
    }
    s->next = 1;
    *out = &s->base;
    return WH_OK;
oom:
    synth_destroy(&s->base);
    return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
}

static int synth_seek(wh_mapper *m, const wh_pos *pos, bool inclusive, char *errbuf,
                      size_t errlen)
{
    synth *s = (synth *)m;
    if (!pos || !pos->set) {
        s->next = 1;
    } else {
        if (pos->has_log_name)
            return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                             "a synthetic position is SEQ/INDEX, but this one names the file %s",
                             pos->log_name);
        s->next = inclusive ? pos->offset : pos->offset + 1;
        if (s->next == 0)
            s->next = 1;
    }
    s->produced = 0;
    s->start_ns = wh_mono_ns();
    return WH_OK;
}

static int synth_next(wh_mapper *m, const wh_update **updates, int max, int timeout_ms,
                      char *errbuf, size_t errlen)
{
    synth *s = (synth *)m;
    (void)errbuf;
    (void)errlen;
    if (s->start_ns == 0)
        s->start_ns = wh_mono_ns();
    int64_t n = max;
    if (s->o.updates > 0) {
        int64_t left = s->o.updates - (int64_t)s->next + 1;
        if (left <= 0) {
            if (!m->follow)
                return WH_ERR_EOF;
            struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            return WH_ERR_AGAIN;
        }
        if (n > left)
            n = left;
    }
    if (s->o.rate > 0) {
        int64_t elapsed = wh_mono_ns() - s->start_ns;
        int64_t allowed = (int64_t)((double)elapsed * (double)s->o.rate / 1e9) -
                          (int64_t)s->produced;
        if (allowed <= 0) {
            int64_t wait_ns = (int64_t)(1e9 / (double)s->o.rate);
            if (wait_ns > (int64_t)timeout_ms * 1000000)
                wait_ns = (int64_t)timeout_ms * 1000000;
            struct timespec ts = { wait_ns / 1000000000, wait_ns % 1000000000 };
            nanosleep(&ts, NULL);
            return WH_ERR_AGAIN;
        }
        if (n > allowed)
            n = allowed;
    }
    if (n > s->cap) {
        free(s->ups);
        free(s->vals);
        free(s->text);
        s->ups = calloc((size_t)n, sizeof *s->ups);
        s->vals = calloc((size_t)n * SYNTH_COLS, sizeof *s->vals);
        s->text = malloc((size_t)n * 64);
        if (!s->ups || !s->vals || !s->text) {
            s->cap = 0;
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        }
        s->cap = (int)n;
    }
    int64_t gen = wall_ns();
    for (int64_t i = 0; i < n; i++) {
        uint64_t seq = s->next + (uint64_t)i;
        wh_update *u = &s->ups[i];
        wh_value *v = &s->vals[i * SYNTH_COLS];
        char *t = s->text + i * 64;
        int nl = snprintf(t, 32, "name-%llu", (unsigned long long)seq);
        int pl = snprintf(t + 32, 32, "%llu.%02u", (unsigned long long)(seq % 100000),
                          (unsigned)(seq % 100));
        memset(v, 0, SYNTH_COLS * sizeof *v);
        v[0].type = WH_T_INT; v[0].n.i = (int64_t)seq;
        v[1].type = WH_T_UINT; v[1].n.u = seq % 1000;
        v[2].type = WH_T_STRING; v[2].str = t; v[2].len = (uint32_t)nl;
        v[3].type = WH_T_DECIMAL; v[3].str = t + 32; v[3].len = (uint32_t)pl; v[3].scale = 2;
        v[4].type = WH_T_INT; v[4].n.i = gen;
        memset(u, 0, sizeof *u);
        u->shard = s->shard;
        u->op = WH_OP_INSERT;
        u->pos.offset = seq;
        u->ts = gen / 1000000000;
        u->txn.last = true;
        u->db = "bench";
        u->table = s->tables[seq % (uint64_t)s->o.tables];
        u->schema_id = 1;
        u->has_after = true;
        u->after.names = synth_names;
        u->after.values = v;
        u->after.count = SYNTH_COLS;
    }
    s->next += (uint64_t)n;
    s->produced += (uint64_t)n;
    *updates = s->ups;
    return (int)n;
}

const wh_mapper_ops wh_mapper_synthetic = {
    .name = "synthetic",
    .options = synth_fields,
    .create = synth_create,
    .check = synth_check,
    .seek_physical = synth_seek,
    .seek_logical = synth_seek,
    .next_batch = synth_next,
    .destroy = synth_destroy,
};

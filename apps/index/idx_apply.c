/* idx_apply.c -- wormhole-index's applier: one delivered batch becomes one index transaction, with the shard's position in it. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "apps/index/idx.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "wormhole/position.h"

/* ---- values ---------------------------------------------------------------------------- */

bool idx_value_text(const wh_value *v, wh_buf *b)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[64];
    switch (v->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        return false;
    case WH_T_INT:
        wh_buf_printf(b, "%" PRId64, v->n.i);
        return true;
    case WH_T_UINT:
    case WH_T_YEAR:
        wh_buf_printf(b, "%" PRIu64, v->n.u);
        return true;
    case WH_T_FLOAT: {
        bool f32 = v->flags & WH_VF_FLOAT32;
        for (int prec = f32 ? 6 : 15; prec <= (f32 ? 9 : 17); prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v->n.d);
            double back = strtod(tmp, NULL);
            if (f32 ? (float)back == (float)v->n.d : back == v->n.d)
                break;
        }
        wh_buf_puts(b, tmp);
        return true;
    }
    case WH_T_BYTES:
        wh_buf_puts(b, "\\x");
        if (v->len && wh_buf_reserve(b, 2 * (size_t)v->len)) {
            for (uint32_t i = 0; i < v->len; i++) {
                unsigned char c = (unsigned char)v->str[i];
                b->data[b->len++] = hex[c >> 4];
                b->data[b->len++] = hex[c & 15];
            }
            b->data[b->len] = '\0';
        }
        return true;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        wh_buf_append(b, tmp, wh_temporal_format(v, tmp, sizeof tmp));
        return true;
    case WH_T_ENUM:
    case WH_T_SET:
        if (!v->str) {
            wh_buf_printf(b, "%" PRIu64, v->n.u);
            return true;
        }
        /* fall through */
    default:   /* STRING, DECIMAL, JSON */
        if (v->len)
            wh_buf_append(b, v->str, v->len);
        else
            wh_buf_reserve(b, 1);   /* an empty string is not NULL: make data non-NULL */
        return true;
    }
}

bool idx_value_equal(const wh_value *a, const wh_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        return true;
    case WH_T_INT:
        return a->n.i == b->n.i;
    case WH_T_UINT:
    case WH_T_YEAR:
        return a->n.u == b->n.u;
    case WH_T_FLOAT:
        return a->n.d == b->n.d;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        const wh_temporal *x = &a->n.t, *y = &b->n.t;
        return x->year == y->year && x->month == y->month && x->day == y->day &&
               x->hour == y->hour && x->minute == y->minute && x->second == y->second &&
               x->usec == y->usec && x->negative == y->negative;
    }
    case WH_T_ENUM:
    case WH_T_SET:
        if (!a->str || !b->str)
            return !a->str && !b->str && a->n.u == b->n.u;
        /* fall through */
    default:
        return a->len == b->len && (a->len == 0 || memcmp(a->str, b->str, a->len) == 0);
    }
}

void idx_sql_ident(wh_buf *b, const char *name)
{
    wh_buf_putc(b, '"');
    wh_buf_puts(b, name);     /* the config allows only [A-Za-z0-9_] */
    wh_buf_putc(b, '"');
}

int idx_backend_new(const idx_config *cfg, idx_backend **out, char *errbuf, size_t errlen)
{
    if (strcasecmp(cfg->backend, "sqlite") == 0)
        *out = idx_sqlite_new(cfg);
    else
        *out = idx_pg_new(cfg);
    if (!*out)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for the index backend");
    return WH_OK;
}

/* ---- statistics -------------------------------------------------------------------------- */

/* The shard's entry (created); call with stats.mu held. NULL on OOM. */
static idx_shard_stat *shard_stat(idx_stats *st, const char *shard)
{
    for (uint32_t i = 0; i < st->nshards; i++)
        if (strcmp(st->shards[i].shard, shard) == 0)
            return &st->shards[i];
    if (st->nshards == st->capshards) {
        uint32_t cap = st->capshards ? 2 * st->capshards : 8;
        idx_shard_stat *p = realloc(st->shards, cap * sizeof *p);
        if (!p)
            return NULL;
        st->shards = p;
        st->capshards = cap;
    }
    idx_shard_stat *s = &st->shards[st->nshards];
    memset(s, 0, sizeof *s);
    if (!(s->shard = strdup(shard)))
        return NULL;
    st->nshards++;
    return s;
}

static void set_str(char **dst, const char *src)
{
    if (*dst && src && strcmp(*dst, src) == 0)
        return;
    free(*dst);
    *dst = src ? strdup(src) : NULL;
}

void idx_app_notice(idx_app *app, const char *shard, bool held)
{
    pthread_mutex_lock(&app->stats.mu);
    idx_shard_stat *s = shard_stat(&app->stats, shard);
    if (s)
        s->held = held;
    pthread_mutex_unlock(&app->stats.mu);
}

static void note_error(idx_app *app, const char *msg)
{
    pthread_mutex_lock(&app->stats.mu);
    app->stats.errors++;
    snprintf(app->stats.last_error, sizeof app->stats.last_error, "%.1000s", msg);
    app->stats.last_error_ms = wh_wall_ms();
    pthread_mutex_unlock(&app->stats.mu);
}

static void json_str(wh_buf *b, const char *s)
{
    if (!s) {
        wh_buf_puts(b, "null");
        return;
    }
    wh_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            wh_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            wh_buf_printf(b, "\\u%04x", c);
        else
            wh_buf_putc(b, (char)c);
    }
    wh_buf_putc(b, '"');
}

void idx_stats_json(idx_app *app, const char *instance, double rate, wh_buf *b)
{
    idx_stats *st = &app->stats;
    int64_t now = wh_wall_ms();
    pthread_mutex_lock(&st->mu);
    wh_buf_puts(b, "{\"app\":");
    json_str(b, app->cfg->app);
    wh_buf_puts(b, ",\"instance\":");
    json_str(b, instance);
    wh_buf_printf(b, ",\"pid\":%d,\"now_ms\":%" PRId64 ",\"backend\":", (int)getpid(), now);
    json_str(b, app->cfg->backend);
    wh_buf_printf(b, ",\"backend_up\":%s,\"state\":\"%s\",\"updates_per_s\":%.1f,"
                  "\"applied\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"updates\":%" PRIu64
                  ",\"batches\":%" PRIu64 ",\"commits\":%" PRIu64 ",\"refused\":%" PRIu64
                  ",\"errors\":%" PRIu64 ",\"last_error\":",
                  st->backend_up ? "true" : "false",
                  st->failed ? "failed" : st->stopped ? "stopped"
                                : st->backend_up ? "running" : "retrying", rate,
                  st->applied, st->skipped, st->updates, st->batches, st->commits, st->refused,
                  st->errors);
    json_str(b, st->last_error[0] ? st->last_error : NULL);
    wh_buf_printf(b, ",\"last_error_ms\":%" PRId64 ",\"shards\":{", st->last_error_ms);
    for (uint32_t i = 0; i < st->nshards; i++) {
        const idx_shard_stat *s = &st->shards[i];
        if (i)
            wh_buf_putc(b, ',');
        json_str(b, s->shard);
        wh_buf_printf(b, ":{\"held\":%s,\"applied\":%" PRIu64 ",\"skipped\":%" PRIu64
                      ",\"batches\":%" PRIu64 ",\"physical\":", s->held ? "true" : "false",
                      s->applied, s->skipped, s->batches);
        json_str(b, s->physical);
        wh_buf_puts(b, ",\"logical\":");
        json_str(b, s->logical);
        wh_buf_printf(b, ",\"event_ts\":%" PRId64 ",\"age_ms\":%" PRId64
                      ",\"committed_ms\":%" PRId64 "}", s->event_ts,
                      s->event_ts ? now - s->event_ts * 1000 : -1, s->commit_ms);
    }
    wh_buf_puts(b, "}}\n");
    pthread_mutex_unlock(&st->mu);
}

/* ---- setup ------------------------------------------------------------------------------ */

int idx_app_init(idx_app *app, idx_config *cfg, char *errbuf, size_t errlen)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    pthread_mutex_init(&app->stats.mu, NULL);
    for (uint32_t i = 0; i < cfg->ntables; i++)
        if (cfg->tables[i].ncols > app->maxcols)
            app->maxcols = cfg->tables[i].ncols;
    app->vals = calloc(app->maxcols, sizeof *app->vals);
    app->keys = calloc(app->maxcols, sizeof *app->keys);
    if (!app->vals || !app->keys || wh_applied_new(&app->pos) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    app->backoff_ms = cfg->retry_min_ms;
    return idx_backend_new(cfg, &app->be, errbuf, errlen);
}

void idx_app_free(idx_app *app)
{
    if (app->be) {
        if (app->be->open)
            app->be->ops->close(app->be);
        app->be->ops->destroy(app->be);
    }
    wh_applied_free(app->pos);
    free(app->vals);
    free(app->keys);
    wh_buf_free(&app->key);
    for (uint32_t i = 0; i < app->stats.nshards; i++) {
        free(app->stats.shards[i].shard);
        free(app->stats.shards[i].physical);
        free(app->stats.shards[i].logical);
    }
    free(app->stats.shards);
    pthread_mutex_destroy(&app->stats.mu);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The backend failed: remember why, close it, and schedule the next try. */
static void backend_failed(idx_app *app, const char *what, const char *err)
{
    idx_backend *be = app->be;
    if (be->open) {
        be->ops->rollback(be);
        be->ops->close(be);
    }
    char msg[1200];
    snprintf(msg, sizeof msg, "%s backend: %s: %s", be->ops->name, what, err);
    note_error(app, msg);
    wh_warn(WH_AREA_SUBSCRIBER, "%s; nothing acknowledged, retrying in %" PRId64 " ms", msg,
            app->backoff_ms);
    app->retry_at_ms = wh_mono_ms() + app->backoff_ms;
    app->backoff_ms = app->backoff_ms * 2 > app->cfg->retry_max_ms ? app->cfg->retry_max_ms
                                                                   : app->backoff_ms * 2;
    pthread_mutex_lock(&app->stats.mu);
    app->stats.backend_up = false;
    pthread_mutex_unlock(&app->stats.mu);
}

static void backend_up(idx_app *app)
{
    app->backoff_ms = app->cfg->retry_min_ms;
    pthread_mutex_lock(&app->stats.mu);
    app->stats.backend_up = true;
    pthread_mutex_unlock(&app->stats.mu);
}

static int set_fatal(idx_app *app, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_fatal(idx_app *app, int code, const char *fmt, ...)
{
    if (!app->has_fatal) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(app->fatal, sizeof app->fatal, fmt, ap);
        va_end(ap);
        app->has_fatal = true;
        note_error(app, app->fatal);
        pthread_mutex_lock(&app->stats.mu);
        app->stats.failed = true;
        pthread_mutex_unlock(&app->stats.mu);
    }
    return code < 0 ? code : WH_ERR_INVALID;
}

int idx_app_open_backend(idx_app *app, char *errbuf, size_t errlen)
{
    char err[1024];
    for (;;) {
        if (app->stopping)
            return WH_ERR_CLOSED;
        int rc = app->be->ops->open(app->be, err, sizeof err);
        if (rc == WH_OK) {
            backend_up(app);
            return WH_OK;
        }
        if (rc == WH_ERR_CONFIG)
            return wh_seterr(errbuf, errlen, rc, "%s", err);
        backend_failed(app, "cannot open the index", err);
        while (!app->stopping && wh_mono_ms() < app->retry_at_ms)
            sleep_ms(50);
    }
}

/* ---- one update ----------------------------------------------------------------------- */

static idx_table *find_table(idx_config *c, const char *db, const char *table)
{
    if (!db || !table)
        return NULL;
    for (uint32_t i = 0; i < c->ntables; i++)
        if (strcmp(c->tables[i].table, table) == 0 && strcmp(c->tables[i].db, db) == 0)
            return &c->tables[i];
    return NULL;
}

/* out[k] = the row's value of t->cols[k] for k < upto; the cache t->at is
 * checked by name, so a changed column list re-resolves. Fails (fatal) when a
 * column is missing or a key column is NULL. */
static int resolve(idx_app *app, idx_table *t, const wh_row *row, uint32_t upto,
                   const wh_value **out, const wh_update *u, const char *image)
{
    for (uint32_t k = 0; k < upto; k++) {
        int at = t->at[k];
        if (at < 0 || (uint32_t)at >= row->count || strcmp(row->names[at], t->cols[k]) != 0)
            at = t->at[k] = wh_row_find(row, t->cols[k], strlen(t->cols[k]));
        const wh_value *v = at >= 0 ? &row->values[at] : NULL;
        if (!v || v->type == WH_T_ABSENT) {
            char pos[600];
            snprintf(pos, sizeof pos, "%s%s%" PRIu64 "/%" PRIu32,
                     u->pos.log_name ? u->pos.log_name : "", u->pos.log_name ? ":" : "",
                     u->pos.offset, u->pos.index);
            return set_fatal(app, WH_ERR_UNSUPPORTED,
                             "%s %s at %s: the %s image has no column '%s'%s", t->source,
                             wh_op_name(u->op), pos, image, t->cols[k],
                             at < 0 ? " (the table has no such column: fix the config)"
                                    : " (the server must log full row images: "
                                      "binlog_row_image=FULL)");
        }
        if (k < t->nkey && v->type == WH_T_NULL)
            return set_fatal(app, WH_ERR_UNSUPPORTED,
                             "%s %s: key column '%s' is NULL: 'key' must list the table's "
                             "primary key", t->source, wh_op_name(u->op), t->cols[k]);
        out[k] = v;
    }
    return WH_OK;
}

static int count_change(idx_app *app, idx_table *t, const wh_value *const *keys, char *err,
                        size_t errlen)
{
    if (!app->cfg->counters)
        return WH_OK;
    wh_buf_reset(&app->key);
    for (uint32_t k = 0; k < t->nkey; k++) {
        if (k)
            wh_buf_putc(&app->key, '\t');
        idx_value_text(keys[k], &app->key);
    }
    if (!wh_buf_ok(&app->key))
        return wh_seterr(err, errlen, WH_ERR_NOMEM, "out of memory");
    return app->be->ops->count(app->be, t, app->key.data ? app->key.data : "", app->key.len,
                               err, errlen);
}

/* Skips spaces and comments of an SQL statement. */
static const char *sql_skip(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if ((p[0] == '-' && p[1] == '-' && (p[2] == ' ' || p[2] == '\t')) || p[0] == '#') {
            p += strcspn(p, "\n");
        } else {
            return p;
        }
    }
}

/* Matches keyword kw (case-blind, followed by a non-identifier character). */
static bool sql_kw(const char **pp, const char *kw)
{
    const char *p = sql_skip(*pp);
    size_t n = strlen(kw);
    if (strncasecmp(p, kw, n) != 0)
        return false;
    char c = p[n];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '_' || c == '$')
        return false;
    *pp = p + n;
    return true;
}

/* One identifier, `quoted` or plain, into buf; false if none. */
static bool sql_ident(const char **pp, char *buf, size_t len)
{
    const char *p = sql_skip(*pp);
    size_t n = 0;
    if (*p == '`') {
        for (p++; *p; p++) {
            if (*p == '`') {
                if (p[1] != '`')
                    break;
                p++;
            }
            if (n + 1 < len)
                buf[n++] = *p;
        }
        if (*p != '`')
            return false;
        p++;
    } else {
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
               (*p >= '0' && *p <= '9') || *p == '_' || *p == '$' || (unsigned char)*p >= 0x80) {
            if (n + 1 < len)
                buf[n++] = *p;
            p++;
        }
        if (n == 0)
            return false;
    }
    buf[n] = '\0';
    *pp = p;
    return true;
}

/* TRUNCATE [TABLE] t and DROP TABLE [IF EXISTS] t[, t...] of an indexed table
 * empty its index; other DDL leaves the index as it is. */
static int apply_ddl(idx_app *app, const wh_update *u, char *err, size_t errlen)
{
    const char *p = u->statement;
    if (!p)
        return WH_OK;
    bool list;
    if (sql_kw(&p, "TRUNCATE")) {
        sql_kw(&p, "TABLE");
        list = false;
    } else if (sql_kw(&p, "DROP") && sql_kw(&p, "TABLE")) {
        if (sql_kw(&p, "IF") && !sql_kw(&p, "EXISTS"))
            return WH_OK;
        list = true;
    } else {
        return WH_OK;
    }
    for (;;) {
        char a[256], b[256];
        const char *db = u->db, *name = a;
        if (!sql_ident(&p, a, sizeof a))
            return WH_OK;
        const char *q = sql_skip(p);
        if (*q == '.') {
            p = q + 1;
            if (!sql_ident(&p, b, sizeof b))
                return WH_OK;
            db = a;
            name = b;
        }
        idx_table *t = find_table(app->cfg, db, name);
        if (t) {
            wh_info(WH_AREA_SUBSCRIBER, "%s: '%.200s' empties the index table %s", t->source,
                    u->statement, t->name);
            int rc = app->be->ops->clear(app->be, t, err, errlen);
            if (rc)
                return rc;
        }
        q = sql_skip(p);
        if (!list || *q != ',')
            return WH_OK;
        p = q + 1;
    }
}

/* Applies one NEW update. Returns WH_OK, a backend failure (err says why), or
 * a code after set_fatal. *rows counts the row changes applied. */
static int apply_one(idx_app *app, const wh_update *u, uint64_t *rows, char *err, size_t errlen)
{
    idx_backend *be = app->be;
    if (u->op == WH_OP_DDL)
        return apply_ddl(app, u, err, errlen);
    if (u->op > WH_OP_DELETE && u->op != WH_OP_SNAPSHOT)
        return WH_OK;                      /* key-value ops, bootstrap markers: not indexed */
    idx_table *t = find_table(app->cfg, u->db, u->table);
    if (!t)
        return WH_OK;
    int rc;
    switch (u->op) {
    case WH_OP_INSERT:
    case WH_OP_UPDATE:
    case WH_OP_SNAPSHOT:                   /* a bootstrap's existing row: an upsert */
        if (!u->has_after)
            return set_fatal(app, WH_ERR_UNSUPPORTED, "%s %s without an after image",
                             t->source, wh_op_name(u->op));
        if ((rc = resolve(app, t, &u->after, t->ncols, app->vals, u, "after")))
            return rc;
        if (u->op == WH_OP_UPDATE && u->has_before) {
            if ((rc = resolve(app, t, &u->before, t->nkey, app->keys, u, "before")))
                return rc;
            bool moved = false;
            for (uint32_t k = 0; k < t->nkey && !moved; k++)
                moved = !idx_value_equal(app->keys[k], app->vals[k]);
            if (moved && (rc = be->ops->remove(be, t, app->keys, err, errlen)))
                return rc;
        }
        if ((rc = be->ops->upsert(be, t, app->vals, u->op == WH_OP_INSERT, err, errlen)) ||
            (rc = count_change(app, t, app->vals, err, errlen)))
            return rc;
        break;
    case WH_OP_DELETE:
        if (!u->has_before)
            return set_fatal(app, WH_ERR_UNSUPPORTED, "%s delete without a before image",
                             t->source);
        if ((rc = resolve(app, t, &u->before, t->nkey, app->keys, u, "before")) ||
            (rc = be->ops->remove(be, t, app->keys, err, errlen)) ||
            (rc = count_change(app, t, app->keys, err, errlen)))
            return rc;
        break;
    default:
        return WH_OK;
    }
    (*rows)++;
    return WH_OK;
}

/* ---- one batch ------------------------------------------------------------------------ */

/* Whether pos is the applied position itself: the same physical text, or
 * the same logical text as the last applied update's (the first entry of
 * the stored logical part). */
static bool at_applied(wh_applied *a, const wh_position *pos)
{
    char buf[1024];
    const char *phys = wh_applied_physical(a), *logical = wh_applied_logical(a);
    if (phys && pos->log_name && wh_position_physical(pos, buf, sizeof buf) < sizeof buf - 1 &&
        strcmp(buf, phys) == 0)
        return true;
    if (!logical || !pos->logical || !pos->logical[0])
        return false;
    size_t n = wh_position_logical(pos, buf, sizeof buf);
    return n < sizeof buf - 1 && strncmp(logical, buf, n) == 0 &&
           (logical[n] == '\0' || logical[n] == ',');
}

/* wh_applied_check for u, with a bootstrap's snapshot rows (docs/BOOTSTRAP.md)
 * in mind: such a row carries the position of the stream update just before
 * it, so it is NEW at the applied position too (*advance false: the position
 * stays); before it, the index already holds a newer state of the row: SEEN. */
static int applied_check(idx_app *app, const wh_update *u, bool *advance, char *err,
                         size_t errlen)
{
    *advance = true;
    int r = wh_applied_check(app->pos, &u->pos, err, errlen);
    if (r == WH_APPLIED_SEEN && u->op == WH_OP_SNAPSHOT && at_applied(app->pos, &u->pos)) {
        *advance = false;
        return WH_APPLIED_NEW;
    }
    return r;
}

int idx_app_batch(idx_app *app, const wh_update *ups, size_t n, const char *shard)
{
    idx_backend *be = app->be;
    char err[1024];
    if (app->has_fatal)
        return WH_ERR_INVALID;
    pthread_mutex_lock(&app->stats.mu);
    app->stats.updates += n;
    pthread_mutex_unlock(&app->stats.mu);
    if (!be->open) {
        /* Down: wait (briefly: the subscriber's loop is blocked meanwhile) for the
         * retry time, else refuse the batch; the publisher sends it again. */
        int64_t wait = app->retry_at_ms - wh_mono_ms();
        if (wait > 0)
            sleep_ms(wait > 1000 ? 1000 : wait);
        if (app->stopping || wh_mono_ms() < app->retry_at_ms)
            goto refuse;
        int rc = be->ops->open(be, err, sizeof err);
        if (rc == WH_ERR_CONFIG)
            return set_fatal(app, rc, "%s", err);
        if (rc) {
            backend_failed(app, "cannot open the index", err);
            goto refuse;
        }
        wh_info(WH_AREA_SUBSCRIBER, "%s backend is back", be->ops->name);
        backend_up(app);
    }

    int rc = be->ops->begin(be, shard, app->pos, err, sizeof err);
    if (rc == WH_ERR_PARSE) {
        be->ops->rollback(be);
        return set_fatal(app, rc, "shard %s: the position stored in the index is unusable: %s",
                         shard, err);
    }
    if (rc) {
        backend_failed(app, "begin", err);
        goto refuse;
    }
    uint64_t rows = 0, skipped = 0;
    int64_t ts = 0;
    for (size_t i = 0; i < n; i++) {
        const wh_update *u = &ups[i];
        bool advance;
        int r = applied_check(app, u, &advance, err, sizeof err);
        if (r == WH_APPLIED_SEEN) {
            skipped++;
            continue;
        }
        if (r < 0) {
            be->ops->rollback(be);
            return set_fatal(app, r, "shard %s: %s", shard, err);
        }
        rc = apply_one(app, u, &rows, err, sizeof err);
        if (rc && app->has_fatal) {
            be->ops->rollback(be);
            return rc;
        }
        if (rc) {
            backend_failed(app, "apply", err);
            goto refuse;
        }
        if (advance && (rc = wh_applied_advance(app->pos, &u->pos, err, sizeof err))) {
            be->ops->rollback(be);
            return set_fatal(app, rc, "shard %s: %s", shard, err);
        }
        ts = u->ts;
    }
    if (skipped == n) {
        be->ops->rollback(be);            /* nothing new: nothing to store */
    } else {
        const char *phys = wh_applied_physical(app->pos), *logical = wh_applied_logical(app->pos);
        if (!phys) {
            be->ops->rollback(be);
            return set_fatal(app, WH_ERR_NOMEM, "out of memory");
        }
        rc = be->ops->commit(be, shard, phys, logical, ts, rows, err, sizeof err);
        if (rc) {
            backend_failed(app, "commit", err);
            goto refuse;
        }
    }
    if (skipped)
        wh_debug(WH_AREA_SUBSCRIBER, "shard %s: %" PRIu64 " of %zu updates were applied before",
                 shard, skipped, n);
    pthread_mutex_lock(&app->stats.mu);
    app->stats.applied += rows;
    app->stats.skipped += skipped;
    app->stats.batches++;
    idx_shard_stat *s = shard_stat(&app->stats, shard);
    if (s) {
        s->applied += rows;
        s->skipped += skipped;
        s->batches++;
        if (skipped < n) {
            app->stats.commits++;
            set_str(&s->physical, wh_applied_physical(app->pos));
            set_str(&s->logical, wh_applied_logical(app->pos));
            if (ts)
                s->event_ts = ts;
            s->commit_ms = wh_wall_ms();
        }
    }
    pthread_mutex_unlock(&app->stats.mu);
    return WH_OK;
refuse:
    pthread_mutex_lock(&app->stats.mu);
    app->stats.refused++;
    pthread_mutex_unlock(&app->stats.mu);
    return WH_ERR_AGAIN;
}

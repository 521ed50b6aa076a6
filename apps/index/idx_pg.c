/* idx_pg.c -- wormhole-index's PostgreSQL backend: a table per indexed table with a generated tsvector column under a GIN index, and the positions table; a batch is one transaction sent in pipeline mode.
 *
 * Schema of an indexed table NAME with key k, text t and stored s columns
 * (every column is text; values in their text forms, see idx_value_text):
 *   NAME(k text NOT NULL, t text, s text,
 *        tsv tsvector GENERATED ALWAYS AS (to_tsvector('CONFIG', coalesce(t, '') ...)) STORED,
 *        PRIMARY KEY (k))
 *   NAME_tsv: GIN index on tsv
 * Several instances may share one database: each batch locks its shard's
 * row of wormhole_positions, and the schema is created under an advisory lock.
 * One connection, used only by the subscriber's loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "apps/index/idx.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"

#define PG_SYNC_EVERY 1000            /* queries between syncs (bounds unread results) */
#define PG_SCHEMA_LOCK 0x776869647831 /* advisory lock key while creating the schema */

typedef struct pg_backend {
    idx_backend  base;
    PGconn      *conn;
    bool         in_txn, in_pipeline;
    int          pending;         /* queries sent since the last sync */
    int          syncs;           /* syncs whose results are unread */
    wh_buf       params;          /* text of the current query's parameters */
    size_t      *offs;
    const char **pv;
    uint32_t     maxparams;
} pg_backend;

static void pg_notice(void *arg, const char *message)
{
    (void)arg;
    wh_debug(WH_AREA_SUBSCRIBER, "postgresql: %s", message);
}

/* The error of a result (or of the connection), with its SQLSTATE. */
static int pg_err(pg_backend *b, const PGresult *r, const char *what, char *errbuf,
                  size_t errlen)
{
    const char *msg = r ? PQresultErrorMessage(r) : "";
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!msg || !*msg)
        msg = b->conn ? PQerrorMessage(b->conn) : "no connection";
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return wh_seterr(errbuf, errlen, WH_ERR_IO, "postgresql: %s: %.*s%s%s%s", what, (int)n, msg,
                     state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

/* Runs a simple query (one or more statements) outside pipeline mode. */
static int pg_exec(pg_backend *b, const char *sql, const char *what, char *errbuf,
                   size_t errlen)
{
    PGresult *r = PQexec(b->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = WH_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_err(b, r, what, errbuf, errlen);
    PQclear(r);
    return rc;
}

static void col_list(wh_buf *s, const idx_table *t, uint32_t from, uint32_t to, bool lead)
{
    for (uint32_t k = from; k < to; k++) {
        if (k > from || lead)
            wh_buf_puts(s, ", ");
        idx_sql_ident(s, t->cols[k]);
    }
}

static void table_ddl(wh_buf *s, const idx_table *t, const char *tsconfig)
{
    wh_buf_puts(s, "CREATE TABLE IF NOT EXISTS ");
    idx_sql_ident(s, t->name);
    wh_buf_puts(s, " (");
    for (uint32_t k = 0; k < t->ncols; k++) {
        if (k)
            wh_buf_puts(s, ", ");
        idx_sql_ident(s, t->cols[k]);
        wh_buf_puts(s, k < t->nkey ? " text NOT NULL" : " text");
    }
    wh_buf_printf(s, ", tsv tsvector GENERATED ALWAYS AS (to_tsvector('%s'::regconfig, ",
                  tsconfig);
    for (uint32_t k = t->nkey; k < t->nkey + t->ntext; k++) {
        if (k > t->nkey)
            wh_buf_puts(s, " || ' ' || ");
        wh_buf_puts(s, "coalesce(");
        idx_sql_ident(s, t->cols[k]);
        wh_buf_puts(s, ", '')");
    }
    wh_buf_puts(s, ")) STORED, PRIMARY KEY (");
    col_list(s, t, 0, t->nkey, false);
    wh_buf_printf(s, "));\nCREATE INDEX IF NOT EXISTS \"%s_tsv\" ON \"%s\" USING gin (tsv);\n",
                  t->name, t->name);
}

static int check_columns(pg_backend *b, const idx_table *t, char *errbuf, size_t errlen)
{
    const char *params[1] = { t->name };
    PGresult *r = PQexecParams(b->conn,
                               "SELECT column_name FROM information_schema.columns WHERE "
                               "table_schema = current_schema() AND table_name = $1 "
                               "ORDER BY ordinal_position", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = pg_err(b, r, "reading the index's schema", errbuf, errlen);
        PQclear(r);
        return rc;
    }
    wh_buf have = WH_BUF_INIT, want = WH_BUF_INIT;
    for (int i = 0; i < PQntuples(r); i++)
        wh_buf_printf(&have, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
    for (uint32_t k = 0; k < t->ncols; k++)
        wh_buf_printf(&want, "%s, ", t->cols[k]);
    wh_buf_puts(&want, "tsv");
    PQclear(r);
    int rc = WH_OK;
    if (!have.data || !want.data || strcmp(have.data, want.data) != 0)
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "postgresql: index table %s has the columns (%s) but the config wants "
                       "(%s): drop it to rebuild it, or give the index another name", t->name,
                       have.data ? have.data : "", want.data ? want.data : "");
    wh_buf_free(&have);
    wh_buf_free(&want);
    return rc;
}

static int pg_prepare(pg_backend *b, const char *name, const char *sql, int nparams,
                      char *errbuf, size_t errlen)
{
    PGresult *r = PQprepare(b->conn, name, sql, nparams, NULL);
    int rc = WH_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_err(b, r, "preparing a statement", errbuf, errlen);
    PQclear(r);
    return rc;
}

static int prepare_table(pg_backend *b, uint32_t i, char *errbuf, size_t errlen)
{
    const idx_table *t = &b->base.cfg->tables[i];
    wh_buf s = WH_BUF_INIT;
    char name[32];
    int rc = WH_OK;
    wh_buf_puts(&s, "INSERT INTO ");
    idx_sql_ident(&s, t->name);
    wh_buf_puts(&s, " (");
    col_list(&s, t, 0, t->ncols, false);
    wh_buf_puts(&s, ") VALUES (");
    for (uint32_t k = 0; k < t->ncols; k++)
        wh_buf_printf(&s, "%s$%u", k ? ", " : "", k + 1);
    wh_buf_puts(&s, ") ON CONFLICT (");
    col_list(&s, t, 0, t->nkey, false);
    wh_buf_puts(&s, ") DO UPDATE SET ");
    for (uint32_t k = t->nkey; k < t->ncols; k++) {
        if (k > t->nkey)
            wh_buf_puts(&s, ", ");
        idx_sql_ident(&s, t->cols[k]);
        wh_buf_puts(&s, " = EXCLUDED.");
        idx_sql_ident(&s, t->cols[k]);
    }
    snprintf(name, sizeof name, "u%u", i);
    if (!wh_buf_ok(&s) || (rc = pg_prepare(b, name, s.data, (int)t->ncols, errbuf, errlen)))
        goto out;
    wh_buf_reset(&s);
    wh_buf_puts(&s, "DELETE FROM ");
    idx_sql_ident(&s, t->name);
    wh_buf_puts(&s, " WHERE ");
    for (uint32_t k = 0; k < t->nkey; k++) {
        if (k)
            wh_buf_puts(&s, " AND ");
        idx_sql_ident(&s, t->cols[k]);
        wh_buf_printf(&s, " = $%u", k + 1);
    }
    snprintf(name, sizeof name, "d%u", i);
    if (!wh_buf_ok(&s) || (rc = pg_prepare(b, name, s.data, (int)t->nkey, errbuf, errlen)))
        goto out;
    wh_buf_reset(&s);
    wh_buf_puts(&s, "DELETE FROM ");
    idx_sql_ident(&s, t->name);
    snprintf(name, sizeof name, "x%u", i);
    if (!wh_buf_ok(&s) || (rc = pg_prepare(b, name, s.data, 0, errbuf, errlen)))
        goto out;
out:
    if (!wh_buf_ok(&s))
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    wh_buf_free(&s);
    return rc;
}

static void pg_close(idx_backend *base)
{
    pg_backend *b = (pg_backend *)base;
    PQfinish(b->conn);   /* NULL is a no-op */
    b->conn = NULL;
    b->in_txn = b->in_pipeline = false;
    b->pending = b->syncs = 0;
    base->open = false;
}

static int pg_open(idx_backend *base, char *errbuf, size_t errlen)
{
    pg_backend *b = (pg_backend *)base;
    const idx_config *c = base->cfg;
    /* Our defaults first: the config's conninfo (expanded as dbname) overrides them. */
    static const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
    const char *vals[] = { "10", "wormhole-index", c->pg_conninfo, NULL };
    wh_buf s = WH_BUF_INIT;
    int rc = WH_OK;
    b->conn = PQconnectdbParams(keys, vals, 1);
    if (!b->conn || PQstatus(b->conn) != CONNECTION_OK) {
        rc = pg_err(b, NULL, "cannot connect", errbuf, errlen);
        goto err;
    }
    PQsetNoticeProcessor(b->conn, pg_notice, NULL);
    wh_buf_printf(&s, "BEGIN; SELECT pg_advisory_xact_lock(%lld);\n"
                  "CREATE TABLE IF NOT EXISTS wormhole_positions (shard text PRIMARY KEY, "
                  "physical text, logical text, event_ts bigint NOT NULL DEFAULT 0, "
                  "applied bigint NOT NULL DEFAULT 0, updated_ms bigint NOT NULL DEFAULT 0);\n"
                  "CREATE TABLE IF NOT EXISTS wormhole_counts (tbl text NOT NULL, key text NOT "
                  "NULL, changes bigint NOT NULL, PRIMARY KEY (tbl, key));\n",
                  (long long)PG_SCHEMA_LOCK);
    for (uint32_t i = 0; i < c->ntables; i++)
        table_ddl(&s, &c->tables[i], c->pg_ts_config);
    wh_buf_puts(&s, "COMMIT;");
    if (!wh_buf_ok(&s)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    if ((rc = pg_exec(b, s.data, "creating the index's tables", errbuf, errlen)))
        goto err;
    for (uint32_t i = 0; i < c->ntables; i++)
        if ((rc = check_columns(b, &c->tables[i], errbuf, errlen)) ||
            (rc = prepare_table(b, i, errbuf, errlen)))
            goto err;
    if ((rc = pg_prepare(b, "c", "INSERT INTO wormhole_counts (tbl, key, changes) VALUES "
                         "($1, $2, 1) ON CONFLICT (tbl, key) DO UPDATE SET changes = "
                         "wormhole_counts.changes + 1", 2, errbuf, errlen)) ||
        (rc = pg_prepare(b, "p", "INSERT INTO wormhole_positions (shard, physical, logical, "
                         "event_ts, applied, updated_ms) VALUES ($1, $2, $3, $4, $5, $6) "
                         "ON CONFLICT (shard) DO UPDATE SET physical = EXCLUDED.physical, "
                         "logical = EXCLUDED.logical, event_ts = CASE WHEN EXCLUDED.event_ts > 0 "
                         "THEN EXCLUDED.event_ts ELSE wormhole_positions.event_ts END, applied = "
                         "wormhole_positions.applied + EXCLUDED.applied, updated_ms = "
                         "EXCLUDED.updated_ms", 6, errbuf, errlen)))
        goto err;
    wh_buf_free(&s);
    base->open = true;
    return WH_OK;
err:
    wh_buf_free(&s);
    if (b->conn && PQstatus(b->conn) == CONNECTION_OK && rc != WH_ERR_CONFIG)
        PQexec(b->conn, "ROLLBACK");
    pg_close(base);
    return rc;
}

/* Reads results until every sync sent has come back; returns the first error. */
static int pg_drain(pg_backend *b, char *errbuf, size_t errlen)
{
    int rc = WH_OK, nulls = 0;
    while (b->syncs > 0) {
        PGresult *r = PQgetResult(b->conn);
        if (!r) {
            if (PQstatus(b->conn) == CONNECTION_BAD || ++nulls > 1) {
                if (rc == WH_OK)
                    rc = pg_err(b, NULL, "reading results", errbuf, errlen);
                b->syncs = 0;
                break;
            }
            continue;
        }
        nulls = 0;
        switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
            b->syncs--;
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0 && rc == WH_OK)
                rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "postgresql: the transaction was "
                               "rolled back instead of committed");
            break;
        case PGRES_PIPELINE_ABORTED:
            break;
        default:
            if (rc == WH_OK)
                rc = pg_err(b, r, "applying a batch", errbuf, errlen);
            break;
        }
        PQclear(r);
    }
    return rc;
}

static int pg_sync(pg_backend *b, char *errbuf, size_t errlen)
{
    if (!PQpipelineSync(b->conn))
        return pg_err(b, NULL, "sending a batch", errbuf, errlen);
    b->syncs++;
    b->pending = 0;
    return pg_drain(b, errbuf, errlen);
}

/* Sends a prepared statement with the values as text parameters (NULL: SQL NULL). */
static int pg_send(pg_backend *b, const char *stmt, const wh_value *const *vals, uint32_t n,
                   const char *const *extra, uint32_t nextra, char *errbuf, size_t errlen)
{
    wh_buf_reset(&b->params);
    for (uint32_t k = 0; k < n; k++) {
        size_t start = b->params.len;
        if (!idx_value_text(vals[k], &b->params)) {
            b->offs[k] = SIZE_MAX;
            continue;
        }
        /* PostgreSQL text cannot hold NUL: drop NUL bytes. */
        if (b->params.data && memchr(b->params.data + start, 0, b->params.len - start)) {
            size_t w = start;
            for (size_t i = start; i < b->params.len; i++)
                if (b->params.data[i])
                    b->params.data[w++] = b->params.data[i];
            b->params.len = w;
        }
        b->offs[k] = start;
        wh_buf_append(&b->params, "", 1);   /* a NUL after each value */
    }
    if (!wh_buf_ok(&b->params))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    for (uint32_t k = 0; k < n; k++)
        b->pv[k] = b->offs[k] == SIZE_MAX ? NULL : b->params.data + b->offs[k];
    for (uint32_t k = 0; k < nextra; k++)
        b->pv[n + k] = extra[k];
    if (!PQsendQueryPrepared(b->conn, stmt, (int)(n + nextra), b->pv, NULL, NULL, 0))
        return pg_err(b, NULL, "sending a batch", errbuf, errlen);
    if (++b->pending >= PG_SYNC_EVERY)
        return pg_sync(b, errbuf, errlen);
    return WH_OK;
}

static int pg_begin(idx_backend *base, const char *shard, wh_applied *pos, char *errbuf,
                    size_t errlen)
{
    pg_backend *b = (pg_backend *)base;
    char *lit = PQescapeLiteral(b->conn, shard, strlen(shard));
    if (!lit)
        return pg_err(b, NULL, "quoting a shard name", errbuf, errlen);
    wh_buf s = WH_BUF_INIT;
    wh_buf_printf(&s, "BEGIN; INSERT INTO wormhole_positions (shard) VALUES (%s) ON CONFLICT "
                  "DO NOTHING; SELECT physical, logical FROM wormhole_positions WHERE shard = "
                  "%s FOR UPDATE", lit, lit);
    PQfreemem(lit);
    if (!wh_buf_ok(&s)) {
        wh_buf_free(&s);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    b->in_txn = true;
    PGresult *r = PQexec(b->conn, s.data);
    wh_buf_free(&s);
    int rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = pg_err(b, r, "reading the stored position", errbuf, errlen);
    } else {
        rc = wh_applied_load(pos, PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0),
                             PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1), errbuf, errlen);
    }
    PQclear(r);
    if (rc)
        return rc;
    if (!PQenterPipelineMode(b->conn))
        return pg_err(b, NULL, "entering pipeline mode", errbuf, errlen);
    b->in_pipeline = true;
    return WH_OK;
}

static int pg_upsert(idx_backend *base, const idx_table *t, const wh_value *const *vals,
                     bool fresh, char *errbuf, size_t errlen)
{
    (void)fresh;                      /* ON CONFLICT handles both */
    char name[32];
    snprintf(name, sizeof name, "u%u", (unsigned)(t - base->cfg->tables));
    return pg_send((pg_backend *)base, name, vals, t->ncols, NULL, 0, errbuf, errlen);
}

static int pg_remove(idx_backend *base, const idx_table *t, const wh_value *const *keys,
                     char *errbuf, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "d%u", (unsigned)(t - base->cfg->tables));
    return pg_send((pg_backend *)base, name, keys, t->nkey, NULL, 0, errbuf, errlen);
}

static int pg_clear(idx_backend *base, const idx_table *t, char *errbuf, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "x%u", (unsigned)(t - base->cfg->tables));
    return pg_send((pg_backend *)base, name, NULL, 0, NULL, 0, errbuf, errlen);
}

static int pg_count(idx_backend *base, const idx_table *t, const char *key, size_t keylen,
                    char *errbuf, size_t errlen)
{
    pg_backend *b = (pg_backend *)base;
    (void)keylen;                     /* key is NUL-terminated; text stops at a NUL anyway */
    const char *pv[2] = { t->name, key };
    if (!PQsendQueryPrepared(b->conn, "c", 2, pv, NULL, NULL, 0))
        return pg_err(b, NULL, "sending a batch", errbuf, errlen);
    if (++b->pending >= PG_SYNC_EVERY)
        return pg_sync(b, errbuf, errlen);
    return WH_OK;
}

static int pg_commit(idx_backend *base, const char *shard, const char *physical,
                     const char *logical, int64_t event_ts, uint64_t applied, char *errbuf,
                     size_t errlen)
{
    pg_backend *b = (pg_backend *)base;
    char ts[32], n[32], now[32];
    snprintf(ts, sizeof ts, "%" PRId64, event_ts);
    snprintf(n, sizeof n, "%" PRIu64, applied);
    snprintf(now, sizeof now, "%" PRId64, wh_wall_ms());
    const char *pv[6] = { shard, physical, logical, ts, n, now };
    if (!PQsendQueryPrepared(b->conn, "p", 6, pv, NULL, NULL, 0) ||
        !PQsendQueryParams(b->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
        return pg_err(b, NULL, "sending the commit", errbuf, errlen);
    int rc = pg_sync(b, errbuf, errlen);
    if (rc)
        return rc;
    b->in_txn = false;
    if (!PQexitPipelineMode(b->conn))
        return pg_err(b, NULL, "leaving pipeline mode", errbuf, errlen);
    b->in_pipeline = false;
    return WH_OK;
}

static void pg_rollback(idx_backend *base)
{
    pg_backend *b = (pg_backend *)base;
    char err[256];
    if (!b->conn)
        return;
    if (b->in_pipeline) {
        if (PQstatus(b->conn) == CONNECTION_OK && (b->pending || b->syncs))
            pg_sync(b, err, sizeof err);
        PQexitPipelineMode(b->conn);
        b->in_pipeline = false;
        b->pending = b->syncs = 0;
    }
    if (b->in_txn && PQstatus(b->conn) == CONNECTION_OK)
        pg_exec(b, "ROLLBACK", "rolling back", err, sizeof err);
    b->in_txn = false;
}

static void pg_destroy(idx_backend *base)
{
    pg_backend *b = (pg_backend *)base;
    if (!b)
        return;
    if (base->open || b->conn)
        pg_close(base);
    wh_buf_free(&b->params);
    free(b->offs);
    free(b->pv);
    free(b);
}

static const idx_backend_ops pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .upsert = pg_upsert,
    .remove = pg_remove,
    .clear = pg_clear,
    .count = pg_count,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .destroy = pg_destroy,
};

idx_backend *idx_pg_new(const idx_config *cfg)
{
    pg_backend *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->base.ops = &pg_ops;
    b->base.cfg = cfg;
    for (uint32_t i = 0; i < cfg->ntables; i++)
        if (cfg->tables[i].ncols > b->maxparams)
            b->maxparams = cfg->tables[i].ncols;
    b->maxparams += 2;
    b->offs = calloc(b->maxparams, sizeof *b->offs);
    b->pv = calloc(b->maxparams, sizeof *b->pv);
    if (!b->offs || !b->pv) {
        pg_destroy(&b->base);
        return NULL;
    }
    return &b->base;
}

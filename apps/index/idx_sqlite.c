/* idx_sqlite.c -- wormhole-index's SQLite backend: a rowid table per indexed table, an external-content FTS5 table kept in step with it, and the positions table, in one file.
 *
 * Schema of an indexed table NAME with key k, text t and stored s columns:
 *   NAME(wh_rowid INTEGER PRIMARY KEY, k, t, s, UNIQUE(k))
 *   NAME_fts USING fts5(t, content='NAME', content_rowid='wh_rowid')
 * Values keep their types (integers as INTEGER, text as TEXT, bytes as BLOB).
 * The FTS index is maintained here, statement by statement, not by triggers:
 * a trigger makes every row change a statement savepoint, at which FTS5
 * flushes its pending terms, which made indexing three to four times slower.
 * One connection, used only by the subscriber's loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "apps/index/idx.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"

/* The statements of one indexed table. */
typedef struct sq_table {
    sqlite3_stmt *ins;        /* INSERT the row (all columns) */
    sqlite3_stmt *get;        /* SELECT wh_rowid, text columns WHERE key */
    sqlite3_stmt *upd;        /* UPDATE the non-key columns WHERE wh_rowid */
    sqlite3_stmt *del;        /* DELETE WHERE wh_rowid */
    sqlite3_stmt *fts_ins;    /* index a row's text */
    sqlite3_stmt *fts_del;    /* remove a row's text (FTS5 'delete' with the old values) */
    sqlite3_stmt *clear;      /* DELETE every row */
    sqlite3_stmt *fts_clear;  /* FTS5 'delete-all' */
} sq_table;

#define SQ_TABLE_STMTS (sizeof(sq_table) / sizeof(sqlite3_stmt *))

typedef struct sq_backend {
    idx_backend    base;
    sqlite3       *db;
    sqlite3_stmt  *pos_get, *pos_put, *count;
    sq_table      *tables;
    bool           in_txn;
} sq_backend;

static int sq_err(sq_backend *b, int rc, const char *what, char *errbuf, size_t errlen)
{
    int sys = b->db ? sqlite3_system_errno(b->db) : 0;
    return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: %s: %s (SQLite code %d%s%s)",
                     b->base.cfg->sqlite_path, what,
                     b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc),
                     b->db ? sqlite3_extended_errcode(b->db) : rc, sys ? ", " : "",
                     sys ? strerror(sys) : "");
}

static int sq_exec(sq_backend *b, const char *sql, char *errbuf, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(b->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int sys = sqlite3_system_errno(b->db);
        wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: %.200s: %s (SQLite code %d%s%s)",
                  b->base.cfg->sqlite_path, sql, msg ? msg : sqlite3_errmsg(b->db),
                  sqlite3_extended_errcode(b->db), sys ? ", " : "", sys ? strerror(sys) : "");
        sqlite3_free(msg);
        return WH_ERR_IO;
    }
    return WH_OK;
}

static int sq_prepare(sq_backend *b, const char *sql, sqlite3_stmt **st, char *errbuf,
                      size_t errlen)
{
    int rc = sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: cannot prepare %.200s: %s",
                         b->base.cfg->sqlite_path, sql, sqlite3_errmsg(b->db));
    return WH_OK;
}

/* ", a, b, c" of columns [from, to), each with prefix. */
static void col_list(wh_buf *s, const idx_table *t, uint32_t from, uint32_t to,
                     const char *prefix, bool lead_comma)
{
    for (uint32_t k = from; k < to; k++) {
        if (k > from || lead_comma)
            wh_buf_puts(s, ", ");
        wh_buf_puts(s, prefix);
        idx_sql_ident(s, t->cols[k]);
    }
}

/* The DDL of one indexed table (idempotent). */
static void table_ddl(wh_buf *s, const idx_table *t, const char *tokenize)
{
    uint32_t t0 = t->nkey, t1 = t->nkey + t->ntext;
    wh_buf_puts(s, "CREATE TABLE IF NOT EXISTS ");
    idx_sql_ident(s, t->name);
    wh_buf_puts(s, " (wh_rowid INTEGER PRIMARY KEY");
    col_list(s, t, 0, t->ncols, "", true);
    wh_buf_puts(s, ", UNIQUE (");
    col_list(s, t, 0, t->nkey, "", false);
    wh_buf_puts(s, "));\nCREATE VIRTUAL TABLE IF NOT EXISTS ");
    wh_buf_printf(s, "\"%s_fts\" USING fts5(", t->name);
    col_list(s, t, t0, t1, "", false);
    wh_buf_printf(s, ", content='%s', content_rowid='wh_rowid', tokenize='%s');\n", t->name,
                  tokenize);
}

/* Does table `name` have exactly the columns want[0..n) (after skip leading ones)? */
static int check_columns(sq_backend *b, const char *name, const char *const *want, uint32_t n,
                         const char *first, char *errbuf, size_t errlen)
{
    char sql[200];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", name);
    int rc = sq_prepare(b, sql, &st, errbuf, errlen);
    if (rc)
        return rc;
    wh_buf have = WH_BUF_INIT, wanted = WH_BUF_INIT;
    if (first)
        wh_buf_puts(&wanted, first);
    for (uint32_t k = 0; k < n; k++)
        wh_buf_printf(&wanted, "%s%s", (k || first) ? ", " : "", want[k]);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        wh_buf_printf(&have, "%s%s", have.len ? ", " : "", (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        rc = sq_err(b, rc, "reading the index's schema", errbuf, errlen);
    } else if (!have.data || !wanted.data || strcmp(have.data, wanted.data) != 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "%s: index table %s has the columns (%s) but the config wants (%s): "
                       "drop it (with %s_fts) to rebuild it, or give the index another name",
                       b->base.cfg->sqlite_path, name, have.data ? have.data : "",
                       wanted.data ? wanted.data : "", name);
    } else {
        rc = WH_OK;
    }
    wh_buf_free(&have);
    wh_buf_free(&wanted);
    return rc;
}

static void sq_close(idx_backend *base)
{
    sq_backend *b = (sq_backend *)base;
    const idx_config *c = base->cfg;
    sqlite3_finalize(b->pos_get);
    sqlite3_finalize(b->pos_put);
    sqlite3_finalize(b->count);
    b->pos_get = b->pos_put = b->count = NULL;
    for (uint32_t i = 0; i < c->ntables; i++) {
        sqlite3_stmt **st = (sqlite3_stmt **)&b->tables[i];
        for (size_t k = 0; k < SQ_TABLE_STMTS; k++) {
            sqlite3_finalize(st[k]);
            st[k] = NULL;
        }
    }
    sqlite3_close(b->db);   /* NULL is a no-op */
    b->db = NULL;
    b->in_txn = false;
    base->open = false;
}

/* "k1 = ? AND k2 = ?" */
static void key_match(wh_buf *s, const idx_table *t)
{
    for (uint32_t k = 0; k < t->nkey; k++) {
        if (k)
            wh_buf_puts(s, " AND ");
        idx_sql_ident(s, t->cols[k]);
        wh_buf_puts(s, " = ?");
    }
}

static int prepare_table(sq_backend *b, uint32_t i, char *errbuf, size_t errlen)
{
    const idx_table *t = &b->base.cfg->tables[i];
    sq_table *q = &b->tables[i];
    uint32_t t0 = t->nkey, t1 = t->nkey + t->ntext;
    wh_buf s[8] = { WH_BUF_INIT, WH_BUF_INIT, WH_BUF_INIT, WH_BUF_INIT,
                    WH_BUF_INIT, WH_BUF_INIT, WH_BUF_INIT, WH_BUF_INIT };
    sqlite3_stmt **out[8] = { &q->ins, &q->get, &q->upd, &q->del, &q->fts_ins, &q->fts_del,
                              &q->clear, &q->fts_clear };
    int rc = WH_OK;
    wh_buf_printf(&s[0], "INSERT INTO \"%s\" (", t->name);
    col_list(&s[0], t, 0, t->ncols, "", false);
    wh_buf_puts(&s[0], ") VALUES (");
    for (uint32_t k = 0; k < t->ncols; k++)
        wh_buf_puts(&s[0], k ? ", ?" : "?");
    wh_buf_putc(&s[0], ')');
    wh_buf_puts(&s[1], "SELECT wh_rowid");
    col_list(&s[1], t, t0, t1, "", true);
    wh_buf_printf(&s[1], " FROM \"%s\" WHERE ", t->name);
    key_match(&s[1], t);
    wh_buf_printf(&s[2], "UPDATE \"%s\" SET ", t->name);
    for (uint32_t k = t0; k < t->ncols; k++) {
        if (k > t0)
            wh_buf_puts(&s[2], ", ");
        idx_sql_ident(&s[2], t->cols[k]);
        wh_buf_puts(&s[2], " = ?");
    }
    wh_buf_puts(&s[2], " WHERE wh_rowid = ?");
    wh_buf_printf(&s[3], "DELETE FROM \"%s\" WHERE wh_rowid = ?", t->name);
    wh_buf_printf(&s[4], "INSERT INTO \"%s_fts\" (rowid", t->name);
    col_list(&s[4], t, t0, t1, "", true);
    wh_buf_puts(&s[4], ") VALUES (?");
    for (uint32_t k = t0; k < t1; k++)
        wh_buf_puts(&s[4], ", ?");
    wh_buf_putc(&s[4], ')');
    wh_buf_printf(&s[5], "INSERT INTO \"%s_fts\" (\"%s_fts\", rowid", t->name, t->name);
    col_list(&s[5], t, t0, t1, "", true);
    wh_buf_puts(&s[5], ") VALUES ('delete', ?");
    for (uint32_t k = t0; k < t1; k++)
        wh_buf_puts(&s[5], ", ?");
    wh_buf_putc(&s[5], ')');
    wh_buf_printf(&s[6], "DELETE FROM \"%s\"", t->name);
    wh_buf_printf(&s[7], "INSERT INTO \"%s_fts\" (\"%s_fts\") VALUES ('delete-all')", t->name,
                  t->name);
    for (int k = 0; k < 8 && rc == WH_OK; k++) {
        if (!wh_buf_ok(&s[k]))
            rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        else
            rc = sq_prepare(b, s[k].data, out[k], errbuf, errlen);
    }
    for (int k = 0; k < 8; k++)
        wh_buf_free(&s[k]);
    return rc;
}

static int sq_open(idx_backend *base, char *errbuf, size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    const idx_config *c = base->cfg;
    wh_buf s = WH_BUF_INIT;
    int rc = sqlite3_open_v2(c->sqlite_path, &b->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        rc = sq_err(b, rc, "cannot open", errbuf, errlen);
        goto err;
    }
    sqlite3_extended_result_codes(b->db, 1);
    sqlite3_busy_timeout(b->db, (int)c->sqlite_busy_ms);
    wh_buf_printf(&s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;",
                  c->sqlite_synchronous);
    if (!wh_buf_ok(&s) || (rc = sq_exec(b, s.data, errbuf, errlen)))
        goto err;
    wh_buf_reset(&s);
    wh_buf_puts(&s, "BEGIN IMMEDIATE;\n"
                "CREATE TABLE IF NOT EXISTS wormhole_positions (shard TEXT PRIMARY KEY, "
                "physical TEXT, logical TEXT, event_ts INTEGER NOT NULL DEFAULT 0, "
                "applied INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0);\n"
                "CREATE TABLE IF NOT EXISTS wormhole_counts (tbl TEXT NOT NULL, key TEXT NOT "
                "NULL, changes INTEGER NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;\n");
    for (uint32_t i = 0; i < c->ntables; i++)
        table_ddl(&s, &c->tables[i], c->sqlite_tokenize);
    wh_buf_puts(&s, "COMMIT;");
    if (!wh_buf_ok(&s)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    if ((rc = sq_exec(b, s.data, errbuf, errlen))) {
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
        goto err;
    }
    for (uint32_t i = 0; i < c->ntables; i++) {
        const idx_table *t = &c->tables[i];
        char fts[80];
        snprintf(fts, sizeof fts, "%s_fts", t->name);
        if ((rc = check_columns(b, t->name, (const char *const *)t->cols, t->ncols, "wh_rowid",
                                errbuf, errlen)) ||
            (rc = check_columns(b, fts, (const char *const *)t->cols + t->nkey, t->ntext, NULL,
                                errbuf, errlen)) ||
            (rc = prepare_table(b, i, errbuf, errlen)))
            goto err;
    }
    if ((rc = sq_prepare(b, "SELECT physical, logical FROM wormhole_positions WHERE shard = ?",
                         &b->pos_get, errbuf, errlen)) ||
        (rc = sq_prepare(b, "INSERT INTO wormhole_positions (shard, physical, logical, event_ts, "
                         "applied, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (shard) DO "
                         "UPDATE SET physical = ?2, logical = ?3, event_ts = CASE WHEN ?4 > 0 "
                         "THEN ?4 ELSE event_ts END, applied = applied + ?5, updated_ms = "
                         "excluded.updated_ms", &b->pos_put, errbuf, errlen)) ||
        (rc = sq_prepare(b, "INSERT INTO wormhole_counts (tbl, key, changes) VALUES (?, ?, 1) "
                         "ON CONFLICT (tbl, key) DO UPDATE SET changes = changes + 1",
                         &b->count, errbuf, errlen)))
        goto err;
    wh_buf_free(&s);
    base->open = true;
    return WH_OK;
err:
    wh_buf_free(&s);
    sq_close(base);
    return rc;
}

static int sq_step(sq_backend *b, sqlite3_stmt *st, const char *what, char *errbuf,
                   size_t errlen)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_err(b, rc, what, errbuf, errlen);
    return WH_OK;
}

static int sq_begin(idx_backend *base, const char *shard, wh_applied *pos, char *errbuf,
                    size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    int rc = sq_exec(b, "BEGIN IMMEDIATE", errbuf, errlen);
    if (rc)
        return rc;
    b->in_txn = true;
    sqlite3_bind_text(b->pos_get, 1, shard, -1, SQLITE_STATIC);
    rc = sqlite3_step(b->pos_get);
    if (rc == SQLITE_ROW) {
        rc = wh_applied_load(pos, (const char *)sqlite3_column_text(b->pos_get, 0),
                             (const char *)sqlite3_column_text(b->pos_get, 1), errbuf, errlen);
    } else if (rc == SQLITE_DONE) {
        wh_applied_clear(pos);
        rc = WH_OK;
    } else {
        rc = sq_err(b, rc, "reading the stored position", errbuf, errlen);
    }
    sqlite3_reset(b->pos_get);
    sqlite3_clear_bindings(b->pos_get);
    return rc;
}

static void bind_value(sqlite3_stmt *st, int i, const wh_value *v)
{
    char tmp[64];
    switch (v->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        sqlite3_bind_null(st, i);
        break;
    case WH_T_INT:
        sqlite3_bind_int64(st, i, v->n.i);
        break;
    case WH_T_UINT:
    case WH_T_YEAR:
        if (v->n.u <= INT64_MAX) {
            sqlite3_bind_int64(st, i, (sqlite3_int64)v->n.u);
        } else {
            snprintf(tmp, sizeof tmp, "%" PRIu64, v->n.u);
            sqlite3_bind_text(st, i, tmp, -1, SQLITE_TRANSIENT);
        }
        break;
    case WH_T_FLOAT:
        sqlite3_bind_double(st, i, v->n.d);
        break;
    case WH_T_BYTES:
        sqlite3_bind_blob(st, i, v->str ? v->str : "", (int)v->len, SQLITE_STATIC);
        break;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        sqlite3_bind_text(st, i, tmp, (int)wh_temporal_format(v, tmp, sizeof tmp),
                          SQLITE_TRANSIENT);
        break;
    case WH_T_ENUM:
    case WH_T_SET:
        if (!v->str) {
            sqlite3_bind_int64(st, i, (sqlite3_int64)v->n.u);
            break;
        }
        /* fall through */
    default:   /* STRING, DECIMAL, JSON */
        sqlite3_bind_text(st, i, v->str ? v->str : "", (int)v->len, SQLITE_STATIC);
        break;
    }
}

/* Indexes the text of row rowid: vals are the row's text values. */
static int fts_insert(sq_backend *b, sq_table *q, const idx_table *t, sqlite3_int64 rowid,
                      const wh_value *const *text, char *errbuf, size_t errlen)
{
    sqlite3_bind_int64(q->fts_ins, 1, rowid);
    for (uint32_t k = 0; k < t->ntext; k++)
        bind_value(q->fts_ins, (int)k + 2, text[k]);
    return sq_step(b, q->fts_ins, "indexing a row's text", errbuf, errlen);
}

/* Removes the text of the row q->get stands on (its old values) from the FTS
 * index; FTS5 needs exactly the values it indexed. */
static int fts_remove(sq_backend *b, sq_table *q, const idx_table *t, sqlite3_int64 rowid,
                      char *errbuf, size_t errlen)
{
    sqlite3_bind_int64(q->fts_del, 1, rowid);
    for (uint32_t k = 0; k < t->ntext; k++)
        sqlite3_bind_value(q->fts_del, (int)k + 2, sqlite3_column_value(q->get, (int)k + 1));
    return sq_step(b, q->fts_del, "removing a row's text from the index", errbuf, errlen);
}

/* Does the row q->get stands on hold other text than text[]? (Conservative:
 * true unless both are NULL or the same text.) */
static bool text_changed(sq_table *q, const idx_table *t, const wh_value *const *text)
{
    for (uint32_t k = 0; k < t->ntext; k++) {
        const wh_value *v = text[k];
        int type = sqlite3_column_type(q->get, (int)k + 1);
        if (v->type == WH_T_NULL && type == SQLITE_NULL)
            continue;
        if ((v->type != WH_T_STRING && v->type != WH_T_JSON && v->type != WH_T_DECIMAL) ||
            type != SQLITE_TEXT)
            return true;
        const void *old = sqlite3_column_text(q->get, (int)k + 1);
        if ((uint32_t)sqlite3_column_bytes(q->get, (int)k + 1) != v->len ||
            (v->len && memcmp(old, v->str, v->len) != 0))
            return true;
    }
    return false;
}

/* Steps q->get for the key in vals[0..nkey): SQLITE_ROW (the row, q->get not
 * reset), SQLITE_DONE (none) or an error. */
static int lookup(sq_table *q, const idx_table *t, const wh_value *const *keys)
{
    for (uint32_t k = 0; k < t->nkey; k++)
        bind_value(q->get, (int)k + 1, keys[k]);
    int rc = sqlite3_step(q->get);
    if (rc != SQLITE_ROW)
        sqlite3_reset(q->get);
    return rc;
}

static int sq_upsert(idx_backend *base, const idx_table *t, const wh_value *const *vals,
                     bool fresh, char *errbuf, size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    sq_table *q = &b->tables[t - base->cfg->tables];
    const wh_value *const *text = vals + t->nkey;
    int rc;
    if (!fresh) {
        rc = lookup(q, t, vals);
        if (rc == SQLITE_ROW) {
            sqlite3_int64 rowid = sqlite3_column_int64(q->get, 0);
            bool changed = text_changed(q, t, text);
            rc = changed ? fts_remove(b, q, t, rowid, errbuf, errlen) : WH_OK;
            sqlite3_reset(q->get);
            if (rc)
                return rc;
            for (uint32_t k = t->nkey; k < t->ncols; k++)
                bind_value(q->upd, (int)(k - t->nkey) + 1, vals[k]);
            sqlite3_bind_int64(q->upd, (int)(t->ncols - t->nkey) + 1, rowid);
            if ((rc = sq_step(b, q->upd, "updating an index row", errbuf, errlen)))
                return rc;
            return changed ? fts_insert(b, q, t, rowid, text, errbuf, errlen) : WH_OK;
        }
        if (rc != SQLITE_DONE)
            return sq_err(b, rc, "looking up an index row", errbuf, errlen);
    }
    for (uint32_t k = 0; k < t->ncols; k++)
        bind_value(q->ins, (int)k + 1, vals[k]);
    rc = sqlite3_step(q->ins);
    sqlite3_reset(q->ins);
    if (rc == SQLITE_DONE)
        return fts_insert(b, q, t, sqlite3_last_insert_rowid(b->db), text, errbuf, errlen);
    if (fresh && (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
                  rc == SQLITE_CONSTRAINT))
        return sq_upsert(base, t, vals, false, errbuf, errlen);   /* the key was there */
    return sq_err(b, rc, "writing an index row", errbuf, errlen);
}

static int sq_remove(idx_backend *base, const idx_table *t, const wh_value *const *keys,
                     char *errbuf, size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    sq_table *q = &b->tables[t - base->cfg->tables];
    int rc = lookup(q, t, keys);
    if (rc == SQLITE_DONE)
        return WH_OK;                     /* not in the index */
    if (rc != SQLITE_ROW)
        return sq_err(b, rc, "looking up an index row", errbuf, errlen);
    sqlite3_int64 rowid = sqlite3_column_int64(q->get, 0);
    rc = fts_remove(b, q, t, rowid, errbuf, errlen);
    sqlite3_reset(q->get);
    if (rc)
        return rc;
    sqlite3_bind_int64(q->del, 1, rowid);
    return sq_step(b, q->del, "deleting an index row", errbuf, errlen);
}

static int sq_clear(idx_backend *base, const idx_table *t, char *errbuf, size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    sq_table *q = &b->tables[t - base->cfg->tables];
    int rc = sq_step(b, q->fts_clear, "emptying a full-text index", errbuf, errlen);
    return rc ? rc : sq_step(b, q->clear, "emptying an index table", errbuf, errlen);
}

static int sq_count(idx_backend *base, const idx_table *t, const char *key, size_t keylen,
                    char *errbuf, size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    sqlite3_bind_text(b->count, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->count, 2, key, (int)keylen, SQLITE_STATIC);
    return sq_step(b, b->count, "counting a change", errbuf, errlen);
}

static int sq_commit(idx_backend *base, const char *shard, const char *physical,
                     const char *logical, int64_t event_ts, uint64_t applied, char *errbuf,
                     size_t errlen)
{
    sq_backend *b = (sq_backend *)base;
    sqlite3_bind_text(b->pos_put, 1, shard, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->pos_put, 2, physical, -1, SQLITE_STATIC);
    if (logical)
        sqlite3_bind_text(b->pos_put, 3, logical, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(b->pos_put, 3);
    sqlite3_bind_int64(b->pos_put, 4, event_ts);
    sqlite3_bind_int64(b->pos_put, 5, (sqlite3_int64)applied);
    sqlite3_bind_int64(b->pos_put, 6, wh_wall_ms());
    int rc = sq_step(b, b->pos_put, "storing the position", errbuf, errlen);
    sqlite3_clear_bindings(b->pos_put);
    if (rc)
        return rc;
    rc = sq_exec(b, "COMMIT", errbuf, errlen);
    if (rc == WH_OK)
        b->in_txn = false;
    return rc;
}

static void sq_rollback(idx_backend *base)
{
    sq_backend *b = (sq_backend *)base;
    if (b->db && b->in_txn && !sqlite3_get_autocommit(b->db))
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
    b->in_txn = false;
}

static void sq_destroy(idx_backend *base)
{
    sq_backend *b = (sq_backend *)base;
    if (!b)
        return;
    if (base->open)
        sq_close(base);
    free(b->tables);
    free(b);
}

static const idx_backend_ops sq_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .upsert = sq_upsert,
    .remove = sq_remove,
    .clear = sq_clear,
    .count = sq_count,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .destroy = sq_destroy,
};

idx_backend *idx_sqlite_new(const idx_config *cfg)
{
    /* No global allocation statistics: they take a mutex per malloc. Only
     * possible before SQLite initialises, i.e. before the first open. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sq_backend *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->base.ops = &sq_ops;
    b->base.cfg = cfg;
    b->tables = calloc(cfg->ntables, sizeof *b->tables);
    if (!b->tables) {
        sq_destroy(&b->base);
        return NULL;
    }
    return &b->base;
}

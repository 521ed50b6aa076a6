/* mysql_snapshot.c -- the snapshot reader for MariaDB: primary-key chunks read in a consistent snapshot, each with its binlog position (see mappers/snapshot.h).
 *
 * Each chunk is one short transaction on a connection of its own:
 *
 *   START TRANSACTION WITH CONSISTENT SNAPSHOT
 *   SHOW STATUS LIKE 'binlog_snapshot_%'          -- file and offset of the snapshot
 *   SELECT * FROM db.t WHERE pk > ? ORDER BY pk LIMIT ?   -- a prepared statement
 *   COMMIT
 *
 * MariaDB makes binlog_snapshot_file/position exactly consistent with the
 * snapshot (its commit order is the binlog order): every transaction before
 * that binlog offset is visible to the SELECT and none after it. No lock is
 * taken and no write is made, so it works on a read-only replica too (whose
 * own binlog the publisher reads); the transaction lasts one chunk.
 * The SELECT is a server-side prepared statement (two per table: the first
 * chunk's and the next ones'), read with the binary protocol into bound
 * buffers: integers, floats and temporals arrive in binary, so neither the
 * server nor we print and parse them as text (about a third of the
 * server's and of our CPU per row with the text protocol;
 * docs/BOOTSTRAP.md "Throughput"). Rows are converted while the server
 * still sends (unbuffered fetch) into the same typed values the binlog
 * mapper produces (session time zone UTC, utf8mb4), so snapshot rows and
 * streamed rows of a table compare equal (tests/mysql/test_mysql_snapshot.py).
 * Key parts are bound in the type the key column sorts by (integers, and
 * ENUM and SET as their numbers; DECIMAL as a decimal), so that "> ?"
 * follows ORDER BY exactly. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysql.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mysql/binlog_mapper.h"
#include "mappers/mysql/binlog_server.h"
#include "mappers/snapshot.h"

/* What the reader knows of the table it reads now. */
typedef struct snap_table {
    char *db, *table;
    char **keys;              /* primary key column names, in key order */
    uint32_t nkeys;
    char **enum_names;        /* per column: ENUM/SET members from information_schema */
    char ***members;
    uint32_t *n_members;
    uint32_t ncols;
} snap_table;

/* A key part bound to a placeholder: an integer, or the bytes of {"hex":...}. */
typedef struct snap_param {
    long long      i;
    unsigned char *bytes;
    size_t         nbytes, cap;
} snap_param;

typedef struct snap_col snap_col;

/* The table's prepared statements, on the connection they were prepared on. */
typedef struct snap_stmts {
    MYSQL        *conn;
    unsigned long conn_id;    /* mysql_thread_id: a new connection may reuse the address */
    MYSQL_STMT   *first;      /* SELECT * ... ORDER BY key LIMIT ? */
    MYSQL_STMT   *next;       /* the same WHERE key > (?...) */
    MYSQL_RES    *meta;       /* the result's columns (fields, names point into it) */
    const MYSQL_FIELD *fields;
    uint32_t      ncols;
    const char  **names;
    snap_col     *cols;
    MYSQL_BIND   *rbind;      /* result columns, bound to cols */
    MYSQL_BIND   *pbind;      /* placeholders: nparams key parts, then the limit */
    snap_param   *pval;
    uint32_t     *param_key;  /* per key placeholder: which key column */
    uint32_t      nparams;
    unsigned long long limit;
    uint32_t     *key_idx;    /* the primary key's columns in the result */
} snap_stmts;

typedef struct mysql_snapshot {
    wh_snapshot base;
    const char *shard;
    binlog_server *srv;
    snap_table t;
    snap_stmts st;
    wh_arena arena;           /* the last chunk's values and texts */
    wh_buf q;                 /* query text */
    json_t *last_key;
    wh_update *ups;           /* the last chunk's updates */
    uint32_t cap_ups;
} mysql_snapshot;

/* ---- the connection ---------------------------------------------------------------------- */

static void stmts_clear(snap_stmts *st)
{
    for (uint32_t i = 0; st->pval && i < st->nparams; i++)
        free(st->pval[i].bytes);
    if (st->first)
        mysql_stmt_close(st->first);
    if (st->next)
        mysql_stmt_close(st->next);
    if (st->meta)
        mysql_free_result(st->meta);
    free(st->names);
    free(st->cols);
    free(st->rbind);
    free(st->pbind);
    free(st->pval);
    free(st->param_key);
    free(st->key_idx);
    memset(st, 0, sizeof *st);
}

/* The connection broke or a query failed: the statements go with it. The
 * connection is closed first (that detaches its statements), so that
 * closing a statement never waits for the rest of an abandoned result. */
static void snap_disconnect(mysql_snapshot *s)
{
    binlog_server_disconnect(s->srv);
    stmts_clear(&s->st);
}

/* ---- the table ------------------------------------------------------------------------------ */

static void table_clear(snap_table *t)
{
    for (uint32_t i = 0; i < t->nkeys; i++)
        free(t->keys[i]);
    for (uint32_t i = 0; i < t->ncols; i++) {
        free(t->enum_names[i]);
        binlog_server_free_members(t->members[i], t->n_members[i]);
    }
    free(t->keys);
    free(t->enum_names);
    free(t->members);
    free(t->n_members);
    free(t->db);
    free(t->table);
    memset(t, 0, sizeof *t);
}

static int query(mysql_snapshot *s, MYSQL *c, const char *q, char *errbuf, size_t errlen)
{
    if (mysql_real_query(c, q, strlen(q)) != 0) {
        int rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "bootstrap query \"%.200s\" failed: %s",
                           q, mysql_error(c));
        snap_disconnect(s);
        return rc;
    }
    return WH_OK;
}

/* Appends s as a quoted SQL string literal. */
static void put_literal(wh_buf *b, MYSQL *c, const char *v, size_t len)
{
    if (!wh_buf_reserve(b, 2 * len + 3))
        return;
    b->data[b->len++] = '\'';
    b->len += mysql_real_escape_string(c, b->data + b->len, v, (unsigned long)len);
    b->data[b->len++] = '\'';
}

/* Appends `name` quoted as an identifier. */
static void put_ident(wh_buf *b, const char *name)
{
    wh_buf_putc(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            wh_buf_putc(b, '`');
        wh_buf_putc(b, *p);
    }
    wh_buf_putc(b, '`');
}

/* Loads the primary key and the ENUM/SET members of db.table (once per table). */
static int table_load(mysql_snapshot *s, MYSQL *c, const char *db, const char *table,
                      char *errbuf, size_t errlen)
{
    snap_table *t = &s->t;
    if (t->db && strcmp(t->db, db) == 0 && strcmp(t->table, table) == 0)
        return WH_OK;
    stmts_clear(&s->st);   /* prepared for the other table */
    table_clear(t);
    wh_buf *b = &s->q;
    wh_buf_reset(b);
    wh_buf_puts(b, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ");
    put_literal(b, c, db, strlen(db));
    wh_buf_puts(b, " AND TABLE_NAME = ");
    put_literal(b, c, table, strlen(table));
    wh_buf_puts(b, " AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX");
    wh_buf_putc(b, '\0');
    if (!wh_buf_ok(b))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    int rc = query(s, c, b->data, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    MYSQL_RES *r = mysql_store_result(c);
    if (!r)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "reading the primary key of %s.%s: %s",
                         db, table, mysql_error(c));
    uint64_t n = mysql_num_rows(r);
    t->keys = calloc(n ? n : 1, sizeof *t->keys);
    MYSQL_ROW row;
    while (t->keys && (row = mysql_fetch_row(r)))
        if (row[0] && (t->keys[t->nkeys] = strdup(row[0])))
            t->nkeys++;
    mysql_free_result(r);
    if (!t->keys || t->nkeys != n)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    if (n == 0) {
        table_clear(t);
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED, "table %s.%s has no primary key "
                         "(or does not exist): a bootstrap reads tables in primary-key chunks",
                         db, table);
    }
    const binlog_server_column *cols;
    uint32_t ncols;
    rc = binlog_server_columns(s->srv, db, table, &cols, &ncols, errbuf, errlen);
    if (rc != WH_OK) {
        table_clear(t);
        return rc;
    }
    t->enum_names = calloc(ncols ? ncols : 1, sizeof *t->enum_names);
    t->members = calloc(ncols ? ncols : 1, sizeof *t->members);
    t->n_members = calloc(ncols ? ncols : 1, sizeof *t->n_members);
    t->db = strdup(db);
    t->table = strdup(table);
    if (!t->enum_names || !t->members || !t->n_members || !t->db || !t->table) {
        table_clear(t);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    t->ncols = ncols;
    for (uint32_t i = 0; i < ncols; i++) {
        if (!cols[i].members)
            continue;
        t->enum_names[i] = strdup(cols[i].name);
        t->members[i] = calloc(cols[i].n_members ? cols[i].n_members : 1, sizeof(char *));
        if (!t->enum_names[i] || !t->members[i]) {
            table_clear(t);
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        }
        for (uint32_t k = 0; k < cols[i].n_members; k++)
            if ((t->members[i][k] = strdup(cols[i].members[k])))
                t->n_members[i]++;
    }
    return WH_OK;
}

/* ---- values ----------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static uint64_t set_mask(const snap_table *t, int col, const char *s, size_t len)
{
    uint64_t mask = 0;
    const char *p = s, *end = s + len;
    while (col >= 0 && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        for (uint32_t k = 0; k < t->n_members[col] && k < 64; k++)
            if (strlen(t->members[col][k]) == n && memcmp(t->members[col][k], p, n) == 0)
                mask |= 1ull << k;
        p += n + (comma != NULL);
    }
    return mask;
}

static int member_col(const snap_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->ncols; i++)
        if (t->enum_names[i] && strcmp(t->enum_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* How a result column is bound (the binary protocol sends each in its own form). */
enum { COL_INT, COL_FLOAT, COL_DOUBLE, COL_TIME, COL_TEXT };

/* The bound buffer size of a text column; a longer value is fetched again
 * into the arena at its own length (mysql_stmt_fetch_column). */
#define TEXT_BUF 256

/* One result column: where mysql_stmt_fetch puts its value. */
struct snap_col {
    int           kind;
    int           member;     /* ENUM/SET: index into the table's members, else -1 */
    unsigned long len;
    my_bool       is_null, error;
    union {
        long long   i;
        float       f;
        double      d;
        MYSQL_TIME  tm;
    } n;
    char          buf[TEXT_BUF];
};

static int col_kind(const MYSQL_FIELD *f)
{
    switch (f->type) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_LONG: case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_YEAR:
        return COL_INT;
    case MYSQL_TYPE_FLOAT:
        return COL_FLOAT;
    case MYSQL_TYPE_DOUBLE:
        return COL_DOUBLE;
    case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE: case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP:
        return COL_TIME;
    default:
        return COL_TEXT;
    }
}

/* Binds column i of fields for mysql_stmt_fetch. */
static void bind_col(MYSQL_BIND *b, snap_col *c, const MYSQL_FIELD *f)
{
    memset(b, 0, sizeof *b);
    b->length = &c->len;
    b->is_null = &c->is_null;
    b->error = &c->error;
    switch (c->kind) {
    case COL_INT:
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &c->n.i;
        b->is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
        break;
    case COL_FLOAT:
        b->buffer_type = MYSQL_TYPE_FLOAT;
        b->buffer = &c->n.f;
        break;
    case COL_DOUBLE:
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &c->n.d;
        break;
    case COL_TIME:
        b->buffer_type = f->type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : f->type;
        b->buffer = &c->n.tm;
        b->buffer_length = sizeof c->n.tm;
        break;
    default:
        b->buffer_type = MYSQL_TYPE_BLOB;   /* the bytes as sent: no conversion */
        b->buffer = c->buf;
        b->buffer_length = sizeof c->buf;
        break;
    }
}

/* A text-form value (DECIMAL, BIT, JSON, GEOMETRY, ENUM, SET, strings) into
 * v, typed as the binlog mapper types it; v->str points at s. */
static void convert_text(const snap_table *t, const MYSQL_FIELD *f, int col, const char *s,
                         size_t len, wh_value *v)
{
    switch (f->type) {
    case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL:
        v->type = WH_T_DECIMAL;
        v->scale = (uint8_t)f->decimals;
        break;
    case MYSQL_TYPE_BIT:
        v->type = WH_T_UINT;
        v->flags = WH_VF_BIT;
        for (size_t k = 0; k < len && k < 8; k++)
            v->n.u = (v->n.u << 8) | (unsigned char)s[k];
        return;
    case MYSQL_TYPE_JSON:
        v->type = WH_T_JSON;
        break;
    case MYSQL_TYPE_GEOMETRY:
        v->type = WH_T_BYTES;
        break;
    default:
        if (f->flags & ENUM_FLAG) {
            v->type = WH_T_ENUM;
            for (uint32_t k = 0; col >= 0 && k < t->n_members[col]; k++)
                if (strlen(t->members[col][k]) == len && memcmp(t->members[col][k], s, len) == 0)
                    v->n.u = k + 1;
        } else if (f->flags & SET_FLAG) {
            v->type = WH_T_SET;
            v->n.u = set_mask(t, col, s, len);
        } else {
            v->type = f->charsetnr == 63 ? WH_T_BYTES : WH_T_STRING;
        }
        break;
    }
    v->str = s;
    v->len = (uint32_t)len;
}

/* A fetched temporal value into v (session time zone UTC: TIMESTAMP's epoch). */
static void convert_time(const MYSQL_FIELD *f, const MYSQL_TIME *tm, wh_value *v)
{
    wh_temporal *t = &v->n.t;
    v->scale = (uint8_t)(f->decimals <= 6 ? f->decimals : 0);
    switch (f->type) {
    case MYSQL_TYPE_TIME:
        v->type = WH_T_TIME;
        t->negative = tm->neg != 0;
        t->hour = (uint16_t)(tm->day * 24 + tm->hour);
        break;
    case MYSQL_TYPE_DATETIME:
        v->type = WH_T_DATETIME;
        break;
    case MYSQL_TYPE_TIMESTAMP:
        v->type = WH_T_TIMESTAMP;
        break;
    default:
        v->type = WH_T_DATE;
        v->scale = 0;
        break;
    }
    if (v->type != WH_T_TIME) {
        t->year = (uint16_t)tm->year;
        t->month = (uint8_t)tm->month;
        t->day = (uint8_t)tm->day;
        if (v->type != WH_T_DATE)
            t->hour = (uint16_t)tm->hour;
    }
    if (v->type != WH_T_DATE) {
        t->minute = (uint8_t)tm->minute;
        t->second = (uint8_t)tm->second;
        t->usec = (uint32_t)tm->second_part;
    }
    if (v->type != WH_T_TIME && t->year == 0 && t->month == 0 && t->day == 0)
        v->flags |= WH_VF_ZERO_DATE;
    if (v->type == WH_T_TIMESTAMP && !(v->flags & WH_VF_ZERO_DATE))
        t->epoch_sec = days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
                       t->minute * 60 + t->second;
}

/* ---- the statements ------------------------------------------------------------------------ */

/* Appends the condition "(k1 > ?) OR (k1 = ? AND k2 > ?) ..." (a range the
 * optimizer uses) and notes, per placeholder, which key column it takes. */
static void put_after(mysql_snapshot *s, wh_buf *b)
{
    const snap_table *t = &s->t;
    snap_stmts *st = &s->st;
    st->nparams = 0;
    wh_buf_puts(b, " WHERE ");
    for (uint32_t k = 0; k < t->nkeys; k++) {
        wh_buf_puts(b, k ? " OR (" : "(");
        for (uint32_t j = 0; j < k; j++) {
            put_ident(b, t->keys[j]);
            wh_buf_puts(b, " = ? AND ");
            st->param_key[st->nparams++] = j;
        }
        put_ident(b, t->keys[k]);
        wh_buf_puts(b, " > ?)");
        st->param_key[st->nparams++] = k;
    }
}

/* "SELECT * FROM db.table [WHERE key > (?...)] ORDER BY key LIMIT ?" into s->q. */
static void build_select(mysql_snapshot *s, bool after)
{
    const snap_table *t = &s->t;
    wh_buf *b = &s->q;
    wh_buf_reset(b);
    wh_buf_puts(b, "SELECT * FROM ");
    put_ident(b, t->db);
    wh_buf_putc(b, '.');
    put_ident(b, t->table);
    if (after)
        put_after(s, b);
    wh_buf_puts(b, " ORDER BY ");
    for (uint32_t k = 0; k < t->nkeys; k++) {
        if (k)
            wh_buf_puts(b, ", ");
        put_ident(b, t->keys[k]);
    }
    wh_buf_puts(b, " LIMIT ?");
    wh_buf_putc(b, '\0');
}

static int prepare(mysql_snapshot *s, MYSQL *c, bool after, MYSQL_STMT **out, char *errbuf,
                   size_t errlen)
{
    build_select(s, after);
    if (!wh_buf_ok(&s->q))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    MYSQL_STMT *stmt = mysql_stmt_init(c);
    if (!stmt)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a prepared statement");
    if (mysql_stmt_prepare(stmt, s->q.data, strlen(s->q.data)) != 0) {
        int rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "preparing \"%.300s\" failed: %s",
                           s->q.data, mysql_stmt_error(stmt));
        mysql_stmt_close(stmt);
        return rc;
    }
    *out = stmt;
    return WH_OK;
}

/* Prepares the two statements of the table (the first chunk's and the
 * next ones'), on connection c, and binds their result columns. */
static int stmts_prepare(mysql_snapshot *s, MYSQL *c, char *errbuf, size_t errlen)
{
    const snap_table *t = &s->t;
    snap_stmts *st = &s->st;
    uint32_t maxp = t->nkeys * (t->nkeys + 1) / 2 + 1;
    st->param_key = calloc(maxp, sizeof *st->param_key);
    st->pbind = calloc(maxp, sizeof *st->pbind);
    st->pval = calloc(maxp, sizeof *st->pval);
    st->key_idx = calloc(t->nkeys, sizeof *st->key_idx);
    int rc = st->param_key && st->pbind && st->pval && st->key_idx ? WH_OK : WH_ERR_NOMEM;
    if (rc == WH_OK)
        rc = prepare(s, c, false, &st->first, errbuf, errlen);
    if (rc == WH_OK)
        rc = prepare(s, c, true, &st->next, errbuf, errlen);
    if (rc == WH_OK && !(st->meta = mysql_stmt_result_metadata(st->first)))
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "%s.%s: no result columns: %s", t->db,
                       t->table, mysql_stmt_error(st->first));
    if (rc == WH_OK) {
        st->ncols = mysql_num_fields(st->meta);
        st->fields = mysql_fetch_fields(st->meta);
        uint32_t n = st->ncols ? st->ncols : 1;
        st->names = calloc(n, sizeof *st->names);
        st->cols = calloc(n, sizeof *st->cols);
        st->rbind = calloc(n, sizeof *st->rbind);
        if (!st->names || !st->cols || !st->rbind)
            rc = WH_ERR_NOMEM;
    }
    for (uint32_t i = 0; rc == WH_OK && i < st->ncols; i++) {
        st->names[i] = st->fields[i].name;
        st->cols[i].kind = col_kind(&st->fields[i]);
        st->cols[i].member = member_col(t, st->fields[i].name);
        bind_col(&st->rbind[i], &st->cols[i], &st->fields[i]);
    }
    for (uint32_t k = 0; rc == WH_OK && k < t->nkeys; k++) {
        uint32_t i = 0;
        while (i < st->ncols && strcmp(st->names[i], t->keys[k]) != 0)
            i++;
        if (i == st->ncols)
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s.%s: key column %s is not in the "
                           "result", t->db, t->table, t->keys[k]);
        else
            st->key_idx[k] = i;
    }
    if (rc == WH_OK && (mysql_stmt_bind_result(st->first, st->rbind) ||
                        mysql_stmt_bind_result(st->next, st->rbind)))
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "binding the columns of %s.%s: %s", t->db,
                       t->table, mysql_stmt_error(st->first));
    if (rc == WH_ERR_NOMEM)
        wh_seterr(errbuf, errlen, rc, "out of memory preparing the statements of %s.%s", t->db,
                  t->table);
    if (rc != WH_OK) {
        stmts_clear(st);
        return rc;
    }
    st->conn = c;
    st->conn_id = mysql_thread_id(c);
    return WH_OK;
}

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* The bytes of a hex text into p->bytes; false for an odd length, a
 * non-hex digit or no memory. */
static bool hex_decode(snap_param *p, const char *hex)
{
    size_t len = strlen(hex);
    if (len % 2)
        return false;
    if (p->cap < len / 2 + 1) {
        unsigned char *b = realloc(p->bytes, len / 2 + 1);
        if (!b)
            return false;
        p->bytes = b;
        p->cap = len / 2 + 1;
    }
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        p->bytes[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    p->nbytes = len / 2;
    return true;
}

/* One decimal digit string, all of it, into *v. */
static bool parse_int(const char *s, bool is_unsigned, long long *v)
{
    char *end;
    errno = 0;
    if (!*s || (is_unsigned && *s == '-'))
        return false;
    *v = is_unsigned ? (long long)strtoull(s, &end, 10) : strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Binds the key after which to read (a key array, snapshot.h) and the limit
 * to the next statement's placeholders. The bound texts point into after. */
static int bind_params(mysql_snapshot *s, MYSQL_STMT *stmt, const json_t *after, uint32_t limit,
                       char *errbuf, size_t errlen)
{
    const snap_table *t = &s->t;
    snap_stmts *st = &s->st;
    uint32_t np = 0;
    if (after) {
        if (!json_is_array(after) || json_array_size(after) != t->nkeys)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap of %s.%s: the stored key "
                             "has %zu parts, the primary key %u columns", t->db, t->table,
                             json_is_array(after) ? json_array_size(after) : 0, t->nkeys);
        for (; np < st->nparams; np++) {
            uint32_t k = st->param_key[np];
            const MYSQL_FIELD *f = &st->fields[st->key_idx[k]];
            const json_t *e = json_array_get(after, k);
            const json_t *hex = json_is_object(e) ? json_object_get(e, "hex") : NULL;
            snap_param *pv = &st->pval[np];
            MYSQL_BIND *b = &st->pbind[np];
            memset(b, 0, sizeof *b);
            int kind = col_kind(f);
            bool is_unsigned = (f->flags & UNSIGNED_FLAG) || f->type == MYSQL_TYPE_BIT;
            if (json_is_string(hex) && hex_decode(pv, json_string_value(hex))) {
                b->buffer_type = MYSQL_TYPE_BLOB;
                b->buffer = pv->bytes;
                b->buffer_length = pv->nbytes;
            } else if (!json_is_string(e)) {
                return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap of %s.%s: part %u of "
                                 "the stored key is neither a string nor {\"hex\":...}", t->db,
                                 t->table, k);
            } else if ((kind == COL_INT || f->type == MYSQL_TYPE_BIT) &&
                       parse_int(json_string_value(e), is_unsigned, &pv->i)) {
                b->buffer_type = MYSQL_TYPE_LONGLONG;   /* an integer compare, not a decimal one */
                b->buffer = &pv->i;
                b->is_unsigned = is_unsigned;
            } else if (f->flags & (ENUM_FLAG | SET_FLAG)) {
                /* ORDER BY sorts ENUM and SET by their numbers, and a number
                 * compares with them that way too (a text compares as text). */
                const char *m = json_string_value(e);
                int col = member_col(t, f->name);
                pv->i = 0;
                for (uint32_t x = 0; (f->flags & ENUM_FLAG) && col >= 0 && x < t->n_members[col];
                     x++)
                    if (strcmp(t->members[col][x], m) == 0)
                        pv->i = x + 1;
                if (f->flags & SET_FLAG)
                    pv->i = (long long)set_mask(t, col, m, strlen(m));
                b->buffer_type = MYSQL_TYPE_LONGLONG;
                b->buffer = &pv->i;
                b->is_unsigned = true;
            } else {
                /* DECIMAL as a decimal (a text would compare as a double),
                 * temporal and text types in the server's text form. */
                b->buffer_type = f->type == MYSQL_TYPE_NEWDECIMAL ? MYSQL_TYPE_NEWDECIMAL
                                                                  : MYSQL_TYPE_STRING;
                b->buffer = (void *)json_string_value(e);
                b->buffer_length = (unsigned long)json_string_length(e);
            }
        }
    }
    st->limit = limit;
    memset(&st->pbind[np], 0, sizeof st->pbind[np]);
    st->pbind[np].buffer_type = MYSQL_TYPE_LONGLONG;
    st->pbind[np].buffer = &st->limit;
    st->pbind[np].is_unsigned = true;
    if (mysql_stmt_bind_param(stmt, st->pbind) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "binding the key of %s.%s: %s", t->db,
                         t->table, mysql_stmt_error(stmt));
    return WH_OK;
}

/* The snapshot's binlog position, inside the transaction. */
static int snapshot_pos(mysql_snapshot *s, MYSQL *c, wh_pos *at, char *errbuf, size_t errlen)
{
    int rc = query(s, c, "SHOW STATUS LIKE 'binlog_snapshot_%'", errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    MYSQL_RES *r = mysql_store_result(c);
    if (!r)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "reading binlog_snapshot_*: %s",
                         mysql_error(c));
    char file[WH_POS_LOG_NAME_MAX] = "";
    unsigned long long off = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        if (!row[0] || !row[1])
            continue;
        if (strcasecmp(row[0], "binlog_snapshot_file") == 0) {
            const char *base = strrchr(row[1], '/');
            snprintf(file, sizeof file, "%s", base ? base + 1 : row[1]);
        } else if (strcasecmp(row[0], "binlog_snapshot_position") == 0) {
            off = strtoull(row[1], NULL, 10);
        }
    }
    mysql_free_result(r);
    memset(at, 0, sizeof *at);
    if (!file[0])
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED, "the server reports no "
                         "binlog_snapshot_file: a bootstrap needs MariaDB with its binlog on");
    wh_position view = { .log_name = file, .offset = off };
    if (!wh_pos_from_view(at, &view))
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT, "binlog file name %s is too long", file);
    return WH_OK;
}


/* ---- a chunk -------------------------------------------------------------------------------- */

/* The key of a row as a JSON array (snapshot.h), from its values: integers
 * in decimal, binary strings as {"hex":...}, the rest in the server's text
 * form (what the next chunk's placeholders get back). */
static json_t *row_key(const wh_value *v, const uint32_t *kidx, uint32_t nkey)
{
    json_t *a = json_array();
    for (uint32_t k = 0; a && k < nkey; k++) {
        const wh_value *x = &v[kidx[k]];
        char num[64];
        json_t *e = NULL;
        switch (x->type) {
        case WH_T_INT:
            snprintf(num, sizeof num, "%" PRId64, x->n.i);
            e = json_string(num);
            break;
        case WH_T_UINT: case WH_T_YEAR:
            snprintf(num, sizeof num, "%" PRIu64, x->n.u);
            e = json_string(num);
            break;
        case WH_T_FLOAT:
            snprintf(num, sizeof num, "%.17g", x->n.d);
            e = json_string(num);
            break;
        case WH_T_DATE: case WH_T_TIME: case WH_T_DATETIME: case WH_T_TIMESTAMP:
            e = json_stringn(num, wh_temporal_format(x, num, sizeof num));
            break;
        case WH_T_BYTES: {
            char *hex = malloc(2 * (size_t)x->len + 1);
            for (uint32_t i = 0; hex && i < x->len; i++) {
                hex[2 * i] = "0123456789abcdef"[(unsigned char)x->str[i] >> 4];
                hex[2 * i + 1] = "0123456789abcdef"[(unsigned char)x->str[i] & 15];
            }
            if (hex)
                hex[2 * (size_t)x->len] = '\0';
            e = hex ? json_pack("{s:s}", "hex", hex) : NULL;
            free(hex);
            break;
        }
        default:
            e = x->str ? json_stringn(x->str, x->len) : NULL;
            break;
        }
        if (!e || json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* One fetched row's values into v (ncols entries, in the arena), copying
 * the texts out of the bound buffers; a text longer than its buffer is
 * fetched again at its length. */
static int fetch_values(mysql_snapshot *s, MYSQL_STMT *stmt, wh_value *v, char *errbuf,
                        size_t errlen)
{
    const snap_stmts *st = &s->st;
    for (uint32_t i = 0; i < st->ncols; i++) {
        snap_col *c = &st->cols[i];
        const MYSQL_FIELD *f = &st->fields[i];
        memset(&v[i], 0, sizeof v[i]);
        if (c->is_null) {
            v[i].type = WH_T_NULL;
            continue;
        }
        switch (c->kind) {
        case COL_INT:
            if (f->type == MYSQL_TYPE_YEAR) {
                v[i].type = WH_T_YEAR;
                v[i].n.u = (uint64_t)c->n.i;
            } else if (f->flags & UNSIGNED_FLAG) {
                v[i].type = WH_T_UINT;
                v[i].n.u = (uint64_t)c->n.i;
            } else {
                v[i].type = WH_T_INT;
                v[i].n.i = c->n.i;
            }
            break;
        case COL_FLOAT:
            v[i].type = WH_T_FLOAT;
            v[i].flags = WH_VF_FLOAT32;
            v[i].n.d = (double)c->n.f;
            break;
        case COL_DOUBLE:
            v[i].type = WH_T_FLOAT;
            v[i].n.d = c->n.d;
            break;
        case COL_TIME:
            convert_time(f, &c->n.tm, &v[i]);
            break;
        default: {
            char *text = wh_arena_alloc(&s->arena, (size_t)c->len + 1);
            if (!text)
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
            if (c->len <= sizeof c->buf) {
                memcpy(text, c->buf, c->len);
            } else {
                MYSQL_BIND b = { .buffer_type = MYSQL_TYPE_BLOB, .buffer = text,
                                 .buffer_length = c->len };
                if (mysql_stmt_fetch_column(stmt, &b, i, 0) != 0)
                    return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "%s.%s: reading column %s "
                                     "(%lu bytes): %s", s->t.db, s->t.table, st->names[i],
                                     c->len, mysql_stmt_error(stmt));
            }
            text[c->len] = '\0';
            convert_text(&s->t, f, c->member, text, c->len, &v[i]);
            break;
        }
        }
    }
    return WH_OK;
}

/* Executes stmt and converts its rows as they arrive (the server keeps
 * sending while we convert). */
static int fill_chunk(mysql_snapshot *s, MYSQL_STMT *stmt, wh_snapshot_chunk *out,
                      uint32_t limit, char *errbuf, size_t errlen)
{
    const snap_table *t = &s->t;
    const snap_stmts *st = &s->st;
    if (mysql_stmt_execute(stmt) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "reading a chunk of %s.%s: %s", t->db,
                         t->table, mysql_stmt_error(stmt));
    if (mysql_stmt_field_count(stmt) != st->ncols)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "%s.%s changed its columns (%u, were "
                         "%u): preparing again", t->db, t->table, mysql_stmt_field_count(stmt),
                         st->ncols);
    uint32_t ncols = st->ncols ? st->ncols : 1, n = 0;
    wh_value *v = NULL;
    int frc;
    while ((frc = mysql_stmt_fetch(stmt)) == 0 || frc == MYSQL_DATA_TRUNCATED) {
        if (n == s->cap_ups) {
            uint32_t cap = s->cap_ups ? s->cap_ups * 2 : 1024;
            wh_update *u = realloc(s->ups, cap * sizeof *u);
            if (!u)
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
            s->ups = u;
            s->cap_ups = cap;
        }
        v = wh_arena_alloc(&s->arena, ncols * sizeof *v);
        if (!v)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        int rc = fetch_values(s, stmt, v, errbuf, errlen);
        if (rc != WH_OK)
            return rc;
        s->ups[n++] = (wh_update){ .shard = s->shard, .op = WH_OP_SNAPSHOT, .db = t->db,
                                   .table = t->table, .has_after = true,
                                   .after = { st->names, v, st->ncols }, .txn.last = true };
    }
    if (frc != MYSQL_NO_DATA)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "reading a chunk of %s.%s: %s", t->db,
                         t->table, mysql_stmt_error(stmt));
    json_decref(s->last_key);
    s->last_key = n ? row_key(v, st->key_idx, t->nkeys) : NULL;
    if (n && !s->last_key)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    out->rows = s->ups;
    out->n = n;
    out->key_idx = st->key_idx;
    out->nkey = t->nkeys;
    out->last_key = s->last_key;
    out->done = n < limit;
    return WH_OK;
}

/* The connection c, with its session set up and the table's statements
 * prepared on it (again after a reconnect or for another table). */
static int session(mysql_snapshot *s, MYSQL *c, char *errbuf, size_t errlen)
{
    snap_stmts *st = &s->st;
    if (st->first && st->conn == c && st->conn_id == mysql_thread_id(c))
        return WH_OK;
    stmts_clear(st);
    /* Temporal values in UTC (TIMESTAMP's epoch), and a snapshot that the
     * whole transaction reads (START TRANSACTION WITH CONSISTENT SNAPSHOT
     * only makes one at REPEATABLE READ). */
    int rc = query(s, c, "SET SESSION time_zone = '+00:00'", errbuf, errlen);
    if (rc == WH_OK)
        rc = query(s, c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", errbuf,
                   errlen);
    if (rc == WH_OK)
        rc = stmts_prepare(s, c, errbuf, errlen);
    return rc;
}

static int mysql_snap_read(wh_snapshot *base, const char *db, const char *table,
                           const json_t *after, uint32_t limit, wh_snapshot_chunk *out,
                           char *errbuf, size_t errlen)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    MYSQL *c;
    memset(out, 0, sizeof *out);
    wh_arena_reset(&s->arena);
    limit = limit ? limit : 1;
    int rc = binlog_server_connection(s->srv, &c, errbuf, errlen);
    if (rc == WH_OK)
        rc = table_load(s, c, db, table, errbuf, errlen);
    /* Reading the table's columns may have connected again. */
    if (rc == WH_OK)
        rc = binlog_server_connection(s->srv, &c, errbuf, errlen);
    if (rc == WH_OK)
        rc = session(s, c, errbuf, errlen);
    MYSQL_STMT *stmt = after ? s->st.next : s->st.first;
    if (rc == WH_OK)
        rc = bind_params(s, stmt, after, limit, errbuf, errlen);
    if (rc == WH_OK)
        rc = query(s, c, "START TRANSACTION WITH CONSISTENT SNAPSHOT", errbuf, errlen);
    if (rc == WH_OK && (rc = snapshot_pos(s, c, &out->at, errbuf, errlen)) == WH_OK)
        rc = fill_chunk(s, stmt, out, limit, errbuf, errlen);
    if (rc == WH_OK)
        rc = query(s, c, "COMMIT", errbuf, errlen);
    else if (rc != WH_ERR_PARSE)   /* a bad stored key: nothing was sent */
        snap_disconnect(s);   /* ends the transaction too */
    return rc;
}

static int mysql_snap_keys(wh_snapshot *base, const char *db, const char *table,
                           const char *const **names, uint32_t *n, char *errbuf, size_t errlen)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    MYSQL *c;
    *names = NULL;
    *n = 0;
    int rc = binlog_server_connection(s->srv, &c, errbuf, errlen);
    if (rc == WH_OK)
        rc = table_load(s, c, db, table, errbuf, errlen);
    if (rc == WH_OK) {
        *names = (const char *const *)s->t.keys;
        *n = s->t.nkeys;
    }
    return rc;
}

static int mysql_snap_estimate(wh_snapshot *base, const char *db, const char *table,
                               uint64_t *rows, char *errbuf, size_t errlen)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    MYSQL *c;
    *rows = 0;
    int rc = binlog_server_connection(s->srv, &c, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    wh_buf *b = &s->q;
    wh_buf_reset(b);
    wh_buf_puts(b, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
    put_literal(b, c, db, strlen(db));
    wh_buf_puts(b, " AND TABLE_NAME = ");
    put_literal(b, c, table, strlen(table));
    wh_buf_putc(b, '\0');
    if (!wh_buf_ok(b))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    if ((rc = query(s, c, b->data, errbuf, errlen)) != WH_OK)
        return rc;
    MYSQL_RES *r = mysql_store_result(c);
    if (!r)
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "estimating %s.%s: %s", db, table,
                         mysql_error(c));
    MYSQL_ROW row = mysql_fetch_row(r);
    if (!row)
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "table %s.%s does not exist", db, table);
    else if (row[0])
        *rows = strtoull(row[0], NULL, 10);
    mysql_free_result(r);
    return rc;
}

/* BINLOG_GTID_POS(file, offset): MariaDB reads that binlog file up to the
 * offset (up to one file's scan per call: it is asked only for chunks read
 * after a resume on another copy, until the flow delivers an update from
 * this copy; on a table nobody writes that is every chunk). */
static int mysql_snap_gtid_state(wh_snapshot *base, const wh_pos *at, char *out, size_t outlen,
                                 char *errbuf, size_t errlen)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    MYSQL *c;
    out[0] = '\0';
    if (!at->set || !at->has_log_name)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "no binlog position to map to GTIDs");
    int rc = binlog_server_connection(s->srv, &c, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    wh_buf *b = &s->q;
    wh_buf_reset(b);
    wh_buf_puts(b, "SELECT BINLOG_GTID_POS(");
    put_literal(b, c, at->log_name, strlen(at->log_name));
    wh_buf_printf(b, ", %" PRIu64 ")", at->offset);
    wh_buf_putc(b, '\0');
    if (!wh_buf_ok(b))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    if ((rc = query(s, c, b->data, errbuf, errlen)) != WH_OK)
        return rc;
    MYSQL_RES *r = mysql_store_result(c);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    if (!row || !row[0])
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "BINLOG_GTID_POS('%s', %" PRIu64 ") gave "
                       "no GTID state%s%s", at->log_name, at->offset, r ? "" : ": ",
                       r ? "" : mysql_error(c));
    else if (strlen(row[0]) >= outlen)
        rc = wh_seterr(errbuf, errlen, WH_ERR_LIMIT, "the GTID state at %s:%" PRIu64 " is "
                       "longer than %zu bytes", at->log_name, at->offset, outlen);
    else
        memcpy(out, row[0], strlen(row[0]) + 1);
    if (r)
        mysql_free_result(r);
    return rc;
}

static void mysql_snap_close(wh_snapshot *base)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    stmts_clear(&s->st);
    table_clear(&s->t);
    binlog_server_free(s->srv);
    wh_arena_free(&s->arena);
    wh_buf_free(&s->q);
    json_decref(s->last_key);
    free(s->ups);
    free(s);
}

static const wh_snapshot_ops mysql_snapshot_ops = {
    .read = mysql_snap_read,
    .keys = mysql_snap_keys,
    .estimate = mysql_snap_estimate,
    .close = mysql_snap_close,
    .gtid_state = mysql_snap_gtid_state,
};

int mysql_snapshot_open(const json_t *options, const char *shard, wh_snapshot **out,
                        char *errbuf, size_t errlen)
{
    mysql_snapshot *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    s->base.ops = &mysql_snapshot_ops;
    s->shard = shard;
    int rc = binlog_mapper_server(options, &s->srv, errbuf, errlen);
    if (rc != WH_OK) {
        mysql_snap_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return WH_OK;
}

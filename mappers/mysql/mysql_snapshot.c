/* mysql_snapshot.c -- the snapshot reader for MariaDB: primary-key chunks read in a consistent snapshot, each with its binlog position (see mappers/snapshot.h).
 *
 * Each chunk is one short transaction on a connection of its own:
 *
 *   START TRANSACTION WITH CONSISTENT SNAPSHOT
 *   SHOW STATUS LIKE 'binlog_snapshot_%'          -- file and offset of the snapshot
 *   SELECT * FROM db.t WHERE pk > last ORDER BY pk LIMIT n
 *   COMMIT
 *
 * MariaDB makes binlog_snapshot_file/position exactly consistent with the
 * snapshot (its commit order is the binlog order): every transaction before
 * that binlog offset is visible to the SELECT and none after it. No lock is
 * taken and no write is made, so it works on a read-only replica too (whose
 * own binlog the publisher reads); the transaction lasts one chunk.
 * Values are converted from the text protocol into the same typed values
 * the binlog mapper produces (session time zone UTC, utf8mb4), so snapshot
 * rows and streamed rows of a table compare equal. */
#include <ctype.h>
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

typedef struct mysql_snapshot {
    wh_snapshot base;
    const char *shard;
    binlog_server *srv;
    snap_table t;
    MYSQL_RES *res;           /* the last chunk's rows (their values point into it) */
    wh_arena arena;           /* the last chunk's updates, values and names */
    wh_buf q;                 /* query text */
    json_t *last_key;
    wh_update *ups;           /* the last chunk's updates */
    uint32_t cap_ups;
    uint32_t *key_idx;
    uint32_t cap_key_idx;
} mysql_snapshot;

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
        binlog_server_disconnect(s->srv);
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

/* ---- values --------------------------------------------------------------------------------- */

static uint32_t digits(const char **p, const char *end, int max, bool *ok)
{
    uint32_t v = 0;
    int n = 0;
    while (*p < end && n < max && isdigit((unsigned char)**p)) {
        v = v * 10 + (uint32_t)(**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0)
        *ok = false;
    return v;
}

static bool expect(const char **p, const char *end, char ch)
{
    if (*p < end && **p == ch) {
        (*p)++;
        return true;
    }
    return false;
}

/* Fractional seconds ".ffffff" (optional) into microseconds. */
static uint32_t fraction(const char **p, const char *end)
{
    uint32_t us = 0, scale = 100000;
    if (!expect(p, end, '.'))
        return 0;
    while (*p < end && isdigit((unsigned char)**p)) {
        us += (uint32_t)(**p - '0') * scale;
        scale /= 10;
        (*p)++;
    }
    return us;
}

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

/* "YYYY-MM-DD[ HH:MM:SS[.f]]" (DATE, DATETIME, TIMESTAMP) or "[-]H:MM:SS[.f]" (TIME). */
static bool parse_temporal(wh_value *v, const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    bool ok = true;
    wh_temporal *t = &v->n.t;
    memset(t, 0, sizeof *t);
    if (v->type == WH_T_TIME) {
        t->negative = expect(&p, end, '-');
        t->hour = (uint16_t)digits(&p, end, 3, &ok);
        ok = ok && expect(&p, end, ':');
        t->minute = (uint8_t)digits(&p, end, 2, &ok);
        ok = ok && expect(&p, end, ':');
        t->second = (uint8_t)digits(&p, end, 2, &ok);
        t->usec = fraction(&p, end);
        return ok && p == end;
    }
    t->year = (uint16_t)digits(&p, end, 4, &ok);
    ok = ok && expect(&p, end, '-');
    t->month = (uint8_t)digits(&p, end, 2, &ok);
    ok = ok && expect(&p, end, '-');
    t->day = (uint8_t)digits(&p, end, 2, &ok);
    if (v->type != WH_T_DATE && ok && expect(&p, end, ' ')) {
        t->hour = (uint16_t)digits(&p, end, 2, &ok);
        ok = ok && expect(&p, end, ':');
        t->minute = (uint8_t)digits(&p, end, 2, &ok);
        ok = ok && expect(&p, end, ':');
        t->second = (uint8_t)digits(&p, end, 2, &ok);
        t->usec = fraction(&p, end);
    }
    if (t->year == 0 && t->month == 0 && t->day == 0)
        v->flags |= WH_VF_ZERO_DATE;
    if (v->type == WH_T_TIMESTAMP && !(v->flags & WH_VF_ZERO_DATE))
        t->epoch_sec = days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
                       t->minute * 60 + t->second;
    return ok && p == end;
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

/* One text-protocol value into v, typed as the binlog mapper types it. */
static bool convert(const snap_table *t, const MYSQL_FIELD *f, int col, const char *s,
                    size_t len, wh_value *v)
{
    memset(v, 0, sizeof *v);
    if (!s) {
        v->type = WH_T_NULL;
        return true;
    }
    char num[64];
    bool is_unsigned = f->flags & UNSIGNED_FLAG;
    switch (f->type) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_LONG: case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
        if (len >= sizeof num)
            return false;
        memcpy(num, s, len);
        num[len] = '\0';
        v->type = is_unsigned ? WH_T_UINT : WH_T_INT;
        if (is_unsigned)
            v->n.u = strtoull(num, NULL, 10);
        else
            v->n.i = strtoll(num, NULL, 10);
        return true;
    case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE:
        if (len >= sizeof num)
            return false;
        memcpy(num, s, len);
        num[len] = '\0';
        v->type = WH_T_FLOAT;
        v->n.d = strtod(num, NULL);
        if (f->type == MYSQL_TYPE_FLOAT) {
            v->flags = WH_VF_FLOAT32;
            v->n.d = (double)(float)v->n.d;
        }
        return true;
    case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL:
        v->type = WH_T_DECIMAL;
        v->scale = (uint8_t)f->decimals;
        v->str = s;
        v->len = (uint32_t)len;
        return true;
    case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE:
        v->type = WH_T_DATE;
        return parse_temporal(v, s, len);
    case MYSQL_TYPE_TIME:
        v->type = WH_T_TIME;
        v->scale = (uint8_t)(f->decimals <= 6 ? f->decimals : 0);
        return parse_temporal(v, s, len);
    case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP:
        v->type = f->type == MYSQL_TYPE_DATETIME ? WH_T_DATETIME : WH_T_TIMESTAMP;
        v->scale = (uint8_t)(f->decimals <= 6 ? f->decimals : 0);
        return parse_temporal(v, s, len);
    case MYSQL_TYPE_YEAR:
        v->type = WH_T_YEAR;
        v->n.u = strtoull(s, NULL, 10);
        return true;
    case MYSQL_TYPE_BIT:
        v->type = WH_T_UINT;
        v->flags = WH_VF_BIT;
        for (size_t k = 0; k < len && k < 8; k++)
            v->n.u = (v->n.u << 8) | (unsigned char)s[k];
        return true;
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
    return true;
}

/* The key of a row as a JSON array (snapshot.h). */
static json_t *row_key(const MYSQL_FIELD *fields, const uint32_t *kidx, uint32_t nkey,
                       char **row, const unsigned long *lens)
{
    json_t *a = json_array();
    for (uint32_t k = 0; a && k < nkey; k++) {
        const MYSQL_FIELD *f = &fields[kidx[k]];
        uint32_t c = k;   /* row and lens hold the key's parts, in key order */
        bool binary = f->charsetnr == 63 && (f->type == MYSQL_TYPE_STRING ||
                                             f->type == MYSQL_TYPE_VAR_STRING ||
                                             f->type == MYSQL_TYPE_VARCHAR ||
                                             f->type == MYSQL_TYPE_BLOB);
        json_t *e;
        if (binary) {
            char *hex = malloc(2 * lens[c] + 1);
            for (unsigned long i = 0; hex && i < lens[c]; i++)
                snprintf(hex + 2 * i, 3, "%02x", (unsigned char)row[c][i]);
            if (hex)
                hex[2 * lens[c]] = '\0';
            e = hex ? json_pack("{s:s}", "hex", hex) : NULL;
            free(hex);
        } else {
            e = json_stringn(row[c], lens[c]);
        }
        if (!e || json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- the query ------------------------------------------------------------------------------ */

static void put_key_value(wh_buf *b, MYSQL *c, const json_t *e)
{
    const json_t *hex = json_is_object(e) ? json_object_get(e, "hex") : NULL;
    if (hex) {
        wh_buf_puts(b, "X'");
        wh_buf_puts(b, json_string_value(hex));
        wh_buf_putc(b, '\'');
    } else {
        put_literal(b, c, json_string_value(e), json_string_length(e));
    }
}

/* SELECT * ... WHERE key > after ORDER BY key LIMIT n, the condition spelled
 * as (k1 > v1) OR (k1 = v1 AND k2 > v2) ... so that it is a range on the key. */
static int build_select(mysql_snapshot *s, MYSQL *c, const json_t *after, uint32_t limit,
                        char *errbuf, size_t errlen)
{
    const snap_table *t = &s->t;
    wh_buf *b = &s->q;
    wh_buf_reset(b);
    wh_buf_puts(b, "SELECT * FROM ");
    put_ident(b, t->db);
    wh_buf_putc(b, '.');
    put_ident(b, t->table);
    if (after) {
        if (!json_is_array(after) || json_array_size(after) != t->nkeys)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap of %s.%s: the stored key "
                             "has %zu parts, the primary key %u columns", t->db, t->table,
                             json_is_array(after) ? json_array_size(after) : 0, t->nkeys);
        for (size_t k = 0; k < t->nkeys; k++) {
            const json_t *e = json_array_get(after, k);
            if (!json_is_string(e) && !(json_is_object(e) &&
                                        json_is_string(json_object_get(e, "hex"))))
                return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap of %s.%s: part %zu "
                                 "of the stored key is neither a string nor {\"hex\":...}",
                                 t->db, t->table, k);
        }
        wh_buf_puts(b, " WHERE ");
        for (uint32_t k = 0; k < t->nkeys; k++) {
            wh_buf_puts(b, k ? " OR (" : "(");
            for (uint32_t j = 0; j < k; j++) {
                put_ident(b, t->keys[j]);
                wh_buf_puts(b, " = ");
                put_key_value(b, c, json_array_get(after, j));
                wh_buf_puts(b, " AND ");
            }
            put_ident(b, t->keys[k]);
            wh_buf_puts(b, " > ");
            put_key_value(b, c, json_array_get(after, k));
            wh_buf_putc(b, ')');
        }
    }
    wh_buf_puts(b, " ORDER BY ");
    for (uint32_t k = 0; k < t->nkeys; k++) {
        if (k)
            wh_buf_puts(b, ", ");
        put_ident(b, t->keys[k]);
    }
    wh_buf_printf(b, " LIMIT %u", limit);
    wh_buf_putc(b, '\0');
    if (!wh_buf_ok(b))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
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

/* Whether a value's text must outlive the row buffer (mysql_use_result
 * reuses it): every type that keeps str. */
static bool keeps_text(const wh_value *v)
{
    return v->str != NULL;
}

/* Converts the rows of the streaming result s->res as they arrive (the
 * server keeps sending while we convert), copying the texts that values and
 * the last key keep into the arena. */
static int fill_chunk(mysql_snapshot *s, MYSQL *c, wh_snapshot_chunk *out, uint32_t limit,
                      char *errbuf, size_t errlen)
{
    const snap_table *t = &s->t;
    MYSQL_RES *r = s->res;
    uint32_t ncols = mysql_num_fields(r);
    const MYSQL_FIELD *fields = mysql_fetch_fields(r);
    const char **names = wh_arena_alloc(&s->arena, (ncols ? ncols : 1) * sizeof *names);
    int *mcol = wh_arena_alloc(&s->arena, (ncols ? ncols : 1) * sizeof *mcol);
    if (s->cap_key_idx < t->nkeys) {
        free(s->key_idx);
        s->key_idx = malloc(t->nkeys * sizeof *s->key_idx);
        s->cap_key_idx = s->key_idx ? t->nkeys : 0;
    }
    if (!names || !mcol || !s->key_idx)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < ncols; i++) {
        names[i] = wh_arena_strndup(&s->arena, fields[i].name, fields[i].name_length);
        mcol[i] = member_col(t, fields[i].name);
        if (!names[i])
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    for (uint32_t k = 0; k < t->nkeys; k++) {
        uint32_t i = 0;
        while (i < ncols && strcmp(names[i], t->keys[k]) != 0)
            i++;
        if (i == ncols)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s.%s: key column %s is not in "
                             "the result", t->db, t->table, t->keys[k]);
        s->key_idx[k] = i;
    }
    /* The last row's key texts, copied (the row buffer does not outlive the next fetch). */
    char **ktext = wh_arena_alloc(&s->arena, t->nkeys * sizeof *ktext);
    unsigned long *klen = wh_arena_alloc(&s->arena, t->nkeys * sizeof *klen);
    if (!ktext || !klen)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    uint32_t n = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        unsigned long *lens = mysql_fetch_lengths(r);
        if (n == s->cap_ups) {
            uint32_t cap = s->cap_ups ? s->cap_ups * 2 : 1024;
            wh_update *u = realloc(s->ups, cap * sizeof *u);
            if (!u)
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
            s->ups = u;
            s->cap_ups = cap;
        }
        wh_value *v = wh_arena_alloc(&s->arena, (ncols ? ncols : 1) * sizeof *v);
        if (!v || !lens)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        for (uint32_t i = 0; i < ncols; i++) {
            if (!convert(t, &fields[i], mcol[i], row[i], lens[i], &v[i]))
                return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "%s.%s: column %s: the server "
                                 "sent \"%.*s\", which is not a valid value of its type",
                                 t->db, t->table, names[i], (int)(lens[i] < 64 ? lens[i] : 64),
                                 row[i]);
            if (keeps_text(&v[i]) && !(v[i].str = wh_arena_strndup(&s->arena, row[i], lens[i])))
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        }
        for (uint32_t k = 0; k < t->nkeys; k++) {
            uint32_t ci = s->key_idx[k];
            klen[k] = lens[ci];
            if (!(ktext[k] = wh_arena_strndup(&s->arena, row[ci] ? row[ci] : "", lens[ci])))
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        }
        s->ups[n++] = (wh_update){ .shard = s->shard, .op = WH_OP_SNAPSHOT, .db = t->db,
                                   .table = t->table, .has_after = true,
                                   .after = { names, v, ncols }, .txn.last = true };
    }
    if (mysql_errno(c))
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "reading a chunk of %s.%s: %s", t->db,
                         t->table, mysql_error(c));
    json_decref(s->last_key);
    s->last_key = n ? row_key(fields, s->key_idx, t->nkeys, ktext, klen) : NULL;
    if (n && !s->last_key)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    out->rows = s->ups;
    out->n = n;
    out->key_idx = s->key_idx;
    out->nkey = t->nkeys;
    out->last_key = s->last_key;
    out->done = n < limit;
    return WH_OK;
}

static int mysql_snap_read(wh_snapshot *base, const char *db, const char *table,
                           const json_t *after, uint32_t limit, wh_snapshot_chunk *out,
                           char *errbuf, size_t errlen)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    MYSQL *c;
    memset(out, 0, sizeof *out);
    if (s->res)
        mysql_free_result(s->res);
    s->res = NULL;
    wh_arena_reset(&s->arena);
    int rc = binlog_server_connection(s->srv, &c, errbuf, errlen);
    if (rc == WH_OK)
        rc = table_load(s, c, db, table, errbuf, errlen);
    if (rc == WH_OK)
        rc = build_select(s, c, after, limit ? limit : 1, errbuf, errlen);
    /* Temporal text in UTC (TIMESTAMP's epoch), and a snapshot that the
     * whole transaction reads (START TRANSACTION WITH CONSISTENT SNAPSHOT
     * only makes one at REPEATABLE READ). */
    if (rc == WH_OK)
        rc = query(s, c, "SET SESSION time_zone = '+00:00'", errbuf, errlen);
    if (rc == WH_OK)
        rc = query(s, c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", errbuf,
                   errlen);
    if (rc == WH_OK)
        rc = query(s, c, "START TRANSACTION WITH CONSISTENT SNAPSHOT", errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    if ((rc = snapshot_pos(s, c, &out->at, errbuf, errlen)) == WH_OK &&
        (rc = query(s, c, s->q.data, errbuf, errlen)) == WH_OK) {
        s->res = mysql_use_result(c);
        if (!s->res)
            rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "reading a chunk of %s.%s: %s", db,
                           table, mysql_error(c));
    }
    if (rc == WH_OK)
        rc = fill_chunk(s, c, out, limit ? limit : 1, errbuf, errlen);
    if (s->res)
        mysql_free_result(s->res);   /* reads what is left of an abandoned result */
    s->res = NULL;
    if (rc == WH_OK)
        rc = query(s, c, "COMMIT", errbuf, errlen);
    else
        binlog_server_disconnect(s->srv);   /* ends the transaction too */
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

static void mysql_snap_close(wh_snapshot *base)
{
    mysql_snapshot *s = (mysql_snapshot *)base;
    if (s->res)
        mysql_free_result(s->res);
    table_clear(&s->t);
    binlog_server_free(s->srv);
    wh_arena_free(&s->arena);
    wh_buf_free(&s->q);
    json_decref(s->last_key);
    free(s->ups);
    free(s->key_idx);
    free(s);
}

static const wh_snapshot_ops mysql_snapshot_ops = {
    .read = mysql_snap_read,
    .keys = mysql_snap_keys,
    .estimate = mysql_snap_estimate,
    .close = mysql_snap_close,
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

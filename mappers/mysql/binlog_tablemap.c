/* binlog_tablemap.c -- parsing table map events and caching table schemas
 * (see binlog_tablemap.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/endian.h"
#include "core/errbuf.h"
#include "mappers/mysql/binlog_charset.h"
#include "mappers/mysql/binlog_tablemap.h"

/* Optional metadata field types (MySQL 8.0 / MariaDB 10.5+). */
enum {
    OM_SIGNEDNESS = 1, OM_DEFAULT_CHARSET, OM_COLUMN_CHARSET, OM_COLUMN_NAME,
    OM_SET_STR_VALUE, OM_ENUM_STR_VALUE, OM_GEOMETRY_TYPE, OM_SIMPLE_PRIMARY_KEY,
    OM_PRIMARY_KEY_WITH_PREFIX, OM_ENUM_AND_SET_DEFAULT_CHARSET,
    OM_ENUM_AND_SET_COLUMN_CHARSET, OM_COLUMN_VISIBILITY, OM_VECTOR_DIMENSIONALITY,
};

#define COLLATION_BINARY 63

/* ---- per-table memory ------------------------------------------------------ */

struct binlog_mem_chunk {
    binlog_mem_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

static void *tmem_alloc(binlog_table *t, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    binlog_mem_chunk *c = t->mem;
    if (!c || c->size - c->used < n) {
        size_t size = n > 4096 ? n : 4096;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = t->mem;
        t->mem = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static char *tmem_strndup(binlog_table *t, const void *s, size_t n)
{
    char *p = tmem_alloc(t, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void binlog_table_free(binlog_table *t)
{
    if (!t)
        return;
    binlog_mem_chunk *c = t->mem;
    while (c) {
        binlog_mem_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(t);
}

/* ---- column classes ---------------------------------------------------------- */

/* Columns that take a bit of the SIGNEDNESS field. MariaDB's server counts
 * YEAR (a TINYINT underneath); MySQL's does not. */
static bool is_numeric(uint8_t real_type, bool mariadb)
{
    switch (real_type) {
    case BT_TINY: case BT_SHORT: case BT_INT24: case BT_LONG: case BT_LONGLONG:
    case BT_NEWDECIMAL: case BT_FLOAT: case BT_DOUBLE:
        return true;
    case BT_YEAR:
        return mariadb;
    default:
        return false;
    }
}

/* Columns that take an entry of DEFAULT_/COLUMN_CHARSET: text and blob
 * columns; MariaDB also counts GEOMETRY and its compressed columns. */
static bool is_character(uint8_t real_type, bool geometry_counts)
{
    switch (real_type) {
    case BT_STRING: case BT_VAR_STRING: case BT_VARCHAR: case BT_BLOB:
    case BT_TINY_BLOB: case BT_MEDIUM_BLOB: case BT_LONG_BLOB: case BT_VECTOR:
    case BT_MARIA_BLOB_COMPRESSED: case BT_MARIA_VARCHAR_COMPRESSED:
        return true;
    case BT_GEOMETRY:
        return geometry_counts;
    default:
        return false;
    }
}

static bool is_enum_or_set(uint8_t real_type)
{
    return real_type == BT_ENUM || real_type == BT_SET;
}

/* ---- parsing ------------------------------------------------------------------ */

#define TM_FAIL(code, ...) do { rc = wh_seterr(errbuf, errlen, code, __VA_ARGS__); goto err; } while (0)

/* Reads the per-type metadata of column i from the metadata block. */
static int parse_column_meta(binlog_column *col, const uint8_t **pp, const uint8_t *end,
                             uint32_t i, char *errbuf, size_t errlen)
{
    const uint8_t *p = *pp;
    size_t need;
    switch (col->type) {
    case BT_FLOAT: case BT_DOUBLE: case BT_BLOB: case BT_TINY_BLOB: case BT_MEDIUM_BLOB:
    case BT_LONG_BLOB: case BT_GEOMETRY: case BT_JSON: case BT_TIME2: case BT_DATETIME2:
    case BT_TIMESTAMP2: case BT_VECTOR: case BT_MARIA_BLOB_COMPRESSED:
        need = 1;
        break;
    case BT_VARCHAR: case BT_VAR_STRING: case BT_MARIA_VARCHAR_COMPRESSED: case BT_BIT:
    case BT_NEWDECIMAL: case BT_STRING: case BT_ENUM: case BT_SET:
        need = 2;
        break;
    case BT_TINY: case BT_SHORT: case BT_INT24: case BT_LONG: case BT_LONGLONG: case BT_NULL:
    case BT_TIMESTAMP: case BT_DATE: case BT_TIME: case BT_DATETIME: case BT_YEAR:
    case BT_NEWDATE:
        need = 0;
        break;
    default:
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "column %u has the unsupported type code %u (%s)", i + 1, col->type,
                         binlog_type_name(col->type));
    }
    if ((size_t)(end - p) < need)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "the column metadata block ends at column %u", i + 1);
    col->real_type = col->type;
    switch (col->type) {
    case BT_VARCHAR: case BT_VAR_STRING: case BT_MARIA_VARCHAR_COMPRESSED:
    case BT_BIT:   /* bits % 8, then bytes: bytes << 8 | bits */
        col->meta = wh_le16(p);
        break;
    case BT_NEWDECIMAL:
        col->meta = wh_be16(p);
        break;
    case BT_STRING: case BT_ENUM: case BT_SET: {
        col->meta = wh_be16(p);
        uint8_t rt = BT_STRING;
        uint32_t max_len;
        if (p[0] != 0)
            binlog_string_meta(col->meta, &rt, &max_len);
        if (col->type == BT_STRING)
            col->real_type = (rt == BT_ENUM || rt == BT_SET) ? rt : BT_STRING;
        break;
    }
    default:
        col->meta = need ? p[0] : 0;
    }
    *pp = p + need;
    return WH_OK;
}

/* Assigns collations to the columns of one class from a DEFAULT_CHARSET-
 * style field (default, then index/collation pairs) or a COLUMN_CHARSET-
 * style field (one collation per column of the class). cls[k] is the column
 * index of the k-th member of the class. */
static int apply_charsets(binlog_table *t, const uint32_t *cls, uint32_t ncls, bool per_column,
                          const uint8_t *p, const uint8_t *end, char *errbuf, size_t errlen)
{
    uint64_t v, idx;
    size_t k;
    if (!per_column) {
        if (!(k = binlog_packed_int(p, (size_t)(end - p), &v)))
            goto bad;
        p += k;
        for (uint32_t i = 0; i < ncls; i++)
            t->cols[cls[i]].collation = (uint16_t)v;
        while (p < end) {
            if (!(k = binlog_packed_int(p, (size_t)(end - p), &idx)))
                goto bad;
            p += k;
            if (!(k = binlog_packed_int(p, (size_t)(end - p), &v)))
                goto bad;
            p += k;
            if (idx >= ncls)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "charset metadata names character column %" PRIu64
                                 " of %u", idx, ncls);
            t->cols[cls[idx]].collation = (uint16_t)v;
        }
        return WH_OK;
    }
    for (uint32_t i = 0; i < ncls; i++) {
        if (!(k = binlog_packed_int(p, (size_t)(end - p), &v)))
            goto bad;
        p += k;
        t->cols[cls[i]].collation = (uint16_t)v;
    }
    if (p != end)
        goto bad;
    return WH_OK;
bad:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                     "the charset metadata does not match the table's %u character columns",
                     ncls);
}

/* Counts the entries of a COLUMN_CHARSET-style field. */
static uint32_t count_packed(const uint8_t *p, const uint8_t *end)
{
    uint32_t n = 0;
    uint64_t v;
    size_t k;
    while (p < end && (k = binlog_packed_int(p, (size_t)(end - p), &v))) {
        p += k;
        n++;
    }
    return p == end ? n : UINT32_MAX;
}

/* Converts ENUM/SET member names to UTF-8 (they are logged in the column's
 * character set) and stores them in the table. */
static int set_members(binlog_table *t, binlog_column *col, uint32_t ci, const uint8_t **pp,
                       const uint8_t *end, wh_arena *tmp, char *errbuf, size_t errlen)
{
    const uint8_t *p = *pp;
    uint64_t count, len;
    size_t k;
    if (!(k = binlog_packed_int(p, (size_t)(end - p), &count)) || count > (size_t)(end - p))
        goto bad;
    p += k;
    const char **m = tmem_alloc(t, (count ? count : 1) * sizeof *m);
    if (!m)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for ENUM/SET members");
    binlog_charset cs = binlog_collation_charset(col->collation);
    for (uint64_t i = 0; i < count; i++) {
        if (!(k = binlog_packed_int(p, (size_t)(end - p), &len)) || len > (size_t)(end - p) - k)
            goto bad;
        p += k;
        const char *s = (const char *)p;
        size_t slen = (size_t)len;
        if (cs != CS_UTF8MB3 && cs != CS_UTF8MB4 && cs != CS_ASCII && cs != CS_UNKNOWN &&
            cs != CS_BINARY) {
            char e2[256];
            if (binlog_charset_to_utf8(cs, p, slen, tmp, &s, &slen, e2, sizeof e2) != WH_OK)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "member %" PRIu64 " of column %u: %s", i + 1, ci + 1, e2);
        }
        if (!(m[i] = tmem_strndup(t, s, slen)))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for ENUM/SET members");
        p += len;
    }
    col->members = m;
    col->n_members = (uint32_t)count;
    *pp = p;
    return WH_OK;
bad:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                     "the ENUM/SET member metadata of column %u is malformed", ci + 1);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Hash of a table map's bytes, eight at a time (once per transaction and
 * table, so it is on the hot path of small transactions). */
static uint64_t raw_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static void compute_schema_id(binlog_table *t)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, t->db, strlen(t->db) + 1);
    h = fnv1a(h, t->name, strlen(t->name) + 1);
    for (uint32_t i = 0; i < t->ncols; i++) {
        const binlog_column *c = &t->cols[i];
        uint8_t b[8] = { c->type, c->real_type, (uint8_t)(c->meta >> 8), (uint8_t)c->meta,
                         c->is_unsigned, (uint8_t)(c->collation >> 8), (uint8_t)c->collation,
                         0 };
        h = fnv1a(h, b, sizeof b);
        if (t->names && t->names[i])
            h = fnv1a(h, t->names[i], strlen(t->names[i]) + 1);
        for (uint32_t k = 0; k < c->n_members; k++)
            h = fnv1a(h, c->members[k], strlen(c->members[k]) + 1);
    }
    t->schema_id = h ? h : 1;
}

/* Called whenever the columns' description is complete or changed: the
 * schema id and each column's decoding shortcut follow from it. */
static void columns_changed(binlog_table *t)
{
    compute_schema_id(t);
    for (uint32_t i = 0; i < t->ncols; i++)
        binlog_column_plan(&t->cols[i]);
}

/* Parses the optional metadata block (TLV fields). */
static int parse_optional(binlog_table *t, const uint8_t *p, const uint8_t *end, bool mariadb,
                          char *errbuf, size_t errlen)
{
    int rc = WH_OK;
    wh_arena tmp = WH_ARENA_INIT;
    uint32_t *chars = NULL, *chars_geo = NULL, *enums = NULL;
    uint32_t nchars = 0, nchars_geo = 0, nenums = 0, nnum = 0, ngeo = 0;
    const uint8_t *f_sign = NULL, *f_sign_end = NULL, *f_cs = NULL, *f_cs_end = NULL;
    const uint8_t *f_ecs = NULL, *f_ecs_end = NULL, *f_names = NULL, *f_names_end = NULL;
    const uint8_t *f_set = NULL, *f_set_end = NULL, *f_enum = NULL, *f_enum_end = NULL;
    const uint8_t *f_pk = NULL, *f_pk_end = NULL;
    bool cs_per_column = false, ecs_per_column = false, pk_prefix = false;

    chars = calloc(t->ncols ? t->ncols : 1, sizeof *chars);
    chars_geo = calloc(t->ncols ? t->ncols : 1, sizeof *chars_geo);
    enums = calloc(t->ncols ? t->ncols : 1, sizeof *enums);
    if (!chars || !chars_geo || !enums)
        TM_FAIL(WH_ERR_NOMEM, "out of memory parsing a table map");
    for (uint32_t i = 0; i < t->ncols; i++) {
        uint8_t rt = t->cols[i].real_type;
        if (is_numeric(rt, mariadb))
            nnum++;
        if (is_character(rt, false))
            chars[nchars++] = i;
        if (is_character(rt, true))
            chars_geo[nchars_geo++] = i;
        if (is_enum_or_set(rt))
            enums[nenums++] = i;
        if (rt == BT_GEOMETRY)
            ngeo++;
    }

    /* First pass: locate the fields (their order is not fixed). */
    while (p < end) {
        uint8_t type = *p++;
        uint64_t len;
        size_t k = binlog_packed_int(p, (size_t)(end - p), &len);
        if (!k || len > (size_t)(end - p) - k)
            TM_FAIL(WH_ERR_CORRUPT, "optional metadata field %u runs past the event", type);
        p += k;
        const uint8_t *v = p, *ve = p + len;
        p = ve;
        switch (type) {
        case OM_SIGNEDNESS: f_sign = v; f_sign_end = ve; break;
        case OM_DEFAULT_CHARSET: f_cs = v; f_cs_end = ve; cs_per_column = false; break;
        case OM_COLUMN_CHARSET: f_cs = v; f_cs_end = ve; cs_per_column = true; break;
        case OM_COLUMN_NAME: f_names = v; f_names_end = ve; break;
        case OM_SET_STR_VALUE: f_set = v; f_set_end = ve; break;
        case OM_ENUM_STR_VALUE: f_enum = v; f_enum_end = ve; break;
        case OM_SIMPLE_PRIMARY_KEY: f_pk = v; f_pk_end = ve; pk_prefix = false; break;
        case OM_PRIMARY_KEY_WITH_PREFIX: f_pk = v; f_pk_end = ve; pk_prefix = true; break;
        case OM_ENUM_AND_SET_DEFAULT_CHARSET: f_ecs = v; f_ecs_end = ve; ecs_per_column = false; break;
        case OM_ENUM_AND_SET_COLUMN_CHARSET: f_ecs = v; f_ecs_end = ve; ecs_per_column = true; break;
        default: break;   /* GEOMETRY_TYPE, COLUMN_VISIBILITY, VECTOR_DIMENSIONALITY, newer */
        }
    }

    if (f_sign) {
        if ((size_t)(f_sign_end - f_sign) < binlog_bitmap_bytes(nnum))
            TM_FAIL(WH_ERR_CORRUPT, "the SIGNEDNESS metadata has %zu bytes for %u numeric "
                    "columns", (size_t)(f_sign_end - f_sign), nnum);
        uint32_t n = 0;
        for (uint32_t i = 0; i < t->ncols; i++) {
            if (!is_numeric(t->cols[i].real_type, mariadb))
                continue;
            t->cols[i].is_unsigned = (f_sign[n >> 3] >> (7 - (n & 7))) & 1;
            n++;
        }
        t->has_signedness = true;
    }
    if (f_cs) {
        /* Which columns carry a charset differs between servers for GEOMETRY:
         * MariaDB counts them, MySQL does not. Follow the server, but accept
         * the other reading when only it matches the field's entry count. */
        bool geo = mariadb;
        if (cs_per_column && ngeo) {
            uint32_t n = count_packed(f_cs, f_cs_end);
            if (n == nchars_geo)
                geo = true;
            else if (n == nchars)
                geo = false;
        }
        if ((rc = apply_charsets(t, geo ? chars_geo : chars, geo ? nchars_geo : nchars,
                                 cs_per_column, f_cs, f_cs_end, errbuf, errlen)) != WH_OK)
            goto err;
        t->has_charsets = true;
    }
    if (f_ecs && (rc = apply_charsets(t, enums, nenums, ecs_per_column, f_ecs, f_ecs_end,
                                      errbuf, errlen)) != WH_OK)
        goto err;
    for (uint32_t i = 0; i < t->ncols; i++)
        if (t->cols[i].collation == COLLATION_BINARY && !is_enum_or_set(t->cols[i].real_type))
            t->cols[i].is_binary = true;
    if (f_names) {
        const char **names = tmem_alloc(t, (t->ncols ? t->ncols : 1) * sizeof *names);
        if (!names)
            TM_FAIL(WH_ERR_NOMEM, "out of memory for column names");
        const uint8_t *q = f_names;
        for (uint32_t i = 0; i < t->ncols; i++) {
            uint64_t len;
            size_t k = binlog_packed_int(q, (size_t)(f_names_end - q), &len);
            if (!k || len > (size_t)(f_names_end - q) - k)
                TM_FAIL(WH_ERR_CORRUPT, "the COLUMN_NAME metadata ends at column %u of %u",
                        i + 1, t->ncols);
            q += k;
            if (!(names[i] = tmem_strndup(t, q, (size_t)len)))
                TM_FAIL(WH_ERR_NOMEM, "out of memory for column names");
            q += len;
        }
        if (q != f_names_end)
            TM_FAIL(WH_ERR_CORRUPT, "the COLUMN_NAME metadata names more than the table's %u "
                    "columns", t->ncols);
        t->names = names;
        t->names_from_map = true;
    }
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *q = pass ? f_set : f_enum, *qe = pass ? f_set_end : f_enum_end;
        uint8_t want = pass ? BT_SET : BT_ENUM;
        if (!q)
            continue;
        for (uint32_t i = 0; i < t->ncols; i++) {
            if (t->cols[i].real_type != want)
                continue;
            if ((rc = set_members(t, &t->cols[i], i, &q, qe, &tmp, errbuf, errlen)) != WH_OK)
                goto err;
        }
        if (q != qe)
            TM_FAIL(WH_ERR_CORRUPT, "the %s member metadata does not match the table's %s "
                    "columns", pass ? "SET" : "ENUM", pass ? "SET" : "ENUM");
    }
    if (f_pk) {
        uint32_t cap = (uint32_t)(f_pk_end - f_pk);
        t->pk = tmem_alloc(t, (cap ? cap : 1) * sizeof *t->pk);
        t->pk_prefix = tmem_alloc(t, (cap ? cap : 1) * sizeof *t->pk_prefix);
        if (!t->pk || !t->pk_prefix)
            TM_FAIL(WH_ERR_NOMEM, "out of memory for the primary key");
        const uint8_t *q = f_pk;
        while (q < f_pk_end) {
            uint64_t idx, pre = 0;
            size_t k = binlog_packed_int(q, (size_t)(f_pk_end - q), &idx);
            if (!k)
                TM_FAIL(WH_ERR_CORRUPT, "the primary key metadata is malformed");
            q += k;
            if (pk_prefix) {
                if (!(k = binlog_packed_int(q, (size_t)(f_pk_end - q), &pre)))
                    TM_FAIL(WH_ERR_CORRUPT, "the primary key metadata is malformed");
                q += k;
            }
            if (idx >= t->ncols)
                TM_FAIL(WH_ERR_CORRUPT, "the primary key names column %" PRIu64 " of %u",
                        idx + 1, t->ncols);
            t->pk[t->npk] = (uint32_t)idx;
            t->pk_prefix[t->npk] = (uint32_t)pre;
            t->npk++;
        }
    }
err:
    free(chars);
    free(chars_geo);
    free(enums);
    wh_arena_free(&tmp);
    return rc;
}

int binlog_table_parse(const binlog_event *ev, const binlog_fde *fde, binlog_table **out,
                       char *errbuf, size_t errlen)
{
    int rc;
    *out = NULL;
    binlog_table *t = calloc(1, sizeof *t);
    if (!t)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a table map");
    const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
    uint8_t post = binlog_post_header_len(fde, BE_TABLE_MAP);
    if (post != 6 && post != 8)
        TM_FAIL(WH_ERR_UNSUPPORTED, "table map post-header of %u bytes is not supported", post);
    if ((size_t)(end - p) < post + 2u)
        TM_FAIL(WH_ERR_CORRUPT, "table map event of %zu bytes is too short", ev->body_len);
    t->table_id = post == 6 ? wh_le32(p) : wh_le_n(p, 6);
    t->flags = wh_le16(p + post - 2);
    p += post;
    const uint8_t *raw_start = ev->body + (post == 6 ? 4 : 6);

    uint8_t dblen = *p++;
    if ((size_t)(end - p) < dblen + 2u || p[dblen] != 0)
        TM_FAIL(WH_ERR_CORRUPT, "table map database name of %u bytes runs past the event", dblen);
    t->db = tmem_strndup(t, p, dblen);
    p += dblen + 1;
    uint8_t tlen = *p++;
    if ((size_t)(end - p) < tlen + 1u || p[tlen] != 0)
        TM_FAIL(WH_ERR_CORRUPT, "table map table name of %u bytes runs past the event", tlen);
    t->name = tmem_strndup(t, p, tlen);
    p += tlen + 1;
    if (!t->db || !t->name)
        TM_FAIL(WH_ERR_NOMEM, "out of memory for a table map");

    uint64_t ncols, metalen;
    size_t k = binlog_packed_int(p, (size_t)(end - p), &ncols);
    if (!k || ncols > (size_t)(end - p) - k || ncols > 65536)
        TM_FAIL(WH_ERR_CORRUPT, "table map of `%s`.`%s` has an impossible column count",
                t->db, t->name);
    p += k;
    t->ncols = (uint32_t)ncols;
    t->cols = tmem_alloc(t, (ncols ? ncols : 1) * sizeof *t->cols);
    if (!t->cols)
        TM_FAIL(WH_ERR_NOMEM, "out of memory for a table map");
    memset(t->cols, 0, (ncols ? ncols : 1) * sizeof *t->cols);
    const uint8_t *types = p;
    p += ncols;
    k = binlog_packed_int(p, (size_t)(end - p), &metalen);
    if (!k || metalen > (size_t)(end - p) - k)
        TM_FAIL(WH_ERR_CORRUPT, "table map of `%s`.`%s`: the column metadata block runs past "
                "the event", t->db, t->name);
    p += k;
    const uint8_t *m = p, *mend = p + metalen;
    for (uint32_t i = 0; i < t->ncols; i++) {
        t->cols[i].type = types[i];
        if ((rc = parse_column_meta(&t->cols[i], &m, mend, i, errbuf, errlen)) != WH_OK) {
            wh_preferr(errbuf, errlen, rc, "table map of `%s`.`%s`", t->db, t->name);
            goto err;
        }
        if (t->cols[i].type == BT_JSON)
            t->n_json++;
    }
    if (m != mend)
        TM_FAIL(WH_ERR_CORRUPT, "table map of `%s`.`%s`: %zu bytes of column metadata are "
                "left over", t->db, t->name, (size_t)(mend - m));
    p = mend;
    size_t nb = binlog_bitmap_bytes(ncols);
    if ((size_t)(end - p) < nb)
        TM_FAIL(WH_ERR_CORRUPT, "table map of `%s`.`%s` ends before its NULL bitmap",
                t->db, t->name);
    if (!(t->nullable = tmem_alloc(t, nb ? nb : 1)))
        TM_FAIL(WH_ERR_NOMEM, "out of memory for a table map");
    memcpy(t->nullable, p, nb);
    p += nb;
    if (p < end && (rc = parse_optional(t, p, end, fde->is_mariadb, errbuf, errlen)) != WH_OK) {
        wh_preferr(errbuf, errlen, rc, "table map of `%s`.`%s`", t->db, t->name);
        goto err;
    }

    t->raw_len = (size_t)(end - raw_start);
    if (!(t->raw = tmem_alloc(t, t->raw_len ? t->raw_len : 1)))
        TM_FAIL(WH_ERR_NOMEM, "out of memory for a table map");
    memcpy(t->raw, raw_start, t->raw_len);
    t->raw_hash = raw_hash(t->raw, t->raw_len);
    columns_changed(t);
    *out = t;
    return WH_OK;
err:
    binlog_table_free(t);
    return rc;
}

/* ---- names from elsewhere -------------------------------------------------------- */

/* Whether the server's DATA_TYPE can be the column logged with real type rt. */
static bool type_compatible(const char *dt, uint8_t rt)
{
    static const struct { const char *name; uint8_t t1, t2, t3; } map[] = {
        { "tinyint", BT_TINY, 0, 0 }, { "smallint", BT_SHORT, 0, 0 },
        { "mediumint", BT_INT24, 0, 0 }, { "int", BT_LONG, 0, 0 },
        { "integer", BT_LONG, 0, 0 }, { "bigint", BT_LONGLONG, 0, 0 },
        { "float", BT_FLOAT, 0, 0 }, { "double", BT_DOUBLE, 0, 0 },
        { "real", BT_DOUBLE, 0, 0 }, { "decimal", BT_NEWDECIMAL, 0, 0 },
        { "numeric", BT_NEWDECIMAL, 0, 0 }, { "date", BT_DATE, BT_NEWDATE, 0 },
        { "time", BT_TIME, BT_TIME2, 0 }, { "datetime", BT_DATETIME, BT_DATETIME2, 0 },
        { "timestamp", BT_TIMESTAMP, BT_TIMESTAMP2, 0 }, { "year", BT_YEAR, 0, 0 },
        { "char", BT_STRING, 0, 0 }, { "binary", BT_STRING, 0, 0 },
        { "varchar", BT_VARCHAR, BT_VAR_STRING, BT_MARIA_VARCHAR_COMPRESSED },
        { "varbinary", BT_VARCHAR, BT_VAR_STRING, BT_MARIA_VARCHAR_COMPRESSED },
        { "tinytext", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "text", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "mediumtext", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "longtext", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "tinyblob", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "blob", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "mediumblob", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "longblob", BT_BLOB, BT_MARIA_BLOB_COMPRESSED, 0 },
        { "json", BT_JSON, BT_BLOB, 0 }, { "enum", BT_ENUM, 0, 0 }, { "set", BT_SET, 0, 0 },
        { "bit", BT_BIT, 0, 0 }, { "vector", BT_VECTOR, 0, 0 },
        { "geometry", BT_GEOMETRY, 0, 0 }, { "point", BT_GEOMETRY, 0, 0 },
        { "linestring", BT_GEOMETRY, 0, 0 }, { "polygon", BT_GEOMETRY, 0, 0 },
        { "multipoint", BT_GEOMETRY, 0, 0 }, { "multilinestring", BT_GEOMETRY, 0, 0 },
        { "multipolygon", BT_GEOMETRY, 0, 0 }, { "geometrycollection", BT_GEOMETRY, 0, 0 },
        { "geomcollection", BT_GEOMETRY, 0, 0 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dt, map[i].name) == 0)
            return rt == map[i].t1 || (map[i].t2 && rt == map[i].t2) ||
                   (map[i].t3 && rt == map[i].t3);
    return true;   /* a type we do not know (inet6, uuid, ...): do not judge */
}

int binlog_table_apply_server(binlog_table *t, const binlog_server_column *cols, uint32_t n,
                              char *errbuf, size_t errlen)
{
    if (n != t->ncols)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "the row image of `%s`.`%s` has %u columns but the server's table "
                         "has %u: the table changed after this event was written (log with "
                         "binlog_row_metadata=FULL to decode old events)",
                         t->db, t->name, t->ncols, n);
    for (uint32_t i = 0; i < n; i++)
        if (cols[i].data_type && !type_compatible(cols[i].data_type, t->cols[i].real_type))
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "column %u of `%s`.`%s` is logged as %s but the server's column "
                             "`%s` is %s: the table changed after this event was written (log "
                             "with binlog_row_metadata=FULL to decode old events)", i + 1,
                             t->db, t->name, binlog_type_name(t->cols[i].real_type),
                             cols[i].name, cols[i].data_type);
    const char **names = tmem_alloc(t, (n ? n : 1) * sizeof *names);
    if (!names)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for column names");
    for (uint32_t i = 0; i < n; i++) {
        binlog_column *c = &t->cols[i];
        if (!(names[i] = tmem_strndup(t, cols[i].name, strlen(cols[i].name))))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for column names");
        if (!t->has_signedness)
            c->is_unsigned = cols[i].is_unsigned;
        if (!t->has_charsets && !is_enum_or_set(c->real_type)) {
            c->collation = (uint16_t)cols[i].collation;
            c->is_binary = cols[i].collation == COLLATION_BINARY;
        }
        if (is_enum_or_set(c->real_type) && !c->collation)
            c->collation = (uint16_t)cols[i].collation;
        if (is_enum_or_set(c->real_type) && !c->members && cols[i].members) {
            const char **m = tmem_alloc(t, (cols[i].n_members ? cols[i].n_members : 1) *
                                        sizeof *m);
            if (!m)
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for members");
            for (uint32_t k = 0; k < cols[i].n_members; k++)
                if (!(m[k] = tmem_strndup(t, cols[i].members[k], strlen(cols[i].members[k]))))
                    return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for members");
            c->members = m;
            c->n_members = cols[i].n_members;
        }
    }
    t->names = names;
    t->names_from_server = true;
    columns_changed(t);
    return WH_OK;
}

int binlog_table_positional_names(binlog_table *t, char *errbuf, size_t errlen)
{
    const char **names = tmem_alloc(t, (t->ncols ? t->ncols : 1) * sizeof *names);
    if (!names)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for column names");
    for (uint32_t i = 0; i < t->ncols; i++) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "@%u", i + 1);
        if (!(names[i] = tmem_strndup(t, buf, (size_t)n)))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for column names");
    }
    t->names = names;
    columns_changed(t);
    return WH_OK;
}

/* ---- the cache ---------------------------------------------------------------- */

#define ID_SLOTS_MIN 64

struct binlog_table_cache {
    binlog_table **buckets;      /* by raw_hash */
    size_t nbuckets;
    size_t count;                /* tables in the hash */
    size_t max_tables;
    binlog_table *retired;       /* removed from the hash, freed by collect when unmapped */
    /* table id -> table for the current transaction: open addressing */
    struct id_slot { uint64_t id; binlog_table *t; } *ids;
    size_t nids_cap, nids;
    uint32_t used[8];            /* slots of the first mappings, to clear them fast */
};

binlog_table_cache *binlog_table_cache_new(size_t max_tables)
{
    binlog_table_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = 256;
    c->max_tables = max_tables ? max_tables : 4096;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    c->nids_cap = ID_SLOTS_MIN;
    c->ids = calloc(c->nids_cap, sizeof *c->ids);
    if (!c->buckets || !c->ids) {
        binlog_table_cache_free(c);
        return NULL;
    }
    return c;
}

static void release(binlog_table_cache *c, binlog_table *t)
{
    if (--t->refs == 0) {
        t->rnext = c->retired;
        c->retired = t;
    }
}

void binlog_table_cache_free(binlog_table_cache *c)
{
    if (!c)
        return;
    if (c->ids)
        binlog_table_cache_end_txn(c);   /* unhashed mapped tables move to retired */
    for (size_t b = 0; c->buckets && b < c->nbuckets; b++) {
        binlog_table *t = c->buckets[b];
        while (t) {
            binlog_table *next = t->hnext;
            binlog_table_free(t);
            t = next;
        }
    }
    binlog_table *t = c->retired;
    while (t) {
        binlog_table *next = t->rnext;
        binlog_table_free(t);
        t = next;
    }
    free(c->buckets);
    free(c->ids);
    free(c);
}

static void hash_remove(binlog_table_cache *c, binlog_table *t)
{
    binlog_table **pp = &c->buckets[t->raw_hash & (c->nbuckets - 1)];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = t->hnext;
        t->hnext = NULL;
        t->in_hash = false;
        c->count--;
        release(c, t);
    }
}

static void hash_grow(binlog_table_cache *c)
{
    size_t nb = c->nbuckets * 2;
    binlog_table **b = calloc(nb, sizeof *b);
    if (!b)
        return;   /* keep the old table; lookups stay correct, just slower */
    for (size_t i = 0; i < c->nbuckets; i++) {
        binlog_table *t = c->buckets[i];
        while (t) {
            binlog_table *next = t->hnext;
            size_t k = t->raw_hash & (nb - 1);
            t->hnext = b[k];
            b[k] = t;
            t = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
}

static int ids_put(binlog_table_cache *c, uint64_t id, binlog_table *t)
{
    if ((c->nids + 1) * 2 > c->nids_cap) {
        size_t ncap = c->nids_cap * 2;
        struct id_slot *n = calloc(ncap, sizeof *n);
        if (!n)
            return WH_ERR_NOMEM;
        for (size_t i = 0; i < c->nids_cap; i++) {
            if (!c->ids[i].t)
                continue;
            size_t k = (size_t)(c->ids[i].id * 0x9e3779b97f4a7c15ull) & (ncap - 1);
            while (n[k].t)
                k = (k + 1) & (ncap - 1);
            n[k] = c->ids[i];
        }
        free(c->ids);
        c->ids = n;
        c->nids_cap = ncap;
    }
    size_t k = (size_t)(id * 0x9e3779b97f4a7c15ull) & (c->nids_cap - 1);
    while (c->ids[k].t && c->ids[k].id != id)
        k = (k + 1) & (c->nids_cap - 1);
    if (c->ids[k].t) {
        if (c->ids[k].t == t)
            return WH_OK;
        release(c, c->ids[k].t);
    } else {
        if (c->nids < 8)
            c->used[c->nids] = (uint32_t)k;
        c->nids++;
    }
    c->ids[k].id = id;
    c->ids[k].t = t;
    t->refs++;
    return WH_OK;
}

binlog_table *binlog_table_cache_get(binlog_table_cache *c, uint64_t table_id)
{
    size_t k = (size_t)(table_id * 0x9e3779b97f4a7c15ull) & (c->nids_cap - 1);
    while (c->ids[k].t) {
        if (c->ids[k].id == table_id)
            return c->ids[k].t;
        k = (k + 1) & (c->nids_cap - 1);
    }
    return NULL;
}

void binlog_table_cache_end_txn(binlog_table_cache *c)
{
    if (c->nids == 0)
        return;
    if (c->nids <= 8) {   /* the usual few tables: clear just their slots */
        for (size_t i = 0; i < c->nids; i++) {
            struct id_slot *s = &c->ids[c->used[i]];
            if (s->t) {
                release(c, s->t);
                s->t = NULL;
            }
        }
        c->nids = 0;
        return;
    }
    for (size_t i = 0; i < c->nids_cap; i++) {
        if (c->ids[i].t) {
            release(c, c->ids[i].t);
            c->ids[i].t = NULL;
        }
    }
    c->nids = 0;
    if (c->nids_cap > 16 * ID_SLOTS_MIN) {   /* shrink after a transaction of many tables */
        struct id_slot *n = calloc(ID_SLOTS_MIN, sizeof *n);
        if (n) {
            free(c->ids);
            c->ids = n;
            c->nids_cap = ID_SLOTS_MIN;
        }
    }
}

int binlog_table_cache_map(binlog_table_cache *c, const binlog_event *ev,
                           const binlog_fde *fde, binlog_table **out,
                           char *errbuf, size_t errlen)
{
    uint8_t post = binlog_post_header_len(fde, BE_TABLE_MAP);
    size_t idlen = post == 6 ? 4 : 6;
    if (ev->body_len < post || (post != 6 && post != 8))
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "table map event of %zu bytes is "
                         "too short", ev->body_len);
    uint64_t id = post == 6 ? wh_le32(ev->body) : wh_le_n(ev->body, 6);
    const uint8_t *raw = ev->body + idlen;
    size_t raw_len = ev->body_len - idlen;
    uint64_t h = raw_hash(raw, raw_len);
    binlog_table *t = c->buckets[h & (c->nbuckets - 1)];
    while (t && !(t->raw_hash == h && t->raw_len == raw_len && memcmp(t->raw, raw, raw_len) == 0))
        t = t->hnext;
    if (!t) {
        int rc = binlog_table_parse(ev, fde, &t, errbuf, errlen);
        if (rc != WH_OK)
            return rc;
        if (c->count + 1 > c->nbuckets)
            hash_grow(c);
        size_t k = t->raw_hash & (c->nbuckets - 1);
        t->hnext = c->buckets[k];
        c->buckets[k] = t;
        t->in_hash = true;
        t->refs = 1;
        c->count++;
    }
    t->table_id = id;
    if (ids_put(c, id, t) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory mapping table id %" PRIu64,
                         id);
    *out = t;
    return WH_OK;
}

void binlog_table_cache_invalidate_server(binlog_table_cache *c)
{
    for (size_t b = 0; b < c->nbuckets; b++) {
        binlog_table *t = c->buckets[b];
        while (t) {
            binlog_table *next = t->hnext;
            if (t->names_from_server)
                hash_remove(c, t);
            t = next;
        }
    }
}

void binlog_table_cache_collect(binlog_table_cache *c)
{
    if (c->count > c->max_tables) {
        for (size_t b = 0; b < c->nbuckets; b++) {
            binlog_table *t = c->buckets[b];
            while (t) {
                binlog_table *next = t->hnext;
                if (t->refs == 1)   /* only the hash holds it */
                    hash_remove(c, t);
                t = next;
            }
        }
    }
    binlog_table *t = c->retired;
    c->retired = NULL;
    while (t) {
        binlog_table *next = t->rnext;
        if (t->refs == 0) {
            binlog_table_free(t);
        } else {   /* cannot happen: retired tables are unreferenced */
            t->rnext = c->retired;
            c->retired = t;
        }
        t = next;
    }
}

size_t binlog_table_cache_size(const binlog_table_cache *c)
{
    return c->count;
}

/* wire_batch.c -- the UPDATES frame: batch encoder and untrusted-input decoder (see wire_batch.h). */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "protocol/wire_batch.h"

/* ---- update batches: encoding --------------------------------------------------------- */

/* Update map keys (docs/PROTOCOL.md). */
enum { UK_OP = 1, UK_FLAGS, UK_POS, UK_TS, UK_TXN, UK_DB, UK_TABLE, UK_SCHEMA, UK_STATEMENT,
       UK_BEFORE, UK_AFTER };
/* Batch map keys. */
enum { BK_SHARD = 1, BK_UPDATES = 2, BK_NAMES = 3 };
/* Extension types. */
#define EXT_TEMPORAL   1
#define EXT_TIMESTAMP  (-1)   /* MessagePack's own timestamp type */
/* Column descriptor byte 0: type in the low 5 bits, then flags. */
#define DESC_BIT       0x20
#define DESC_ZERO_DATE 0x40
#define DESC_FLOAT32   0x80

void wire_enc_init(wire_enc *e)
{
    memset(e, 0, sizeof *e);
}

void wire_enc_free(wire_enc *e)
{
    free(e->tables);
    wh_buf_free(&e->scratch);
    memset(e, 0, sizeof *e);
}

void wire_enc_limit(wire_enc *e, uint32_t frame_max, bool parts)
{
    assert(frame_max >= WIRE_HEADER_LEN + 64 && frame_max <= WIRE_FRAME_MAX);
    e->frame_max = frame_max;
    e->parts = parts;
}

void wire_enc_peer(wire_enc *e, uint32_t own_max, const wire_msg *hello_ok)
{
    uint32_t max = own_max < WIRE_FRAME_MIN ? WIRE_FRAME_MIN
                 : own_max > WIRE_FRAME_MAX ? WIRE_FRAME_MAX : own_max;
    uint64_t peer = hello_ok->max_frame ? hello_ok->max_frame : WIRE_FRAME_MAX;
    if (peer < WIRE_FRAME_MIN)
        peer = WIRE_FRAME_MIN;   /* decoding refuses it; never below what a HELLO needs */
    if (peer < max)
        max = (uint32_t)peer;
    wire_enc_limit(e, max, hello_ok->max_update != 0);
}

/* Bytes of a MessagePack str header for len bytes, and of an array header. */
static size_t str_head(size_t len)
{
    return len < 32 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : 5;
}

static size_t array_head(uint32_t n)
{
    return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

/* The open frame's length once ended: what is written, the names key, and
 * the name tables wire_enc_end will append. */
static size_t enc_frame_len(const wire_enc *e)
{
    return e->out->len - e->frame_start - 4 + 1 + array_head(e->ntables) + e->names_bytes;
}

void wire_enc_begin(wire_enc *e, wh_buf *out, const char *shard)
{
    if (e->frame_max == 0)
        e->frame_max = WIRE_FRAME_MAX;
    e->out = out;
    e->shard = shard;
    e->count = 0;
    e->ntables = 0;
    e->names_bytes = 0;
    e->pos_at = e->pos_len = 0;
    e->oom = false;
    e->frame_start = wire_frame_begin(out, WIRE_UPDATES);
    mp_put_map(out, 3);
    mp_put_uint(out, BK_SHARD);
    mp_put_cstr(out, shard);
    mp_put_uint(out, BK_UPDATES);
    e->count_at = mp_put_array32(out, 0);   /* count patched by wire_enc_end */
}

static bool same_names(const char *const *a, const char *const *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (a[k] != b[k] && (!a[k] || !b[k] || strcmp(a[k], b[k]) != 0))
            return false;
    return true;
}

/* Index of row's name table in this batch, adding it if new; UINT32_MAX on OOM. */
static uint32_t names_ref(wire_enc *e, const wh_row *row)
{
    for (uint32_t k = e->ntables; k-- > 0;)
        if ((e->tables[k].names == row->names || e->tables[k].alias == row->names) &&
            e->tables[k].count == row->count)
            return k;
    /* Different pointers may still hold the same names (the mysql mapper
     * makes an array per table map, that is per transaction): compare the
     * most recent few by content, and remember the match so that the next
     * rows with that array do not compare again. */
    for (uint32_t k = e->ntables, seen = 0; k-- > 0 && seen < 4; seen++)
        if (e->tables[k].count == row->count && same_names(e->tables[k].names, row->names,
                                                           row->count)) {
            e->tables[k].alias = row->names;
            return k;
        }
    if (e->ntables == e->cap_tables) {
        uint32_t cap = e->cap_tables ? e->cap_tables * 2 : 16;
        struct wire_names *t = realloc(e->tables, cap * sizeof *t);
        if (!t)
            return UINT32_MAX;
        e->tables = t;
        e->cap_tables = cap;
    }
    e->tables[e->ntables].names = row->names;
    e->tables[e->ntables].alias = NULL;
    e->tables[e->ntables].count = row->count;
    size_t bytes = array_head(row->count);
    for (uint32_t c = 0; c < row->count; c++) {
        size_t n = row->names[c] ? strlen(row->names[c]) : 0;
        bytes += str_head(n) + n;
    }
    e->names_bytes += bytes;
    return e->ntables++;
}

static void put_temporal(wh_buf *b, const wh_value *v)
{
    const wh_temporal *t = &v->n.t;
    if (v->type == WH_T_TIMESTAMP) {
        uint8_t x[12];
        uint32_t nsec = t->usec * 1000u;
        uint64_t sec = (uint64_t)t->epoch_sec;
        if (t->epoch_sec >= 0 && sec >> 34 == 0) {
            uint64_t w = (uint64_t)nsec << 34 | sec;
            if (nsec == 0 && sec <= 0xffffffffu) {
                wh_put_be32(x, (uint32_t)sec);
                mp_put_ext(b, EXT_TIMESTAMP, x, 4);
            } else {
                wh_put_be32(x, (uint32_t)(w >> 32));
                wh_put_be32(x + 4, (uint32_t)w);
                mp_put_ext(b, EXT_TIMESTAMP, x, 8);
            }
        } else {
            wh_put_be32(x, nsec);
            wh_put_be32(x + 4, (uint32_t)(sec >> 32));
            wh_put_be32(x + 8, (uint32_t)sec);
            mp_put_ext(b, EXT_TIMESTAMP, x, 12);
        }
        return;
    }
    uint8_t x[13] = {
        (uint8_t)(t->year >> 8), (uint8_t)t->year, t->month, t->day,
        (uint8_t)(t->hour >> 8), (uint8_t)t->hour, t->minute, t->second,
        0, 0, 0, 0, t->negative ? 1 : 0,
    };
    wh_put_be32(x + 8, t->usec);
    mp_put_ext(b, EXT_TEMPORAL, x, 13);
}

static void put_value(wh_buf *b, const wh_value *v)
{
    switch ((wh_type)v->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        mp_put_nil(b);
        return;
    case WH_T_INT:
        mp_put_int(b, v->n.i);
        return;
    case WH_T_UINT:
    case WH_T_YEAR:
        mp_put_uint(b, v->n.u);
        return;
    case WH_T_FLOAT:
        if (v->flags & WH_VF_FLOAT32)
            mp_put_float(b, (float)v->n.d);
        else
            mp_put_double(b, v->n.d);
        return;
    case WH_T_DECIMAL:
    case WH_T_STRING:
    case WH_T_JSON:
        mp_put_str(b, v->str ? v->str : "", v->str ? v->len : 0);
        return;
    case WH_T_BYTES:
        mp_put_bin(b, v->str ? v->str : "", v->str ? v->len : 0);
        return;
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            mp_put_str(b, v->str, v->len);
        else
            mp_put_uint(b, v->n.u);
        return;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        put_temporal(b, v);
        return;
    case WH_T__COUNT:
        break;
    }
    mp_put_nil(b);
}

static int put_row(wire_enc *e, const wh_row *row)
{
    wh_buf *b = e->out;
    uint32_t ref = names_ref(e, row);
    if (ref == UINT32_MAX)
        return WH_ERR_NOMEM;
    mp_put_array(b, 3);
    mp_put_uint(b, ref);
    /* Descriptors: two bytes per column, written straight into the buffer. */
    mp_put_bin_header(b, row->count * 2);
    if (!wh_buf_reserve(b, (size_t)row->count * 2))
        return WH_ERR_NOMEM;
    uint8_t *d = (uint8_t *)b->data + b->len;
    for (uint32_t k = 0; k < row->count; k++) {
        const wh_value *v = &row->values[k];
        uint8_t t = v->type < WH_T__COUNT ? v->type : WH_T_NULL;
        if (v->flags & WH_VF_BIT) t |= DESC_BIT;
        if (v->flags & WH_VF_ZERO_DATE) t |= DESC_ZERO_DATE;
        if (v->flags & WH_VF_FLOAT32) t |= DESC_FLOAT32;
        d[2 * k] = t;
        d[2 * k + 1] = v->scale;
    }
    b->len += (size_t)row->count * 2;
    mp_put_array(b, row->count);
    for (uint32_t k = 0; k < row->count; k++)
        put_value(b, &row->values[k]);
    return WH_OK;
}

/* Appends u to the open frame. */
static int enc_update(wire_enc *e, const wh_update *u)
{
    wh_buf *b = e->out;
    uint32_t n = 4 + (u->flags != 0) + (u->db != NULL) + (u->table != NULL) +
                 (u->schema_id != 0) + (u->statement != NULL) + u->has_before + u->has_after;
    mp_put_map(b, n);
    mp_put_uint(b, UK_OP); mp_put_uint(b, u->op);
    if (u->flags) {
        mp_put_uint(b, UK_FLAGS);
        mp_put_uint(b, u->flags);
    }
    mp_put_uint(b, UK_POS);
    size_t pos_at = b->len;
    wire_put_pos(b, &u->pos);
    if (e->count == 0) {
        e->pos_at = pos_at;
        e->pos_len = b->len - pos_at;
    }
    mp_put_uint(b, UK_TS); mp_put_int(b, u->ts);
    mp_put_uint(b, UK_TXN);
    mp_put_array(b, 2);
    mp_put_cstr(b, u->txn.id);
    mp_put_bool(b, u->txn.last);
    if (u->db) {
        mp_put_uint(b, UK_DB);
        mp_put_cstr(b, u->db);
    }
    if (u->table) {
        mp_put_uint(b, UK_TABLE);
        mp_put_cstr(b, u->table);
    }
    if (u->schema_id) {
        mp_put_uint(b, UK_SCHEMA);
        mp_put_uint(b, u->schema_id);
    }
    if (u->statement) {
        mp_put_uint(b, UK_STATEMENT);
        mp_put_cstr(b, u->statement);
    }
    if (u->has_before) {
        mp_put_uint(b, UK_BEFORE);
        if (put_row(e, &u->before))
            e->oom = true;
    }
    if (u->has_after) {
        mp_put_uint(b, UK_AFTER);
        if (put_row(e, &u->after))
            e->oom = true;
    }
    e->count++;
    if (e->oom || !wh_buf_ok(b)) {
        e->oom = true;
        return WH_ERR_NOMEM;
    }
    return WH_OK;
}

int wire_enc_add(wire_enc *e, const wh_update *u)
{
    wh_buf *b = e->out;
    size_t at = b->len, names_bytes = e->names_bytes;
    uint32_t ntables = e->ntables;
    int rc = enc_update(e, u);
    if (rc != WH_OK || enc_frame_len(e) <= e->frame_max)
        return rc;
    if (e->count > 1) {
        /* u does not fit next to the updates before it: take it out, end
         * the frame they are in, and give u a frame of its own (the name
         * tables u added go too; at most one encoding of u is wasted). */
        b->len = at;
        e->ntables = ntables;
        e->names_bytes = names_bytes;
        e->count--;
        if ((rc = wire_enc_end(e)) != WH_OK)
            return rc;
        wire_enc_begin(e, b, e->shard);
        if ((rc = enc_update(e, u)) != WH_OK || enc_frame_len(e) <= e->frame_max)
            return rc;
    }
    if (e->parts)
        return WH_OK;   /* split when the frame ends */
    b->len = at;
    e->ntables = ntables;
    e->names_bytes = names_bytes;
    e->count--;
    return WH_ERR_LIMIT;
}

int wire_enc_end(wire_enc *e)
{
    wh_buf *b = e->out;
    if (e->oom || !wh_buf_ok(b)) {
        b->len = e->frame_start;
        return WH_ERR_NOMEM;
    }
    if (e->count == 0) {
        b->len = e->frame_start;
        return WH_OK;
    }
    size_t want = enc_frame_len(e);
    bool split = want > e->frame_max;
    mp_patch_array32(b, e->count_at, e->count);
    mp_put_uint(b, BK_NAMES);
    mp_put_array(b, e->ntables);
    for (uint32_t k = 0; k < e->ntables; k++) {
        mp_put_array(b, e->tables[k].count);
        for (uint32_t c = 0; c < e->tables[k].count; c++)
            mp_put_cstr(b, e->tables[k].names[c] ? e->tables[k].names[c] : "");
    }
    if (!wh_buf_ok(b)) {
        b->len = e->frame_start;
        return WH_ERR_NOMEM;
    }
    assert(b->len - e->frame_start - 4 == want);   /* names_bytes is exact */
    int rc;
    if (split) {
        /* One update too large for a frame (wire_enc_add keeps it alone). */
        assert(e->count == 1 && e->parts);
        wh_buf_reset(&e->scratch);
        wh_buf_append(&e->scratch, b->data + e->pos_at, e->pos_len);
        rc = wh_buf_ok(&e->scratch)
                 ? wire_part_split(b, e->frame_start, e->frame_max,
                                   (const uint8_t *)e->scratch.data, e->scratch.len)
                 : WH_ERR_NOMEM;
        if (e->scratch.cap > 65536)
            wh_buf_free(&e->scratch);
        if (rc == WH_OK)
            e->splits++;
    } else {
        rc = wire_frame_end(b, e->frame_start);
    }
    if (rc != WH_OK)
        b->len = e->frame_start;
    else
        e->frames++;
    e->count = 0;
    return rc;
}

/* ---- update batches: decoding ---------------------------------------------------------- */

/* The last string of one field copied into the arena: consecutive updates
 * mostly repeat their transaction, position's log name and logical part,
 * db and table, and then share one copy (src points into the payload). */
typedef struct str_memo {
    const char *src;
    uint32_t    len;
    const char *copy;
} str_memo;

typedef struct dec {
    mp_reader   r;
    wh_arena   *arena;
    char       *errbuf;
    size_t      errlen;
    uint32_t    at;              /* update index, for messages */
    str_memo    txn, db, table, log_name, logical;
} dec;

/* A row waiting for its names table (which may follow the updates). */
typedef struct row_fix {
    wh_row  *row;
    uint32_t ref;
} row_fix;

typedef struct name_table {
    const char **names;
    uint32_t     count;
} name_table;

static int bad(dec *d, const char *what)
{
    return wh_seterr(d->errbuf, d->errlen, WH_ERR_PROTOCOL,
                     "UPDATES payload: update %u: %s is malformed or of the wrong type", d->at,
                     what);
}

/* A NUL-terminated arena copy of s[0..len), shared with the previous
 * string of the same field when equal; NULL when out of memory. */
static const char *memo_strndup(dec *d, str_memo *m, const char *s, uint32_t len)
{
    if (m && m->copy && m->len == len && memcmp(m->src, s, len) == 0)
        return m->copy;
    const char *c = wh_arena_strndup(d->arena, s, len);
    if (c && m)
        *m = (str_memo){ s, len, c };
    return c;
}

/* A str or nil into *out (copied, with memo m or NULL: no sharing). */
static bool get_cstr(dec *d, str_memo *m, const char **out)
{
    const char *s;
    uint32_t len;
    if (mp_get_nil(&d->r)) {
        *out = NULL;
        return true;
    }
    if (!mp_get_fixstr(&d->r, &s, &len))
        return false;
    *out = memo_strndup(d, m, s, len);
    return *out != NULL;
}

/* Days since 1970-01-01 to civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *dd)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *dd = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool get_temporal(dec *d, wh_value *v)
{
    int8_t type;
    const uint8_t *p;
    uint32_t len;
    wh_temporal *t = &v->n.t;
    if (!mp_get_ext(&d->r, &type, &p, &len))
        return false;
    if (v->type == WH_T_TIMESTAMP) {
        uint64_t sec;
        uint32_t nsec;
        if (type != EXT_TIMESTAMP)
            return false;
        if (len == 4) {
            sec = wh_be32(p);
            nsec = 0;
        } else if (len == 8) {
            uint64_t w = wh_be64(p);
            nsec = (uint32_t)(w >> 34);
            sec = w & ((1ull << 34) - 1);
        } else if (len == 12) {
            nsec = wh_be32(p);
            sec = wh_be64(p + 4);
        } else {
            return false;
        }
        int64_t s = (int64_t)sec;
        if (nsec > 999999999u || s < -62167219200LL || s > 253402300799LL)
            return false;   /* outside years 0000..9999 */
        memset(t, 0, sizeof *t);
        t->epoch_sec = s;
        t->usec = nsec / 1000;
        if (v->flags & WH_VF_ZERO_DATE)
            return true;
        int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
        int64_t rem = s - days * 86400, y;
        unsigned m, dd;
        civil_from_days(days, &y, &m, &dd);
        t->year = (uint16_t)y;
        t->month = (uint8_t)m;
        t->day = (uint8_t)dd;
        t->hour = (uint16_t)(rem / 3600);
        t->minute = (uint8_t)(rem / 60 % 60);
        t->second = (uint8_t)(rem % 60);
        return true;
    }
    if (type != EXT_TEMPORAL || len != 13)
        return false;
    memset(t, 0, sizeof *t);
    t->year = (uint16_t)(p[0] << 8 | p[1]);
    t->month = p[2];
    t->day = p[3];
    t->hour = (uint16_t)(p[4] << 8 | p[5]);
    t->minute = p[6];
    t->second = p[7];
    t->usec = wh_be32(p + 8);
    t->negative = p[12] != 0;
    return t->year <= 9999 && t->month <= 12 && t->day <= 31 && t->minute < 60 &&
           t->second < 60 && t->usec < 1000000 && t->hour <= 838 &&
           (v->type == WH_T_TIME || t->hour < 24);
}

static bool get_value(dec *d, wh_value *v, uint8_t desc, uint8_t scale)
{
    memset(v, 0, sizeof *v);
    v->type = desc & 0x1f;
    v->scale = scale;
    if (desc & DESC_BIT) v->flags |= WH_VF_BIT;
    if (desc & DESC_ZERO_DATE) v->flags |= WH_VF_ZERO_DATE;
    if (desc & DESC_FLOAT32) v->flags |= WH_VF_FLOAT32;
    mp_reader *r = &d->r;
    switch ((wh_type)v->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        return mp_get_nil(r);
    case WH_T_INT:
        return mp_get_fixint(r, &v->n.i);
    case WH_T_UINT:
    case WH_T_YEAR:
        return mp_get_fixuint(r, &v->n.u);
    case WH_T_FLOAT:
        return mp_get_double(r, &v->n.d);
    case WH_T_DECIMAL:
    case WH_T_STRING:
    case WH_T_JSON:
        return mp_get_fixstr(r, &v->str, &v->len);
    case WH_T_BYTES: {
        const uint8_t *p;
        if (!mp_get_bin(r, &p, &v->len))
            return false;
        v->str = (const char *)p;
        return true;
    }
    case WH_T_ENUM:
    case WH_T_SET:
        if (mp_peek(r) == MP_STR)
            return mp_get_fixstr(r, &v->str, &v->len);
        return mp_get_fixuint(r, &v->n.u);
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        return get_temporal(d, v);
    case WH_T__COUNT:
        break;
    }
    return false;
}

static int get_row(dec *d, wh_row *row, row_fix *fix, const char *which)
{
    uint32_t n, cols;
    uint64_t ref;
    const uint8_t *desc;
    uint32_t dlen;
    if (!mp_get_fixarray(&d->r, &n) || n != 3 || !mp_get_fixuint(&d->r, &ref) || ref >= UINT32_MAX ||
        !mp_get_bin(&d->r, &desc, &dlen) || !mp_get_fixarray(&d->r, &cols) || dlen != 2 * cols)
        return bad(d, which);
    wh_value *vals = cols ? wh_arena_alloc(d->arena, cols * sizeof *vals) : NULL;
    if (cols && !vals)
        return WH_ERR_NOMEM;
    for (uint32_t k = 0; k < cols; k++)
        if (!get_value(d, &vals[k], desc[2 * k], desc[2 * k + 1]))
            return wh_seterr(d->errbuf, d->errlen, WH_ERR_PROTOCOL,
                             "UPDATES payload: update %u: %s column %u: value does not match "
                             "its type %s", d->at, which, k, wh_type_name(desc[2 * k] & 0x1f));
    row->values = vals;
    row->count = cols;
    row->names = NULL;
    fix->row = row;
    fix->ref = (uint32_t)ref;
    return WH_OK;
}

static int get_update(dec *d, wh_update *u, row_fix *fixes, uint32_t *nfix)
{
    uint32_t n;
    uint64_t x;
    int rc;
    memset(u, 0, sizeof *u);
    if (!mp_get_fixmap(&d->r, &n))
        return bad(d, "the update map");
    bool have_op = false, have_pos = false;
    for (uint32_t k = 0; k < n; k++) {
        if (!mp_get_fixuint(&d->r, &x))
            return bad(d, "a key");
        switch (x) {
        case UK_OP:
            if (!mp_get_fixuint(&d->r, &x) || x >= WH_OP__COUNT)
                return bad(d, "op");
            u->op = (uint8_t)x;
            have_op = true;
            break;
        case UK_FLAGS:
            if (!mp_get_fixuint(&d->r, &x) || x > 0xff)
                return bad(d, "flags");
            u->flags = (uint8_t)x;
            break;
        case UK_POS: {
            wire_pos p;
            if (!wire_get_pos(&d->r, &p) || !p.present)
                return bad(d, "pos");
            u->pos.offset = p.offset;
            u->pos.index = p.index;
            u->pos.log_name = p.log_name ? memo_strndup(d, &d->log_name, p.log_name,
                                                        p.log_name_len) : NULL;
            u->pos.logical = p.logical ? memo_strndup(d, &d->logical, p.logical, p.logical_len)
                                       : NULL;
            if ((p.log_name && !u->pos.log_name) || (p.logical && !u->pos.logical))
                return WH_ERR_NOMEM;
            u->txn.index = p.index;
            have_pos = true;
            break;
        }
        case UK_TS:
            if (!mp_get_fixint(&d->r, &u->ts))
                return bad(d, "ts");
            break;
        case UK_TXN: {
            uint32_t an;
            if (!mp_get_fixarray(&d->r, &an) || an != 2 || !get_cstr(d, &d->txn, &u->txn.id) ||
                !mp_get_bool(&d->r, &u->txn.last))
                return bad(d, "txn");
            break;
        }
        case UK_DB:
            if (!get_cstr(d, &d->db, &u->db))
                return bad(d, "db");
            break;
        case UK_TABLE:
            if (!get_cstr(d, &d->table, &u->table))
                return bad(d, "table");
            break;
        case UK_SCHEMA:
            if (!mp_get_fixuint(&d->r, &u->schema_id))
                return bad(d, "schema_id");
            break;
        case UK_STATEMENT:
            if (!get_cstr(d, NULL, &u->statement))
                return bad(d, "statement");
            break;
        case UK_BEFORE:
            if (u->has_before)
                return bad(d, "before (repeated)");
            if ((rc = get_row(d, &u->before, &fixes[(*nfix)++], "before")))
                return rc;
            u->has_before = true;
            break;
        case UK_AFTER:
            if (u->has_after)
                return bad(d, "after (repeated)");
            if ((rc = get_row(d, &u->after, &fixes[(*nfix)++], "after")))
                return rc;
            u->has_after = true;
            break;
        default:
            if (!mp_skip(&d->r, 16))
                return bad(d, "an unknown key's value");
            break;
        }
    }
    return (have_op && have_pos) ? WH_OK : bad(d, "op or pos (missing)");
}

int wire_batch_decode(const uint8_t *payload, size_t len, wh_arena *arena, wire_batch *out,
                      char *errbuf, size_t errlen)
{
    dec d = { .r = { payload, payload + len }, .arena = arena, .errbuf = errbuf, .errlen = errlen };
    uint32_t n, count = 0, nfix = 0, ntables = 0;
    wh_update *ups = NULL;
    row_fix *fixes = NULL;
    name_table *tables = NULL;
    bool have_updates = false, have_tables = false;
    uint64_t key;
    memset(out, 0, sizeof *out);
    if (!mp_get_fixmap(&d.r, &n))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload is not a map");
    for (uint32_t k = 0; k < n; k++) {
        if (!mp_get_fixuint(&d.r, &key))
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload: bad key");
        if (key == BK_SHARD) {
            if (!get_cstr(&d, NULL, &out->shard) || !out->shard)
                return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload: bad shard");
        } else if (key == BK_UPDATES && !have_updates) {
            if (!mp_get_fixarray(&d.r, &count))
                return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                 "UPDATES payload: updates is not an array");
            /* count <= bytes left, so these allocations are bounded by the frame. */
            ups = count ? wh_arena_alloc(arena, count * sizeof *ups) : NULL;
            fixes = count ? wh_arena_alloc(arena, 2 * (size_t)count * sizeof *fixes) : NULL;
            if (count && (!ups || !fixes))
                return WH_ERR_NOMEM;
            for (d.at = 0; d.at < count; d.at++) {
                int rc = get_update(&d, &ups[d.at], fixes, &nfix);
                if (rc)
                    return rc;
            }
            have_updates = true;
        } else if (key == BK_NAMES && !have_tables) {
            if (!mp_get_fixarray(&d.r, &ntables))
                return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                 "UPDATES payload: names is not an array");
            tables = ntables ? wh_arena_alloc(arena, ntables * sizeof *tables) : NULL;
            if (ntables && !tables)
                return WH_ERR_NOMEM;
            for (uint32_t t = 0; t < ntables; t++) {
                uint32_t cols;
                if (!mp_get_fixarray(&d.r, &cols))
                    return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                     "UPDATES payload: names table %u is not an array", t);
                tables[t].count = cols;
                tables[t].names = cols ? wh_arena_alloc(arena, cols * sizeof(char *)) : NULL;
                if (cols && !tables[t].names)
                    return WH_ERR_NOMEM;
                for (uint32_t c = 0; c < cols; c++) {
                    const char *s;
                    uint32_t sl;
                    if (!mp_get_fixstr(&d.r, &s, &sl))
                        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                         "UPDATES payload: names table %u entry %u is not a "
                                         "string", t, c);
                    if (!(tables[t].names[c] = wh_arena_strndup(arena, s, sl)))
                        return WH_ERR_NOMEM;
                }
            }
            have_tables = true;
        } else if (!mp_skip(&d.r, 16)) {
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "UPDATES payload: value of key %" PRIu64 " is malformed", key);
        }
    }
    if (d.r.p != d.r.end)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload: %zu bytes after the map",
                         (size_t)(d.r.end - d.r.p));
    if (!out->shard || !have_updates)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload without %s",
                         out->shard ? "updates" : "shard");
    for (uint32_t f = 0; f < nfix; f++) {
        if (fixes[f].ref >= ntables || tables[fixes[f].ref].count != fixes[f].row->count)
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "UPDATES payload: a row refers to names table %u, which %s",
                             fixes[f].ref, fixes[f].ref >= ntables ? "does not exist"
                                                                   : "has another column count");
        fixes[f].row->names = tables[fixes[f].ref].names;
    }
    for (uint32_t i = 0; i < count; i++)
        ups[i].shard = out->shard;
    out->updates = ups;
    out->count = count;
    return WH_OK;
}

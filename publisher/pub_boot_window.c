/* pub_boot_window.c -- a bootstrap chunk's watermark window (see pub_boot_window.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "publisher/pub_boot_window.h"

/* ---- positions ------------------------------------------------------------------------------ */

/* The numeric extension of a binlog file name, or -1. */
static long long file_seq(const char *f, size_t *base_len)
{
    const char *dot = strrchr(f, '.');
    *base_len = dot ? (size_t)(dot - f) : strlen(f);
    if (!dot || !dot[1])
        return -1;
    long long v = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > (1ll << 50))
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int boot_pos_cmp(const char *file_a, uint64_t off_a, const char *file_b, uint64_t off_b)
{
    const char *a = file_a ? file_a : "", *b = file_b ? file_b : "";
    if (strcmp(a, b) != 0) {
        size_t la, lb;
        long long sa = file_seq(a, &la), sb = file_seq(b, &lb);
        if (sa >= 0 && sb >= 0 && la == lb && memcmp(a, b, la) == 0)
            return sa < sb ? -1 : 1;
        return strcmp(a, b) < 0 ? -1 : 1;
    }
    return off_a < off_b ? -1 : off_a > off_b ? 1 : 0;
}

bool boot_pos_reached(const wh_position *u, const wh_pos *at)
{
    return boot_pos_cmp(u->log_name, u->offset, at->has_log_name ? at->log_name : NULL,
                        at->offset) >= 0;
}

bool boot_snapshot_covers(const wh_pos *low, const wh_pos *at)
{
    if (!low->set || (!low->has_log_name && at->has_log_name))
        return true;
    /* low is the start of the last transaction processed; at is a
     * transaction boundary: at > low means that transaction is in it. */
    return boot_pos_cmp(low->has_log_name ? low->log_name : NULL, low->offset,
                        at->has_log_name ? at->log_name : NULL, at->offset) < 0;
}

/* The sequence of domain d in a GTID list "D-S-N[,D-S-N...]": 1 found, 0
 * absent, -1 malformed. */
static int gtid_seq(const char *list, uint64_t d, uint64_t *seq)
{
    const char *p = list;
    while (*p) {
        char *end;
        uint64_t dom = strtoull(p, &end, 10);
        if (end == p || *end != '-')
            return -1;
        p = end + 1;
        strtoull(p, &end, 10);
        if (end == p || *end != '-')
            return -1;
        p = end + 1;
        uint64_t n = strtoull(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0'))
            return -1;
        if (dom == d) {
            *seq = n;
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

int boot_snapshot_covers_gtid(const wh_pos *low, const char *state)
{
    if (!low->has_logical || !low->logical[0] || gtid_seq(state, UINT64_MAX, &(uint64_t){ 0 }) < 0)
        return -1;
    const char *p = low->logical;
    while (*p) {
        char *end;
        uint64_t dom = strtoull(p, &end, 10);
        if (end == p || *end != '-')
            return -1;
        const char *seqp = strchr(end + 1, '-');
        if (!seqp)
            return -1;
        uint64_t n = strtoull(seqp + 1, &end, 10);
        if (end == seqp + 1 || (*end != ',' && *end != '\0'))
            return -1;
        uint64_t have = 0;
        int found = gtid_seq(state, dom, &have);
        if (found <= 0 || have < n)
            return found < 0 ? -1 : 0;
        p = *end ? end + 1 : end;
    }
    return 1;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static void put_u64(wh_buf *b, char tag, uint64_t v)
{
    unsigned char x[9];
    x[0] = (unsigned char)tag;
    for (int i = 0; i < 8; i++)
        x[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    wh_buf_append(b, x, sizeof x);
}

static void put_bytes(wh_buf *b, const char *s, uint32_t len)
{
    put_u64(b, 's', len);
    wh_buf_append(b, s, len);
}

bool boot_key_encode(wh_buf *out, const wh_row *row, const char *const *names, uint32_t nkey)
{
    for (uint32_t k = 0; k < nkey; k++) {
        int i = wh_row_find(row, names[k], strlen(names[k]));
        if (i < 0 || row->values[i].type == WH_T_ABSENT)
            return false;
        const wh_value *v = &row->values[i];
        switch (v->type) {
        case WH_T_NULL:
            put_u64(out, 'n', 0);
            break;
        case WH_T_INT:
            if (v->n.i >= 0)
                put_u64(out, 'u', (uint64_t)v->n.i);
            else
                put_u64(out, 'i', (uint64_t)v->n.i);
            break;
        case WH_T_UINT: case WH_T_YEAR: case WH_T_ENUM: case WH_T_SET:
            put_u64(out, 'u', v->n.u);
            break;
        case WH_T_FLOAT: {
            uint64_t bits;
            memcpy(&bits, &v->n.d, sizeof bits);
            put_u64(out, 'f', bits);
            break;
        }
        case WH_T_DATE: case WH_T_TIME: case WH_T_DATETIME: case WH_T_TIMESTAMP: {
            const wh_temporal *t = &v->n.t;
            put_u64(out, t->negative ? 'T' : 't',
                    ((uint64_t)t->year << 48) | ((uint64_t)t->month << 40) |
                    ((uint64_t)t->day << 32) | ((uint64_t)t->hour << 16) |
                    ((uint64_t)t->minute << 8) | t->second);
            put_u64(out, '.', t->usec);
            break;
        }
        default:   /* DECIMAL, STRING, BYTES, JSON: their text or bytes */
            put_bytes(out, v->str ? v->str : "", v->str ? v->len : 0);
            break;
        }
    }
    return wh_buf_ok(out);
}

/* ---- the key set ---------------------------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, uint32_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

#define SLOT_LEN(x) ((uint32_t)((x) & 0xffffff))
#define SLOT_OFF(x) (((x) >> 24) - 1)

static bool slot_is(const boot_keyset *s, uint64_t x, const void *key, uint32_t len)
{
    return SLOT_LEN(x) == len && memcmp(s->bytes.data + SLOT_OFF(x), key, len) == 0;
}

static bool grow(boot_keyset *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (uint32_t i = 0; i < s->cap; i++) {
        uint64_t x = s->slots[i];
        if (!x)
            continue;
        uint32_t h = (uint32_t)hash_bytes(s->bytes.data + SLOT_OFF(x), SLOT_LEN(x)) & (cap - 1);
        while (slots[h])
            h = (h + 1) & (cap - 1);
        slots[h] = x;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return true;
}

bool boot_keyset_add(boot_keyset *s, const void *key, uint32_t len)
{
    if (len > 0xffffff)
        return false;
    if ((s->count + 1) * 2 > s->cap && !grow(s))
        return false;
    uint32_t h = (uint32_t)hash_bytes(key, len) & (s->cap - 1);
    while (s->slots[h]) {
        if (slot_is(s, s->slots[h], key, len))
            return true;
        h = (h + 1) & (s->cap - 1);
    }
    size_t off = s->bytes.len;
    wh_buf_append(&s->bytes, key, len);
    if (!wh_buf_ok(&s->bytes))
        return false;
    s->slots[h] = ((uint64_t)(off + 1) << 24) | len;
    s->count++;
    return true;
}

bool boot_keyset_has(const boot_keyset *s, const void *key, uint32_t len)
{
    if (!s->count)
        return false;
    uint32_t h = (uint32_t)hash_bytes(key, len) & (s->cap - 1);
    while (s->slots[h]) {
        if (slot_is(s, s->slots[h], key, len))
            return true;
        h = (h + 1) & (s->cap - 1);
    }
    return false;
}

void boot_keyset_clear(boot_keyset *s)
{
    if (s->count)
        memset(s->slots, 0, s->cap * sizeof *s->slots);
    s->count = 0;
    wh_buf_reset(&s->bytes);
}

void boot_keyset_free(boot_keyset *s)
{
    free(s->slots);
    wh_buf_free(&s->bytes);
    memset(s, 0, sizeof *s);
}

/* ---- the window ----------------------------------------------------------------------------- */

void boot_window_open(boot_window *w, const wh_pos *low, const char *db, const char *table,
                      const char *const *keys, uint32_t nkey, uint64_t max_keys)
{
    boot_keyset_clear(&w->seen);
    wh_buf_reset(&w->ranges);
    w->nranges = 0;
    w->open = true;
    w->low = *low;
    w->db = db;
    w->table = table;
    w->keys = keys;
    w->nkey = nkey;
    w->max_keys = max_keys;
    w->overflow = false;
}

static void note_row(boot_window *w, const wh_row *row)
{
    wh_buf_reset(&w->scratch);
    if (!boot_key_encode(&w->scratch, row, w->keys, w->nkey))
        return;   /* no key in this image: nothing to drop for it */
    if (w->seen.count >= w->max_keys ||
        !boot_keyset_add(&w->seen, w->scratch.data, (uint32_t)w->scratch.len))
        w->overflow = true;
}

/* The bytes of the row's first key column (a key-value store's key). */
static bool key_column(const wh_row *row, const char *name, const char **p, uint32_t *n)
{
    int i = wh_row_find(row, name, strlen(name));
    if (i < 0 || (row->values[i].type != WH_T_BYTES && row->values[i].type != WH_T_STRING))
        return false;
    *p = row->values[i].str ? row->values[i].str : "";
    *n = row->values[i].len;
    return true;
}

static void put_part(wh_buf *b, const char *p, uint32_t n)
{
    wh_buf_append(b, &n, sizeof n);
    wh_buf_append(b, p, n);
}

/* A range delete [key, end_key) of a key-value store. */
static void note_range(boot_window *w, const wh_row *row)
{
    const char *b, *e;
    uint32_t bn, en;
    if (w->nkey != 1 || !key_column(row, w->keys[0], &b, &bn) ||
        !key_column(row, "end_key", &e, &en))
        return;
    if (w->seen.count + w->nranges >= w->max_keys) {
        w->overflow = true;
        return;
    }
    put_part(&w->ranges, b, bn);
    put_part(&w->ranges, e, en);
    if (!wh_buf_ok(&w->ranges))
        w->overflow = true;   /* the chunk is read again; ranges is not read before that */
    else
        w->nranges++;
}

/* Bytewise order of two byte strings (RocksDB's default comparator). */
static int bytes_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

static bool in_ranges(const boot_window *w, const char *k, uint32_t kn)
{
    const unsigned char *p = (const unsigned char *)w->ranges.data;
    for (uint32_t i = 0; i < w->nranges; i++) {
        uint32_t bn, en;
        memcpy(&bn, p, sizeof bn);
        const char *b = (const char *)p + sizeof bn;
        p += sizeof bn + bn;
        memcpy(&en, p, sizeof en);
        const char *e = (const char *)p + sizeof en;
        p += sizeof en + en;
        if (bytes_cmp(b, bn, k, kn) <= 0 && bytes_cmp(k, kn, e, en) < 0)
            return true;
    }
    return false;
}

/* The update's table is the window's: db.table, or for a key-value store
 * (no db) the column family. */
static bool same_table(const boot_window *w, const wh_update *u)
{
    if (!u->table || strcmp(u->table, w->table) != 0)
        return false;
    bool u_nodb = !u->db || !u->db[0], w_nodb = !w->db || !w->db[0];
    return u_nodb || w_nodb ? u_nodb && w_nodb : strcmp(u->db, w->db) == 0;
}

void boot_window_note(boot_window *w, const wh_update *u)
{
    if (!w->open || w->overflow || !same_table(w, u))
        return;
    switch (u->op) {
    case WH_OP_INSERT: case WH_OP_UPDATE: case WH_OP_DELETE:
    case WH_OP_PUT: case WH_OP_KV_DELETE: case WH_OP_SINGLE_DELETE:
        break;
    case WH_OP_DELETE_RANGE:
        if (u->has_after)
            note_range(w, &u->after);
        return;
    case WH_OP_MERGE:
        w->overflow = true;
        return;
    default:
        return;
    }
    if (u->has_before)
        note_row(w, &u->before);
    if (u->has_after)
        note_row(w, &u->after);
}

bool boot_window_drops(boot_window *w, const wh_row *row)
{
    assert(w->open);
    const char *k;
    uint32_t kn;
    if (w->nranges && w->nkey == 1 && key_column(row, w->keys[0], &k, &kn) &&
        in_ranges(w, k, kn))
        return true;
    if (!w->seen.count)
        return false;
    wh_buf_reset(&w->scratch);
    if (!boot_key_encode(&w->scratch, row, w->keys, w->nkey))
        return false;
    return boot_keyset_has(&w->seen, w->scratch.data, (uint32_t)w->scratch.len);
}

void boot_window_close(boot_window *w)
{
    w->open = false;
    boot_keyset_clear(&w->seen);
    wh_buf_reset(&w->ranges);
    w->nranges = 0;
}

void boot_window_free(boot_window *w)
{
    boot_keyset_free(&w->seen);
    wh_buf_free(&w->ranges);
    w->nranges = 0;
    wh_buf_free(&w->scratch);
    w->open = false;
}

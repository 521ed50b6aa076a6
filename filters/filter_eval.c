/* filter_eval.c -- wh_filter_match: runs a compiled filter program against
 * one update, comparing typed values as documented in docs/FILTERS.md.
 * Allocation-free; column keys are resolved once per schema_id. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "filters/filter_int.h"

/* ---- exact decimals ------------------------------------------------------------------------- */

/* A DECIMAL value's text viewed as (-1)^neg x 0.DIGITS x 10^exp. */
typedef struct dec_view {
    const char *first;    /* first significant digit */
    size_t      span;     /* bytes from first to the last significant digit ('.' included) */
    size_t      ndig;     /* significant digits */
    int64_t     exp;
    bool        neg;
} dec_view;

/* Parses "-12.340"-style text; false if it is not a plain decimal. */
static bool dec_parse(const char *s, size_t n, dec_view *dv)
{
    size_t i = 0;
    dv->neg = false;
    if (n && (s[0] == '-' || s[0] == '+')) {
        dv->neg = s[0] == '-';
        i++;
    }
    size_t ndigits = 0, nint = 0, k = 0;   /* k: index among digits */
    bool dot = false, seen = false;
    size_t first_k = 0;
    const char *first = NULL, *last = NULL;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (dot)
                return false;
            dot = true;
            continue;
        }
        if (c < '0' || c > '9')
            return false;
        ndigits++;
        if (!dot)
            nint++;
        if (c != '0') {
            if (!seen) {
                seen = true;
                first = s + i;
                first_k = k;
            }
            last = s + i;
        }
        k++;
    }
    if (!ndigits)
        return false;
    if (!seen) {            /* zero, whatever its sign */
        dv->first = s;
        dv->span = 0;
        dv->ndig = 0;
        dv->exp = 0;
        dv->neg = false;
        return true;
    }
    dv->first = first;
    dv->span = (size_t)(last - first) + 1;
    dv->ndig = dv->span - (memchr(first, '.', dv->span) ? 1 : 0);
    dv->exp = (int64_t)nint - (int64_t)first_k;
    return true;
}

static bool dec_eq(const dec_view *dv, const filter_const *c)
{
    if (dv->ndig != c->len || dv->neg != c->neg || dv->exp != c->exp)
        return false;
    const char *a = dv->first, *b = c->s;
    for (size_t k = 0, j = 0; k < dv->span; k++) {
        if (a[k] == '.')
            continue;
        if (a[k] != b[j++])
            return false;
    }
    return true;
}

/* ---- comparisons -------------------------------------------------------------------------- */

static inline bool bytes_eq(const char *s, size_t n, const filter_const *c)
{
    if (c->cls != FCC_STR || c->len != n)
        return false;
    if (n > 16)
        return memcmp(s, c->s, n) == 0;
    for (size_t k = 0; k < n; k++)       /* short keys: cheaper than a call */
        if (s[k] != c->s[k])
            return false;
    return true;
}

/* Probes a hash table: first candidate slot for hash h, iterate with next_slot. */
#define HTAB_FOR(tab, h, i)                                                      \
    for (uint32_t i = (uint32_t)(h) & (tab)->mask; (tab)->ref[i] != UINT32_MAX;  \
         i = (i + 1) & (tab)->mask)

static bool str_in_set(const filter_set *set, const char *s, size_t n)
{
    if (!set->hashed) {
        for (uint32_t k = 0; k < set->n; k++)
            if (bytes_eq(s, n, &set->c[k]))
                return true;
        return false;
    }
    const filter_htab *t = &set->strs;
    if (!t->ref)
        return false;
    uint64_t h = filter_hash_bytes(s, n);
    HTAB_FOR(t, h, i)
        if (t->hash[i] == h && bytes_eq(s, n, &set->c[t->ref[i]]))
            return true;
    return false;
}

static bool int_in_set(const filter_set *set, int64_t v)
{
    if (!set->hashed) {
        for (uint32_t k = 0; k < set->n; k++)
            if ((set->c[k].numflags & FCN_I64) && set->c[k].i == v)
                return true;
        return false;
    }
    const filter_htab *t = &set->ints;
    if (!t->ref)
        return false;
    uint64_t h = filter_mix64((uint64_t)v);
    HTAB_FOR(t, h, i) {
        const filter_const *c = &set->c[t->ref[i]];
        if (t->hash[i] == h && (c->numflags & FCN_I64) && c->i == v)
            return true;
    }
    return false;
}

static bool uint_in_set(const filter_set *set, uint64_t v)
{
    if (!set->hashed) {
        for (uint32_t k = 0; k < set->n; k++)
            if ((set->c[k].numflags & FCN_U64) && set->c[k].u == v)
                return true;
        return false;
    }
    const filter_htab *t = &set->ints;
    if (!t->ref)
        return false;
    uint64_t h = filter_mix64(v);
    HTAB_FOR(t, h, i) {
        const filter_const *c = &set->c[t->ref[i]];
        if (t->hash[i] == h && (c->numflags & FCN_U64) && c->u == v)
            return true;
    }
    return false;
}

static bool float_in_set(const filter_set *set, double v, bool float32)
{
    if (isnan(v))
        return false;
    uint8_t flag = float32 ? FCN_FLT : FCN_DBL;
    if (!set->hashed) {
        for (uint32_t k = 0; k < set->n; k++) {
            const filter_const *c = &set->c[k];
            if ((c->numflags & flag) && (float32 ? c->fd : c->d) == v)
                return true;
        }
        return false;
    }
    const filter_htab *t = float32 ? &set->flts : &set->dbls;
    if (!t->ref)
        return false;
    double z = v + 0.0;
    uint64_t b;
    memcpy(&b, &z, sizeof b);
    uint64_t h = filter_mix64(b);
    HTAB_FOR(t, h, i) {
        const filter_const *c = &set->c[t->ref[i]];
        if (t->hash[i] == h && (c->numflags & flag) && (float32 ? c->fd : c->d) == v)
            return true;
    }
    return false;
}

static bool dec_in_set(const filter_set *set, const dec_view *dv)
{
    if (!set->hashed) {
        for (uint32_t k = 0; k < set->n; k++)
            if (set->c[k].cls == FCC_NUM && dec_eq(dv, &set->c[k]))
                return true;
        return false;
    }
    const filter_htab *t = &set->decs;
    if (!t->ref || dv->exp > INT32_MAX || dv->exp < INT32_MIN)
        return false;
    uint64_t h = filter_hash_digits(dv->first, dv->span, dv->neg, (int32_t)dv->exp);
    HTAB_FOR(t, h, i) {
        const filter_const *c = &set->c[t->ref[i]];
        if (t->hash[i] == h && c->cls == FCC_NUM && dec_eq(dv, c))
            return true;
    }
    return false;
}

/* Does value v equal constant c (docs/FILTERS.md, "Comparison")? */
static bool value_eq(const wh_value *v, const filter_const *c)
{
    switch ((wh_type)v->type) {
    case WH_T_NULL:
        return c->cls == FCC_NULL;
    case WH_T_INT:
        return (c->numflags & FCN_I64) && c->i == v->n.i;
    case WH_T_UINT:
    case WH_T_YEAR:
        return (c->numflags & FCN_U64) && c->u == v->n.u;
    case WH_T_FLOAT:
        if (v->flags & WH_VF_FLOAT32)
            return (c->numflags & FCN_FLT) && c->fd == v->n.d;
        return (c->numflags & FCN_DBL) && c->d == v->n.d;
    case WH_T_DECIMAL:
        if (c->cls == FCC_NUM) {
            dec_view dv;
            return dec_parse(v->str, v->len, &dv) && dec_eq(&dv, c);
        }
        return bytes_eq(v->str, v->len, c);
    case WH_T_STRING:
    case WH_T_BYTES:
    case WH_T_JSON:
        return bytes_eq(v->str, v->len, c);
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            return bytes_eq(v->str, v->len, c);
        return (c->numflags & FCN_U64) && c->u == v->n.u;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        if (c->cls != FCC_STR)
            return false;
        char buf[48];
        size_t n = wh_temporal_format(v, buf, sizeof buf);
        return bytes_eq(buf, n, c);
    }
    case WH_T_ABSENT:
    case WH_T__COUNT:
        break;
    }
    return false;
}

/* Is value v equal to one of the set's constants? */
static bool value_in_set(const wh_value *v, const filter_set *set)
{
    switch ((wh_type)v->type) {
    case WH_T_NULL:
        return set->has_null;
    case WH_T_INT:
        return int_in_set(set, v->n.i);
    case WH_T_UINT:
    case WH_T_YEAR:
        return uint_in_set(set, v->n.u);
    case WH_T_FLOAT:
        return float_in_set(set, v->n.d, v->flags & WH_VF_FLOAT32);
    case WH_T_DECIMAL: {
        dec_view dv;
        if (dec_parse(v->str, v->len, &dv) && dec_in_set(set, &dv))
            return true;
        return str_in_set(set, v->str, v->len);
    }
    case WH_T_STRING:
    case WH_T_BYTES:
    case WH_T_JSON:
        return str_in_set(set, v->str, v->len);
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            return str_in_set(set, v->str, v->len);
        return uint_in_set(set, v->n.u);
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        char buf[48];
        size_t n = wh_temporal_format(v, buf, sizeof buf);
        return str_in_set(set, buf, n);
    }
    case WH_T_ABSENT:
    case WH_T__COUNT:
        break;
    }
    return false;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static inline bool op_is_sql(uint8_t op)
{
    return op < WH_OP_PUT || (op >= WH_OP_SNAPSHOT && op < WH_OP__COUNT);
}
static inline bool op_is_kv(uint8_t op) { return op >= WH_OP_PUT && op <= WH_OP_MERGE; }

static inline const char *meta_string(const wh_update *u, uint8_t key)
{
    switch ((filter_key_kind)key) {
    case FK_DB: return op_is_sql(u->op) ? u->db : NULL;
    case FK_TABLE: return op_is_sql(u->op) ? u->table : NULL;
    /* A RocksDB bootstrap's snapshot ops (no db) name their column family too. */
    case FK_CF: return op_is_kv(u->op) || (u->op >= WH_OP_SNAPSHOT && !u->db) ? u->table : NULL;
    case FK_SHARD: return u->shard;
    case FK_OP:
    case FK_COLUMN:
    case FK__COUNT:
        break;
    }
    return NULL;
}

static inline bool meta_eq(const char *s, const filter_const *c)
{
    /* c->s holds no NUL before c->len (checked at parse time) and one at
     * c->len (the pool adds it), so this never reads past either string. */
    if (!s)
        return false;
    const char *b = c->s;
    for (size_t k = 0;; k++) {
        if (s[k] != b[k])
            return false;
        if (!b[k])
            return true;
    }
}

/* Per-call state: which resolved index array serves each image. */
typedef struct eval_ctx {
    const wh_update *u;
    const int32_t   *idx[2];      /* [0] before, [1] after; NULL until needed */
} eval_ctx;

/* Resolves every slot against row into idx. O(slots x columns). */
static void resolve_all(const wh_filter *f, const wh_row *row, int32_t *idx)
{
    for (uint32_t s = 0; s < f->nslots; s++)
        idx[s] = row->names ? wh_row_find(row, f->slot_name[s], f->slot_len[s]) : -1;
}

/* Index array for the image phys of updates with this schema_id. */
static const int32_t *cache_get(wh_filter *f, uint64_t schema_id, int phys, const wh_row *row)
{
    filter_cache_entry *e = &f->cache[f->cache_last];
    if (e->schema_id != schema_id) {
        e = NULL;
        for (uint32_t w = 0; w < FILTER_CACHE_WAYS; w++)
            if (f->cache[w].schema_id == schema_id) {
                e = &f->cache[w];
                f->cache_last = w;
                break;
            }
    }
    if (!e) {
        f->cache_last = f->cache_next;
        e = &f->cache[f->cache_next];
        f->cache_next = (f->cache_next + 1) % FILTER_CACHE_WAYS;
        e->schema_id = schema_id;
        e->valid[0] = e->valid[1] = false;
    }
    if (!e->valid[phys]) {
        resolve_all(f, row, e->idx[phys]);
        e->valid[phys] = true;
    }
    return e->idx[phys];
}

/* The value of column slot in image, or NULL when absent. */
static inline const wh_value *col_value(wh_filter *f, eval_ctx *x, uint8_t image, uint32_t slot)
{
    const wh_update *u = x->u;
    int phys;
    switch ((filter_image)image) {
    case FI_ROW:
        if (u->has_after)
            phys = 1;
        else if (u->has_before)
            phys = 0;
        else
            return NULL;
        break;
    case FI_BEFORE:
        if (!u->has_before)
            return NULL;
        phys = 0;
        break;
    case FI_AFTER:
    default:
        if (!u->has_after)
            return NULL;
        phys = 1;
        break;
    }
    const wh_row *row = phys ? &u->after : &u->before;
    if (!row->values || !row->names)
        return NULL;
    int32_t i;
    if (u->schema_id) {
        const int32_t *idx = x->idx[phys];
        if (!idx)
            idx = x->idx[phys] = cache_get(f, u->schema_id, phys, row);
        i = idx[slot];
    } else {
        i = wh_row_find(row, f->slot_name[slot], f->slot_len[slot]);
    }
    if (i < 0 || (uint32_t)i >= row->count)
        return NULL;
    const wh_value *v = &row->values[i];
    return v->type == WH_T_ABSENT ? NULL : v;
}

bool wh_filter_match(wh_filter *f, const wh_update *u)
{
    if (!f || !u)
        return false;
    eval_ctx x = { u, { NULL, NULL } };
    int32_t pc = f->entry;
    while (pc >= 0) {
        assert((uint32_t)pc < f->nprog);
        const filter_ins *in = &f->prog[pc];
        bool r = false;
        switch ((filter_ins_code)in->code) {
        case FINS_OPMASK:
            r = u->op < 32 && ((in->opmask >> u->op) & 1u);
            break;
        case FINS_META_EXISTS:
            r = meta_string(u, in->key) != NULL;
            break;
        case FINS_META_EQ:
            r = meta_eq(meta_string(u, in->key), in->c);
            break;
        case FINS_META_IN: {
            const char *s = meta_string(u, in->key);
            r = s && str_in_set(in->set, s, strlen(s));
            break;
        }
        case FINS_COL_EXISTS:
            r = col_value(f, &x, in->image, in->slot) != NULL;
            break;
        case FINS_COL_EQ: {
            const wh_value *v = col_value(f, &x, in->image, in->slot);
            r = v && value_eq(v, in->c);
            break;
        }
        case FINS_COL_IN: {
            const wh_value *v = col_value(f, &x, in->image, in->slot);
            r = v && value_in_set(v, in->set);
            break;
        }
        }
        pc = r ? in->on_true : in->on_false;
    }
    return pc == FILTER_LBL_TRUE;
}

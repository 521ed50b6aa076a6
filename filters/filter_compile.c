/* filter_compile.c -- turns a filter tree into a flat program of predicate
 * instructions with true/false jump targets, hashed in-sets and column slots.
 *
 * The program is the classic short-circuit translation of a boolean tree:
 * every predicate becomes one instruction that jumps to on_true or on_false;
 * and/or only choose those targets and not swaps them, so evaluation needs
 * neither recursion nor a stack. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter_int.h"

/* In-lists up to this size are scanned; larger ones are hashed. */
#define FILTER_SMALL_SET 8

uint64_t filter_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h ^= w;
        h *= 0x9fb21c651e98df25ULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h ^= w;
        h *= 0x9fb21c651e98df25ULL;
    }
    return filter_mix64(h);
}

uint64_t filter_hash_digits(const char *s, size_t n, bool neg, int32_t exp)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '.')
            continue;
        h ^= (unsigned char)s[k];
        h *= 0x100000001b3ULL;
    }
    h ^= ((uint64_t)(uint32_t)exp << 1) | (neg ? 1u : 0u);
    return filter_mix64(h);
}

/* ---- constants ------------------------------------------------------------------------ */

/* Derives the numeric forms of a number (or boolean) constant. */
static void derive_number(filter_const *c)
{
    c->cls = FCC_NUM;
    c->numflags = 0;
    c->hash = filter_hash_digits(c->s, c->len, c->neg, c->exp);
    if (c->len == 0) {
        c->numflags = FCN_I64 | FCN_U64 | FCN_DBL | FCN_FLT;
        c->i = 0;
        c->u = 0;
        c->d = 0.0;
        c->fd = 0.0;
        return;
    }
    /* Integer forms: all digits before the point and at most 20 of them. */
    if (c->exp >= (int32_t)c->len && c->exp <= 20) {
        uint64_t m = 0;
        bool ovf = false;
        for (int32_t k = 0; k < c->exp && !ovf; k++) {
            unsigned d = k < (int32_t)c->len ? (unsigned)(c->s[k] - '0') : 0;
            if (m > (UINT64_MAX - d) / 10)
                ovf = true;
            else
                m = m * 10 + d;
        }
        if (!ovf) {
            if (!c->neg) {
                c->numflags |= FCN_U64;
                c->u = m;
                if (m <= (uint64_t)INT64_MAX) {
                    c->numflags |= FCN_I64;
                    c->i = (int64_t)m;
                }
            } else if (m <= (uint64_t)INT64_MAX + 1) {
                c->numflags |= FCN_I64;
                c->i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
            }
        }
    }
    /* Floating forms, correctly rounded by strtod/strtof from the exact text. */
    char text[WH_FILTER_MAX_DIGITS + 32];
    snprintf(text, sizeof text, "%s0.%.*se%d", c->neg ? "-" : "", (int)c->len, c->s, (int)c->exp);
    double d = strtod(text, NULL);
    if (isfinite(d) && d != 0.0) {
        c->numflags |= FCN_DBL;
        c->d = d;
    }
    float f = strtof(text, NULL);
    if (isfinite(f) && f != 0.0f) {
        c->numflags |= FCN_FLT;
        c->fd = (double)f;
    }
}

static void derive_const(const filter_tree *t, filter_const *c)
{
    c->s = filter_const_bytes(t, c);
    switch ((filter_const_kind)c->kind) {
    case FC_NULL:
        c->cls = FCC_NULL;
        break;
    case FC_BOOL:
        /* true and false are the numbers 1 and 0. */
        c->s = "1";
        c->neg = false;
        c->len = c->boolean ? 1 : 0;
        c->exp = c->boolean ? 1 : 0;
        derive_number(c);
        break;
    case FC_NUMBER:
        derive_number(c);
        break;
    case FC_STRING:
    case FC_BYTES:
        c->cls = FCC_STR;
        c->hash = filter_hash_bytes(c->s, c->len);
        break;
    }
}

/* ---- sets ------------------------------------------------------------------------------- */

static uint64_t dbl_bits(double d)
{
    d += 0.0;                 /* -0.0 hashes as 0.0 */
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return filter_mix64(b);
}

static int htab_init(filter_htab *h, uint32_t count)
{
    memset(h, 0, sizeof *h);
    if (!count)
        return WH_OK;
    uint32_t cap = 4;
    while (cap < 2 * count)
        cap *= 2;
    h->hash = malloc(cap * sizeof *h->hash);
    h->ref = malloc(cap * sizeof *h->ref);
    if (!h->hash || !h->ref)
        return WH_ERR_NOMEM;
    memset(h->ref, 0xff, cap * sizeof *h->ref);
    h->mask = cap - 1;
    return WH_OK;
}

static void htab_put(filter_htab *h, uint64_t hash, uint32_t ref)
{
    assert(h->ref);
    uint32_t i = (uint32_t)hash & h->mask;
    while (h->ref[i] != UINT32_MAX)
        i = (i + 1) & h->mask;
    h->hash[i] = hash;
    h->ref[i] = ref;
}

static void htab_free(filter_htab *h)
{
    free(h->hash);
    free(h->ref);
}

static uint64_t int_bits(const filter_const *c)
{
    return filter_mix64((c->numflags & FCN_I64) ? (uint64_t)c->i : c->u);
}

static int build_set(filter_set *set, const filter_const *consts, uint32_t n)
{
    memset(set, 0, sizeof *set);
    set->c = consts;
    set->n = n;
    uint32_t nint = 0, ndbl = 0, nflt = 0, ndec = 0, nstr = 0;
    for (uint32_t k = 0; k < n; k++) {
        const filter_const *c = &consts[k];
        if (c->cls == FCC_NULL)
            set->has_null = true;
        nint += (c->numflags & (FCN_I64 | FCN_U64)) != 0;
        ndbl += (c->numflags & FCN_DBL) != 0;
        nflt += (c->numflags & FCN_FLT) != 0;
        ndec += c->cls == FCC_NUM;
        nstr += c->cls == FCC_STR;
    }
    if (n <= FILTER_SMALL_SET)
        return WH_OK;
    set->hashed = true;
    if (htab_init(&set->ints, nint) || htab_init(&set->dbls, ndbl) ||
        htab_init(&set->flts, nflt) || htab_init(&set->decs, ndec) ||
        htab_init(&set->strs, nstr))
        return WH_ERR_NOMEM;
    for (uint32_t k = 0; k < n; k++) {
        const filter_const *c = &consts[k];
        if (c->numflags & (FCN_I64 | FCN_U64))
            htab_put(&set->ints, int_bits(c), k);
        if (c->numflags & FCN_DBL)
            htab_put(&set->dbls, dbl_bits(c->d), k);
        if (c->numflags & FCN_FLT)
            htab_put(&set->flts, dbl_bits(c->fd), k);
        if (c->cls == FCC_NUM)
            htab_put(&set->decs, c->hash, k);
        if (c->cls == FCC_STR)
            htab_put(&set->strs, c->hash, k);
    }
    return WH_OK;
}

static void free_set(filter_set *set)
{
    htab_free(&set->ints);
    htab_free(&set->dbls);
    htab_free(&set->flts);
    htab_free(&set->decs);
    htab_free(&set->strs);
}

/* ---- column slots -------------------------------------------------------------------------- */

typedef struct slot_map {
    uint32_t *ref;          /* slot index, UINT32_MAX = empty */
    uint64_t *hash;
    uint32_t  mask;
} slot_map;

/* Finds or adds the slot of name [s, s+n). */
static uint32_t slot_of(wh_filter *f, slot_map *m, const char *s, uint32_t n)
{
    uint64_t h = filter_hash_bytes(s, n);
    uint32_t i = (uint32_t)h & m->mask;
    for (; m->ref[i] != UINT32_MAX; i = (i + 1) & m->mask) {
        uint32_t k = m->ref[i];
        if (m->hash[i] == h && f->slot_len[k] == n && memcmp(f->slot_name[k], s, n) == 0)
            return k;
    }
    uint32_t k = f->nslots++;
    f->slot_name[k] = s;
    f->slot_len[k] = n;
    m->ref[i] = k;
    m->hash[i] = h;
    return k;
}

/* ---- program generation ---------------------------------------------------------------------- */

typedef struct gen {
    wh_filter *f;
    uint32_t  *node_slot;   /* per node: column slot */
    int32_t   *node_set;    /* per node: set index or -1 */
} gen;

static uint32_t op_mask(const filter_tree *t, const filter_node *n)
{
    uint32_t mask = 0;
    for (uint32_t k = 0; k < n->count; k++) {
        const filter_const *c = &t->consts[n->first + k];
        char name[32];
        assert(c->kind == FC_STRING && c->len < sizeof name);
        memcpy(name, filter_const_bytes(t, c), c->len);
        name[c->len] = '\0';
        if (strcmp(name, "delete") == 0) {
            mask |= 1u << WH_OP_DELETE | 1u << WH_OP_KV_DELETE;
        } else {
            int op = wh_op_parse(name, false);
            assert(op >= 0);
            mask |= 1u << op;
        }
    }
    return mask;
}

static int32_t emit(gen *g, const filter_ins *ins)
{
    wh_filter *f = g->f;
    f->prog[f->nprog] = *ins;
    return (int32_t)f->nprog++;
}

/* Emits the code of node so that it continues at t when true and at f when
 * false; returns the label where its evaluation starts. */
static int32_t gen_node(gen *g, uint32_t idx, int32_t lt, int32_t lf)
{
    const filter_tree *t = &g->f->tree;
    const filter_node *n = &t->nodes[idx];
    filter_ins ins;
    memset(&ins, 0, sizeof ins);
    switch ((filter_node_kind)n->kind) {
    case FN_TRUE:
        return lt;
    case FN_FALSE:
        return lf;
    case FN_AND: {
        int32_t next = lt;
        for (uint32_t k = n->count; k-- > 0;)
            next = gen_node(g, t->kids[n->first + k], next, lf);
        return next;
    }
    case FN_OR: {
        int32_t next = lf;
        for (uint32_t k = n->count; k-- > 0;)
            next = gen_node(g, t->kids[n->first + k], lt, next);
        return next;
    }
    case FN_NOT:
        assert(n->count == 1);
        return gen_node(g, t->kids[n->first], lf, lt);
    case FN_EXISTS:
    case FN_NOT_EXISTS:
        if (n->kind == FN_NOT_EXISTS) {
            int32_t tmp = lt;
            lt = lf;
            lf = tmp;
        }
        if (n->key == FK_OP)
            return lt;          /* every update has an op */
        ins.code = n->key == FK_COLUMN ? FINS_COL_EXISTS : FINS_META_EXISTS;
        break;
    case FN_EQ:
    case FN_NE:
    case FN_IN:
    case FN_NOT_IN:
        if (n->kind == FN_NE || n->kind == FN_NOT_IN) {
            int32_t tmp = lt;
            lt = lf;
            lf = tmp;
        }
        if (n->key == FK_OP) {
            ins.code = FINS_OPMASK;
            ins.opmask = op_mask(t, n);
        } else if (g->node_set[idx] < 0) {
            ins.code = n->key == FK_COLUMN ? FINS_COL_EQ : FINS_META_EQ;
            ins.c = &t->consts[n->first];
        } else {
            ins.code = n->key == FK_COLUMN ? FINS_COL_IN : FINS_META_IN;
            ins.set = &g->f->sets[g->node_set[idx]];
        }
        break;
    case FN__COUNT:
        assert(0);
        return lf;
    }
    ins.key = n->key;
    ins.image = n->image;
    ins.slot = n->key == FK_COLUMN ? g->node_slot[idx] : 0;
    ins.on_true = lt;
    ins.on_false = lf;
    return emit(g, &ins);
}

int filter_compile(wh_filter *f)
{
    filter_tree *t = &f->tree;
    gen g = { f, NULL, NULL };
    slot_map m = { NULL, NULL, 0 };
    int rc = WH_ERR_NOMEM;
    uint32_t npred = 0, ncol = 0, nsets = 0;

    for (uint32_t k = 0; k < t->nconsts; k++)
        derive_const(t, &t->consts[k]);
    for (uint32_t k = 0; k < t->nnodes; k++) {
        const filter_node *n = &t->nodes[k];
        if (n->kind >= FN_EXISTS) {
            npred++;
            ncol += n->key == FK_COLUMN;
            nsets += (n->kind == FN_IN || n->kind == FN_NOT_IN) && n->key != FK_OP && n->count > 1;
        }
    }
    g.node_slot = calloc(t->nnodes ? t->nnodes : 1, sizeof *g.node_slot);
    g.node_set = malloc((t->nnodes ? t->nnodes : 1) * sizeof *g.node_set);
    f->prog = calloc(npred ? npred : 1, sizeof *f->prog);
    f->sets = calloc(nsets ? nsets : 1, sizeof *f->sets);
    f->slot_name = calloc(ncol ? ncol : 1, sizeof *f->slot_name);
    f->slot_len = calloc(ncol ? ncol : 1, sizeof *f->slot_len);
    uint32_t mcap = 4;
    while (mcap < 2 * ncol)
        mcap *= 2;
    m.ref = malloc(mcap * sizeof *m.ref);
    m.hash = malloc(mcap * sizeof *m.hash);
    m.mask = mcap - 1;
    if (!g.node_slot || !g.node_set || !f->prog || !f->sets || !f->slot_name || !f->slot_len ||
        !m.ref || !m.hash)
        goto err;
    memset(m.ref, 0xff, mcap * sizeof *m.ref);

    for (uint32_t k = 0; k < t->nnodes; k++) {
        const filter_node *n = &t->nodes[k];
        g.node_set[k] = -1;
        if (n->kind < FN_EXISTS)
            continue;
        if (n->key == FK_COLUMN)
            g.node_slot[k] = slot_of(f, &m, filter_node_name(t, n), n->name_len);
        if ((n->kind == FN_IN || n->kind == FN_NOT_IN) && n->key != FK_OP && n->count > 1) {
            g.node_set[k] = (int32_t)f->nsets;
            if (build_set(&f->sets[f->nsets++], &t->consts[n->first], n->count) != WH_OK)
                goto err;
        }
    }

    /* Generated backwards (the first test is emitted last); reverse so that
     * the program runs forwards through memory. */
    int32_t entry = gen_node(&g, t->root, FILTER_LBL_TRUE, FILTER_LBL_FALSE);
    uint32_t np = f->nprog;
    assert(np <= npred);
    for (uint32_t k = 0; k < np / 2; k++) {
        filter_ins tmp = f->prog[k];
        f->prog[k] = f->prog[np - 1 - k];
        f->prog[np - 1 - k] = tmp;
    }
    for (uint32_t k = 0; k < np; k++) {
        filter_ins *in = &f->prog[k];
        if (in->on_true >= 0)
            in->on_true = (int32_t)np - 1 - in->on_true;
        if (in->on_false >= 0)
            in->on_false = (int32_t)np - 1 - in->on_false;
        assert(in->on_true < (int32_t)np && in->on_false < (int32_t)np);
    }
    f->entry = entry >= 0 ? (int32_t)np - 1 - entry : entry;

    /* Resolution cache: one index array per way and image. */
    if (f->nslots) {
        f->cache_mem = malloc((size_t)f->nslots * 2 * FILTER_CACHE_WAYS * sizeof *f->cache_mem);
        if (!f->cache_mem)
            goto err;
        for (int w = 0; w < FILTER_CACHE_WAYS; w++)
            for (int img = 0; img < 2; img++)
                f->cache[w].idx[img] = f->cache_mem + ((size_t)w * 2 + (size_t)img) * f->nslots;
    }
    rc = WH_OK;
err:
    free(g.node_slot);
    free(g.node_set);
    free(m.ref);
    free(m.hash);
    return rc;
}

void filter_compile_free(wh_filter *f)
{
    for (uint32_t k = 0; k < f->nsets; k++)
        free_set(&f->sets[k]);
    free(f->sets);
    free(f->prog);
    free(f->slot_name);
    free(f->slot_len);
    free(f->cache_mem);
    f->sets = NULL;
    f->prog = NULL;
    f->slot_name = NULL;
    f->slot_len = NULL;
    f->cache_mem = NULL;
    f->nsets = f->nprog = f->nslots = 0;
}

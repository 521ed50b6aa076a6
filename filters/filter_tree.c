/* filter_tree.c -- the filter parse tree: building, key rules and input
 * checks shared by both parsers, tree equality. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/utf8.h"
#include "filters/filter_int.h"

const char *const filter_key_names[FK__COUNT] = {
    "op", "db", "table", "shard", "cf", "column",
};

static const char *const reserved_names[] = { "ts", "pos", "txn", "statement" };

void filter_tree_free(filter_tree *t)
{
    if (!t)
        return;
    free(t->nodes);
    free(t->kids);
    free(t->consts);
    wh_buf_free(&t->pool);
    memset(t, 0, sizeof *t);
}

/* Grows *arr (of elem-sized items) so that it holds at least need items. */
static bool grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? (size_t)*cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    if (ncap > UINT32_MAX)
        return false;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = (uint32_t)ncap;
    return true;
}

bool filter_tree_full(const filter_tree *t)
{
    return t->nnodes >= WH_FILTER_MAX_NODES;
}

int64_t filter_tree_node(filter_tree *t, filter_node_kind kind, uint32_t src)
{
    if (filter_tree_full(t) ||
        !grow((void **)&t->nodes, &t->capnodes, t->nnodes + 1, sizeof *t->nodes))
        return -1;
    filter_node *n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->height = 1;
    n->src = src;
    return t->nnodes++;
}

int filter_tree_set_kids(filter_tree *t, uint32_t node, const uint32_t *kids, uint32_t n)
{
    assert(node < t->nnodes);
    if (!grow((void **)&t->kids, &t->capkids, t->nkids + n, sizeof *t->kids))
        return WH_ERR_NOMEM;
    unsigned height = 0;
    for (uint32_t k = 0; k < n; k++) {
        assert(kids[k] < t->nnodes);
        if (t->nodes[kids[k]].height > height)
            height = t->nodes[kids[k]].height;
    }
    if (n)
        memcpy(t->kids + t->nkids, kids, n * sizeof *kids);
    t->nodes[node].height = (uint8_t)(height < 255 ? height + 1 : 255);
    t->nodes[node].first = t->nkids;
    t->nodes[node].count = n;
    t->nkids += n;
    return WH_OK;
}

int64_t filter_tree_pool(filter_tree *t, const void *p, size_t n)
{
    size_t off = t->pool.len;
    if (off + n + 1 >= UINT32_MAX)
        return -1;
    if (n)
        wh_buf_append(&t->pool, p, n);
    wh_buf_putc(&t->pool, '\0');   /* every item ends with NUL (filter_eval relies on it) */
    return wh_buf_ok(&t->pool) ? (int64_t)off : -1;
}

int64_t filter_tree_const(filter_tree *t, const filter_const *c)
{
    if (!grow((void **)&t->consts, &t->capconsts, t->nconsts + 1, sizeof *t->consts))
        return -1;
    t->consts[t->nconsts] = *c;
    return t->nconsts++;
}

int filter_tree_add(filter_tree *t, filter_node_kind kind, size_t src, uint32_t *out,
                    char *why, size_t whylen)
{
    if (filter_tree_full(t)) {
        snprintf(why, whylen, "the filter has more than %u operators and predicates",
                 WH_FILTER_MAX_NODES);
        return WH_ERR_LIMIT;
    }
    int64_t k = filter_tree_node(t, kind, (uint32_t)src);
    if (k < 0)
        return WH_ERR_NOMEM;
    *out = (uint32_t)k;
    return WH_OK;
}

int filter_tree_pred(filter_tree *t, const filter_node *key, filter_node_kind kind, size_t src,
                     uint32_t first, uint32_t count, uint32_t *out, char *why, size_t whylen)
{
    int rc = filter_tree_add(t, kind, src, out, why, whylen);
    if (rc)
        return rc;
    filter_node *n = &t->nodes[*out];
    n->key = key->key;
    n->image = key->image;
    n->name_off = key->name_off;
    n->name_len = key->name_len;
    n->first = first;
    n->count = count;
    return WH_OK;
}

int filter_tree_depth(unsigned height, char *why, size_t whylen)
{
    if (height <= WH_FILTER_MAX_DEPTH)
        return WH_OK;
    snprintf(why, whylen, "the filter nests deeper than %u levels", WH_FILTER_MAX_DEPTH);
    return WH_ERR_LIMIT;
}

int filter_stack_push(filter_stack *s, uint32_t k)
{
    if (s->n == s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 32;
        uint32_t *nv = realloc(s->v, ncap * sizeof *nv);
        if (!nv)
            return WH_ERR_NOMEM;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = k;
    return WH_OK;
}

int filter_parse_end(int rc, filter_tree *t, uint32_t root, wh_buf *scratch,
                     filter_stack *stack, char *errbuf, size_t errlen)
{
    if (rc == WH_ERR_NOMEM)
        wh_seterr(errbuf, errlen, rc, "filter: out of memory while parsing");
    t->root = root;
    wh_buf_free(scratch);
    filter_stack_free(stack);
    return rc;
}

void filter_stack_free(filter_stack *s)
{
    if (!s)
        return;
    free(s->v);
    memset(s, 0, sizeof *s);
}

bool filter_word_eq(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n != wl)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != w[i])
            return false;
    }
    return true;
}

int filter_key_meta(const char *s, size_t n)
{
    for (int k = 0; k < FK_COLUMN; k++)
        if (filter_word_eq(s, n, filter_key_names[k]))
            return k;
    return -1;
}

bool filter_key_reserved(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof reserved_names / sizeof *reserved_names; k++)
        if (filter_word_eq(s, n, reserved_names[k]))
            return true;
    return false;
}

/* Case-insensitive "starts with the lower-case prefix p". */
static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && filter_word_eq(s, pl, p);
}

int filter_key_from_string(filter_tree *t, const char *s, size_t n, filter_node *node,
                           char *why, size_t whylen)
{
    static const struct { const char *prefix; filter_image image; } images[] = {
        { "before.", FI_BEFORE }, { "after.", FI_AFTER }, { "row.", FI_ROW },
    };
    if (n == 0) {
        snprintf(why, whylen, "a key is empty");
        return WH_ERR_PARSE;
    }
    if (memchr(s, '\0', n)) {
        snprintf(why, whylen, "a key contains a NUL character");
        return WH_ERR_PARSE;
    }
    int meta = filter_key_meta(s, n);
    if (meta >= 0) {
        node->key = (uint8_t)meta;
        return WH_OK;
    }
    if (filter_key_reserved(s, n)) {
        snprintf(why, whylen,
                 "\"%.*s\" is update metadata that filters cannot test; for a column of that "
                 "name write \"row.%.*s\"", (int)n, s, (int)n, s);
        return WH_ERR_PARSE;
    }
    node->key = FK_COLUMN;
    node->image = FI_ROW;
    for (size_t k = 0; k < sizeof images / sizeof *images; k++) {
        if (has_prefix(s, n, images[k].prefix)) {
            size_t pl = strlen(images[k].prefix);
            s += pl;
            n -= pl;
            node->image = (uint8_t)images[k].image;
            if (n == 0) {
                snprintf(why, whylen, "expected a column name after \"%s\"", images[k].prefix);
                return WH_ERR_PARSE;
            }
            break;
        }
    }
    if (n > WH_FILTER_MAX_NAME) {
        snprintf(why, whylen, "a column name is longer than %u bytes", WH_FILTER_MAX_NAME);
        return WH_ERR_LIMIT;
    }
    int64_t off = filter_tree_pool(t, s, n);
    if (off < 0)
        return WH_ERR_NOMEM;
    node->name_off = (uint32_t)off;
    node->name_len = (uint32_t)n;
    return WH_OK;
}

static bool const_equal(const filter_tree *ta, const filter_const *a,
                        const filter_tree *tb, const filter_const *b)
{
    if (a->kind != b->kind)
        return false;
    switch ((filter_const_kind)a->kind) {
    case FC_NULL:
        return true;
    case FC_BOOL:
        return a->boolean == b->boolean;
    case FC_NUMBER:
        if (a->neg != b->neg || a->exp != b->exp)
            return false;
        /* fall through */
    case FC_STRING:
    case FC_BYTES:
        return a->len == b->len &&
               (a->len == 0 ||
                memcmp(filter_const_bytes(ta, a), filter_const_bytes(tb, b), a->len) == 0);
    }
    return false;
}

static bool node_equal(const filter_tree *ta, uint32_t ia, const filter_tree *tb, uint32_t ib,
                       int depth)
{
    assert(ia < ta->nnodes && ib < tb->nnodes);
    const filter_node *a = &ta->nodes[ia], *b = &tb->nodes[ib];
    if (a->kind != b->kind || a->count != b->count || depth > WH_FILTER_MAX_DEPTH + 2)
        return false;
    switch ((filter_node_kind)a->kind) {
    case FN_TRUE:
    case FN_FALSE:
        return true;
    case FN_AND:
    case FN_OR:
    case FN_NOT:
        for (uint32_t k = 0; k < a->count; k++)
            if (!node_equal(ta, ta->kids[a->first + k], tb, tb->kids[b->first + k], depth + 1))
                return false;
        return true;
    case FN_EXISTS:
    case FN_NOT_EXISTS:
    case FN_EQ:
    case FN_NE:
    case FN_IN:
    case FN_NOT_IN:
        if (a->key != b->key)
            return false;
        if (a->key == FK_COLUMN &&
            (a->image != b->image || a->name_len != b->name_len ||
             memcmp(filter_node_name(ta, a), filter_node_name(tb, b), a->name_len) != 0))
            return false;
        if (a->kind == FN_EXISTS || a->kind == FN_NOT_EXISTS)
            return true;
        for (uint32_t k = 0; k < a->count; k++)
            if (!const_equal(ta, &ta->consts[a->first + k], tb, &tb->consts[b->first + k]))
                return false;
        return true;
    case FN__COUNT:
        break;
    }
    return false;
}

bool filter_tree_equal(const filter_tree *a, const filter_tree *b)
{
    if (!a->nnodes || !b->nnodes)
        return a->nnodes == b->nnodes;
    return node_equal(a, a->root, b, b->root, 0);
}

int filter_check_input(const char *src, size_t n, bool nul_ok, size_t *at, char *why,
                       size_t whylen)
{
    if (n > WH_FILTER_MAX_TEXT) {
        *at = WH_FILTER_MAX_TEXT;
        snprintf(why, whylen, "the filter is longer than %u bytes", WH_FILTER_MAX_TEXT);
        return WH_ERR_LIMIT;
    }
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < n;) {
        if (s[i] == 0 && !nul_ok) {
            *at = i;
            snprintf(why, whylen, "unexpected NUL character");
            return WH_ERR_PARSE;
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = wh_utf8_seq_len(s + i, n - i);
        if (!k) {
            *at = i;
            snprintf(why, whylen, "invalid UTF-8 byte 0x%02x", s[i]);
            return WH_ERR_PARSE;
        }
        i += k;
    }
    return WH_OK;
}

void filter_line_col(const char *src, size_t len, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

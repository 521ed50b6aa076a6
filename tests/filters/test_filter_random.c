/* test_filter_random.c -- randomised check of the compiled filter evaluator
 * against a plain reference evaluator written here, on random trees and
 * random updates (random schemas and ids, absent columns, every value type).
 *
 * Each random tree is kept in this file's own structure, rendered in both
 * text and JSON form, parsed by the library (both parses must give equal
 * trees, and printing must round-trip), then evaluated on random updates by
 * the library and by ref_eval, which walks the tree with wh_row_find and
 * straightforward comparisons. The seed is printed; WH_SEED=N replays it.
 * WH_FILTER_RANDOM_TREES sets the number of trees (default 2000, 100 updates each). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/update_json.h"
#include "filters/filter.h"
#include "tests/check.h"
#include "tests/filters/filter_test_util.h"

/* ---- random choices (check.h's seeded PRNG) -------------------------------------------- */

static uint64_t rnd(void) { return check_rand(); }

static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }
#define PICK(arr) (arr[rndn(sizeof arr / sizeof arr[0])])

/* ---- reference tree ------------------------------------------------------------------- */

enum { R_AND, R_OR, R_NOT, R_TRUE, R_FALSE, R_EXISTS, R_NOT_EXISTS, R_EQ, R_NE, R_IN, R_NOT_IN };
enum { K_OP, K_DB, K_TABLE, K_SHARD, K_CF, K_COL };
enum { IMG_ROW, IMG_BEFORE, IMG_AFTER };
enum { C_NULL, C_BOOL, C_NUM, C_STR, C_BYTES };

typedef struct rconst {
    int         kind;
    bool        b;
    const char *text;      /* C_NUM: JSON number text; C_STR/C_BYTES: bytes */
    size_t      len;
} rconst;

#define MAX_KIDS 4
#define MAX_CONSTS 20

typedef struct rnode {
    int           kind;
    int           key, image;
    const char   *name;
    struct rnode *kids[MAX_KIDS];
    int           nkids;
    rconst        c[MAX_CONSTS];
    int           nc;
} rnode;

static const char *const col_names[] = {
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "odd name", "op", "a.b", "Üml", "x`y",
    "nosuch",
};

static const char *const num_pool[] = {
    "5", "5.00", "-1", "0", "-0.0", "0.1", "42", "18446744073709551615", "18446744073709551616",
    "-9223372036854775808", "9223372036854775807", "1.5", "1e-3", "12.34", "-12.34", "1",
    "1.8446744073709552e19", "1e400", "2024", "3", "2", "0.100000001490116119384765625",
    "1E2", "100", "12.340e0",
};

typedef struct sbytes { const char *s; size_t len; } sbytes;

static const sbytes str_pool[] = {
    { "", 0 }, { "a", 1 }, { "active", 6 }, { "trial", 5 }, { "5", 1 }, { "5.00", 4 },
    { "h\xc3\xa9llo", 6 }, { "a\0b", 3 }, { "2024-01-02", 10 }, { "2024-01-02 03:04:05.120", 23 },
    { "-838:59:59", 10 }, { "{\"a\":1}", 7 }, { "null", 4 }, { "a,b", 3 }, { "12.340", 6 },
    { "1.2.3", 5 }, { "x\"y\\z\n", 7 }, { "0.001", 5 }, { "05:06:07.123", 12 },
};

static const char *const meta_strings[] = {
    "app", "users", "shard1", "shard2", "orders", "", "cf1", "default", "APP",
};

static const char *const op_names[] = {
    "insert", "update", "delete", "ddl", "put", "single_delete", "delete_range", "merge",
};

static void gen_const(rconst *c, bool meta_string)
{
    memset(c, 0, sizeof *c);
    if (meta_string) {
        c->kind = C_STR;
        c->text = PICK(meta_strings);
        c->len = strlen(c->text);
        return;
    }
    switch (rndn(10)) {
    case 0: c->kind = C_NULL; break;
    case 1: c->kind = C_BOOL; c->b = rndn(2); break;
    case 2: case 3: case 4: c->kind = C_NUM; c->text = PICK(num_pool); break;
    case 5: {
        c->kind = C_BYTES;
        sbytes s = PICK(str_pool);
        c->text = s.s;
        c->len = s.len;
        break;
    }
    default: {
        c->kind = C_STR;
        sbytes s = PICK(str_pool);
        c->text = s.s;
        c->len = s.len;
        break;
    }
    }
}

static int nodes_made;

static rnode *gen_tree(int depth)
{
    rnode *n = calloc(1, sizeof *n);
    nodes_made++;
    int r = rndn(depth > 0 ? 14 : 8);
    if (r >= 8) {
        n->kind = r < 11 ? R_AND : r < 13 ? R_OR : R_NOT;
        n->nkids = n->kind == R_NOT ? 1 : 2 + (int)rndn(MAX_KIDS - 1);
        for (int k = 0; k < n->nkids; k++)
            n->kids[k] = gen_tree(depth - 1);
        return n;
    }
    if (r == 7 && rndn(4) == 0) {
        n->kind = rndn(2) ? R_TRUE : R_FALSE;
        return n;
    }
    static const int preds[] = { R_EXISTS, R_NOT_EXISTS, R_EQ, R_EQ, R_NE, R_IN, R_IN, R_NOT_IN };
    n->kind = PICK(preds);
    n->key = rndn(4) == 0 ? (int)rndn(K_COL) : K_COL;
    n->image = rndn(3) == 0 ? (int)rndn(3) : IMG_ROW;
    n->name = PICK(col_names);
    if (n->kind == R_EQ || n->kind == R_NE)
        n->nc = 1;
    else if (n->kind == R_IN || n->kind == R_NOT_IN)
        n->nc = rndn(3) == 0 ? 9 + (int)rndn(MAX_CONSTS - 9) : 1 + (int)rndn(4);
    for (int k = 0; k < n->nc; k++) {
        if (n->key == K_OP) {
            n->c[k].kind = C_STR;
            n->c[k].text = PICK(op_names);
            n->c[k].len = strlen(n->c[k].text);
        } else {
            gen_const(&n->c[k], n->key != K_COL);
        }
    }
    return n;
}

static void free_tree(rnode *n)
{
    for (int k = 0; k < n->nkids; k++)
        free_tree(n->kids[k]);
    free(n);
}

/* ---- rendering ---------------------------------------------------------------------------- */

static const char *const key_names[] = { "op", "db", "table", "shard", "cf" };

static void put_escaped(wh_buf *b, const char *s, size_t n)
{
    wh_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            wh_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            wh_buf_printf(b, "\\u%04x", ch);
        else
            wh_buf_putc(b, (char)ch);
    }
    wh_buf_putc(b, '"');
}

static void put_const(wh_buf *b, const rconst *c, bool json)
{
    switch (c->kind) {
    case C_NULL: wh_buf_puts(b, "null"); break;
    case C_BOOL: wh_buf_puts(b, c->b ? "true" : "false"); break;
    case C_NUM: wh_buf_puts(b, c->text); break;
    case C_STR: put_escaped(b, c->text, c->len); break;
    case C_BYTES:
        wh_buf_puts(b, json ? "{\"hex\":\"" : "x'");
        for (size_t i = 0; i < c->len; i++)
            wh_buf_printf(b, "%02x", (unsigned char)c->text[i]);
        wh_buf_puts(b, json ? "\"}" : "'");
        break;
    }
}

static bool simple_ident(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return strcmp(s, "op") != 0;
}

static void put_key_text(wh_buf *b, const rnode *n)
{
    if (n->key != K_COL) {
        wh_buf_puts(b, key_names[n->key]);
        return;
    }
    static const char *const prefix[] = { "", "before.", "after." };
    bool row_prefix = n->image == IMG_ROW && rndn(4) == 0;
    wh_buf_puts(b, row_prefix ? "row." : prefix[n->image]);
    if (simple_ident(n->name) && strcmp(n->name, "op") != 0) {
        wh_buf_puts(b, n->name);
    } else {
        wh_buf_putc(b, '`');
        for (const char *p = n->name; *p; p++) {
            if (*p == '`')
                wh_buf_putc(b, '`');
            wh_buf_putc(b, *p);
        }
        wh_buf_putc(b, '`');
    }
}

static void put_key_json(wh_buf *b, const rnode *n)
{
    if (n->key != K_COL) {
        wh_buf_printf(b, "\"%s\"", key_names[n->key]);
        return;
    }
    static const char *const prefix[] = { "", "before.", "after." };
    const char *p = prefix[n->image];
    if (n->image == IMG_ROW && (strcmp(n->name, "op") == 0 || rndn(4) == 0))
        p = "row.";
    wh_buf_printf(b, "\"%s", p);
    for (const char *s = n->name; *s; s++) {
        if (*s == '"' || *s == '\\')
            wh_buf_putc(b, '\\');
        wh_buf_putc(b, *s);
    }
    wh_buf_putc(b, '"');
}

static void render_text(wh_buf *b, const rnode *n)
{
    switch (n->kind) {
    case R_AND:
    case R_OR:
        for (int k = 0; k < n->nkids; k++) {
            if (k)
                wh_buf_puts(b, n->kind == R_AND ? " and " : " OR ");
            wh_buf_putc(b, '(');
            render_text(b, n->kids[k]);
            wh_buf_putc(b, ')');
        }
        break;
    case R_NOT:
        wh_buf_puts(b, "not (");
        render_text(b, n->kids[0]);
        wh_buf_putc(b, ')');
        break;
    case R_TRUE: wh_buf_puts(b, "true"); break;
    case R_FALSE: wh_buf_puts(b, "FALSE"); break;
    case R_EXISTS:
    case R_NOT_EXISTS:
        wh_buf_puts(b, n->kind == R_EXISTS ? "exists " : "not exists ");
        put_key_text(b, n);
        break;
    default:
        put_key_text(b, n);
        if (n->kind == R_EQ || n->kind == R_NE) {
            wh_buf_puts(b, n->kind == R_EQ ? " = " : (rndn(2) ? " != " : " <> "));
            put_const(b, &n->c[0], false);
        } else {
            wh_buf_puts(b, n->kind == R_IN ? " in (" : " not in (");
            for (int k = 0; k < n->nc; k++) {
                if (k)
                    wh_buf_puts(b, ", ");
                put_const(b, &n->c[k], false);
            }
            wh_buf_putc(b, ')');
        }
    }
}

static void render_json(wh_buf *b, const rnode *n)
{
    switch (n->kind) {
    case R_AND:
    case R_OR:
        wh_buf_puts(b, n->kind == R_AND ? "{\"and\":[" : "{\"or\":[");
        for (int k = 0; k < n->nkids; k++) {
            if (k)
                wh_buf_putc(b, ',');
            render_json(b, n->kids[k]);
        }
        wh_buf_puts(b, "]}");
        break;
    case R_NOT:
        wh_buf_puts(b, "{\"not\":");
        render_json(b, n->kids[0]);
        wh_buf_putc(b, '}');
        break;
    case R_TRUE: wh_buf_puts(b, "true"); break;
    case R_FALSE: wh_buf_puts(b, "false"); break;
    case R_EXISTS:
    case R_NOT_EXISTS:
        wh_buf_puts(b, n->kind == R_EXISTS ? "{\"exists\":" : "{\"not_exists\":");
        put_key_json(b, n);
        wh_buf_putc(b, '}');
        break;
    default: {
        static const char *const ops[] = { [R_EQ] = "eq", [R_NE] = "ne", [R_IN] = "in",
                                           [R_NOT_IN] = "not_in" };
        wh_buf_printf(b, "{\"%s\":[", ops[n->kind]);
        put_key_json(b, n);
        wh_buf_putc(b, ',');
        if (n->kind == R_EQ || n->kind == R_NE) {
            put_const(b, &n->c[0], true);
        } else {
            wh_buf_putc(b, '[');
            for (int k = 0; k < n->nc; k++) {
                if (k)
                    wh_buf_putc(b, ',');
                put_const(b, &n->c[k], true);
            }
            wh_buf_putc(b, ']');
        }
        wh_buf_puts(b, "]}");
    }
    }
}

/* ---- reference evaluation ----------------------------------------------------------------- */

/* Canonical exact decimal: "-" if negative, significant digits, "e" and the
 * exponent of the point after the first digit; "0" for zero. Written
 * differently from the library on purpose: strip the point, then trim. */
static bool canon(const char *s, size_t n, char *out, size_t outlen)
{
    char digits[1200];
    size_t nd = 0, i = 0;
    bool neg = false, dot = false, any = false;
    long point = 0;         /* digits before the point */
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (nd >= sizeof digits)
                return false;
            digits[nd++] = s[i];
            any = true;
            if (!dot)
                point++;
        } else if (s[i] == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!any)
        return false;
    if (i < n) {
        if (s[i] != 'e' && s[i] != 'E')
            return false;
        point += strtol(s + i + 1, NULL, 10);
    }
    size_t lead = 0;
    while (lead < nd && digits[lead] == '0')
        lead++;
    if (lead == nd) {
        snprintf(out, outlen, "0");
        return true;
    }
    while (digits[nd - 1] == '0')
        nd--;
    snprintf(out, outlen, "%s%.*se%ld", neg ? "-" : "", (int)(nd - lead), digits + lead,
             point - (long)lead);
    return true;
}

static bool num_eq_text(const char *value_text, size_t vlen, const char *cnum)
{
    char a[1300], b[1300];
    return canon(value_text, vlen, a, sizeof a) && canon(cnum, strlen(cnum), b, sizeof b) &&
           strcmp(a, b) == 0;
}

static bool bytes_equal(const char *s, size_t n, const rconst *c)
{
    return (c->kind == C_STR || c->kind == C_BYTES) && c->len == n &&
           (n == 0 || memcmp(s, c->text, n) == 0);
}

static bool ref_eq(const wh_value *v, const rconst *c)
{
    char buf[64];
    const char *num = c->kind == C_NUM ? c->text : c->kind == C_BOOL ? (c->b ? "1" : "0") : NULL;
    switch (v->type) {
    case WH_T_NULL:
        return c->kind == C_NULL;
    case WH_T_INT:
        snprintf(buf, sizeof buf, "%" PRId64, v->n.i);
        return num && num_eq_text(buf, strlen(buf), num);
    case WH_T_UINT:
    case WH_T_YEAR:
        snprintf(buf, sizeof buf, "%" PRIu64, v->n.u);
        return num && num_eq_text(buf, strlen(buf), num);
    case WH_T_FLOAT: {
        if (!num)
            return false;
        char z[8];
        bool zero = canon(num, strlen(num), z, sizeof z) && strcmp(z, "0") == 0;
        double d = (v->flags & WH_VF_FLOAT32) ? (double)strtof(num, NULL) : strtod(num, NULL);
        if (isinf(d) || (d == 0 && !zero))
            return false;
        return d == v->n.d;
    }
    case WH_T_DECIMAL:
        if (num)
            return num_eq_text(v->str, v->len, num) &&
                   strspn(v->str, "-+0123456789.") == v->len;
        return bytes_equal(v->str, v->len, c);
    case WH_T_STRING:
    case WH_T_BYTES:
    case WH_T_JSON:
        return bytes_equal(v->str, v->len, c);
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            return bytes_equal(v->str, v->len, c);
        snprintf(buf, sizeof buf, "%" PRIu64, v->n.u);
        return num && num_eq_text(buf, strlen(buf), num);
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        char t[48];
        size_t n = wh_temporal_format(v, t, sizeof t);
        return bytes_equal(t, n, c);
    }
    }
    return false;
}

/* The value of a column key, or NULL when absent. */
static const wh_value *ref_column(const wh_update *u, const rnode *n)
{
    const wh_row *row = NULL;
    if (n->image == IMG_BEFORE)
        row = u->has_before ? &u->before : NULL;
    else if (n->image == IMG_AFTER)
        row = u->has_after ? &u->after : NULL;
    else
        row = u->has_after ? &u->after : u->has_before ? &u->before : NULL;
    if (!row)
        return NULL;
    int i = wh_row_find(row, n->name, strlen(n->name));
    if (i < 0 || row->values[i].type == WH_T_ABSENT)
        return NULL;
    return &row->values[i];
}

static const char *ref_meta(const wh_update *u, int key)
{
    bool sql = u->op < WH_OP_PUT || (u->op >= WH_OP_SNAPSHOT && u->op < WH_OP__COUNT);
    bool kv = u->op >= WH_OP_PUT && u->op <= WH_OP_MERGE;
    switch (key) {
    case K_DB: return sql ? u->db : NULL;
    case K_TABLE: return sql ? u->table : NULL;
    /* A RocksDB bootstrap's snapshot ops (no db) name their column family too. */
    case K_CF: return kv || (u->op >= WH_OP_SNAPSHOT && !u->db) ? u->table : NULL;
    case K_SHARD: return u->shard;
    }
    return NULL;
}

static bool ref_eval(const rnode *n, const wh_update *u)
{
    switch (n->kind) {
    case R_AND:
        for (int k = 0; k < n->nkids; k++)
            if (!ref_eval(n->kids[k], u))
                return false;
        return true;
    case R_OR:
        for (int k = 0; k < n->nkids; k++)
            if (ref_eval(n->kids[k], u))
                return true;
        return false;
    case R_NOT: return !ref_eval(n->kids[0], u);
    case R_TRUE: return true;
    case R_FALSE: return false;
    case R_NOT_EXISTS:
    case R_NE:
    case R_NOT_IN: {
        rnode pos = *n;
        pos.kind = n->kind == R_NOT_EXISTS ? R_EXISTS : n->kind == R_NE ? R_EQ : R_IN;
        return !ref_eval(&pos, u);
    }
    default:
        break;
    }
    /* exists / eq / in */
    if (n->key == K_OP) {
        if (n->kind == R_EXISTS)
            return true;
        for (int k = 0; k < n->nc; k++)
            if (u->op < WH_OP__COUNT && strcmp(n->c[k].text, wh_op_name(u->op)) == 0)
                return true;
        return false;
    }
    if (n->key != K_COL) {
        const char *s = ref_meta(u, n->key);
        if (n->kind == R_EXISTS || !s)
            return s != NULL;
        for (int k = 0; k < n->nc; k++)
            if (strlen(s) == n->c[k].len && memcmp(s, n->c[k].text, n->c[k].len) == 0)
                return true;
        return false;
    }
    const wh_value *v = ref_column(u, n);
    if (n->kind == R_EXISTS || !v)
        return v != NULL;
    for (int k = 0; k < n->nc; k++)
        if (ref_eq(v, &n->c[k]))
            return true;
    return false;
}

/* ---- random updates -------------------------------------------------------------------------- */

#define NSCHEMAS 8
#define MAXCOLS 10

typedef struct schema {
    uint64_t    id;
    const char *names[MAXCOLS];
    uint32_t    count;
} schema;

static schema schemas[NSCHEMAS];

static void gen_schemas(void)
{
    for (int s = 0; s < NSCHEMAS; s++) {
        schemas[s].id = s < 2 ? 0 : 1000 + (uint64_t)s;     /* two schemas resolve by name */
        schemas[s].count = 1 + rndn(MAXCOLS);
        for (uint32_t k = 0; k < schemas[s].count; k++)
            schemas[s].names[k] = col_names[rndn(13)];       /* never "nosuch"; repeats allowed */
    }
}

static const int64_t int_pool[] = { -1, 0, 1, 2, 3, 5, 42, 100, 2024, INT64_MIN, INT64_MAX };
static const uint64_t uint_pool[] = { 0, 1, 2, 3, 5, 42, 100, 2024, UINT64_MAX,
                                      9223372036854775808ULL, 9223372036854775807ULL };
static const char *const dec_pool[] = {
    "5.00", "5", "-0.00", "0.001", "12.340", "-12.34", "1.0", "0", "42", "1.2.3", "", "abc",
    "100.000", "18446744073709551615", "-9223372036854775808", "0.10", "2024", "-1", "+3",
};
static const char *const json_pool[] = { "null", "{\"a\":1}", "5", "\"a\"", "[]" };
static const char *const enum_pool[] = { "active", "trial", "a,b", "", "5" };

static wh_value gen_value(void)
{
    wh_value v;
    memset(&v, 0, sizeof v);
    int t = (int)rndn(WH_T__COUNT + 2);
    if (t >= WH_T__COUNT)
        t = WH_T_ABSENT;
    v.type = (uint8_t)t;
    switch (t) {
    case WH_T_INT: v.n.i = PICK(int_pool); break;
    case WH_T_UINT:
        v.n.u = PICK(uint_pool);
        if (rndn(4) == 0)
            v.flags = WH_VF_BIT;
        break;
    case WH_T_YEAR: v.n.u = rndn(3) ? 2024 : rndn(3); break;
    case WH_T_FLOAT: {
        static const double dpool[] = { 0.0, -0.0, 0.1, 5.0, 1.5, 42.0, 1e-3, 12.34,
                                        1.8446744073709552e19, 2024.0, 1.0 };
        int special = (int)rndn(20);
        v.n.d = special == 0 ? NAN : special == 1 ? INFINITY : PICK(dpool);
        if (rndn(3) == 0) {
            v.flags = WH_VF_FLOAT32;
            v.n.d = (double)(float)v.n.d;
        }
        break;
    }
    case WH_T_DECIMAL: {
        const char *s = PICK(dec_pool);
        v.str = s;
        v.len = (uint32_t)strlen(s);
        break;
    }
    case WH_T_STRING:
    case WH_T_BYTES: {
        sbytes s = PICK(str_pool);
        v.str = s.s;
        v.len = (uint32_t)s.len;
        break;
    }
    case WH_T_JSON: {
        const char *s = PICK(json_pool);
        v.str = s;
        v.len = (uint32_t)strlen(s);
        break;
    }
    case WH_T_ENUM:
    case WH_T_SET:
        v.n.u = rndn(6);
        if (rndn(3)) {
            v.str = PICK(enum_pool);
            v.len = (uint32_t)strlen(v.str);
        }
        break;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        wh_temporal *tm = &v.n.t;
        bool common = rndn(2);
        tm->year = common ? 2024 : (uint16_t)(rndn(10) == 0 ? 10000 + rndn(60000) : rndn(10000));
        tm->month = common ? 1 : (uint8_t)rndn(13);
        tm->day = common ? 2 : (uint8_t)rndn(32);
        tm->hour = (uint16_t)(t == WH_T_TIME ? (common ? 838 : rndn(1000)) : (common ? 3 : rndn(24)));
        tm->minute = (uint8_t)(common ? (t == WH_T_TIME ? 59 : 4) : rndn(60));
        tm->second = (uint8_t)(common ? (t == WH_T_TIME ? 59 : 5) : rndn(60));
        tm->usec = common ? 120000 : (uint32_t)rndn(1000000);
        tm->negative = t == WH_T_TIME && rndn(2);
        v.scale = (uint8_t)(rndn(8) == 0 ? 7 + rndn(20) : (common ? 3 * rndn(2) : rndn(7)));
        if (rndn(20) == 0)
            tm->hour = (uint16_t)(100 + rndn(60000));
        break;
    }
    default:
        break;
    }
    return v;
}

typedef struct rupdate {
    wh_update u;
    wh_value  before[MAXCOLS], after[MAXCOLS];
} rupdate;

static void gen_update(rupdate *r)
{
    static const char *const dbs[] = { "app", "APP", "other", NULL };
    static const char *const tables[] = { "users", "orders", "default", "cf1", "", NULL };
    static const char *const shards[] = { "shard1", "shard2", NULL };
    memset(r, 0, sizeof *r);
    const schema *s = &schemas[rndn(NSCHEMAS)];
    wh_update *u = &r->u;
    u->op = (uint8_t)(rndn(30) == 0 ? 100 + rndn(100) : rndn(WH_OP__COUNT));
    u->db = PICK(dbs);
    u->table = PICK(tables);
    u->shard = PICK(shards);
    u->schema_id = s->id;
    u->has_before = rndn(2);
    u->has_after = rndn(2);
    for (uint32_t k = 0; k < s->count; k++) {
        r->before[k] = gen_value();
        r->after[k] = gen_value();
    }
    u->before.names = s->names;
    u->before.values = r->before;
    u->before.count = s->count;
    u->after.names = s->names;
    u->after.values = r->after;
    u->after.count = s->count;
}

/* ---- the test ---------------------------------------------------------------------------------- */

int main(void)
{
    check_seed("test_filter_random");
    long ntrees = 2000;
    const char *nt = getenv("WH_FILTER_RANDOM_TREES");
    if (nt && *nt)
        ntrees = strtol(nt, NULL, 10);
    const int nupdates = 100;
    gen_schemas();

    char err[1024];
    wh_buf text = WH_BUF_INIT, json = WH_BUF_INIT, p1 = WH_BUF_INIT, p2 = WH_BUF_INIT;
    long evals = 0, matches = 0, reported = 0;
    rupdate *ups = calloc((size_t)nupdates, sizeof *ups);
    for (long tr = 0; tr < ntrees; tr++) {
        nodes_made = 0;
        rnode *root = gen_tree(1 + (int)rndn(5));
        wh_buf_reset(&text);
        wh_buf_reset(&json);
        render_text(&text, root);
        render_json(&json, root);
        wh_filter *ft = NULL, *fj = NULL;
        int rt = wh_filter_parse_text(text.data, text.len, &ft, err, sizeof err);
        if (rt != WH_OK)
            fprintf(stderr, "text form did not parse: %s\n  %s\n", err, text.data);
        int rj = wh_filter_parse_json(json.data, json.len, &fj, err, sizeof err);
        if (rj != WH_OK)
            fprintf(stderr, "JSON form did not parse: %s\n  %s\n", err, json.data);
        CHECK_EQ_INT(rt, WH_OK);
        CHECK_EQ_INT(rj, WH_OK);
        if (rt || rj) {
            wh_filter_free(ft);
            wh_filter_free(fj);
            free_tree(root);
            continue;
        }
        /* Both forms give one tree; its prints parse back to it. */
        bool same = wh_filter_equal(ft, fj);
        if (!same)
            fprintf(stderr, "text and JSON forms differ:\n  %s\n  %s\n", text.data, json.data);
        CHECK(same);
        wh_buf_reset(&p1);
        wh_buf_reset(&p2);
        CHECK_EQ_INT(wh_filter_to_text(fj, &p1), WH_OK);
        CHECK_EQ_INT(wh_filter_to_json(ft, &p2), WH_OK);
        wh_filter *g1 = NULL, *g2 = NULL;
        CHECK_EQ_INT(wh_filter_parse_text(p1.data, p1.len, &g1, err, sizeof err), WH_OK);
        CHECK_EQ_INT(wh_filter_parse_json(p2.data, p2.len, &g2, err, sizeof err), WH_OK);
        CHECK(g1 && wh_filter_equal(g1, ft));
        CHECK(g2 && wh_filter_equal(g2, ft));

        for (int k = 0; k < nupdates; k++)
            gen_update(&ups[k]);
        for (int k = 0; k < nupdates; k++) {
            const wh_update *u = &ups[k].u;
            bool want = ref_eval(root, u);
            bool got = wh_filter_match(ft, u);
            bool got_json = wh_filter_match(k % 2 ? fj : g1, u);
            evals += 2;
            matches += want;
            if ((got != want || got_json != want) && reported++ < 10) {
                wh_buf dump = WH_BUF_INIT;
                fprintf(stderr, "mismatch (tree %ld, update %d): reference %d, compiled %d/%d\n"
                        "  filter: %s\n  op %d db %s table %s shard %s schema %" PRIu64
                        " before %d after %d\n", tr, k, want, got, got_json, text.data, u->op,
                        u->db ? u->db : "(null)", u->table ? u->table : "(null)",
                        u->shard ? u->shard : "(null)", u->schema_id, u->has_before,
                        u->has_after);
                for (uint32_t c = 0; c < u->after.count; c++) {
                    wh_buf_reset(&dump);
                    wh_buf_puts(&dump, "before ");
                    wh_buf_puts(&dump, wh_type_name(u->before.values[c].type));
                    wh_buf_putc(&dump, ' ');
                    wh_json_put_value(&dump, &u->before.values[c]);
                    wh_buf_puts(&dump, ", after ");
                    wh_buf_puts(&dump, wh_type_name(u->after.values[c].type));
                    wh_buf_putc(&dump, ' ');
                    wh_json_put_value(&dump, &u->after.values[c]);
                    fprintf(stderr, "  col %s: %s\n", u->after.names[c], dump.data);
                }
                wh_buf_free(&dump);
            }
            CHECK(got == want);
            CHECK(got_json == want);
        }
        wh_filter_free(ft);
        wh_filter_free(fj);
        wh_filter_free(g1);
        wh_filter_free(g2);
        free_tree(root);
    }
    printf("test_filter_random: %ld evaluations, %ld matched\n", evals, matches);
    free(ups);
    wh_buf_free(&text);
    wh_buf_free(&json);
    wh_buf_free(&p1);
    wh_buf_free(&p2);
    return check_done("test_filter_random");
}

/* filter_const.c -- building and checking the constants of predicates, and
 * decoding the escapes they are written with, for both filter parsers. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "filters/filter_int.h"

/* Exponents beyond this cannot name any value a column holds. */
#define FILTER_MAX_EXP 100000

int filter_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int filter_escape_char(char e)
{
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return -1;
    }
}

/* Reads the four hex digits at s[i] (none at or after s[end]). */
static bool read_u4(const char *s, size_t end, size_t i, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = i + k < end ? filter_hexval(s[i + k]) : -1;
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

int filter_unicode_escape(const char *s, size_t end, size_t esc, uint32_t *cp, size_t *next,
                          size_t *at, char *why, size_t whylen)
{
    size_t i = esc + 2;
    uint32_t hi = 0, lo = 0;
    *at = esc;
    if (!read_u4(s, end, i, &hi))
        goto bad_digits;
    i += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff) {
        snprintf(why, whylen, "\\u%04X is a lone low surrogate", hi);
        return WH_ERR_PARSE;
    }
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (i + 1 >= end || s[i] != '\\' || s[i + 1] != 'u')
            goto no_low;
        if (!read_u4(s, end, i + 2, &lo)) {
            *at = i;
            goto bad_digits;
        }
        if (lo < 0xdc00 || lo > 0xdfff)
            goto no_low;
        i += 6;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = hi;
    *next = i;
    return WH_OK;
bad_digits:
    snprintf(why, whylen, "expected four hex digits after \\u");
    return WH_ERR_PARSE;
no_low:
    snprintf(why, whylen, "\\u%04X is a high surrogate without a low surrogate after it", hi);
    return WH_ERR_PARSE;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

int filter_tree_number(filter_tree *t, const char *s, size_t n, filter_const *c,
                       const char **why)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    size_t int_start = i;
    while (i < n && is_digit(s[i]))
        i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        frac_end = i;
    }
    int64_t e10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        while (i < n && is_digit(s[i])) {
            if (e10 < 1000000000)
                e10 = e10 * 10 + (s[i] - '0');
            i++;
        }
        if (eneg)
            e10 = -e10;
    }
    assert(i == n);
    /* Significant digits of int part followed by fraction part. */
    size_t nint = int_end - int_start, nfrac = frac_end - frac_start, total = nint + nfrac;
#define DIGIT_AT(k) ((k) < nint ? s[int_start + (k)] : s[frac_start + (k) - nint])
    size_t first = 0;
    while (first < total && DIGIT_AT(first) == '0')
        first++;
    memset(c, 0, sizeof *c);
    c->kind = FC_NUMBER;
    if (first == total) {          /* zero, whatever its sign */
        int64_t off = filter_tree_pool(t, "", 0);
        if (off < 0)
            return WH_ERR_NOMEM;
        c->off = (uint32_t)off;
        return WH_OK;
    }
    size_t last = total - 1;
    while (DIGIT_AT(last) == '0')
        last--;
    size_t nd = last - first + 1;
    if (nd > WH_FILTER_MAX_DIGITS) {
        _Static_assert(WH_FILTER_MAX_DIGITS == 1000, "the message below names the limit");
        *why = "the number has more than 1000 significant digits";
        return WH_ERR_LIMIT;
    }
    int64_t exp = (int64_t)nint - (int64_t)first + e10;
    if (exp > FILTER_MAX_EXP || exp < -FILTER_MAX_EXP) {
        *why = "the number's exponent is out of range (at most 100000 digits either side of the point)";
        return WH_ERR_LIMIT;
    }
    char digits[WH_FILTER_MAX_DIGITS];
    for (size_t k = 0; k < nd; k++)
        digits[k] = DIGIT_AT(first + k);
#undef DIGIT_AT
    int64_t off = filter_tree_pool(t, digits, nd);
    if (off < 0)
        return WH_ERR_NOMEM;
    c->neg = neg;
    c->exp = (int32_t)exp;
    c->len = (uint32_t)nd;
    c->off = (uint32_t)off;
    return WH_OK;
}

bool filter_scan_number(const char *s, size_t n, size_t *pi, bool *in_exp)
{
    size_t i = *pi;
    assert(i < n && is_digit(s[i]));
    while (i < n && is_digit(s[i]))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        *in_exp = false;
        if (i >= n || !is_digit(s[i]))
            goto missing;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        *in_exp = true;
        if (i >= n || !is_digit(s[i]))
            goto missing;
        while (i < n && is_digit(s[i]))
            i++;
    }
    *pi = i;
    return true;
missing:
    *pi = i;
    return false;
}

static const char *const_kind_phrase(const filter_const *c)
{
    switch ((filter_const_kind)c->kind) {
    case FC_NULL: return "null";
    case FC_BOOL: return c->boolean ? "true" : "false";
    case FC_NUMBER: return "a number";
    case FC_STRING: return "a string";
    case FC_BYTES: return "a hex constant";
    }
    return "a constant";
}

int filter_check_const(const filter_tree *t, const filter_node *node, const filter_const *c,
                       char *why, size_t whylen)
{
    static const char op_list[] =
        "insert, update, delete, ddl, put, single_delete, delete_range, merge";
    if (node->key == FK_COLUMN)
        return WH_OK;
    const char *kname = filter_key_names[node->key];
    if (c->kind != FC_STRING) {
        if (node->key == FK_OP)
            snprintf(why, whylen, "op is compared with %s, but op is one of the strings %s",
                     const_kind_phrase(c), op_list);
        else if (c->kind == FC_NULL)
            snprintf(why, whylen, "%s is compared with null, but %s is never null "
                     "(write \"not exists %s\" for an update without one)", kname, kname, kname);
        else
            snprintf(why, whylen, "%s is compared with %s, but %s is a string",
                     kname, const_kind_phrase(c), kname);
        return WH_ERR_TYPE;
    }
    const char *s = filter_const_bytes(t, c);
    if (memchr(s, '\0', c->len)) {
        snprintf(why, whylen, "%s is compared with a string holding a NUL character, "
                 "which %s never holds", kname, kname);
        return WH_ERR_TYPE;
    }
    if (node->key == FK_OP) {
        char name[32];
        int op = -1;
        if (c->len < sizeof name) {
            memcpy(name, s, c->len);
            name[c->len] = '\0';
            op = wh_op_parse(name, false);
        }
        if (op < 0) {
            snprintf(why, whylen, "\"%.*s\" is not an op; ops are %s",
                     c->len > 64 ? 64 : (int)c->len, s, op_list);
            return WH_ERR_TYPE;
        }
    }
    return WH_OK;
}

int filter_const_room(const filter_tree *t, char *why, size_t whylen)
{
    if (t->nconsts < WH_FILTER_MAX_CONSTANTS)
        return WH_OK;
    snprintf(why, whylen, "the filter has more than %u constants", WH_FILTER_MAX_CONSTANTS);
    return WH_ERR_LIMIT;
}

int filter_const_string(filter_tree *t, const char *s, size_t n, filter_const *c)
{
    int64_t o = filter_tree_pool(t, s, n);
    if (o < 0)
        return WH_ERR_NOMEM;
    c->kind = FC_STRING;
    c->off = (uint32_t)o;
    c->len = (uint32_t)n;
    return WH_OK;
}

int filter_const_hex(filter_tree *t, const char *hex, size_t nd, filter_const *c)
{
    assert(nd % 2 == 0);
    size_t nb = nd / 2;
    /* Takes nb bytes of pool (holding the first digits for now) and their
     * terminating NUL, then decodes the digits over them. */
    int64_t o = filter_tree_pool(t, hex, nb);
    if (o < 0)
        return WH_ERR_NOMEM;
    char *b = t->pool.data + o;
    for (size_t k = 0; k < nb; k++) {
        int hi = filter_hexval(hex[2 * k]), lo = filter_hexval(hex[2 * k + 1]);
        assert(hi >= 0 && lo >= 0);
        b[k] = (char)(hi << 4 | lo);
    }
    c->kind = FC_BYTES;
    c->off = (uint32_t)o;
    c->len = (uint32_t)nb;
    return WH_OK;
}

int filter_const_add(filter_tree *t, const filter_node *key, filter_const *c, size_t src,
                     char *why, size_t whylen)
{
    c->src = (uint32_t)src;
    int rc = filter_check_const(t, key, c, why, whylen);
    if (rc)
        return rc;
    if (filter_tree_const(t, c) < 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

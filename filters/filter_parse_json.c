/* filter_parse_json.c -- the canonical JSON form of filters: a strict JSON
 * reader specialised to the filter schema (docs/FILTERS.md), so that errors
 * name the JSON path and numbers keep their exact decimal value. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/utf8.h"
#include "filters/filter_int.h"

#define JSON_MAX_PATH (2 * WH_FILTER_MAX_DEPTH + 8)

typedef struct jseg {
    const char *key;       /* member name, or NULL for an array index */
    uint32_t    index;
} jseg;

typedef struct jparser {
    const char  *s;
    size_t       n;
    size_t       pos;
    filter_tree *t;
    char        *errbuf;
    size_t       errlen;
    jseg         path[JSON_MAX_PATH];
    int          npath;
    wh_buf       scratch;
    filter_stack stack;
} jparser;

typedef enum jop {
    J_AND = 0, J_OR, J_NOT, J_EXISTS, J_NOT_EXISTS, J_EQ, J_NE, J_IN, J_NOT_IN, J__COUNT
} jop;

static const char *const jop_names[J__COUNT] = {
    "and", "or", "not", "exists", "not_exists", "eq", "ne", "in", "not_in",
};

/* ---- errors ------------------------------------------------------------------------- */

static void format_path(const jparser *p, char *buf, size_t buflen)
{
    size_t len = 0;
    int w = snprintf(buf, buflen, "$");
    len = w > 0 ? (size_t)w : 0;
    for (int k = 0; k < p->npath && len < buflen; k++) {
        if (p->path[k].key)
            w = snprintf(buf + len, buflen - len, ".%s", p->path[k].key);
        else
            w = snprintf(buf + len, buflen - len, "[%" PRIu32 "]", p->path[k].index);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static int perr(jparser *p, int code, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(jparser *p, int code, size_t off, const char *fmt, ...)
{
    char msg[512], path[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_path(p, path, sizeof path);
    return wh_seterr(p->errbuf, p->errlen, code, "filter: at %s (offset %zu): %s", path, off, msg);
}

/* Reports at off the failure rc of a filter_int.h helper that wrote its
 * reason into why; 0 and out of memory pass through. */
static int fail(jparser *p, int rc, size_t off, const char *why)
{
    if (rc == WH_OK || rc == WH_ERR_NOMEM)
        return rc;
    return perr(p, rc, off, "%s", why);
}

static void skip_ws(jparser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool at_word(const jparser *p, const char *w)
{
    size_t l = strlen(w);
    return p->n - p->pos >= l && memcmp(p->s + p->pos, w, l) == 0;
}

/* Describes what stands at the current position, for "found ...". */
static const char *describe(const jparser *p, char *buf, size_t buflen)
{
    if (p->pos >= p->n)
        return "the end of the input";
    char c = p->s[p->pos];
    switch (c) {
    case '{': return "'{'";
    case '}': return "'}'";
    case '[': return "'['";
    case ']': return "']'";
    case ',': return "','";
    case ':': return "':'";
    case '"': return "a string";
    default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return "a number";
    if (at_word(p, "true"))
        return "true";
    if (at_word(p, "false"))
        return "false";
    if (at_word(p, "null"))
        return "null";
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        snprintf(buf, buflen, "the byte 0x%02x", (unsigned)(unsigned char)c);
    else
        snprintf(buf, buflen, "'%c'", c);
    return buf;
}

static int expected(jparser *p, const char *what)
{
    char buf[32];
    return perr(p, WH_ERR_PARSE, p->pos, "expected %s, found %s", what,
                describe(p, buf, sizeof buf));
}

/* Skips white space and consumes c, or fails with "expected what". */
static int expect(jparser *p, char c, const char *what)
{
    skip_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != c)
        return expected(p, what);
    p->pos++;
    return WH_OK;
}

static int path_push(jparser *p, const char *key, uint32_t index)
{
    if (p->npath >= JSON_MAX_PATH)
        return perr(p, WH_ERR_LIMIT, p->pos, "the filter nests deeper than %u levels",
                    WH_FILTER_MAX_DEPTH);
    p->path[p->npath].key = key;
    p->path[p->npath].index = index;
    p->npath++;
    return WH_OK;
}

static void path_pop(jparser *p)
{
    assert(p->npath > 0);
    p->npath--;
}

/* ---- scalars ---------------------------------------------------------------------------- */

/* Reads a JSON string at the current position (after white space) into
 * p->scratch; limit bounds its decoded length. */
static int read_string(jparser *p, size_t limit, const char *what)
{
    skip_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != '"')
        return expected(p, what);
    size_t start = p->pos, i = p->pos + 1;
    const char *s = p->s;
    wh_buf_reset(&p->scratch);
    for (;;) {
        size_t run = i;
        while (i < p->n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20)
            i++;
        wh_buf_append(&p->scratch, s + run, i - run);
        if (i >= p->n)
            return perr(p, WH_ERR_PARSE, start, "the string starting here is not closed");
        if (s[i] == '"')
            break;
        if ((unsigned char)s[i] < 0x20)
            return perr(p, WH_ERR_PARSE, i, "control character 0x%02x in a string (write it "
                        "as \\u%04x)", (unsigned)(unsigned char)s[i], (unsigned)(unsigned char)s[i]);
        size_t esc = i;
        char e = i + 1 < p->n ? s[i + 1] : '\0';
        int d = filter_escape_char(e);
        if (e == 'u') {
            char why[128];
            size_t at;
            uint32_t cp = 0;
            int rc = filter_unicode_escape(s, p->n, esc, &cp, &i, &at, why, sizeof why);
            if (rc)
                return perr(p, rc, esc, "%s", why);
            wh_buf_put_utf8(&p->scratch, cp);
        } else if (d >= 0) {
            wh_buf_putc(&p->scratch, (char)d);
            i += 2;
        } else {
            return perr(p, WH_ERR_PARSE, esc, "unknown escape in a string (escapes are \\\" "
                        "\\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
        if (p->scratch.len > limit)
            break;
    }
    if (!wh_buf_ok(&p->scratch))
        return WH_ERR_NOMEM;
    if (p->scratch.len > limit)
        return perr(p, WH_ERR_LIMIT, start, "the string is longer than %zu bytes", limit);
    p->pos = i + 1;
    return WH_OK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Scans a JSON number at the current position; sets *len. */
static int scan_number(jparser *p, size_t *len)
{
    const char *s = p->s;
    size_t i = p->pos, n = p->n;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return perr(p, WH_ERR_PARSE, i, "malformed number: expected a digit");
    if (s[i] == '0' && i + 1 < n && is_digit(s[i + 1]))
        return perr(p, WH_ERR_PARSE, i, "malformed number: a leading zero is followed by a digit");
    bool in_exp = false;
    if (!filter_scan_number(s, n, &i, &in_exp))
        return perr(p, WH_ERR_PARSE, i, in_exp ? "malformed number: expected a digit in the exponent"
                                               : "malformed number: expected a digit after '.'");
    *len = i - p->pos;
    return WH_OK;
}

/* const := string | number | true | false | null | {"hex": string} */
static int parse_const(jparser *p, const filter_node *key)
{
    filter_const c;
    char why[256];
    const char *lwhy = NULL;
    int rc;
    skip_ws(p);
    size_t off = p->pos;
    memset(&c, 0, sizeof c);
    if ((rc = filter_const_room(p->t, why, sizeof why)) != WH_OK)
        return fail(p, rc, off, why);
    char ch = off < p->n ? p->s[off] : '\0';
    if (ch == '"') {
        if ((rc = read_string(p, WH_FILTER_MAX_STRING, "a string")) != WH_OK ||
            (rc = filter_const_string(p->t, p->scratch.data, p->scratch.len, &c)) != WH_OK)
            return rc;
    } else if (ch == '-' || is_digit(ch)) {
        size_t len = 0;
        if ((rc = scan_number(p, &len)) != WH_OK)
            return rc;
        if ((rc = filter_tree_number(p->t, p->s + off, len, &c, &lwhy)) != WH_OK)
            return fail(p, rc, off, lwhy);
        p->pos += len;
    } else if (at_word(p, "true") || at_word(p, "false")) {
        c.kind = FC_BOOL;
        c.boolean = ch == 't';
        p->pos += c.boolean ? 4 : 5;
    } else if (at_word(p, "null")) {
        c.kind = FC_NULL;
        p->pos += 4;
    } else if (ch == '{') {
        p->pos++;
        if ((rc = read_string(p, 64, "\"hex\"")) != WH_OK)
            return rc;
        if (p->scratch.len != 3 || memcmp(p->scratch.data, "hex", 3) != 0)
            return perr(p, WH_ERR_PARSE, off + 1, "expected \"hex\" (the only object constant "
                        "is {\"hex\":\"0a1b\"})");
        if ((rc = expect(p, ':', "':'")) != WH_OK || (rc = path_push(p, "hex", 0)) != WH_OK)
            return rc;
        skip_ws(p);
        size_t hoff = p->pos;
        if ((rc = read_string(p, 2 * (size_t)WH_FILTER_MAX_STRING, "a string of hex digits")) != WH_OK)
            return rc;
        if (p->scratch.len % 2)
            return perr(p, WH_ERR_PARSE, hoff, "the hex string has an odd number of digits");
        for (size_t k = 0; k < p->scratch.len; k++)
            if (filter_hexval(p->scratch.data[k]) < 0)
                return perr(p, WH_ERR_PARSE, hoff, "the hex string holds a character that is "
                            "not a hex digit");
        if ((rc = filter_const_hex(p->t, p->scratch.data, p->scratch.len, &c)) != WH_OK)
            return rc;
        path_pop(p);
        if ((rc = expect(p, '}', "'}' (the hex object has one member)")) != WH_OK)
            return rc;
    } else {
        return expected(p, "a constant (a string, number, true, false, null or {\"hex\":\"..\"})");
    }
    return fail(p, filter_const_add(p->t, key, &c, off, why, sizeof why), off, why);
}

/* Reads a key string into key (kind, image, name). */
static int parse_key(jparser *p, filter_node *key)
{
    char why[256];
    skip_ws(p);
    size_t off = p->pos;
    int rc = read_string(p, WH_FILTER_MAX_NAME + 16, "a key string (\"table\", \"status\", "
                         "\"before.status\", ...)");
    if (rc)
        return rc;
    memset(key, 0, sizeof *key);
    key->src = (uint32_t)off;
    rc = filter_key_from_string(p->t, p->scratch.data, p->scratch.len, key, why, sizeof why);
    return fail(p, rc, off, why);
}

/* ---- filters -------------------------------------------------------------------------- */

static int new_node(jparser *p, filter_node_kind kind, size_t src, uint32_t *out)
{
    char why[128];
    return fail(p, filter_tree_add(p->t, kind, src, out, why, sizeof why), src, why);
}

static int parse_filter(jparser *p, int depth, uint32_t *out);

/* After an item of a list: consumes ',' (*more set) or the closing ']'
 * (*more cleared), else fails with "expected what". */
static int list_next(jparser *p, const char *what, bool *more)
{
    skip_ws(p);
    *more = p->pos < p->n && p->s[p->pos] == ',';
    if (*more) {
        p->pos++;
        return WH_OK;
    }
    return expect(p, ']', what);
}

/* and/or operand: an array of filters. Zero filters make true (and) or false
 * (or); one filter stands for itself. */
static int parse_junction(jparser *p, jop op, size_t src, int depth, uint32_t *out)
{
    int rc = expect(p, '[', "'[' starting the list of filters");
    if (rc)
        return rc;
    uint32_t base = p->stack.n, count = 0;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
        return new_node(p, op == J_AND ? FN_TRUE : FN_FALSE, src, out);
    }
    for (bool more = true; more;) {
        uint32_t k;
        if ((rc = path_push(p, NULL, count)) != WH_OK ||
            (rc = parse_filter(p, depth + 1, &k)) != WH_OK ||
            (rc = filter_stack_push(&p->stack, k)) != WH_OK)
            return rc;
        path_pop(p);
        count++;
        if ((rc = list_next(p, "',' or ']' in the list of filters", &more)) != WH_OK)
            return rc;
    }
    if (count == 1) {
        *out = p->stack.v[base];
    } else {
        if ((rc = new_node(p, op == J_AND ? FN_AND : FN_OR, src, out)) != WH_OK ||
            (rc = filter_tree_set_kids(p->t, *out, p->stack.v + base, count)) != WH_OK)
            return rc;
    }
    p->stack.n = base;
    return WH_OK;
}

static int make_pred(jparser *p, const filter_node *key, filter_node_kind kind, size_t src,
                     uint32_t first, uint32_t count, uint32_t *out)
{
    char why[128];
    return fail(p, filter_tree_pred(p->t, key, kind, src, first, count, out, why, sizeof why),
                src, why);
}

/* eq/ne: [key, const]; in/not_in: [key, [const, ...]] */
static int parse_comparison(jparser *p, jop op, size_t src, uint32_t *out)
{
    filter_node key;
    int rc = expect(p, '[', op == J_EQ || op == J_NE ? "'[' starting [key, value]"
                                                      : "'[' starting [key, [values]]");
    if (rc || (rc = path_push(p, NULL, 0)) != WH_OK || (rc = parse_key(p, &key)) != WH_OK)
        return rc;
    path_pop(p);
    if ((rc = expect(p, ',', "',' after the key")) != WH_OK ||
        (rc = path_push(p, NULL, 1)) != WH_OK)
        return rc;
    uint32_t first = p->t->nconsts, count = 0;
    if (op == J_EQ || op == J_NE) {
        if ((rc = parse_const(p, &key)) != WH_OK)
            return rc;
        count = 1;
    } else {
        if ((rc = expect(p, '[', "'[' starting the list of values")) != WH_OK)
            return rc;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ']')
            return perr(p, WH_ERR_PARSE, p->pos, "the list of values is empty");
        for (bool more = true; more;) {
            if (count >= WH_FILTER_MAX_IN)
                return perr(p, WH_ERR_LIMIT, p->pos, "the list has more than %u values",
                            WH_FILTER_MAX_IN);
            if ((rc = path_push(p, NULL, count)) != WH_OK || (rc = parse_const(p, &key)) != WH_OK)
                return rc;
            path_pop(p);
            count++;
            if ((rc = list_next(p, "',' or ']' in the list of values", &more)) != WH_OK)
                return rc;
        }
    }
    path_pop(p);
    if ((rc = expect(p, ']', op == J_EQ || op == J_NE ? "']' after [key, value]"
                                                      : "']' after [key, [values]]")) != WH_OK)
        return rc;
    static const filter_node_kind kinds[J__COUNT] = {
        [J_EQ] = FN_EQ, [J_NE] = FN_NE, [J_IN] = FN_IN, [J_NOT_IN] = FN_NOT_IN,
    };
    return make_pred(p, &key, kinds[op], src, first, count, out);
}

/* filter := true | false | {"OP": operand} */
static int parse_filter(jparser *p, int depth, uint32_t *out)
{
    int rc;
    skip_ws(p);
    size_t src = p->pos;
    char why[128];
    if ((rc = filter_tree_depth((unsigned)depth, why, sizeof why)) != WH_OK)
        return fail(p, rc, src, why);
    if (at_word(p, "true") || at_word(p, "false")) {
        bool t = p->s[p->pos] == 't';
        p->pos += t ? 4 : 5;
        return new_node(p, t ? FN_TRUE : FN_FALSE, src, out);
    }
    if (p->pos >= p->n || p->s[p->pos] != '{')
        return expected(p, "a filter (an object such as {\"eq\":[\"table\",\"users\"]}, true "
                        "or false)");
    p->pos++;
    skip_ws(p);
    size_t koff = p->pos;
    if (p->pos < p->n && p->s[p->pos] == '}')
        return perr(p, WH_ERR_PARSE, p->pos, "expected an operator (and, or, not, exists, "
                    "not_exists, eq, ne, in, not_in), found an empty object");
    if ((rc = read_string(p, 64, "an operator name in quotes")) != WH_OK)
        return rc;
    int op = -1;
    for (int k = 0; k < J__COUNT; k++)
        if (p->scratch.len == strlen(jop_names[k]) &&
            memcmp(p->scratch.data, jop_names[k], p->scratch.len) == 0)
            op = k;
    if (op < 0) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(p->scratch.len > 40 ? 40 : p->scratch.len),
                 p->scratch.data ? p->scratch.data : "");
        return perr(p, WH_ERR_PARSE, koff, "unknown operator \"%s\"; operators are and, or, "
                    "not, exists, not_exists, eq, ne, in, not_in", name);
    }
    if ((rc = expect(p, ':', "':' after the operator name")) != WH_OK ||
        (rc = path_push(p, jop_names[op], 0)) != WH_OK)
        return rc;
    switch ((jop)op) {
    case J_AND:
    case J_OR:
        rc = parse_junction(p, (jop)op, src, depth, out);
        break;
    case J_NOT: {
        uint32_t child = 0;
        if ((rc = parse_filter(p, depth + 1, &child)) != WH_OK ||
            (rc = new_node(p, FN_NOT, src, out)) != WH_OK)
            return rc;
        rc = filter_tree_set_kids(p->t, *out, &child, 1);
        break;
    }
    case J_EXISTS:
    case J_NOT_EXISTS: {
        filter_node key;
        if ((rc = parse_key(p, &key)) != WH_OK)
            return rc;
        rc = make_pred(p, &key, op == J_EXISTS ? FN_EXISTS : FN_NOT_EXISTS, src, 0, 0, out);
        break;
    }
    case J_EQ:
    case J_NE:
    case J_IN:
    case J_NOT_IN:
        rc = parse_comparison(p, (jop)op, src, out);
        break;
    case J__COUNT:
        assert(0);
        break;
    }
    if (rc)
        return rc;
    path_pop(p);
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',')
        return perr(p, WH_ERR_PARSE, p->pos, "expected '}', found ',' (an operator object has "
                    "exactly one member; combine filters with and/or)");
    if ((rc = expect(p, '}', "'}'")) != WH_OK)
        return rc;
    return fail(p, filter_tree_depth(p->t->nodes[*out].height, why, sizeof why), src, why);
}

/* Checks the whole input once: size and UTF-8 (a NUL byte is left to the
 * grammar, which rejects it outside strings and as a control character
 * inside them). */
static int check_input(jparser *p)
{
    char why[128];
    size_t at = 0;
    int rc = filter_check_input(p->s, p->n, true, &at, why, sizeof why);
    return fail(p, rc, at, why);
}

int filter_parse_json_tree(const char *json, size_t len, filter_tree *t, char *errbuf,
                           size_t errlen)
{
    jparser p;
    memset(&p, 0, sizeof p);
    p.s = json;
    p.n = len;
    p.t = t;
    p.errbuf = errbuf;
    p.errlen = errlen;
    uint32_t root = 0;
    int rc = check_input(&p);
    if (rc == WH_OK)
        rc = parse_filter(&p, 1, &root);
    if (rc == WH_OK) {
        skip_ws(&p);
        if (p.pos < p.n)
            rc = expected(&p, "the end of the input after the filter");
    }
    return filter_parse_end(rc, t, root, &p.scratch, &p.stack, errbuf, errlen);
}

/* filter_parse_text.c -- the text form of filters: a lexer and a recursive
 * descent parser (grammar in docs/FILTERS.md) building a filter_tree. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/utf8.h"
#include "filters/filter_int.h"

/* Parser recursion (parentheses and 'not' included) is bounded separately
 * from tree height: printing a tree of height 64 needs at most two levels
 * per tree level. */
#define TEXT_MAX_RECURSION (2 * WH_FILTER_MAX_DEPTH + 4)

typedef enum tok_kind {
    T_EOF = 0, T_LPAREN, T_RPAREN, T_COMMA, T_DOT, T_EQ, T_NE,
    T_STRING, T_NUMBER, T_HEX, T_IDENT, T_QIDENT,
} tok_kind;

typedef enum kw {
    KW_NONE = 0, KW_AND, KW_OR, KW_NOT, KW_IN, KW_EXISTS, KW_TRUE, KW_FALSE, KW_NULL,
} kw;

static const char *const kw_names[] = {
    "", "and", "or", "not", "in", "exists", "true", "false", "null",
};

typedef struct token {
    tok_kind kind;
    kw       keyword;      /* T_IDENT only */
    size_t   off, len;     /* raw span in the source */
} token;

typedef struct tparser {
    const char  *s;
    size_t       n;
    size_t       pos;      /* lexer position: just after tok */
    token        tok;      /* current token */
    filter_tree *t;
    char        *errbuf;
    size_t       errlen;
    int          depth;    /* parser recursion */
    wh_buf       scratch;  /* decoded strings */
    filter_stack stack;    /* children of and/or being collected */
} tparser;

/* ---- errors -------------------------------------------------------------------- */

static int perr(tparser *p, int code, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(tparser *p, int code, size_t off, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned line, col;
    filter_line_col(p->s, p->n, off, &line, &col);
    return wh_seterr(p->errbuf, p->errlen, code, "filter: at offset %zu (line %u, column %u): %s",
                     off, line, col, msg);
}

/* Reports at off the failure rc of a filter_int.h helper that wrote its
 * reason into why; 0 and out of memory pass through. */
static int fail(tparser *p, int rc, size_t off, const char *why)
{
    if (rc == WH_OK || rc == WH_ERR_NOMEM)
        return rc;
    return perr(p, rc, off, "%s", why);
}

/* Copies at most max bytes of [s, s+n) into out, not splitting a UTF-8
 * sequence, adding "..." when cut. */
static void excerpt(const char *s, size_t n, size_t max, char *out, size_t outlen)
{
    size_t k = n <= max ? n : max;
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    snprintf(out, outlen, "%.*s%s", (int)k, s, k < n ? "..." : "");
}

/* Describes the current token for "found ..." in messages. */
static const char *describe(const tparser *p, const token *tk, char *buf, size_t buflen)
{
    char ex[64];
    switch (tk->kind) {
    case T_EOF: return "the end of the filter";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    case T_COMMA: return "','";
    case T_DOT: return "'.'";
    case T_EQ: return "'='";
    case T_NE: return "'!='";
    case T_STRING:
        excerpt(p->s + tk->off, tk->len, 40, ex, sizeof ex);
        snprintf(buf, buflen, "the string %s", ex);
        return buf;
    case T_NUMBER:
        excerpt(p->s + tk->off, tk->len, 40, ex, sizeof ex);
        snprintf(buf, buflen, "the number %s", ex);
        return buf;
    case T_HEX:
        excerpt(p->s + tk->off, tk->len, 40, ex, sizeof ex);
        snprintf(buf, buflen, "the hex constant %s", ex);
        return buf;
    case T_IDENT:
        excerpt(p->s + tk->off, tk->len, 40, ex, sizeof ex);
        snprintf(buf, buflen, tk->keyword ? "the keyword '%s'" : "the name '%s'", ex);
        return buf;
    case T_QIDENT:
        excerpt(p->s + tk->off, tk->len, 40, ex, sizeof ex);
        snprintf(buf, buflen, "the name %s", ex);
        return buf;
    }
    return "a token";
}

static int expected(tparser *p, const char *what)
{
    char buf[128];
    return perr(p, WH_ERR_PARSE, p->tok.off, "expected %s, found %s", what,
                describe(p, &p->tok, buf, sizeof buf));
}

/* ---- lexer ----------------------------------------------------------------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}
static bool is_ident_char(unsigned char c) { return is_ident_start(c) || is_digit((char)c); }
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Lexes the token starting at or after *pos into tk; advances *pos past it. */
static int lex(tparser *p, size_t *pos, token *tk)
{
    const char *s = p->s;
    size_t n = p->n, i = *pos;
    while (i < n && is_space(s[i]))
        i++;
    memset(tk, 0, sizeof *tk);
    tk->off = i;
    if (i >= n) {
        tk->kind = T_EOF;
        *pos = i;
        return WH_OK;
    }
    char c = s[i];
    size_t start = i;
    switch (c) {
    case '(': tk->kind = T_LPAREN; i++; goto done;
    case ')': tk->kind = T_RPAREN; i++; goto done;
    case ',': tk->kind = T_COMMA; i++; goto done;
    case '.':
        if (i + 1 < n && is_digit(s[i + 1]))
            return perr(p, WH_ERR_PARSE, i, "expected a digit before '.' in a number");
        tk->kind = T_DOT; i++; goto done;
    case '=':
        tk->kind = T_EQ;
        i += (i + 1 < n && s[i + 1] == '=') ? 2 : 1;
        goto done;
    case '!':
        if (i + 1 < n && s[i + 1] == '=') {
            tk->kind = T_NE;
            i += 2;
            goto done;
        }
        return perr(p, WH_ERR_PARSE, i, "expected '!=', found '!' (negate with 'not')");
    case '<':
        if (i + 1 < n && s[i + 1] == '>') {
            tk->kind = T_NE;
            i += 2;
            goto done;
        }
        /* fall through */
    case '>':
        return perr(p, WH_ERR_PARSE, i, "found '%c', but filters only test equality and "
                    "membership (=, !=, in, not in, exists)", c);
    case '"':
    case '\'':
        for (i++; i < n && s[i] != c; i++)
            if (s[i] == '\\')
                i++;
        if (i >= n)
            return perr(p, WH_ERR_PARSE, start, "the string starting here is not closed with %c", c);
        tk->kind = T_STRING;
        i++;
        goto done;
    case '`':
        for (i++; i < n; i++) {
            if (s[i] == '`') {
                if (i + 1 < n && s[i + 1] == '`')
                    i++;
                else
                    break;
            }
        }
        if (i >= n)
            return perr(p, WH_ERR_PARSE, start, "the quoted name starting here is not closed with `");
        tk->kind = T_QIDENT;
        i++;
        goto done;
    default:
        break;
    }
    if ((c == 'x' || c == 'X') && i + 1 < n && s[i + 1] == '\'') {
        for (i += 2; i < n && s[i] != '\''; i++)
            if (filter_hexval(s[i]) < 0)
                return perr(p, WH_ERR_PARSE, i, "expected a hex digit or ' in a hex constant");
        if (i >= n)
            return perr(p, WH_ERR_PARSE, start, "the hex constant starting here is not closed with '");
        if ((i - start - 2) % 2)
            return perr(p, WH_ERR_PARSE, start, "the hex constant has an odd number of digits");
        tk->kind = T_HEX;
        i++;
        goto done;
    }
    if (is_digit(c) || ((c == '-' || c == '+') && i + 1 < n && is_digit(s[i + 1]))) {
        if (c == '-' || c == '+')
            i++;
        bool in_exp = false;
        if (!filter_scan_number(s, n, &i, &in_exp))
            return perr(p, WH_ERR_PARSE, i, in_exp ? "expected a digit in the number's exponent"
                                                   : "expected a digit after '.' in a number");
        if (i < n && (is_ident_char((unsigned char)s[i]) || s[i] == '.')) {
            while (i < n && (is_ident_char((unsigned char)s[i]) || s[i] == '.'))
                i++;
            return perr(p, WH_ERR_PARSE, start, "malformed number (quote names that start with a "
                        "digit: `%.*s`)", (int)(i - start > 40 ? 40 : i - start), s + start);
        }
        tk->kind = T_NUMBER;
        goto done;
    }
    if (is_ident_start((unsigned char)c)) {
        while (i < n && is_ident_char((unsigned char)s[i]))
            i++;
        tk->kind = T_IDENT;
        for (int k = KW_AND; k <= KW_NULL; k++)
            if (filter_word_eq(s + start, i - start, kw_names[k]))
                tk->keyword = (kw)k;
        goto done;
    }
    if ((unsigned char)c < 0x20 || c == 0x7f)
        return perr(p, WH_ERR_PARSE, i, "unexpected control character 0x%02x",
                    (unsigned)(unsigned char)c);
    return perr(p, WH_ERR_PARSE, i, "unexpected character '%c'", c);
done:
    tk->len = i - start;
    *pos = i;
    return WH_OK;
}

static int advance(tparser *p)
{
    return lex(p, &p->pos, &p->tok);
}

static bool at_kw(const tparser *p, kw k)
{
    return p->tok.kind == T_IDENT && p->tok.keyword == k;
}

/* ---- decoding of quoted tokens --------------------------------------------------- */

/* Decodes the string token tk into p->scratch. */
static int decode_string(tparser *p, const token *tk)
{
    const char *s = p->s;
    size_t i = tk->off + 1, end = tk->off + tk->len - 1;
    wh_buf_reset(&p->scratch);
    while (i < end) {
        size_t run = i;
        while (i < end && s[i] != '\\')
            i++;
        wh_buf_append(&p->scratch, s + run, i - run);
        if (i >= end)
            break;
        size_t esc = i;
        char e = s[i + 1];
        int d = e == '\'' ? '\'' : filter_escape_char(e);
        if (e == 'u') {
            char why[128];
            size_t at;
            uint32_t cp = 0;
            int rc = filter_unicode_escape(s, end, esc, &cp, &i, &at, why, sizeof why);
            if (rc)
                return perr(p, rc, at, "%s", why);
            wh_buf_put_utf8(&p->scratch, cp);
        } else if (d >= 0) {
            wh_buf_putc(&p->scratch, (char)d);
            i += 2;
        } else {
            return perr(p, WH_ERR_PARSE, esc, "unknown escape '\\%c' in a string (escapes are "
                        "\\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", e);
        }
    }
    if (!wh_buf_ok(&p->scratch))
        return WH_ERR_NOMEM;
    if (p->scratch.len > WH_FILTER_MAX_STRING)
        return perr(p, WH_ERR_LIMIT, tk->off, "the string is longer than %u bytes",
                    WH_FILTER_MAX_STRING);
    return WH_OK;
}

/* Decodes a backquoted name into p->scratch (`` stands for one `). */
static int decode_qident(tparser *p, const token *tk)
{
    const char *s = p->s;
    wh_buf_reset(&p->scratch);
    for (size_t i = tk->off + 1; i < tk->off + tk->len - 1; i++) {
        wh_buf_putc(&p->scratch, s[i]);
        if (s[i] == '`')
            i++;
    }
    if (!wh_buf_ok(&p->scratch))
        return WH_ERR_NOMEM;
    if (p->scratch.len == 0)
        return perr(p, WH_ERR_PARSE, tk->off, "a quoted column name is empty");
    if (p->scratch.len > WH_FILTER_MAX_NAME)
        return perr(p, WH_ERR_LIMIT, tk->off, "the column name is longer than %u bytes",
                    WH_FILTER_MAX_NAME);
    return WH_OK;
}

/* ---- grammar ----------------------------------------------------------------------- */

static int parse_or(tparser *p, uint32_t *out);

static int new_node(tparser *p, filter_node_kind kind, size_t src, uint32_t *out)
{
    char why[128];
    return fail(p, filter_tree_add(p->t, kind, src, out, why, sizeof why), src, why);
}

static int check_height(tparser *p, uint32_t node)
{
    const filter_node *n = &p->t->nodes[node];
    char why[128];
    return fail(p, filter_tree_depth(n->height, why, sizeof why), n->src, why);
}

static int set_name(tparser *p, filter_node *tmp, const char *s, size_t n, size_t off)
{
    if (n > WH_FILTER_MAX_NAME)
        return perr(p, WH_ERR_LIMIT, off, "the column name is longer than %u bytes",
                    WH_FILTER_MAX_NAME);
    int64_t o = filter_tree_pool(p->t, s, n);
    if (o < 0)
        return WH_ERR_NOMEM;
    tmp->key = FK_COLUMN;
    tmp->name_off = (uint32_t)o;
    tmp->name_len = (uint32_t)n;
    return WH_OK;
}

/* key := IDENT | QIDENT | (before|after|row) '.' (IDENT | QIDENT) */
static int parse_key(tparser *p, filter_node *key)
{
    char buf[128];
    int rc;
    memset(key, 0, sizeof *key);
    key->src = (uint32_t)p->tok.off;
    if (p->tok.kind == T_QIDENT) {
        if ((rc = decode_qident(p, &p->tok)) != WH_OK ||
            (rc = set_name(p, key, p->scratch.data, p->scratch.len, p->tok.off)) != WH_OK)
            return rc;
        key->image = FI_ROW;
        return advance(p);
    }
    if (p->tok.kind != T_IDENT)
        return expected(p, "a key (a column name, op, db, table, shard or cf)");
    token id = p->tok;
    const char *name = p->s + id.off;
    size_t peek = p->pos;
    token next;
    if ((rc = lex(p, &peek, &next)) != WH_OK)
        return rc;
    if (next.kind == T_DOT) {
        if (filter_word_eq(name, id.len, "before"))
            key->image = FI_BEFORE;
        else if (filter_word_eq(name, id.len, "after"))
            key->image = FI_AFTER;
        else if (filter_word_eq(name, id.len, "row"))
            key->image = FI_ROW;
        else
            return perr(p, WH_ERR_PARSE, id.off, "expected before, after or row before '.', "
                        "found %s (quote a column name that holds a dot: `%.*s.name`)",
                        describe(p, &id, buf, sizeof buf), (int)(id.len > 40 ? 40 : id.len),
                        name);
        p->pos = peek;
        p->tok = next;
        if ((rc = advance(p)) != WH_OK)
            return rc;
        if (p->tok.kind == T_QIDENT) {
            if ((rc = decode_qident(p, &p->tok)) != WH_OK ||
                (rc = set_name(p, key, p->scratch.data, p->scratch.len, p->tok.off)) != WH_OK)
                return rc;
        } else if (p->tok.kind == T_IDENT) {
            if ((rc = set_name(p, key, p->s + p->tok.off, p->tok.len, p->tok.off)) != WH_OK)
                return rc;
        } else {
            snprintf(buf, sizeof buf, "a column name after '%.*s.'", (int)id.len, name);
            return expected(p, buf);
        }
        return advance(p);
    }
    if (id.keyword)
        return expected(p, "a key (a column name, op, db, table, shard or cf)");
    int meta = filter_key_meta(name, id.len);
    if (meta >= 0) {
        key->key = (uint8_t)meta;
        return advance(p);
    }
    if (filter_key_reserved(name, id.len))
        return perr(p, WH_ERR_PARSE, id.off, "'%.*s' is update metadata that filters cannot "
                    "test; for a column of that name write `%.*s` or row.%.*s",
                    (int)id.len, name, (int)id.len, name, (int)id.len, name);
    if ((rc = set_name(p, key, name, id.len, id.off)) != WH_OK)
        return rc;
    key->image = FI_ROW;
    return advance(p);
}

/* const := STRING | NUMBER | HEX | true | false | null; type-checked against key. */
static int parse_const(tparser *p, const filter_node *key)
{
    filter_const c;
    const char *why = NULL;
    char whybuf[256];
    int rc;
    size_t off = p->tok.off;
    memset(&c, 0, sizeof c);
    if ((rc = filter_const_room(p->t, whybuf, sizeof whybuf)) != WH_OK)
        return fail(p, rc, off, whybuf);
    switch (p->tok.kind) {
    case T_STRING:
        if ((rc = decode_string(p, &p->tok)) != WH_OK ||
            (rc = filter_const_string(p->t, p->scratch.data, p->scratch.len, &c)) != WH_OK)
            return rc;
        break;
    case T_NUMBER:
        if ((rc = filter_tree_number(p->t, p->s + off, p->tok.len, &c, &why)) != WH_OK)
            return fail(p, rc, off, why);
        break;
    case T_HEX: {
        size_t nd = p->tok.len - 3;
        if (nd / 2 > WH_FILTER_MAX_STRING)
            return perr(p, WH_ERR_LIMIT, off, "the hex constant is longer than %u bytes",
                        WH_FILTER_MAX_STRING);
        if ((rc = filter_const_hex(p->t, p->s + off + 2, nd, &c)) != WH_OK)
            return rc;
        break;
    }
    case T_IDENT:
        if (p->tok.keyword == KW_TRUE || p->tok.keyword == KW_FALSE) {
            c.kind = FC_BOOL;
            c.boolean = p->tok.keyword == KW_TRUE;
            break;
        }
        if (p->tok.keyword == KW_NULL) {
            c.kind = FC_NULL;
            break;
        }
        /* fall through */
    default:
        return expected(p, "a constant (a string, number, true, false, null or x'..')");
    }
    if ((rc = filter_const_add(p->t, key, &c, off, whybuf, sizeof whybuf)) != WH_OK)
        return fail(p, rc, off, whybuf);
    return advance(p);
}

/* Turns the parsed key into predicate node of kind with constants from first. */
static int make_pred(tparser *p, const filter_node *key, filter_node_kind kind,
                     uint32_t first, uint32_t count, uint32_t *out)
{
    char why[128];
    return fail(p, filter_tree_pred(p->t, key, kind, key->src, first, count, out, why,
                                    sizeof why), key->src, why);
}

/* list := '(' const (',' const)* ')' */
static int parse_list(tparser *p, const filter_node *key, uint32_t *first, uint32_t *count)
{
    int rc;
    if (p->tok.kind != T_LPAREN)
        return expected(p, "'(' starting the list of values");
    if ((rc = advance(p)) != WH_OK)
        return rc;
    *first = p->t->nconsts;
    *count = 0;
    for (;;) {
        if (*count >= WH_FILTER_MAX_IN)
            return perr(p, WH_ERR_LIMIT, p->tok.off, "the list has more than %u values",
                        WH_FILTER_MAX_IN);
        if ((rc = parse_const(p, key)) != WH_OK)
            return rc;
        (*count)++;
        if (p->tok.kind == T_RPAREN)
            return advance(p);
        if (p->tok.kind != T_COMMA)
            return expected(p, "',' or ')' in the list of values");
        if ((rc = advance(p)) != WH_OK)
            return rc;
    }
}

/* predicate := key ('=' | '!=') const | key ['not'] 'in' list */
static int parse_predicate(tparser *p, uint32_t *out)
{
    filter_node key;
    char what[128];
    int rc = parse_key(p, &key);
    if (rc)
        return rc;
    uint32_t first = p->t->nconsts, count = 0;
    filter_node_kind kind;
    if (p->tok.kind == T_EQ || p->tok.kind == T_NE) {
        kind = p->tok.kind == T_EQ ? FN_EQ : FN_NE;
        if ((rc = advance(p)) != WH_OK || (rc = parse_const(p, &key)) != WH_OK)
            return rc;
        count = 1;
    } else if (at_kw(p, KW_IN) || at_kw(p, KW_NOT)) {
        kind = FN_IN;
        if (at_kw(p, KW_NOT)) {
            kind = FN_NOT_IN;
            if ((rc = advance(p)) != WH_OK)
                return rc;
            if (!at_kw(p, KW_IN))
                return expected(p, "'in' after 'not'");
        }
        if ((rc = advance(p)) != WH_OK || (rc = parse_list(p, &key, &first, &count)) != WH_OK)
            return rc;
    } else {
        snprintf(what, sizeof what, "'=', '!=', 'in' or 'not in' after the key");
        return expected(p, what);
    }
    return make_pred(p, &key, kind, first, count, out);
}

static int enter(tparser *p)
{
    if (++p->depth > TEXT_MAX_RECURSION)
        return perr(p, WH_ERR_LIMIT, p->tok.off, "parentheses and 'not' nest deeper than %u "
                    "levels", TEXT_MAX_RECURSION);
    return WH_OK;
}

/* primary := '(' expr ')' | true | false | exists key | predicate */
static int parse_primary(tparser *p, uint32_t *out)
{
    int rc;
    size_t off = p->tok.off;
    if (p->tok.kind == T_LPAREN) {
        if ((rc = advance(p)) != WH_OK || (rc = parse_or(p, out)) != WH_OK)
            return rc;
        if (p->tok.kind != T_RPAREN)
            return expected(p, "')', 'and' or 'or'");
        return advance(p);
    }
    if (at_kw(p, KW_TRUE) || at_kw(p, KW_FALSE)) {
        if ((rc = new_node(p, at_kw(p, KW_TRUE) ? FN_TRUE : FN_FALSE, off, out)) != WH_OK)
            return rc;
        return advance(p);
    }
    if (at_kw(p, KW_EXISTS)) {
        filter_node key;
        if ((rc = advance(p)) != WH_OK || (rc = parse_key(p, &key)) != WH_OK)
            return rc;
        return make_pred(p, &key, FN_EXISTS, 0, 0, out);
    }
    if (p->tok.kind == T_IDENT && p->tok.keyword)
        return expected(p, "a key, '(', 'not', 'exists', 'true' or 'false'");
    if (p->tok.kind != T_IDENT && p->tok.kind != T_QIDENT)
        return expected(p, "a key, '(', 'not', 'exists', 'true' or 'false'");
    return parse_predicate(p, out);
}

/* unary := 'not' 'exists' key | 'not' unary | primary */
static int parse_unary(tparser *p, uint32_t *out)
{
    int rc;
    if (!at_kw(p, KW_NOT)) {
        if ((rc = enter(p)) != WH_OK || (rc = parse_primary(p, out)) != WH_OK)
            return rc;
        p->depth--;
        return check_height(p, *out);
    }
    size_t off = p->tok.off;
    if ((rc = advance(p)) != WH_OK)
        return rc;
    if (at_kw(p, KW_EXISTS)) {
        filter_node key;
        if ((rc = advance(p)) != WH_OK || (rc = parse_key(p, &key)) != WH_OK)
            return rc;
        if ((rc = make_pred(p, &key, FN_NOT_EXISTS, 0, 0, out)) != WH_OK)
            return rc;
        p->t->nodes[*out].src = (uint32_t)off;
        return WH_OK;
    }
    uint32_t child = 0, node = 0;
    if ((rc = enter(p)) != WH_OK || (rc = parse_unary(p, &child)) != WH_OK)
        return rc;
    p->depth--;
    if ((rc = new_node(p, FN_NOT, off, &node)) != WH_OK ||
        (rc = filter_tree_set_kids(p->t, node, &child, 1)) != WH_OK)
        return rc;
    *out = node;
    return check_height(p, node);
}

/* Parses operand (op operand)*; one operand is returned as is, several make
 * one n-ary node of kind. */
static int parse_chain(tparser *p, kw op, filter_node_kind kind,
                       int (*operand)(tparser *, uint32_t *), uint32_t *out)
{
    uint32_t first;
    int rc = operand(p, &first);
    if (rc)
        return rc;
    if (!at_kw(p, op)) {
        *out = first;
        return WH_OK;
    }
    uint32_t base = p->stack.n;
    if ((rc = filter_stack_push(&p->stack, first)) != WH_OK)
        return rc;
    while (at_kw(p, op)) {
        uint32_t k;
        if ((rc = advance(p)) != WH_OK || (rc = operand(p, &k)) != WH_OK ||
            (rc = filter_stack_push(&p->stack, k)) != WH_OK)
            return rc;
    }
    uint32_t node = 0;
    if ((rc = new_node(p, kind, p->t->nodes[first].src, &node)) != WH_OK ||
        (rc = filter_tree_set_kids(p->t, node, p->stack.v + base, p->stack.n - base)) != WH_OK)
        return rc;
    p->stack.n = base;
    *out = node;
    return check_height(p, node);
}

static int parse_and(tparser *p, uint32_t *out)
{
    return parse_chain(p, KW_AND, FN_AND, parse_unary, out);
}

static int parse_or(tparser *p, uint32_t *out)
{
    int rc = enter(p);
    if (rc)
        return rc;
    rc = parse_chain(p, KW_OR, FN_OR, parse_and, out);
    p->depth--;
    return rc;
}

/* Checks the whole input once: size, UTF-8, no NUL. */
static int check_input(tparser *p)
{
    char why[128];
    size_t at = 0;
    int rc = filter_check_input(p->s, p->n, false, &at, why, sizeof why);
    return fail(p, rc, at, why);
}

int filter_parse_text_tree(const char *text, size_t len, filter_tree *t, char *errbuf,
                           size_t errlen)
{
    tparser p;
    memset(&p, 0, sizeof p);
    p.s = text;
    p.n = len;
    p.t = t;
    p.errbuf = errbuf;
    p.errlen = errlen;
    uint32_t root = 0;
    int rc = check_input(&p);
    if (rc == WH_OK)
        rc = advance(&p);
    if (rc == WH_OK && p.tok.kind == T_EOF)
        rc = perr(&p, WH_ERR_PARSE, p.tok.off, "the filter is empty (write true to match "
                  "every update)");
    if (rc == WH_OK)
        rc = parse_or(&p, &root);
    if (rc == WH_OK && p.tok.kind != T_EOF)
        rc = expected(&p, "'and', 'or' or the end of the filter");
    return filter_parse_end(rc, t, root, &p.scratch, &p.stack, errbuf, errlen);
}

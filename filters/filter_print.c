/* filter_print.c -- prints a filter tree in its text or canonical JSON form
 * such that parsing the output gives an equal tree. */
#include <assert.h>
#include <string.h>

#include "core/update_json.h"
#include "filters/filter_int.h"

static const char hexdigits[] = "0123456789abcdef";

/* ---- shared pieces ------------------------------------------------------------------------- */

/* A quoted string with JSON escapes (also valid in the text form; "\\b"
 * and "\\f" as both parsers read them). Input is valid UTF-8 (both parsers
 * guarantee it), copied as is. */
static void put_string(wh_buf *b, const char *s, size_t n)
{
    wh_buf_putc(b, '"');
    wh_json_put_escaped(b, s, n, WH_JSON_ESC_BF);
    wh_buf_putc(b, '"');
}

static void put_zeros(wh_buf *b, size_t n)
{
    while (n--)
        wh_buf_putc(b, '0');
}

/* The canonical text of an exact number: plain notation for moderate
 * exponents, scientific otherwise. Valid in both forms. */
static void put_number(wh_buf *b, const filter_const *c, const char *digits)
{
    int32_t e = c->exp;
    size_t nd = c->len;
    if (nd == 0) {
        wh_buf_putc(b, '0');
        return;
    }
    if (c->neg)
        wh_buf_putc(b, '-');
    if (e > 0 && e <= 21) {
        if ((size_t)e >= nd) {
            wh_buf_append(b, digits, nd);
            put_zeros(b, (size_t)e - nd);
        } else {
            wh_buf_append(b, digits, (size_t)e);
            wh_buf_putc(b, '.');
            wh_buf_append(b, digits + e, nd - (size_t)e);
        }
    } else if (e <= 0 && e > -6) {
        wh_buf_append(b, "0.", 2);
        put_zeros(b, (size_t)-e);
        wh_buf_append(b, digits, nd);
    } else {
        wh_buf_putc(b, digits[0]);
        if (nd > 1) {
            wh_buf_putc(b, '.');
            wh_buf_append(b, digits + 1, nd - 1);
        }
        wh_buf_printf(b, "e%d", (int)(e - 1));
    }
}

static void put_const(wh_buf *b, const filter_tree *t, const filter_const *c, bool json)
{
    const char *s = filter_const_bytes(t, c);
    switch ((filter_const_kind)c->kind) {
    case FC_NULL:
        wh_buf_append(b, "null", 4);
        return;
    case FC_BOOL:
        wh_buf_puts(b, c->boolean ? "true" : "false");
        return;
    case FC_NUMBER:
        put_number(b, c, s);
        return;
    case FC_STRING:
        put_string(b, s, c->len);
        return;
    case FC_BYTES:
        wh_buf_puts(b, json ? "{\"hex\":\"" : "x'");
        for (uint32_t k = 0; k < c->len; k++) {
            unsigned char ch = (unsigned char)s[k];
            wh_buf_putc(b, hexdigits[ch >> 4]);
            wh_buf_putc(b, hexdigits[ch & 15]);
        }
        wh_buf_puts(b, json ? "\"}" : "'");
        return;
    }
}

/* ---- text form ------------------------------------------------------------------------------ */

static const char *const text_keywords[] = {
    "and", "or", "not", "in", "exists", "true", "false", "null",
};

static bool is_plain_ident(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
                  c >= 0x80 || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    /* x'..' would read as a hex constant only after a key, never here, but
     * keep "x" and "X" plain: the lexer needs a quote right after them. */
    return true;
}

static bool is_keyword(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof text_keywords / sizeof *text_keywords; k++)
        if (filter_word_eq(s, n, text_keywords[k]))
            return true;
    return false;
}

static void put_backquoted(wh_buf *b, const char *s, size_t n)
{
    wh_buf_putc(b, '`');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '`')
            wh_buf_putc(b, '`');
        wh_buf_putc(b, s[i]);
    }
    wh_buf_putc(b, '`');
}

static void put_text_key(wh_buf *b, const filter_tree *t, const filter_node *n)
{
    if (n->key != FK_COLUMN) {
        wh_buf_puts(b, filter_key_names[n->key]);
        return;
    }
    const char *s = filter_node_name(t, n);
    size_t len = n->name_len;
    if (n->image == FI_ROW) {
        if (is_plain_ident(s, len) && !is_keyword(s, len) && filter_key_meta(s, len) < 0 &&
            !filter_key_reserved(s, len))
            wh_buf_append(b, s, len);
        else
            put_backquoted(b, s, len);
        return;
    }
    wh_buf_puts(b, n->image == FI_BEFORE ? "before." : "after.");
    if (is_plain_ident(s, len))
        wh_buf_append(b, s, len);
    else
        put_backquoted(b, s, len);
}

static void put_text(wh_buf *b, const filter_tree *t, uint32_t idx);

/* A child of and/or/not: and/or children are parenthesised. */
static void put_text_operand(wh_buf *b, const filter_tree *t, uint32_t idx)
{
    uint8_t k = t->nodes[idx].kind;
    bool paren = k == FN_AND || k == FN_OR;
    if (paren)
        wh_buf_putc(b, '(');
    put_text(b, t, idx);
    if (paren)
        wh_buf_putc(b, ')');
}

static void put_text(wh_buf *b, const filter_tree *t, uint32_t idx)
{
    const filter_node *n = &t->nodes[idx];
    switch ((filter_node_kind)n->kind) {
    case FN_TRUE:
        wh_buf_puts(b, "true");
        return;
    case FN_FALSE:
        wh_buf_puts(b, "false");
        return;
    case FN_AND:
    case FN_OR:
        for (uint32_t k = 0; k < n->count; k++) {
            if (k)
                wh_buf_puts(b, n->kind == FN_AND ? " and " : " or ");
            put_text_operand(b, t, t->kids[n->first + k]);
        }
        return;
    case FN_NOT: {
        uint32_t child = t->kids[n->first];
        wh_buf_puts(b, "not ");
        if (t->nodes[child].kind == FN_EXISTS) {
            /* "not exists k" would read back as the not_exists predicate. */
            wh_buf_putc(b, '(');
            put_text(b, t, child);
            wh_buf_putc(b, ')');
        } else {
            put_text_operand(b, t, child);
        }
        return;
    }
    case FN_EXISTS:
    case FN_NOT_EXISTS:
        wh_buf_puts(b, n->kind == FN_EXISTS ? "exists " : "not exists ");
        put_text_key(b, t, n);
        return;
    case FN_EQ:
    case FN_NE:
        put_text_key(b, t, n);
        wh_buf_puts(b, n->kind == FN_EQ ? " = " : " != ");
        put_const(b, t, &t->consts[n->first], false);
        return;
    case FN_IN:
    case FN_NOT_IN:
        put_text_key(b, t, n);
        wh_buf_puts(b, n->kind == FN_IN ? " in (" : " not in (");
        for (uint32_t k = 0; k < n->count; k++) {
            if (k)
                wh_buf_append(b, ", ", 2);
            put_const(b, t, &t->consts[n->first + k], false);
        }
        wh_buf_putc(b, ')');
        return;
    case FN__COUNT:
        break;
    }
    assert(0);
}

/* ---- JSON form ------------------------------------------------------------------------------- */

static void put_json_key(wh_buf *b, const filter_tree *t, const filter_node *n)
{
    if (n->key != FK_COLUMN) {
        wh_buf_putc(b, '"');
        wh_buf_puts(b, filter_key_names[n->key]);
        wh_buf_putc(b, '"');
        return;
    }
    const char *s = filter_node_name(t, n);
    size_t len = n->name_len;
    const char *prefix = "";
    if (n->image == FI_BEFORE) {
        prefix = "before.";
    } else if (n->image == FI_AFTER) {
        prefix = "after.";
    } else if (filter_key_meta(s, len) >= 0 || filter_key_reserved(s, len) ||
               (len >= 7 && filter_word_eq(s, 7, "before.")) ||
               (len >= 6 && filter_word_eq(s, 6, "after.")) ||
               (len >= 4 && filter_word_eq(s, 4, "row."))) {
        prefix = "row.";
    }
    wh_buf_putc(b, '"');
    wh_buf_puts(b, prefix);
    wh_json_put_escaped(b, s, len, WH_JSON_ESC_BF);
    wh_buf_putc(b, '"');
}

static void put_json(wh_buf *b, const filter_tree *t, uint32_t idx)
{
    static const char *const names[FN__COUNT] = {
        [FN_AND] = "and", [FN_OR] = "or", [FN_NOT] = "not", [FN_EXISTS] = "exists",
        [FN_NOT_EXISTS] = "not_exists", [FN_EQ] = "eq", [FN_NE] = "ne", [FN_IN] = "in",
        [FN_NOT_IN] = "not_in",
    };
    const filter_node *n = &t->nodes[idx];
    if (n->kind == FN_TRUE || n->kind == FN_FALSE) {
        wh_buf_puts(b, n->kind == FN_TRUE ? "true" : "false");
        return;
    }
    wh_buf_puts(b, "{\"");
    wh_buf_puts(b, names[n->kind]);
    wh_buf_puts(b, "\":");
    switch ((filter_node_kind)n->kind) {
    case FN_AND:
    case FN_OR:
        wh_buf_putc(b, '[');
        for (uint32_t k = 0; k < n->count; k++) {
            if (k)
                wh_buf_putc(b, ',');
            put_json(b, t, t->kids[n->first + k]);
        }
        wh_buf_putc(b, ']');
        break;
    case FN_NOT:
        put_json(b, t, t->kids[n->first]);
        break;
    case FN_EXISTS:
    case FN_NOT_EXISTS:
        put_json_key(b, t, n);
        break;
    case FN_EQ:
    case FN_NE:
        wh_buf_putc(b, '[');
        put_json_key(b, t, n);
        wh_buf_putc(b, ',');
        put_const(b, t, &t->consts[n->first], true);
        wh_buf_putc(b, ']');
        break;
    case FN_IN:
    case FN_NOT_IN:
        wh_buf_putc(b, '[');
        put_json_key(b, t, n);
        wh_buf_append(b, ",[", 2);
        for (uint32_t k = 0; k < n->count; k++) {
            if (k)
                wh_buf_putc(b, ',');
            put_const(b, t, &t->consts[n->first + k], true);
        }
        wh_buf_append(b, "]]", 2);
        break;
    case FN_TRUE:
    case FN_FALSE:
    case FN__COUNT:
        assert(0);
        break;
    }
    wh_buf_putc(b, '}');
}

int wh_filter_to_text(const wh_filter *f, wh_buf *out)
{
    if (!f || !out || !f->tree.nnodes)
        return WH_ERR_INVALID;
    put_text(out, &f->tree, f->tree.root);
    return wh_buf_ok(out) ? WH_OK : WH_ERR_NOMEM;
}

int wh_filter_to_json(const wh_filter *f, wh_buf *out)
{
    if (!f || !out || !f->tree.nnodes)
        return WH_ERR_INVALID;
    put_json(out, &f->tree, f->tree.root);
    return wh_buf_ok(out) ? WH_OK : WH_ERR_NOMEM;
}

/* cache_rules.c -- key templates, value rendering, and the rules that turn an update into cache ops. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/cache/cache.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "core/update_json.h"

/* ---- templates ---------------------------------------------------------------------------- */

static int add_col(char ***cols, uint32_t *ncols, const char *name, size_t len)
{
    for (uint32_t i = 0; i < *ncols; i++)
        if (strlen((*cols)[i]) == len && memcmp((*cols)[i], name, len) == 0)
            return (int)i;
    char **v = realloc(*cols, (*ncols + 1) * sizeof *v);
    if (!v)
        return WH_ERR_NOMEM;
    *cols = v;
    if (!(v[*ncols] = strndup(name, len)))
        return WH_ERR_NOMEM;
    return (int)(*ncols)++;
}

int cache_tpl_parse(const char *text, bool allow_row, cache_tpl *out, char ***cols,
                    uint32_t *ncols, char *errbuf, size_t errlen)
{
    wh_buf lit = WH_BUF_INIT;
    tpl_part *parts = NULL;
    uint32_t nparts = 0, seg = 0;
    int rc = WH_OK;
    memset(out, 0, sizeof *out);
    size_t n = strlen(text);
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        int32_t col;
        if (c == '{' && text[i + 1] == '{') {
            wh_buf_putc(&lit, '{');
            i++;
            continue;
        }
        if (c == '}' && text[i + 1] == '}') {
            wh_buf_putc(&lit, '}');
            i++;
            continue;
        }
        if (c == '}') {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "template '%s': offset %zu: a lone '}' "
                           "(write '}}' for a literal brace)", text, i);
            goto err;
        }
        if (c == '{') {
            const char *close = strchr(text + i + 1, '}');
            const char *open = strchr(text + i + 1, '{');
            if (!close) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "template '%s': offset %zu: '{' "
                               "without a closing '}' (write '{{' for a literal brace)", text, i);
                goto err;
            }
            if (open && open < close) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "template '%s': offset %zu: '{' "
                               "inside a column reference", text, (size_t)(open - text));
                goto err;
            }
            size_t len = (size_t)(close - (text + i + 1));
            if (len == 0) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "template '%s': offset %zu: empty "
                               "column reference '{}'", text, i);
                goto err;
            }
            if (len == 1 && text[i + 1] == '*') {
                if (!allow_row) {
                    rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "template '%s': offset %zu: "
                                   "{*} (the whole row) is allowed only in a value", text, i);
                    goto err;
                }
                col = TPL_ROW;
            } else {
                col = add_col(cols, ncols, text + i + 1, len);
                if (col < 0) {
                    rc = col;
                    goto err;
                }
            }
            i += len + 1;
        } else if (c == '\0') {
            col = -1;
        } else {
            wh_buf_putc(&lit, c);
            continue;
        }
        tpl_part *p = realloc(parts, (nparts + 1) * sizeof *p);
        if (!p) {
            rc = WH_ERR_NOMEM;
            goto err;
        }
        parts = p;
        parts[nparts].lit_off = seg;
        parts[nparts].lit_len = (uint32_t)lit.len - seg;
        parts[nparts].col = col;
        nparts++;
        seg = (uint32_t)lit.len;
    }
    wh_buf_append(&lit, "", 1);    /* never an empty allocation */
    out->text = strdup(text);
    if (!wh_buf_ok(&lit) || !out->text) {
        rc = WH_ERR_NOMEM;
        goto err;
    }
    out->lit = lit.data;
    out->parts = parts;
    out->nparts = nparts;
    return WH_OK;
err:
    free(out->text);
    out->text = NULL;
    wh_buf_free(&lit);
    free(parts);
    return rc;
}

void cache_tpl_free(cache_tpl *t)
{
    free(t->text);
    free(t->lit);
    free(t->parts);
    memset(t, 0, sizeof *t);
}

/* ---- rendering ---------------------------------------------------------------------------- */

static void put_u64(wh_buf *out, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    wh_buf_append(out, tmp + i, sizeof tmp - (size_t)i);
}

static void put_i64(wh_buf *out, int64_t v)
{
    if (v < 0) {
        wh_buf_putc(out, '-');
        put_u64(out, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(out, (uint64_t)v);
    }
}

void cache_render_value(wh_buf *out, const wh_value *v, const char *null_text)
{
    static const char hex[] = "0123456789abcdef";
    switch (v->type) {
    case WH_T_ABSENT:
        return;
    case WH_T_NULL:
        wh_buf_puts(out, null_text);
        return;
    case WH_T_INT:
        put_i64(out, v->n.i);
        return;
    case WH_T_UINT:
    case WH_T_YEAR:
        put_u64(out, v->n.u);
        return;
    case WH_T_FLOAT:
        wh_json_put_value(out, v);     /* the shortest round-trip text; non-finite: null */
        return;
    case WH_T_DECIMAL:
    case WH_T_STRING:
    case WH_T_JSON:
        wh_buf_append(out, v->str, v->len);
        return;
    case WH_T_BYTES:
        if (!wh_buf_reserve(out, 2 * (size_t)v->len))
            return;
        for (uint32_t i = 0; i < v->len; i++) {
            out->data[out->len++] = hex[(uint8_t)v->str[i] >> 4];
            out->data[out->len++] = hex[(uint8_t)v->str[i] & 15];
        }
        out->data[out->len] = '\0';
        return;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        char tmp[48];
        size_t n = wh_temporal_format(v, tmp, sizeof tmp);
        char *sp = memchr(tmp, ' ', n);
        if (sp)
            *sp = 'T';
        wh_buf_append(out, tmp, n);
        return;
    }
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            wh_buf_append(out, v->str, v->len);
        else
            put_u64(out, v->n.u);
        return;
    default:
        return;
    }
}

void cache_render_row_json(wh_buf *out, const wh_row *row)
{
    bool first = true;
    wh_buf_putc(out, '{');
    for (uint32_t k = 0; k < row->count; k++) {
        if (row->values[k].type == WH_T_ABSENT)
            continue;
        if (!first)
            wh_buf_putc(out, ',');
        first = false;
        wh_json_put_string(out, row->names[k], strlen(row->names[k]));
        wh_buf_putc(out, ':');
        wh_json_put_value(out, &row->values[k]);
    }
    wh_buf_putc(out, '}');
}

/* The after image as JSON, taking a column the after image does not carry
 * from the before image (an update logs unchanged columns only in the before
 * image under MINIMAL/NOBLOB row images). False if a column stays absent. */
static bool render_row_merged(wh_buf *out, const wh_row *after, const wh_row *before)
{
    bool first = true;
    wh_buf_putc(out, '{');
    for (uint32_t k = 0; k < after->count; k++) {
        const wh_value *v = &after->values[k];
        if (v->type == WH_T_ABSENT && before && k < before->count)
            v = &before->values[k];
        if (v->type == WH_T_ABSENT)
            return false;
        if (!first)
            wh_buf_putc(out, ',');
        first = false;
        wh_json_put_string(out, after->names[k], strlen(after->names[k]));
        wh_buf_putc(out, ':');
        wh_json_put_value(out, v);
    }
    wh_buf_putc(out, '}');
    return true;
}

bool cache_mc_key_ok(const char *key, size_t len)
{
    if (len == 0 || len > CACHE_MC_MAX_KEY)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

/* ---- rules -------------------------------------------------------------------------------- */

static const char *pos_text(const wh_update *u, char *buf, size_t n)
{
    if (wh_position_logical(&u->pos, buf, n) == 0)
        wh_position_physical(&u->pos, buf, n);
    return buf;
}

static void list_columns(const wh_row *row, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t k = 0; k < row->count && len + 1 < n; k++) {
        int w = snprintf(buf + len, n - len, "%s%s", k ? ", " : "", row->names[k]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len >= n && n > 4)
        memcpy(buf + n - 4, "...", 4);
}

/* Maps the rule's columns to indexes in rows of u's schema. */
static int resolve(cache_rule *r, const wh_update *u, const wh_row *row, char *errbuf,
                   size_t errlen)
{
    if (u->schema_id && r->res_schema == u->schema_id && r->res_count == row->count)
        return WH_OK;
    for (uint32_t i = 0; i < r->ncols; i++) {
        int idx = wh_row_find(row, r->cols[i], strlen(r->cols[i]));
        if (idx < 0) {
            char cols[600], pos[256];
            list_columns(row, cols, sizeof cols);
            r->res_schema = 0;
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "rule %d (%s.%s): a template names "
                             "column '%s', which the table does not have (its columns: %s); "
                             "the update at %s is not applied and not acknowledged",
                             r->index, r->db, r->table, r->cols[i], cols,
                             pos_text(u, pos, sizeof pos));
        }
        r->res_idx[i] = idx;
    }
    r->res_schema = u->schema_id;
    r->res_names = row->names;
    r->res_count = row->count;
    return WH_OK;
}

/* Renders template t from img (columns img lacks are taken from fallback,
 * which an update's after image may rely on). */
static int render_tpl(const cache_rule *r, const cache_tpl *t, const wh_update *u,
                      const wh_row *img, const wh_row *fallback, const char *which, wh_buf *out,
                      char *errbuf, size_t errlen)
{
    for (uint32_t p = 0; p < t->nparts; p++) {
        const tpl_part *tp = &t->parts[p];
        wh_buf_append(out, t->lit + tp->lit_off, tp->lit_len);
        if (tp->col < 0)
            continue;
        int32_t idx = r->res_idx[tp->col];
        const wh_value *v = (uint32_t)idx < img->count ? &img->values[idx] : NULL;
        if ((!v || v->type == WH_T_ABSENT) && fallback && (uint32_t)idx < fallback->count)
            v = &fallback->values[idx];
        if (!v || v->type == WH_T_ABSENT) {
            char pos[256];
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "rule %d (%s.%s): template '%s' "
                             "needs column '%s', which the %s image of the %s at %s does not "
                             "carry (binlog_row_image must be FULL, or the column part of the "
                             "primary key); the update is not applied and not acknowledged",
                             r->index, r->db, r->table, t->text, r->cols[tp->col], which,
                             wh_op_name(u->op), pos_text(u, pos, sizeof pos));
        }
        cache_render_value(out, v, r->null_text);
    }
    return WH_OK;
}

void cache_oplist_reset(cache_oplist *l)
{
    l->n = 0;
    l->fallbacks = 0;
    wh_buf_reset(&l->data);
}

void cache_oplist_free(cache_oplist *l)
{
    free(l->ops);
    wh_buf_free(&l->data);
    memset(l, 0, sizeof *l);
}

static cache_op *op_push(cache_oplist *l, const cache_rule *r, int kind)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 256;
        cache_op *v = realloc(l->ops, cap * sizeof *v);
        if (!v)
            return NULL;
        l->ops = v;
        l->cap = cap;
    }
    cache_op *op = &l->ops[l->n++];
    memset(op, 0, sizeof *op);
    op->kind = (uint8_t)kind;
    op->rule = (uint16_t)r->index;
    op->caches = r->caches;
    return op;
}

/* True if the image passes the rule's filter on its own (a view of u with
 * only that image, so that "row" and unprefixed columns mean that image). */
static bool image_matches(cache_rule *r, const wh_update *u, bool before)
{
    if (!r->filter)
        return true;
    wh_update view = *u;
    if (before)
        view.has_after = false;
    else
        view.has_before = false;
    return wh_filter_match(r->filter, &view);
}

static int apply_row(cache_rule *r, const wh_update *u, cache_oplist *l, char *errbuf,
                     size_t errlen)
{
    const wh_row *before = u->has_before ? &u->before : NULL;
    const wh_row *after = u->has_after ? &u->after : NULL;
    if (!before && !after)
        return WH_OK;
    int rc = resolve(r, u, before ? before : after, errbuf, errlen);
    if (rc)
        return rc;
    bool bm = before && image_matches(r, u, true);
    bool am = after && image_matches(r, u, false);
    if (!bm && !am)
        return WH_OK;
    wh_buf *d = &l->data;
    uint32_t val_off = 0, val_len = 0;
    bool set = r->action == RULE_SET && am;
    if (set) {
        /* The value once per rule, shared by its keys. */
        val_off = (uint32_t)d->len;
        bool complete = true;
        for (uint32_t p = 0; p < r->value.nparts && complete; p++) {
            const tpl_part *tp = &r->value.parts[p];
            wh_buf_append(d, r->value.lit + tp->lit_off, tp->lit_len);
            if (tp->col == TPL_ROW) {
                complete = render_row_merged(d, after, before);
            } else if (tp->col >= 0) {
                int32_t idx = r->res_idx[tp->col];
                const wh_value *v = (uint32_t)idx < after->count ? &after->values[idx] : NULL;
                if ((!v || v->type == WH_T_ABSENT) && before && (uint32_t)idx < before->count)
                    v = &before->values[idx];
                if (!v || v->type == WH_T_ABSENT)
                    complete = false;
                else
                    cache_render_value(d, v, r->null_text);
            }
        }
        if (!complete) {
            /* A partial value would be wrong in the cache: invalidate instead. */
            d->len = val_off;
            set = false;
            l->fallbacks++;
            if (!r->warned_fallback) {
                char pos[256];
                r->warned_fallback = true;
                wh_warn(WH_AREA_SUBSCRIBER, "rule %d (%s.%s): the after image of the update at "
                        "%s does not carry every column the value needs (binlog_row_image is "
                        "not FULL?); its keys are deleted instead of set (warned once)",
                        r->index, r->db, r->table, pos_text(u, pos, sizeof pos));
            }
        }
        val_len = (uint32_t)d->len - val_off;
    }
    for (uint32_t k = 0; k < r->nkeys; k++) {
        const cache_tpl *t = &r->keys[k];
        uint32_t old_off = 0, old_len = 0;
        if (bm) {
            old_off = (uint32_t)d->len;
            rc = render_tpl(r, t, u, before, NULL, "before", d, errbuf, errlen);
            if (rc)
                return rc;
            old_len = (uint32_t)d->len - old_off;
        }
        bool new_key = false;
        uint32_t new_off = 0, new_len = 0;
        if (am) {
            new_off = (uint32_t)d->len;
            rc = render_tpl(r, t, u, after, before, "after", d, errbuf, errlen);
            if (rc)
                return rc;
            new_len = (uint32_t)d->len - new_off;
            new_key = !bm || new_len != old_len ||
                      memcmp(d->data + new_off, d->data + old_off, new_len) != 0;
            if (!new_key && !set)
                d->len = new_off;          /* the same key again: once is enough */
        }
        if (!wh_buf_ok(d))
            return WH_ERR_NOMEM;
        /* The old key goes unless it is also the key being set. */
        if (bm && (new_key || !set)) {
            cache_op *op = op_push(l, r, OP_DELETE);
            if (!op)
                return WH_ERR_NOMEM;
            op->key_off = old_off;
            op->key_len = old_len;
        }
        if (am && (new_key || set)) {
            cache_op *op = op_push(l, r, set ? OP_SET : OP_DELETE);
            if (!op)
                return WH_ERR_NOMEM;
            op->key_off = new_off;
            op->key_len = new_len;
            if (set) {
                op->val_off = val_off;
                op->val_len = val_len;
                op->ttl = (uint32_t)r->ttl;
            }
        }
    }
    return WH_OK;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* Does a DDL statement name db.table? The table's name must appear as an
 * identifier (plain or `quoted`), qualified with db, or unqualified while db
 * is the statement's default database. Conservative: a string literal or a
 * comment naming the table counts too. */
static bool ddl_names_table(const char *stmt, const char *default_db, const char *db,
                            const char *table)
{
    size_t n = strlen(table), dn = strlen(db);
    for (const char *p = stmt; (p = strstr(p, table)) != NULL; p++) {
        bool quoted = p > stmt && p[-1] == '`';
        char after = p[n];
        if (quoted ? after != '`' : (ident_char(after) || (p > stmt && ident_char(p[-1]))))
            continue;
        const char *s = quoted ? p - 1 : p;
        if (s > stmt && s[-1] == '.') {
            const char *dend = s - 1, *dstart;
            if (dend > stmt && dend[-1] == '`') {
                dend--;
                dstart = dend;
                while (dstart > stmt && dstart[-1] != '`')
                    dstart--;
            } else {
                dstart = dend;
                while (dstart > stmt && ident_char(dstart[-1]))
                    dstart--;
            }
            if ((size_t)(dend - dstart) == dn && memcmp(dstart, db, dn) == 0)
                return true;
            continue;
        }
        if (default_db && strcmp(default_db, db) == 0)
            return true;
    }
    return false;
}

static int apply_ddl(cache_config *c, const wh_update *u, cache_oplist *l, char *errbuf,
                     size_t errlen)
{
    if (!u->statement)
        return WH_OK;
    for (uint32_t i = 0; i < c->nrules; i++) {
        cache_rule *r = &c->rules[i];
        if (!ddl_names_table(u->statement, u->db, r->db, r->table))
            continue;
        char pos[256];
        switch (r->on_ddl) {
        case DDL_IGNORE:
            wh_info(WH_AREA_SUBSCRIBER, "rule %d (%s.%s): DDL at %s ignored (on_ddl ignore): "
                    "%.300s", r->index, r->db, r->table, pos_text(u, pos, sizeof pos),
                    u->statement);
            break;
        case DDL_STOP:
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "rule %d (%s.%s): DDL at %s names the "
                             "table and on_ddl is stop; stopping before it (not acknowledged): "
                             "%.300s", r->index, r->db, r->table, pos_text(u, pos, sizeof pos),
                             u->statement);
        case DDL_FLUSH: {
            wh_info(WH_AREA_SUBSCRIBER, "rule %d (%s.%s): DDL at %s: flushing the rule's keys "
                    "(on_ddl flush): %.300s", r->index, r->db, r->table,
                    pos_text(u, pos, sizeof pos), u->statement);
            cache_op *op = op_push(l, r, OP_FLUSH);
            if (!op)
                return WH_ERR_NOMEM;
            op->val_off = (uint32_t)l->data.len;
            op->val_len = r->patterns_len;
            wh_buf_append(&l->data, r->patterns, r->patterns_len);
            if (!wh_buf_ok(&l->data))
                return WH_ERR_NOMEM;
            break;
        }
        default:
            break;
        }
    }
    return WH_OK;
}

int cache_rules_apply(cache_config *c, const wh_update *u, cache_oplist *l, char *errbuf,
                      size_t errlen)
{
    if (u->op == WH_OP_DDL)
        return apply_ddl(c, u, l, errbuf, errlen);
    /* A bootstrap's snapshot row (docs/BOOTSTRAP.md: an existing row, after
     * image only) acts as an insert: a set rule sets its keys, a delete rule
     * invalidates them. Its begin and end markers carry no row. */
    if (u->op != WH_OP_INSERT && u->op != WH_OP_UPDATE && u->op != WH_OP_DELETE &&
        u->op != WH_OP_SNAPSHOT)
        return WH_OK;
    if (!u->db || !u->table)
        return WH_OK;
    for (uint32_t i = 0; i < c->nrules; i++) {
        cache_rule *r = &c->rules[i];
        if (strcmp(r->table, u->table) != 0 || strcmp(r->db, u->db) != 0)
            continue;
        int rc = apply_row(r, u, l, errbuf, errlen);
        if (rc)
            return rc;
    }
    return WH_OK;
}

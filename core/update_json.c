/* update_json.c -- rendering updates as JSON lines (see update_json.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/update_json.h"
#include "core/utf8.h"
#include "wormhole/error.h"

static const char hexdigits[] = "0123456789abcdef";
static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


void wh_json_put_string(wh_buf *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!wh_buf_reserve(out, len + 2))
        return;
    wh_buf_putc(out, '"');
    size_t run = 0; /* start of a run of bytes that need no escaping */
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = wh_utf8_seq_len(s + i, len - i);
            if (n) {
                i += n;
                continue;
            }
        }
        wh_buf_append(out, s + run, i - run);
        switch (c) {
        case '"':  wh_buf_append(out, "\\\"", 2); break;
        case '\\': wh_buf_append(out, "\\\\", 2); break;
        case '\n': wh_buf_append(out, "\\n", 2); break;
        case '\r': wh_buf_append(out, "\\r", 2); break;
        case '\t': wh_buf_append(out, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char esc[6] = { '\\', 'u', '0', '0', hexdigits[c >> 4], hexdigits[c & 15] };
                wh_buf_append(out, esc, 6);
            } else {
                wh_buf_append(out, "\xef\xbf\xbd", 3); /* invalid UTF-8: U+FFFD */
            }
        }
        run = ++i;
    }
    wh_buf_append(out, s + run, len - run);
    wh_buf_putc(out, '"');
}

static void put_base64(wh_buf *out, const unsigned char *s, size_t len)
{
    if (!wh_buf_reserve(out, (len + 2) / 3 * 4 + 2))
        return;
    char *p = out->data + out->len;
    *p++ = '"';
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *p++ = b64chars[v >> 18];
        *p++ = b64chars[(v >> 12) & 63];
        *p++ = b64chars[(v >> 6) & 63];
        *p++ = b64chars[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        *p++ = b64chars[v >> 18];
        *p++ = b64chars[(v >> 12) & 63];
        *p++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    *p++ = '"';
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
}

static void put_u64(wh_buf *out, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    wh_buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
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

/* Shortest text that reads back as the same float (or double). */
static void put_float(wh_buf *out, double d, bool float32)
{
    char tmp[40];
    if (!isfinite(d)) {
        wh_buf_append(out, "null", 4);
        return;
    }
    int lo = float32 ? 6 : 15, hi = float32 ? 9 : 17;
    for (int prec = lo; prec <= hi; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        double back = strtod(tmp, NULL);
        if (float32 ? (float)back == (float)d : back == d)
            break;
    }
    wh_buf_puts(out, tmp);
}

void wh_json_put_value(wh_buf *out, const wh_value *v)
{
    char tmp[48];
    switch ((wh_type)v->type) {
    case WH_T_ABSENT:
        return;
    case WH_T_NULL:
        wh_buf_append(out, "null", 4);
        return;
    case WH_T_INT:
        put_i64(out, v->n.i);
        return;
    case WH_T_UINT:
    case WH_T_YEAR:
        put_u64(out, v->n.u);
        return;
    case WH_T_FLOAT:
        put_float(out, v->n.d, v->flags & WH_VF_FLOAT32);
        return;
    case WH_T_DECIMAL:
    case WH_T_STRING:
        wh_json_put_string(out, v->str, v->len);
        return;
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            wh_json_put_string(out, v->str, v->len);
        else
            put_u64(out, v->n.u);
        return;
    case WH_T_BYTES:
        put_base64(out, (const unsigned char *)v->str, v->len);
        return;
    case WH_T_JSON:
        if (v->len)
            wh_buf_append(out, v->str, v->len);
        else
            wh_buf_append(out, "null", 4);
        return;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP: {
        size_t n = wh_temporal_format(v, tmp, sizeof tmp);
        wh_json_put_string(out, tmp, n);
        return;
    }
    case WH_T__COUNT:
        break;
    }
    wh_buf_append(out, "null", 4);
}

static void put_key(wh_buf *out, const char *key)
{
    wh_json_put_string(out, key, strlen(key));
    wh_buf_putc(out, ':');
}

static void put_row(wh_buf *out, const char *name, const wh_row *row)
{
    wh_buf_putc(out, ',');
    put_key(out, name);
    wh_buf_putc(out, '{');
    bool first = true;
    for (uint32_t k = 0; k < row->count; k++) {
        if (row->values[k].type == WH_T_ABSENT)
            continue;
        if (!first)
            wh_buf_putc(out, ',');
        first = false;
        put_key(out, row->names[k] ? row->names[k] : "");
        wh_json_put_value(out, &row->values[k]);
    }
    wh_buf_putc(out, '}');
}

size_t wh_position_physical(const wh_position *p, char *buf, size_t buflen)
{
    int n = p->log_name
        ? snprintf(buf, buflen, "%s:%" PRIu64 "/%" PRIu32, p->log_name, p->offset, p->index)
        : snprintf(buf, buflen, "%" PRIu64 "/%" PRIu32, p->offset, p->index);
    return n < 0 ? 0 : (size_t)n >= buflen ? buflen - 1 : (size_t)n;
}

size_t wh_position_logical(const wh_position *p, char *buf, size_t buflen)
{
    if (!p->logical) {
        if (buflen)
            buf[0] = '\0';
        return 0;
    }
    int n = snprintf(buf, buflen, "%s/%" PRIu32, p->logical, p->index);
    return n < 0 ? 0 : (size_t)n >= buflen ? buflen - 1 : (size_t)n;
}

int wh_update_to_json(const wh_update *u, wh_buf *out)
{
    char pos[512];
    bool kv = u->op >= WH_OP_PUT;
    wh_buf_putc(out, '{');
    put_key(out, "shard");
    if (u->shard)
        wh_json_put_string(out, u->shard, strlen(u->shard));
    else
        wh_buf_append(out, "null", 4);
    wh_buf_putc(out, ',');
    put_key(out, "op");
    wh_json_put_string(out, wh_op_name(u->op), strlen(wh_op_name(u->op)));
    if (!kv && u->db) {
        wh_buf_putc(out, ',');
        put_key(out, "db");
        wh_json_put_string(out, u->db, strlen(u->db));
    }
    if (u->table) {
        wh_buf_putc(out, ',');
        put_key(out, kv ? "cf" : "table");
        wh_json_put_string(out, u->table, strlen(u->table));
    }
    wh_buf_putc(out, ',');
    put_key(out, "pos");
    wh_buf_putc(out, '{');
    put_key(out, "logical");
    size_t n = wh_position_logical(&u->pos, pos, sizeof pos);
    if (n)
        wh_json_put_string(out, pos, n);
    else
        wh_buf_append(out, "null", 4);
    wh_buf_putc(out, ',');
    put_key(out, "physical");
    n = wh_position_physical(&u->pos, pos, sizeof pos);
    wh_json_put_string(out, pos, n);
    wh_buf_append(out, "},", 2);
    put_key(out, "ts");
    put_i64(out, u->ts);
    wh_buf_putc(out, ',');
    put_key(out, "txn");
    wh_buf_putc(out, '{');
    put_key(out, "id");
    if (u->txn.id)
        wh_json_put_string(out, u->txn.id, strlen(u->txn.id));
    else
        wh_buf_append(out, "null", 4);
    wh_buf_putc(out, ',');
    put_key(out, "index");
    put_u64(out, u->txn.index);
    wh_buf_putc(out, ',');
    put_key(out, "last");
    wh_buf_puts(out, u->txn.last ? "true" : "false");
    wh_buf_putc(out, '}');
    if (u->flags & WH_UF_RAW_VALUE)
        wh_buf_puts(out, ",\"raw\":true");
    if (u->statement) {
        wh_buf_putc(out, ',');
        put_key(out, "statement");
        wh_json_put_string(out, u->statement, strlen(u->statement));
    }
    if (u->has_before)
        put_row(out, "before", &u->before);
    if (u->has_after)
        put_row(out, "after", &u->after);
    wh_buf_append(out, "}\n", 2);
    return wh_buf_ok(out) ? WH_OK : WH_ERR_NOMEM;
}

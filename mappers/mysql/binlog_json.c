/* binlog_json.c -- MySQL binary JSON to text, and MySQL 8.0 partial JSON updates (see binlog_value.h).
 *
 * Binary JSON (MySQL's json_binary format, as documented in its sources):
 *   doc        ::= type value
 *   type       ::= 0x00 small object | 0x01 large object | 0x02 small array |
 *                  0x03 large array | 0x04 literal | 0x05 int16 | 0x06 uint16 |
 *                  0x07 int32 | 0x08 uint32 | 0x09 int64 | 0x0a uint64 |
 *                  0x0b double | 0x0c string | 0x0f opaque
 *   object     ::= count size key-entry* value-entry* key* value*
 *   array      ::= count size value-entry* value*
 *   count,size ::= uint16 (small) | uint32 (large), little-endian; size covers
 *                  the whole object or array starting at count
 *   key-entry  ::= offset (uint16|uint32) length (uint16)
 *   value-entry::= type (1 byte) offset-or-inlined-value (uint16|uint32);
 *                  literals, int16 and uint16 are inlined, and in large
 *                  containers int32 and uint32 too; offsets are relative to
 *                  the start of the container
 *   literal    ::= 0x00 null | 0x01 true | 0x02 false
 *   string     ::= length (7 bits per byte, low groups first, high bit =
 *                  more follow) utf8mb4-bytes
 *   opaque     ::= field-type (1 byte) length (as for strings) bytes
 * Text is rendered the way MySQL prints JSON, but compact (no blanks after
 * ',' and ':'): doubles as my_gcvt() writes them (shortest round-trip digits,
 * ".0" appended to integral values), DECIMAL opaque values as plain numbers,
 * DATE/TIME/DATETIME/TIMESTAMP opaque values as quoted strings with six
 * fractional digits, other opaque values as "base64:typeNN:<base64>".
 *
 * Partial updates (PARTIAL_UPDATE_ROWS_EVENT, JSON diff vector):
 *   diffs      ::= length (uint32 LE, bytes that follow) diff*
 *   diff       ::= op (1 byte: 0 REPLACE, 1 INSERT, 2 REMOVE)
 *                  path-length (packed integer) path (JSON path text)
 *                  [value-length (packed integer) value (binary JSON)]   unless REMOVE
 * They are applied, with MySQL's semantics, to a small DOM parsed from the
 * before image's text; scalars stay as their original text so integers above
 * 2^63 and decimals keep every digit. Object keys are kept in MySQL's order
 * (shorter keys first, then bytewise), which is the order binary JSON stores
 * them in, so output matches what MySQL returns for the updated document. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "core/intfmt.h"
#include "core/update_json.h"
#include "core/utf8.h"
#include "mappers/mysql/binlog_charset.h"
#include "mappers/mysql/binlog_event.h"
#include "mappers/mysql/binlog_numeric.h"
#include "mappers/mysql/binlog_value.h"
#include "mappers/mysql/binlog_value_int.h"

#define JSON_MAX_DEPTH 100   /* MySQL's JSON_DOCUMENT_MAX_DEPTH */

enum {
    JB_SMALL_OBJ = 0x00, JB_LARGE_OBJ = 0x01, JB_SMALL_ARR = 0x02, JB_LARGE_ARR = 0x03,
    JB_LITERAL = 0x04, JB_INT16 = 0x05, JB_UINT16 = 0x06, JB_INT32 = 0x07, JB_UINT32 = 0x08,
    JB_INT64 = 0x09, JB_UINT64 = 0x0a, JB_DOUBLE = 0x0b, JB_STRING = 0x0c, JB_OPAQUE = 0x0f,
};

/* ---- output: counting or writing ---------------------------------------------- */

/* Rendering runs twice: once with buf NULL to measure, then into exactly that
 * much memory (cap) plus WH_JSON_ESC_SLACK bytes the string escaper may store
 * past the text, so the arena or wh_buf is sized once. */
typedef struct jw {
    char  *buf;
    size_t len;
    size_t cap;
} jw;

static inline void jw_put(jw *w, const void *s, size_t n)
{
    if (w->buf) {
        assert(w->len + n <= w->cap);
        if (w->len + n <= w->cap)
            memcpy(w->buf + w->len, s, n);
    }
    w->len += n;
}

static inline void jw_c(jw *w, char c) { jw_put(w, &c, 1); }

static void jw_u64(jw *w, uint64_t v)
{
    char tmp[20];
    jw_put(w, tmp, (size_t)(wh_fmt_u64(tmp, v) - tmp));
}

static void jw_i64(jw *w, int64_t v)
{
    char tmp[20];
    jw_put(w, tmp, (size_t)(wh_fmt_i64(tmp, v) - tmp));
}

/* JSON string body escaping as MySQL does it: '"', '\\' and control
 * characters ("\\b" and "\\f" too); everything else (valid UTF-8) is written
 * as is. The writer may store WH_JSON_ESC_SLACK bytes past the text. */
static void jw_escaped(jw *w, const uint8_t *s, size_t len)
{
    if (!w->buf) {
        w->len += wh_json_escaped_len((const char *)s, len, WH_JSON_ESC_BF);
        return;
    }
    char *end = wh_json_escape(w->buf + w->len, (const char *)s, len, WH_JSON_ESC_BF);
    w->len = (size_t)(end - w->buf);
    assert(w->len <= w->cap);
}

static void jw_string(jw *w, const uint8_t *s, size_t len)
{
    jw_c(w, '"');
    jw_escaped(w, s, len);
    jw_c(w, '"');
}

/* "base64:typeNN:" and MySQL's base64 (a newline after every 76 characters),
 * as a JSON string. */
static void jw_opaque_base64(jw *w, unsigned field_type, const uint8_t *s, size_t len)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    jw_put(w, "\"base64:type", 12);
    jw_u64(w, field_type);
    jw_c(w, ':');
    size_t line = 0;
    for (size_t i = 0; i < len; i += 3, line += 4) {
        if (line == 76) {
            line = 0;
            jw_put(w, "\\n", 2);
        }
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        char q[4] = { b64[v >> 18], b64[(v >> 12) & 63],
                      i + 1 < len ? b64[(v >> 6) & 63] : '=', i + 2 < len ? b64[v & 63] : '=' };
        jw_put(w, q, 4);
    }
    jw_c(w, '"');
}

/* ---- doubles as MySQL prints them ----------------------------------------------- */

/* Formats d like MySQL's my_gcvt(d, MY_GCVT_ARG_DOUBLE, 34) followed by the
 * ".0" that JSON output appends to integral values: the shortest digits that
 * read back as d, in fixed notation unless the exponent is below -14 or the
 * number has more than 15 integer digits (then "1.5e-20", "1e300").
 * out must hold 40 bytes; returns the length. */
static size_t format_double(double d, char *out)
{
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    /* sci is "[-]D[.DDD]e[+-]XX": collect the digits and the exponent. */
    const char *s = sci;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    char digits[24];
    int len = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && len < 20)
            digits[len++] = *s;
    int exp10 = *s == 'e' ? atoi(s + 1) : 0;
    while (len > 1 && digits[len - 1] == '0')
        len--;
    int decpt = exp10 + 1;
    if (len == 1 && digits[0] == '0')
        decpt = 1;

    int width = 34 - (d < 0.0 ? 1 : 0);
    int exp_len = 1 + (decpt >= 101 || decpt <= -99) + (decpt >= 11 || decpt <= -9);
    bool have_space = (decpt <= 0 ? len - decpt + 2 : decpt < len ? len + 1 : decpt) <= width;
    bool force_e = decpt <= 0 && width <= 2 - decpt && width >= 3 + exp_len;
    bool use_f = (have_space || (decpt <= width &&
                                 (decpt >= -1 || (decpt == -2 && (len > 1 || !force_e))) &&
                                 !force_e)) &&
                 (!have_space || (decpt >= -15 + 1 && (decpt <= 15 || len > decpt)));
    char *o = out;
    if (neg)
        *o++ = '-';
    if (use_f) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = decpt; i < 0; i++)
                *o++ = '0';
        }
        for (int i = 1; i <= len; i++) {
            *o++ = digits[i - 1];
            if (i == decpt && i < len)
                *o++ = '.';
        }
        for (int i = len; i < decpt; i++)
            *o++ = '0';
        /* MySQL's JSON output marks integral doubles with ".0". */
        if (decpt >= len) {
            *o++ = '.';
            *o++ = '0';
        }
    } else {
        int e = decpt - 1;
        *o++ = digits[0];
        if (len > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)len - 1);
            o += len - 1;
        }
        *o++ = 'e';
        if (e < 0) {
            *o++ = '-';
            e = -e;
        }
        if (e >= 100) {
            *o++ = (char)('0' + e / 100);
            e %= 100;
            *o++ = (char)('0' + e / 10);
        } else if (e >= 10) {
            *o++ = (char)('0' + e / 10);
        }
        *o++ = (char)('0' + e % 10);
    }
    return (size_t)(o - out);
}

/* ---- binary JSON to text ------------------------------------------------------- */

typedef struct jctx {
    jw     *w;
    const uint8_t *doc;    /* start of the document, for offsets in messages */
    char   *errbuf;
    size_t  errlen;
} jctx;

static int jerr(jctx *c, int code, const uint8_t *at, const char *what)
{
    return wh_seterr(c->errbuf, c->errlen, code, "binary JSON: %s at byte %zu", what,
                     (size_t)(at - c->doc));
}

/* Variable-length length: 7 bits per byte, least significant group first. */
static int read_varlen(jctx *c, const uint8_t *p, size_t avail, uint32_t *val, size_t *n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 5; i++) {
        if (i >= avail)
            return jerr(c, WH_ERR_CORRUPT, p + i, "length runs past the end of its value");
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (v > UINT32_MAX)
                return jerr(c, WH_ERR_CORRUPT, p, "length does not fit in 32 bits");
            *val = (uint32_t)v;
            *n = i + 1;
            return WH_OK;
        }
    }
    return jerr(c, WH_ERR_CORRUPT, p, "length has more than five bytes");
}

static int j_utf8_string(jctx *c, const uint8_t *s, size_t len)
{
    size_t bad;
    if (!wh_utf8_valid(s, len, &bad))
        return jerr(c, WH_ERR_CORRUPT, s + bad, "string is not valid UTF-8");
    jw_string(c->w, s, len);
    return WH_OK;
}

static void jw_temporal(jw *w, const wh_value *v)
{
    char tmp[48];
    size_t n = wh_temporal_format(v, tmp, sizeof tmp);
    jw_c(w, '"');
    jw_put(w, tmp, n);
    jw_c(w, '"');
}

static int j_opaque(jctx *c, const uint8_t *p, size_t avail)
{
    if (avail < 1)
        return jerr(c, WH_ERR_CORRUPT, p, "opaque value has no field type");
    unsigned ft = p[0];
    uint32_t len;
    size_t n;
    int rc = read_varlen(c, p + 1, avail - 1, &len, &n);
    if (rc)
        return rc;
    const uint8_t *data = p + 1 + n;
    if (len > avail - 1 - n)
        return jerr(c, WH_ERR_CORRUPT, p, "opaque value runs past the end of its container");
    switch (ft) {
    case BT_NEWDECIMAL: {
        if (len < 2)
            return jerr(c, WH_ERR_CORRUPT, p, "DECIMAL value lacks precision and scale");
        unsigned prec = data[0], scale = data[1];
        if (prec < 1 || prec > 65 || scale > 30 || scale > prec ||
            binlog_decimal_size(prec, scale) != len - 2u)
            return jerr(c, WH_ERR_CORRUPT, p, "DECIMAL value has an invalid precision, scale "
                                              "or length");
        char tmp[BINLOG_DECIMAL_TEXT_MAX];
        size_t tl;
        if (binlog_decimal_text(data + 2, prec, scale, tmp, &tl, NULL, 0))
            return jerr(c, WH_ERR_CORRUPT, p, "DECIMAL value has a digit group out of range");
        jw_put(c->w, tmp, tl);
        return WH_OK;
    }
    case BT_DATE:
    case BT_TIME:
    case BT_DATETIME:
    case BT_TIMESTAMP: {
        if (len != 8)
            return jerr(c, WH_ERR_CORRUPT, p, "temporal value is not 8 bytes");
        int64_t packed = (int64_t)wh_le64(data);
        wh_value v;
        memset(&v, 0, sizeof v);
        bool ok;
        if (ft == BT_TIME) {
            v.type = WH_T_TIME;
            ok = binlog_unpack_time(packed, &v.n.t);
        } else {
            v.type = ft == BT_DATE ? WH_T_DATE : WH_T_DATETIME;
            ok = binlog_unpack_datetime(packed, &v.n.t);
        }
        if (!ok)
            return jerr(c, WH_ERR_CORRUPT, p, "temporal value is out of range");
        v.scale = 6;
        jw_temporal(c->w, &v);
        return WH_OK;
    }
    case BT_VAR_STRING:
        /* MySQL prints strings kept as opaque values as plain strings. */
        return j_utf8_string(c, data, len);
    default:
        jw_opaque_base64(c->w, ft, data, len);
        return WH_OK;
    }
}

static int j_value(jctx *c, unsigned type, const uint8_t *p, size_t avail, int depth);

static inline uint32_t rd_off(const uint8_t *p, bool large)
{
    return large ? wh_le32(p) : wh_le16(p);
}

static bool inlined(unsigned type, bool large)
{
    return type == JB_LITERAL || type == JB_INT16 || type == JB_UINT16 ||
           (large && (type == JB_INT32 || type == JB_UINT32));
}

static int j_inline(jctx *c, unsigned type, const uint8_t *v)
{
    switch (type) {
    case JB_LITERAL:
        switch (v[0]) {
        case 0: jw_put(c->w, "null", 4); return WH_OK;
        case 1: jw_put(c->w, "true", 4); return WH_OK;
        case 2: jw_put(c->w, "false", 5); return WH_OK;
        default: return jerr(c, WH_ERR_CORRUPT, v, "unknown literal");
        }
    case JB_INT16:  jw_i64(c->w, (int16_t)wh_le16(v)); return WH_OK;
    case JB_UINT16: jw_u64(c->w, wh_le16(v)); return WH_OK;
    case JB_INT32:  jw_i64(c->w, (int32_t)wh_le32(v)); return WH_OK;
    case JB_UINT32: jw_u64(c->w, wh_le32(v)); return WH_OK;
    default:        return jerr(c, WH_ERR_CORRUPT, v, "value type cannot be inlined");
    }
}

static int j_container(jctx *c, const uint8_t *p, size_t avail, bool large, bool obj,
                       int depth)
{
    size_t osz = large ? 4 : 2;
    if (depth >= JSON_MAX_DEPTH)
        return jerr(c, WH_ERR_CORRUPT, p, "document is nested deeper than 100 levels");
    if (avail < 2 * osz)
        return jerr(c, WH_ERR_CORRUPT, p, "container header runs past the end of its parent");
    uint32_t count = rd_off(p, large), size = rd_off(p + osz, large);
    if (size > avail)
        return jerr(c, WH_ERR_CORRUPT, p, "container size runs past the end of its parent");
    size_t key_entry = obj ? osz + 2 : 0, val_entry = 1 + osz;
    uint64_t hdr = 2 * osz + (uint64_t)count * (key_entry + val_entry);
    if (hdr > size)
        return jerr(c, WH_ERR_CORRUPT, p, "container entries run past the container's size");
    const uint8_t *keys = p + 2 * osz, *vals = keys + (size_t)count * key_entry;
    jw_c(c->w, obj ? '{' : '[');
    for (uint32_t i = 0; i < count; i++) {
        if (i)
            jw_c(c->w, ',');
        if (obj) {
            const uint8_t *ke = keys + (size_t)i * key_entry;
            uint32_t koff = rd_off(ke, large), klen = wh_le16(ke + osz);
            if (koff < hdr || (uint64_t)koff + klen > size)
                return jerr(c, WH_ERR_CORRUPT, ke, "key offset or length out of bounds");
            int rc = j_utf8_string(c, p + koff, klen);
            if (rc)
                return rc;
            jw_c(c->w, ':');
        }
        const uint8_t *ve = vals + (size_t)i * val_entry;
        unsigned t = ve[0];
        int rc;
        if (inlined(t, large)) {
            rc = j_inline(c, t, ve + 1);
        } else {
            uint32_t off = rd_off(ve + 1, large);
            if (off < hdr || off >= size)
                return jerr(c, WH_ERR_CORRUPT, ve, "value offset out of bounds");
            rc = j_value(c, t, p + off, size - off, depth + 1);
        }
        if (rc)
            return rc;
    }
    jw_c(c->w, obj ? '}' : ']');
    return WH_OK;
}

/* Renders the value of the given type at p; avail bytes may be read. depth
 * is the number of containers enclosing it. */
static int j_value(jctx *c, unsigned type, const uint8_t *p, size_t avail, int depth)
{
    static const uint8_t need[16] = {
        [JB_LITERAL] = 1, [JB_INT16] = 2, [JB_UINT16] = 2, [JB_INT32] = 4, [JB_UINT32] = 4,
        [JB_INT64] = 8, [JB_UINT64] = 8, [JB_DOUBLE] = 8,
    };
    if (type < 16 && avail < need[type])
        return jerr(c, WH_ERR_CORRUPT, p, "scalar runs past the end of its container");
    switch (type) {
    case JB_SMALL_OBJ: return j_container(c, p, avail, false, true, depth);
    case JB_LARGE_OBJ: return j_container(c, p, avail, true, true, depth);
    case JB_SMALL_ARR: return j_container(c, p, avail, false, false, depth);
    case JB_LARGE_ARR: return j_container(c, p, avail, true, false, depth);
    case JB_LITERAL:
    case JB_INT16:
    case JB_UINT16:
    case JB_INT32:
    case JB_UINT32:
        return j_inline(c, type, p);
    case JB_INT64:
        jw_i64(c->w, (int64_t)wh_le64(p));
        return WH_OK;
    case JB_UINT64:
        jw_u64(c->w, wh_le64(p));
        return WH_OK;
    case JB_DOUBLE: {
        uint64_t bits = wh_le64(p);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            return jerr(c, WH_ERR_CORRUPT, p, "double is not finite");
        char tmp[40];
        jw_put(c->w, tmp, format_double(d, tmp));
        return WH_OK;
    }
    case JB_STRING: {
        uint32_t len;
        size_t n;
        int rc = read_varlen(c, p, avail, &len, &n);
        if (rc)
            return rc;
        if (len > avail - n)
            return jerr(c, WH_ERR_CORRUPT, p, "string runs past the end of its container");
        return j_utf8_string(c, p + n, len);
    }
    case JB_OPAQUE:
        return j_opaque(c, p, avail);
    default: {
        char what[48];
        snprintf(what, sizeof what, "unknown value type 0x%02x", type);
        return jerr(c, WH_ERR_CORRUPT, p, what);
    }
    }
}

static int json_render(const uint8_t *p, size_t len, jw *w, char *errbuf, size_t errlen)
{
    if (len == 0) {
        jw_put(w, "null", 4);
        return WH_OK;
    }
    jctx c = { w, p, errbuf, errlen };
    return j_value(&c, p[0], p + 1, len - 1, 0);
}

int binlog_json_to_text(const uint8_t *p, size_t len, wh_buf *out, char *errbuf,
                        size_t errlen)
{
    if ((!p && len) || !out)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "binlog_json_to_text: NULL argument");
    jw count = { NULL, 0, 0 };
    int rc = json_render(p, len, &count, errbuf, errlen);
    if (rc)
        return rc;
    if (!wh_buf_reserve(out, count.len + WH_JSON_ESC_SLACK))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                         "out of memory for %zu bytes of JSON text", count.len);
    jw w = { out->data + out->len, 0, count.len };
    rc = json_render(p, len, &w, errbuf, errlen);
    if (rc)
        return rc;
    assert(w.len == count.len);
    out->len += w.len;
    out->data[out->len] = '\0';
    return WH_OK;
}

int binlog_json_to_arena(const uint8_t *p, size_t len, wh_arena *arena, const char **out,
                         size_t *out_len, char *errbuf, size_t errlen)
{
    jw count = { NULL, 0, 0 };
    int rc = json_render(p, len, &count, errbuf, errlen);
    if (rc)
        return rc;
    char *mem = wh_arena_alloc(arena, count.len + WH_JSON_ESC_SLACK);
    if (!mem)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                         "out of memory for %zu bytes of JSON text", count.len);
    jw w = { mem, 0, count.len };
    rc = json_render(p, len, &w, errbuf, errlen);
    if (rc)
        return rc;
    assert(w.len == count.len);
    mem[w.len] = '\0';
    *out = mem;
    *out_len = w.len;
    return WH_OK;
}

/* ---- partial updates: a small DOM over JSON text ---------------------------------- */

enum { JN_SCALAR, JN_ARRAY, JN_OBJECT };

typedef struct jnode jnode;

typedef struct jmember {
    const char *key;       /* decoded key bytes (UTF-8) */
    size_t      klen;
    jnode      *val;
} jmember;

struct jnode {
    int         kind;
    const char *text;      /* JN_SCALAR: the value's JSON text, as parsed */
    size_t      len;
    jnode     **items;     /* JN_ARRAY */
    jmember    *members;   /* JN_OBJECT, sorted by (klen, bytes), no duplicates */
    size_t      n, cap;
};

typedef struct jdom {
    wh_arena arena;
    char    *errbuf;
    size_t   errlen;
} jdom;

typedef struct jparser {
    jdom       *dom;
    const char *s;
    size_t      len, pos;
    const char *what;      /* "before image" or "diff N value", for messages */
} jparser;

static int jp_err(jparser *jp, const char *why)
{
    return wh_seterr(jp->dom->errbuf, jp->dom->errlen, WH_ERR_CORRUPT,
                     "JSON text of the %s: %s at offset %zu", jp->what, why, jp->pos);
}

static void jp_ws(jparser *jp)
{
    while (jp->pos < jp->len) {
        char ch = jp->s[jp->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        jp->pos++;
    }
}

static jnode *node_new(jdom *dom, int kind)
{
    jnode *n = wh_arena_alloc(&dom->arena, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->kind = kind;
    }
    return n;
}

/* Grows an array node's item or member storage to hold one more. */
static bool node_grow(jdom *dom, jnode *n)
{
    if (n->n < n->cap)
        return true;
    size_t cap = n->cap ? n->cap * 2 : 4;
    size_t elem = n->kind == JN_ARRAY ? sizeof(jnode *) : sizeof(jmember);
    if (cap > SIZE_MAX / elem)
        return false;
    void *mem = wh_arena_alloc(&dom->arena, cap * elem);
    if (!mem)
        return false;
    void *old = n->kind == JN_ARRAY ? (void *)n->items : (void *)n->members;
    if (n->n)
        memcpy(mem, old, n->n * elem);
    if (n->kind == JN_ARRAY)
        n->items = mem;
    else
        n->members = mem;
    n->cap = cap;
    return true;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads \uXXXX at s (6 bytes available checked by the caller). */
static int read_u4(const char *s)
{
    int v = 0;
    for (int i = 2; i < 6; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Decodes the JSON string whose opening quote is at s[*pos] (of len bytes),
 * advancing *pos past the closing quote. With out NULL only validates;
 * otherwise writes the bytes (never longer than the escaped text) to out
 * and their count to *out_len. Returns NULL on success or a reason. */
static const char *json_string_decode(const char *s, size_t len, size_t *pos, char *out,
                                      size_t *out_len)
{
    size_t i = *pos + 1, n = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"') {
            *pos = i + 1;
            if (out_len)
                *out_len = n;
            return NULL;
        }
        if (ch < 0x20)
            return "control character in a string";
        if (ch != '\\') {
            size_t run = i;
            while (i < len && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
                i++;
            size_t bad;
            if (!wh_utf8_valid((const uint8_t *)s + run, i - run, &bad))
                return "invalid UTF-8 in a string";
            if (out)
                memcpy(out + n, s + run, i - run);
            n += i - run;
            continue;
        }
        if (i + 1 >= len)
            return "unterminated escape";
        char e = s[i + 1];
        char simple = 0;
        switch (e) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': break;
        default: return "invalid escape";
        }
        if (simple) {
            if (out)
                out[n] = simple;
            n++;
            i += 2;
            continue;
        }
        if (len - i < 6)
            return "truncated \\u escape";
        int u = read_u4(s + i);
        if (u < 0)
            return "invalid \\u escape";
        uint32_t cp = (uint32_t)u;
        i += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
                return "unpaired surrogate in a \\u escape";
            int lo = read_u4(s + i);
            if (lo < 0xdc00 || lo > 0xdfff)
                return "unpaired surrogate in a \\u escape";
            cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            i += 6;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return "unpaired surrogate in a \\u escape";
        }
        char tmp[4];
        size_t k = wh_utf8_encode(tmp, cp);
        if (out)
            memcpy(out + n, tmp, k);
        n += k;
    }
    return "unterminated string";
}

static int member_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* Index of key in obj's sorted members, or where it would go (*found false). */
static size_t member_find(const jnode *obj, const char *key, size_t klen, bool *found)
{
    size_t lo = 0, hi = obj->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = member_cmp(obj->members[mid].key, obj->members[mid].klen, key, klen);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Sets key to val in obj (replacing an existing member: the last duplicate
 * wins, as in MySQL 8.0). */
static bool member_set(jdom *dom, jnode *obj, const char *key, size_t klen, jnode *val)
{
    bool found;
    size_t at = member_find(obj, key, klen, &found);
    if (found) {
        obj->members[at].val = val;
        return true;
    }
    if (!node_grow(dom, obj))
        return false;
    memmove(obj->members + at + 1, obj->members + at, (obj->n - at) * sizeof(jmember));
    obj->members[at] = (jmember){ key, klen, val };
    obj->n++;
    return true;
}

static int jp_value(jparser *jp, int depth, jnode **out);

static int jp_container(jparser *jp, int depth, bool obj, jnode **out)
{
    if (depth >= JSON_MAX_DEPTH)
        return jp_err(jp, "nested deeper than 100 levels");
    jnode *n = node_new(jp->dom, obj ? JN_OBJECT : JN_ARRAY);
    if (!n)
        return WH_ERR_NOMEM;
    jp->pos++; /* '{' or '[' */
    jp_ws(jp);
    char close = obj ? '}' : ']';
    if (jp->pos < jp->len && jp->s[jp->pos] == close) {
        jp->pos++;
        *out = n;
        return WH_OK;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        if (obj) {
            if (jp->pos >= jp->len || jp->s[jp->pos] != '"')
                return jp_err(jp, "expected a member name");
            size_t start = jp->pos, end = start;
            const char *why = json_string_decode(jp->s, jp->len, &end, NULL, NULL);
            if (why)
                return jp_err(jp, why);
            char *k = wh_arena_alloc(&jp->dom->arena, end - start + 1);
            if (!k)
                return WH_ERR_NOMEM;
            size_t p2 = start;
            json_string_decode(jp->s, jp->len, &p2, k, &klen);
            key = k;
            jp->pos = end;
            jp_ws(jp);
            if (jp->pos >= jp->len || jp->s[jp->pos] != ':')
                return jp_err(jp, "expected ':'");
            jp->pos++;
            jp_ws(jp);
        }
        jnode *v;
        int rc = jp_value(jp, depth + 1, &v);
        if (rc)
            return rc;
        if (obj) {
            if (!member_set(jp->dom, n, key, klen, v))
                return WH_ERR_NOMEM;
        } else {
            if (!node_grow(jp->dom, n))
                return WH_ERR_NOMEM;
            n->items[n->n++] = v;
        }
        jp_ws(jp);
        if (jp->pos >= jp->len)
            return jp_err(jp, "unterminated container");
        char ch = jp->s[jp->pos];
        if (ch == ',') {
            jp->pos++;
            jp_ws(jp);
            continue;
        }
        if (ch == close) {
            jp->pos++;
            *out = n;
            return WH_OK;
        }
        return jp_err(jp, "expected ',' or the end of the container");
    }
}

static int jp_number(jparser *jp)
{
    const char *s = jp->s;
    size_t i = jp->pos, len = jp->len;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return jp_err(jp, "invalid number");
    if (s[i] == '0')
        i++;
    else
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return jp_err(jp, "invalid number");
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return jp_err(jp, "invalid number");
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    jp->pos = i;
    return WH_OK;
}

static int jp_value(jparser *jp, int depth, jnode **out)
{
    jp_ws(jp);
    if (jp->pos >= jp->len)
        return jp_err(jp, "expected a value");
    char ch = jp->s[jp->pos];
    if (ch == '{' || ch == '[')
        return jp_container(jp, depth, ch == '{', out);
    size_t start = jp->pos;
    if (ch == '"') {
        const char *why = json_string_decode(jp->s, jp->len, &jp->pos, NULL, NULL);
        if (why)
            return jp_err(jp, why);
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
        int rc = jp_number(jp);
        if (rc)
            return rc;
    } else {
        static const char *const lits[3] = { "true", "false", "null" };
        size_t k;
        for (k = 0; k < 3; k++) {
            size_t l = strlen(lits[k]);
            if (jp->len - jp->pos >= l && memcmp(jp->s + jp->pos, lits[k], l) == 0) {
                jp->pos += l;
                break;
            }
        }
        if (k == 3)
            return jp_err(jp, "unexpected character");
    }
    jnode *n = node_new(jp->dom, JN_SCALAR);
    if (!n)
        return WH_ERR_NOMEM;
    n->text = jp->s + start;
    n->len = jp->pos - start;
    *out = n;
    return WH_OK;
}

/* Parses a whole JSON text (one value, optional surrounding blanks). */
static int dom_parse(jdom *dom, const char *s, size_t len, const char *what, jnode **out)
{
    jparser jp = { dom, s, len, 0, what };
    int rc = jp_value(&jp, 0, out);
    if (rc == WH_ERR_NOMEM)
        return wh_seterr(dom->errbuf, dom->errlen, WH_ERR_NOMEM,
                         "out of memory parsing the JSON text of the %s", what);
    if (rc)
        return rc;
    jp_ws(&jp);
    if (jp.pos != len)
        return jp_err(&jp, "text after the document");
    return WH_OK;
}

static void dom_render(const jnode *n, wh_buf *out)
{
    switch (n->kind) {
    case JN_SCALAR:
        wh_buf_append(out, n->text, n->len);
        return;
    case JN_ARRAY:
        wh_buf_putc(out, '[');
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                wh_buf_putc(out, ',');
            dom_render(n->items[i], out);
        }
        wh_buf_putc(out, ']');
        return;
    default:
        wh_buf_putc(out, '{');
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                wh_buf_putc(out, ',');
            jw count = { NULL, 0, 0 };
            jw_string(&count, (const uint8_t *)n->members[i].key, n->members[i].klen);
            if (wh_buf_reserve(out, count.len + WH_JSON_ESC_SLACK)) {
                jw w = { out->data + out->len, 0, count.len };
                jw_string(&w, (const uint8_t *)n->members[i].key, n->members[i].klen);
                out->len += w.len;
                out->data[out->len] = '\0';
            }
            wh_buf_putc(out, ':');
            dom_render(n->members[i].val, out);
        }
        wh_buf_putc(out, '}');
        return;
    }
}

/* ---- JSON paths (no wildcards, ranges or ellipses) ---------------------------------- */

typedef struct jleg {
    bool        member;    /* true: .key; false: [index] */
    bool        from_end;  /* [last] / [last - N] */
    const char *key;
    size_t      klen;
    uint64_t    index;
} jleg;

typedef struct jpath {
    jleg  *legs;
    size_t n;
} jpath;

/* Parses MySQL's path text: '$' then legs `.name`, `."quoted name"`,
 * `[N]`, `[last]`, `[last-N]`. Wildcards, `**` and ranges are refused as
 * WH_ERR_UNSUPPORTED (MySQL never logs them in a diff). */
static int path_parse(jdom *dom, const char *s, size_t len, unsigned diff_no, jpath *path)
{
    size_t i = 0, cap = 0;
    const char *why = NULL;
    int code = WH_ERR_CORRUPT;
    path->legs = NULL;
    path->n = 0;
#define PWS() while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++
    PWS();
    if (i >= len || s[i] != '$') {
        why = "does not start with '$'";
        goto bad;
    }
    i++;
    for (;;) {
        PWS();
        if (i >= len)
            break;
        if (path->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            jleg *nl = wh_arena_alloc(&dom->arena, ncap * sizeof *nl);
            if (!nl)
                return wh_seterr(dom->errbuf, dom->errlen, WH_ERR_NOMEM, "out of memory");
            if (path->n)
                memcpy(nl, path->legs, path->n * sizeof *nl);
            path->legs = nl;
            cap = ncap;
        }
        jleg *leg = &path->legs[path->n];
        memset(leg, 0, sizeof *leg);
        if (s[i] == '.') {
            i++;
            PWS();
            if (i >= len) {
                why = "ends after '.'";
                goto bad;
            }
            leg->member = true;
            if (s[i] == '*') {
                why = "has a member wildcard '.*'";
                code = WH_ERR_UNSUPPORTED;
                goto bad;
            }
            if (s[i] == '"') {
                size_t start = i, end = i;
                why = json_string_decode(s, len, &end, NULL, NULL);
                if (why)
                    goto bad;
                char *k = wh_arena_alloc(&dom->arena, end - start + 1);
                if (!k)
                    return wh_seterr(dom->errbuf, dom->errlen, WH_ERR_NOMEM, "out of memory");
                size_t p2 = start;
                json_string_decode(s, len, &p2, k, &leg->klen);
                leg->key = k;
                i = end;
            } else {
                size_t start = i;
                while (i < len && s[i] != '.' && s[i] != '[' && s[i] != ' ' && s[i] != '\t' &&
                       s[i] != '\n' && s[i] != '\r' && s[i] != '*' && s[i] != '"' && s[i] != ']')
                    i++;
                if (i == start) {
                    why = "has an empty member name";
                    goto bad;
                }
                size_t bad;
                if (!wh_utf8_valid((const uint8_t *)s + start, i - start, &bad)) {
                    why = "has a member name that is not valid UTF-8";
                    goto bad;
                }
                leg->key = s + start;
                leg->klen = i - start;
            }
        } else if (s[i] == '[') {
            i++;
            PWS();
            if (i < len && s[i] == '*') {
                why = "has an array wildcard '[*]'";
                code = WH_ERR_UNSUPPORTED;
                goto bad;
            }
            if (len - i >= 4 && memcmp(s + i, "last", 4) == 0) {
                leg->from_end = true;
                i += 4;
                PWS();
                if (i < len && s[i] == '-') {
                    i++;
                    PWS();
                } else {
                    goto close;
                }
            }
            if (i >= len || s[i] < '0' || s[i] > '9') {
                why = "has an array index that is not a number";
                goto bad;
            }
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (leg->index > (UINT32_MAX - 9) / 10) {
                    why = "has an array index that is too large";
                    goto bad;
                }
                leg->index = leg->index * 10 + (uint64_t)(s[i] - '0');
                i++;
            }
        close:
            PWS();
            if (len - i >= 2 && memcmp(s + i, "to", 2) == 0) {
                why = "has an array range";
                code = WH_ERR_UNSUPPORTED;
                goto bad;
            }
            if (i >= len || s[i] != ']') {
                why = "has an array index without ']'";
                goto bad;
            }
            i++;
        } else if (s[i] == '*') {
            why = "has a '**' wildcard";
            code = WH_ERR_UNSUPPORTED;
            goto bad;
        } else {
            why = "has an unexpected character";
            goto bad;
        }
        path->n++;
    }
#undef PWS
    return WH_OK;
bad:
    return wh_seterr(dom->errbuf, dom->errlen, code,
                     "partial JSON update: diff %u: path '%.*s' %s (at offset %zu)", diff_no,
                     (int)(len > 200 ? 200 : len), s, why, i);
}

/* MySQL's Json_array_index: position and whether it is inside the array. */
static size_t array_pos(const jleg *leg, size_t size, bool *within)
{
    *within = leg->index < size;
    if (leg->from_end)
        return leg->index < size ? size - (size_t)leg->index - 1 : 0;
    return leg->index < size ? (size_t)leg->index : size;
}

/* Follows legs [0, n) from root; NULL if the path does not exist. */
static jnode *seek(jnode *root, const jpath *path, size_t n)
{
    jnode *cur = root;
    for (size_t k = 0; k < n && cur; k++) {
        const jleg *leg = &path->legs[k];
        if (cur->kind == JN_ARRAY && !leg->member) {
            bool within;
            size_t at = array_pos(leg, cur->n, &within);
            cur = within ? cur->items[at] : NULL;
        } else if (cur->kind == JN_OBJECT && leg->member) {
            bool found;
            size_t at = member_find(cur, leg->key, leg->klen, &found);
            cur = found ? cur->members[at].val : NULL;
        } else {
            cur = NULL;
        }
    }
    return cur;
}

static const char *const op_names[3] = { "REPLACE", "INSERT", "REMOVE" };

int binlog_json_apply_diff(const char *before, size_t before_len,
                           const uint8_t *diff, size_t avail, size_t *used,
                           wh_buf *out, char *errbuf, size_t errlen)
{
    if ((!before && before_len) || (!diff && avail) || !used || !out)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "binlog_json_apply_diff: NULL argument");
    jdom dom = { WH_ARENA_INIT, errbuf, errlen };
    wh_buf tmp = WH_BUF_INIT;
    jnode *root = NULL;
    int rc;

    if (avail < 4) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_TRUNCATED,
                       "partial JSON update: the diff vector's 4-byte length is cut off "
                       "(%zu bytes remain)", avail);
        goto done;
    }
    uint32_t total = wh_le32(diff);
    if (total > avail - 4) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_TRUNCATED,
                       "partial JSON update: the diff vector of %u bytes runs past the %zu "
                       "bytes that remain", total, avail - 4);
        goto done;
    }
    rc = dom_parse(&dom, before, before_len, "before image", &root);
    if (rc)
        goto done;

    const uint8_t *p = diff + 4, *end = diff + 4 + total;
    for (unsigned no = 1; p < end; no++) {
        size_t off = (size_t)(p - diff);
        unsigned op = p[0];
        if (op > 2) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                           "partial JSON update: diff %u at byte %zu has unknown operation %u",
                           no, off, op);
            goto done;
        }
        p++;
        uint64_t plen, vlen = 0;
        size_t n;
        if (!(n = binlog_packed_int(p, (size_t)(end - p), &plen)) ||
            plen > (uint64_t)(end - p - n)) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                           "partial JSON update: diff %u (%s) at byte %zu: path length runs "
                           "past the diff vector", no, op_names[op], off);
            goto done;
        }
        p += n;
        const char *ptext = (const char *)p;
        p += plen;
        jpath path;
        if ((rc = path_parse(&dom, ptext, (size_t)plen, no, &path)))
            goto done;
        jnode *val = NULL;
        if (op != 2) {
            if (!(n = binlog_packed_int(p, (size_t)(end - p), &vlen)) ||
                vlen > (uint64_t)(end - p - n)) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                               "partial JSON update: diff %u (%s %.*s): value length runs "
                               "past the diff vector", no, op_names[op], (int)plen, ptext);
                goto done;
            }
            p += n;
            if (vlen == 0) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                               "partial JSON update: diff %u (%s %.*s): empty value", no,
                               op_names[op], (int)plen, ptext);
                goto done;
            }
            wh_buf_reset(&tmp);
            if ((rc = binlog_json_to_text(p, (size_t)vlen, &tmp, errbuf, errlen))) {
                wh_preferr(errbuf, errlen, rc, "partial JSON update: diff %u (%s %.*s) value",
                           no, op_names[op], (int)plen, ptext);
                goto done;
            }
            p += vlen;
            char *copy = wh_arena_strndup(&dom.arena, tmp.data, tmp.len);
            if (!copy) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                goto done;
            }
            if ((rc = dom_parse(&dom, copy, tmp.len, "diff value", &val)))
                goto done;
        }
        if (path.n == 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                           "partial JSON update: diff %u (%s $) targets the whole document, "
                           "which MySQL never logs as a diff", no, op_names[op]);
            goto done;
        }
        jnode *parent = seek(root, &path, path.n - 1);
        const jleg *last = &path.legs[path.n - 1];
        bool ok = false;
        if (parent && parent->kind == JN_OBJECT && last->member) {
            bool found;
            size_t at = member_find(parent, last->key, last->klen, &found);
            if (op == 0 && found) {
                parent->members[at].val = val;
                ok = true;
            } else if (op == 1 && !found) {
                if (!member_set(&dom, parent, last->key, last->klen, val)) {
                    rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                    goto done;
                }
                ok = true;
            } else if (op == 2 && found) {
                memmove(parent->members + at, parent->members + at + 1,
                        (parent->n - at - 1) * sizeof(jmember));
                parent->n--;
                ok = true;
            }
        } else if (parent && parent->kind == JN_ARRAY && !last->member) {
            bool within;
            size_t at = array_pos(last, parent->n, &within);
            if (op == 0 && within) {
                parent->items[at] = val;
                ok = true;
            } else if (op == 1) {
                if (!node_grow(&dom, parent)) {
                    rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                    goto done;
                }
                memmove(parent->items + at + 1, parent->items + at,
                        (parent->n - at) * sizeof(jnode *));
                parent->items[at] = val;
                parent->n++;
                ok = true;
            } else if (op == 2 && within) {
                memmove(parent->items + at, parent->items + at + 1,
                        (parent->n - at - 1) * sizeof(jnode *));
                parent->n--;
                ok = true;
            }
        }
        if (!ok) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                           "partial JSON update: diff %u (%s %.*s) does not apply to the "
                           "before image: the path %s", no, op_names[op], (int)plen, ptext,
                           op == 1 ? "has no parent there, or the member exists"
                                   : "does not exist");
            goto done;
        }
    }
    *used = 4 + (size_t)total;
    dom_render(root, out);
    if (!wh_buf_ok(out))
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory rendering JSON");
done:
    wh_buf_free(&tmp);
    wh_arena_free(&dom.arena);
    return rc;
}

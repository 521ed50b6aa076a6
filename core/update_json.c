/* update_json.c -- rendering updates as JSON lines (see update_json.h), and the
 * text form of temporal values (wh_temporal_format, wormhole/update.h).
 *
 * The writer works on a raw output pointer: each step makes sure the buffer
 * has room for what it may write (need()), then stores without further
 * checks. Strings are scanned 16 bytes at a time (SSE2) or 8 (portable SWAR)
 * for the bytes that need work: controls, '"', '\\' and non-ASCII (checked
 * as UTF-8). Integers, positions and temporal values are formatted by hand;
 * the text is exactly what the snprintf-based forms produce. Only floats go
 * through snprintf (shortest round-trip text). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SSE2__) && !defined(WH_JSON_PORTABLE)
#include <emmintrin.h>
#define JSON_SSE2 1
#endif

#include "core/intfmt.h"
#include "core/update_json.h"
#include "core/utf8.h"
#include "wormhole/error.h"
#include "wormhole/json.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


/* Escapes of the control characters, padded to 8 bytes so that one fixed
 * 8-byte copy writes any of them: "\\n", "\\r", "\\t" (2 bytes), "\\u00XX" (6);
 * the second table also has "\\b" and "\\f" (WH_JSON_ESC_BF). An entry's
 * length is 6 if its second byte is 'u', else 2. */
#define HEX(d) ((d) < 10 ? '0' + (d) : 'a' + (d) - 10)
#define U00(x) { '\\', 'u', '0', '0', HEX((x) >> 4), HEX((x) & 15), 0, 0 }
#define CTL_TABLE(bs, ff)                                                                     \
    {                                                                                         \
        U00(0x00), U00(0x01), U00(0x02), U00(0x03), U00(0x04), U00(0x05), U00(0x06),          \
        U00(0x07), bs, { '\\', 't' }, { '\\', 'n' }, U00(0x0b), ff, { '\\', 'r' }, U00(0x0e),  \
        U00(0x0f), U00(0x10), U00(0x11), U00(0x12), U00(0x13), U00(0x14), U00(0x15),          \
        U00(0x16), U00(0x17), U00(0x18), U00(0x19), U00(0x1a), U00(0x1b), U00(0x1c),          \
        U00(0x1d), U00(0x1e), U00(0x1f),                                                      \
    }
#define ESC_B { '\\', 'b' }
#define ESC_F { '\\', 'f' }
static const char esc_ctl[2][32][8] = {
    CTL_TABLE(U00(0x08), U00(0x0c)),
    CTL_TABLE(ESC_B, ESC_F),
};
#undef ESC_F
#undef ESC_B
#undef CTL_TABLE
#undef U00
#undef HEX

/* 1 for the bytes the scan must stop at: < 0x20, '"', '\\', >= 0x80. */
#define ONES16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char special[256] = {
    ONES16, ONES16, ['"'] = 1, ['\\'] = 1,
    [0x80] = ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16,
};
#undef ONES16

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* ---- room in the output -------------------------------------------------- */

/* Grows out so that n bytes (and a NUL) fit at p; returns the new p, or NULL
 * when out cannot grow (out->oom is then set). */
static __attribute__((noinline)) char *grow(wh_buf *out, char *p, size_t n)
{
    out->len = (size_t)(p - out->data);
    if (!wh_buf_reserve_slow(out, n))
        return NULL;
    return out->data + out->len;
}

/* p is the write position inside out->data (which is not NULL). Returns p,
 * or a new p after growing, with room for n bytes plus a NUL; NULL on OOM. */
static inline char *need(wh_buf *out, char *p, size_t n)
{
    if ((size_t)(out->data + out->cap - p) > n)
        return p;
    return grow(out, p, n);
}

/* Opens a write at the end of out with room for n bytes; NULL on OOM. */
static inline char *begin(wh_buf *out, size_t n)
{
    if (!wh_buf_reserve(out, n))
        return NULL;
    return out->data + out->len;
}

/* Closes a write begun at start: p is the end, or NULL after an OOM, in
 * which case the partial text is dropped. */
static inline void finish(wh_buf *out, char *p, size_t start)
{
    if (p) {
        out->len = (size_t)(p - out->data);
        *p = '\0';
    } else {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
}

/* ---- integers ------------------------------------------------------------ */

/* Writes v as printf's "%0<width>u" would (width 2 or 4). */
static inline char *fmt_pad(char *p, unsigned v, unsigned width)
{
    if (width == 4 && v < 10000) {
        memcpy(p, wh_digits2 + 2 * (v / 100), 2);
        memcpy(p + 2, wh_digits2 + 2 * (v % 100), 2);
        return p + 4;
    }
    if (width == 2 && v < 100) {
        memcpy(p, wh_digits2 + 2 * v, 2);
        return p + 2;
    }
    return wh_fmt_u64(p, v);
}

/* ---- strings ------------------------------------------------------------- */

/* Nonzero if any of the 8 bytes in x is < 0x20, '"', '\\' or >= 0x80. */
static inline uint64_t swar_special(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x) &
           0x8080808080808080ull;
}

/* If the r bytes at s (0 < r < 8) need no escaping, copies them to p and
 * returns p + r; else NULL. Overlapping loads check them whole, without a
 * loop whose exit depends on r. */
static inline char *short_clean(char *p, const unsigned char *s, size_t r)
{
    if (r >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + r - 4, 4);
        if (swar_special((uint64_t)a << 32 | b))
            return NULL;
        memcpy(p, &a, 4);
        memcpy(p + r - 4, &b, 4);
    } else {
        uint64_t w = (uint64_t)s[0] | (uint64_t)s[r / 2] << 8 | (uint64_t)s[r - 1] << 16 |
                     0x2020202020000000ull;          /* other bytes: clean spaces */
        if (swar_special(w))
            return NULL;
        p[0] = (char)s[0];
        p[r / 2] = (char)s[r / 2];
        p[r - 1] = (char)s[r - 1];
    }
    return p + r;
}

#ifdef JSON_SSE2
/* Bit k set if byte k of v is < 0x20, '"', '\\' or >= 0x80 (a signed
 * compare with 0x20 catches both the controls and the bytes >= 0x80). */
static inline unsigned sse_special(__m128i v)
{
    const __m128i c20 = _mm_set1_epi8(0x20), cq = _mm_set1_epi8('"'),
                  cb = _mm_set1_epi8('\\');
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, c20),
        _mm_or_si128(_mm_cmpeq_epi8(v, cq), _mm_cmpeq_epi8(v, cb))));
}
#endif

/* Strings up to this length get room for their worst case (6 output bytes
 * per input byte) up front, so that escaping them checks no room. */
enum { ESC_ROOMY_MAX = 4096 };

/* Writes the escaped body of s (no quotes) at p. With out, p is inside
 * out->data with room for len + 3 bytes, and the writer grows out as it
 * needs; without (wh_json_escape), p has room for the whole escaped text
 * plus WH_JSON_ESC_SLACK. flags: WH_JSON_ESC_*. Returns the end, or NULL on
 * OOM. */
static char *put_esc_any(wh_buf *out, char *p, const unsigned char *s, size_t len,
                         unsigned flags)
{
    const char (*ctl)[8] = esc_ctl[(flags & WH_JSON_ESC_BF) != 0];
    bool roomy = !out || len <= ESC_ROOMY_MAX;
    if (out && roomy && !(p = need(out, p, 6 * len + 3)))
        return NULL;
    size_t i = 0;
    for (;;) {
        /* Copy clean bytes; stop at a special byte or the end. Every input
         * byte yields at least one output byte, so these stores stay within
         * the text. */
#ifdef JSON_SSE2
        while (len - i >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            _mm_storeu_si128((__m128i *)(void *)p, v);
            unsigned mask = sse_special(v);
            if (mask) {
                unsigned k = (unsigned)__builtin_ctz(mask);
                i += k;
                p += k;
                goto special_byte;
            }
            i += 16;
            p += 16;
        }
        if (len - i >= 8) {
            __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)(s + i));
            _mm_storel_epi64((__m128i *)(void *)p, v);
            unsigned mask = sse_special(v) & 0xff;
            if (mask) {
                unsigned k = (unsigned)__builtin_ctz(mask);
                i += k;
                p += k;
                goto special_byte;
            }
            i += 8;
            p += 8;
        }
#else
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (swar_special(w))
                break;                      /* found below, byte by byte */
            memcpy(p, &w, 8);
            i += 8;
            p += 8;
        }
#endif
        /* Under 8 bytes left (or the portable loop stopped at a special
         * byte): take them at once if clean, else byte by byte. */
        size_t r = len - i;
        if (r == 0)
            return p;
        if (r < 8) {
            char *e = short_clean(p, s + i, r);
            if (e)
                return e;
        }
        while (i < len && !special[s[i]])
            *p++ = (char)s[i++];
        if (i == len)
            return p;
#ifdef JSON_SSE2
    special_byte:
#endif
        /* A run of bytes that need work; each may take 8 bytes of room
         * (escapes are stored 8 at a time: up to 6 bytes past their end,
         * the slack), plus the rest and a quote. */
        do {
            if (!roomy && !(p = need(out, p, len - i + 8)))
                return NULL;
            unsigned c = s[i];
            if (c >= 0x80) {
                size_t n;
                /* Common case first: a 3-byte sequence (most of CJK) that is
                 * not in the E0 (overlong) or ED (surrogate) rows. */
                if (len - i >= 4 && (c & 0xf0) == 0xe0 && c != 0xe0 && c != 0xed &&
                    (s[i + 1] & 0xc0) == 0x80 && (s[i + 2] & 0xc0) == 0x80)
                    n = 3;
                else
                    n = wh_utf8_seq_len(s + i, len - i);
                if (n == 0) {
                    p = LIT(p, "\xef\xbf\xbd");            /* invalid UTF-8: U+FFFD */
                    i++;
                } else {
                    if (len - i >= 4)
                        memcpy(p, s + i, 4);                /* fixed size: no call */
                    else
                        memcpy(p, s + i, n);
                    p += n;
                    i += n;
                }
            } else if (c < 0x20) {
                memcpy(p, ctl[c], 8);
                p += ctl[c][1] == 'u' ? 6 : 2;
                i++;
            } else if (c == '"' || c == '\\') {
                p[0] = '\\';
                p[1] = (char)c;
                p += 2;
                i++;
            } else {
                break;                                      /* clean: back to the scan */
            }
        } while (i < len);
        if (i == len)
            return p;
    }
}

/* put_esc_any with the common short clean strings (names, keys: under 8
 * bytes) done inline. Same contract. */
static inline char *put_esc(wh_buf *out, char *p, const unsigned char *s, size_t len,
                            unsigned flags)
{
    if (len - 1 < 7) {
        char *e = short_clean(p, s, len);
        if (e)
            return e;
    }
    return put_esc_any(out, p, s, len, flags);
}

/* Writes s as a quoted JSON string at p. Returns the end, or NULL on OOM. */
static inline char *put_str(wh_buf *out, char *p, const char *s, size_t len)
{
    p = need(out, p, len + 8);
    if (!p)
        return NULL;
    *p++ = '"';
    p = put_esc(out, p, (const unsigned char *)s, len, 0);
    if (p)
        *p++ = '"';
    return p;
}

void wh_json_put_string(wh_buf *out, const char *str, size_t len)
{
    size_t start = out->len;
    char *p = begin(out, len + 8);
    if (p)
        p = put_str(out, p, str, len);
    finish(out, p, start);
}

void wh_json_put_escaped(wh_buf *out, const char *str, size_t len, unsigned flags)
{
    size_t start = out->len;
    char *p = begin(out, len + 8);
    if (p)
        p = put_esc(out, p, (const unsigned char *)str, len, flags);
    finish(out, p, start);
}

char *wh_json_escape(char *dst, const char *str, size_t len, unsigned flags)
{
    if (len == 0)
        return dst;
    char *end = put_esc(NULL, dst, (const unsigned char *)str, len, flags);
    assert(end);                            /* without a wh_buf nothing can fail */
    return end;
}

size_t wh_json_escaped_len(const char *str, size_t len, unsigned flags)
{
    const unsigned char *s = (const unsigned char *)str;
    const char (*ctl)[8] = esc_ctl[(flags & WH_JSON_ESC_BF) != 0];
    size_t n = len, i = 0;
    for (;;) {
#ifdef JSON_SSE2
        while (len - i >= 16) {
            unsigned mask = sse_special(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
            if (mask) {
                i += (unsigned)__builtin_ctz(mask);
                break;
            }
            i += 16;
        }
#endif
        while (i < len && !special[s[i]])
            i++;
        if (i == len)
            return n;
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t k = wh_utf8_seq_len(s + i, len - i);
            if (k == 0) {
                n += 2;                     /* the byte becomes U+FFFD, 3 bytes */
                k = 1;
            }
            i += k;
        } else {
            n += c < 0x20 ? (ctl[c][1] == 'u' ? 5 : 1) : 1;
            i++;
        }
    }
}

/* ---- values -------------------------------------------------------------- */

static char *put_base64(wh_buf *out, char *p, const unsigned char *s, size_t len)
{
    p = need(out, p, (len + 2) / 3 * 4 + 2);
    if (!p)
        return NULL;
    *p++ = '"';
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        p[0] = b64chars[v >> 18];
        p[1] = b64chars[(v >> 12) & 63];
        p[2] = b64chars[(v >> 6) & 63];
        p[3] = b64chars[v & 63];
        p += 4;
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        p[0] = b64chars[v >> 18];
        p[1] = b64chars[(v >> 12) & 63];
        p[2] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        p[3] = '=';
        p += 4;
    }
    *p++ = '"';
    return p;
}

/* Shortest text that reads back as the same float (or double). */
static char *put_float(wh_buf *out, char *p, double d, bool float32)
{
    char tmp[40];
    p = need(out, p, sizeof tmp);
    if (!p)
        return NULL;
    if (!isfinite(d))
        return LIT(p, "null");
    /* An integral value below 10^6 (float) or 10^15 (double) has at most the
     * first tried precision's digits: "%.6g" / "%.15g" print it as a plain
     * integer, which reads back exactly. */
    double mag = fabs(d);
    if (mag < (float32 ? 1e6 : 1e15) && mag == (double)(uint64_t)mag) {
        if (signbit(d))
            *p++ = '-';
        return wh_fmt_u64(p, (uint64_t)mag);
    }
    int lo = float32 ? 6 : 15, hi = float32 ? 9 : 17;
    for (int prec = lo; prec <= hi; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        double back = strtod(tmp, NULL);
        if (float32 ? (float)back == (float)d : back == d)
            break;
    }
    size_t n = strlen(tmp);
    memcpy(p, tmp, n);
    return p + n;
}

/* ---- temporal text ------------------------------------------------------- */

/* Writes the text form of temporal value v at q ("2024-01-02 03:04:05.120",
 * "-838:59:59", "2024-01-02"; fields out of their ranges printed in full, as
 * "%02u" would) and returns the end, at most 34 bytes on. The fraction is
 * written as wh_temporal_format writes it into a buffer of buflen bytes:
 * only if it fits there whole. */
static inline char *temporal_text(char *q, const wh_value *v, size_t buflen)
{
    const wh_temporal *t = &v->n.t;
    char *start = q;
    if (v->type != WH_T_TIME) {
        q = fmt_pad(q, t->year, 4);
        *q++ = '-';
        q = fmt_pad(q, t->month, 2);
        *q++ = '-';
        q = fmt_pad(q, t->day, 2);
        if (v->type == WH_T_DATE)
            return q;
        *q++ = ' ';
    } else if (t->negative) {
        *q++ = '-';
    }
    q = fmt_pad(q, t->hour, 2);
    *q++ = ':';
    q = fmt_pad(q, t->minute, 2);
    *q++ = ':';
    q = fmt_pad(q, t->second, 2);
    size_t n = (size_t)(q - start);
    unsigned scale = v->scale;
    if (scale != 0 && buflen > n && buflen - n >= scale + 2) {
        char digits[8];
        uint32_t usec = t->usec % 1000000u;
        memcpy(digits, wh_digits2 + 2 * (usec / 10000), 2);
        memcpy(digits + 2, wh_digits2 + 2 * (usec / 100 % 100), 2);
        memcpy(digits + 4, wh_digits2 + 2 * (usec % 100), 2);
        unsigned k = scale > 6 ? 6 : scale;
        *q++ = '.';
        memcpy(q, digits, k);
        q += k;
    }
    return q;
}

static inline bool is_temporal(int type)
{
    return type == WH_T_DATE || type == WH_T_TIME || type == WH_T_DATETIME ||
           type == WH_T_TIMESTAMP;
}

size_t wh_temporal_format(const wh_value *v, char *buf, size_t buflen)
{
    if (buflen == 0)
        return 0;
    if (!is_temporal(v->type)) {
        buf[0] = '\0';
        return 0;
    }
    char tmp[48];
    size_t n = (size_t)(temporal_text(tmp, v, buflen) - tmp);
    assert(n < sizeof tmp);
    if (n >= buflen)
        n = buflen - 1;                     /* cut, as snprintf would */
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

/* A temporal value as wh_temporal_format writes it into a 48-byte buffer,
 * quoted. */
static char *put_temporal(wh_buf *out, char *p, const wh_value *v)
{
    enum { TEMPORAL_BUF = 48 };   /* the buffer the text form has always been cut at */
    p = need(out, p, TEMPORAL_BUF + 2);
    if (!p)
        return NULL;
    *p = '"';
    char *q = temporal_text(p + 1, v, TEMPORAL_BUF);
    *q++ = '"';
    return q;
}

/* Writes v's JSON form at p (nothing for ABSENT). Returns the end, or NULL
 * on OOM. */
static char *put_value(wh_buf *out, char *p, const wh_value *v)
{
    switch ((wh_type)v->type) {
    case WH_T_ABSENT:
        return p;
    case WH_T_NULL:
        p = need(out, p, 4);
        return p ? LIT(p, "null") : NULL;
    case WH_T_INT:
        p = need(out, p, 21);
        return p ? wh_fmt_i64(p, v->n.i) : NULL;
    case WH_T_UINT:
    case WH_T_YEAR:
        p = need(out, p, 20);
        return p ? wh_fmt_u64(p, v->n.u) : NULL;
    case WH_T_FLOAT:
        return put_float(out, p, v->n.d, v->flags & WH_VF_FLOAT32);
    case WH_T_DECIMAL:
    case WH_T_STRING:
        return put_str(out, p, v->str, v->len);
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            return put_str(out, p, v->str, v->len);
        p = need(out, p, 20);
        return p ? wh_fmt_u64(p, v->n.u) : NULL;
    case WH_T_BYTES:
        return put_base64(out, p, (const unsigned char *)v->str, v->len);
    case WH_T_JSON:
        if (!v->len) {
            p = need(out, p, 4);
            return p ? LIT(p, "null") : NULL;
        }
        p = need(out, p, v->len);
        if (!p)
            return NULL;
        memcpy(p, v->str, v->len);
        return p + v->len;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        return put_temporal(out, p, v);
    case WH_T__COUNT:
        break;
    }
    p = need(out, p, 4);
    return p ? LIT(p, "null") : NULL;
}

void wh_json_put_value(wh_buf *out, const wh_value *v)
{
    if (v->type == WH_T_ABSENT)
        return;
    size_t start = out->len;
    char *p = begin(out, 64);
    if (p)
        p = put_value(out, p, v);
    finish(out, p, start);
}

/* ---- positions ----------------------------------------------------------- */

/* The view formatters wh_position_physical/logical are in core/position.c. */

/* The position texts are limited to the 511 bytes of the buffer the
 * renderer has always formatted them in; longer ones (file or GTID names of
 * hundreds of bytes) are cut there, as before, through the slow path. */
enum { POS_TEXT_MAX = 511 };

/* ---- the update ---------------------------------------------------------- */

/* Writes the escaped body of the NUL-terminated str at p and sets *len to
 * its length. Returns the end, or NULL on OOM. */
static inline char *put_cesc(wh_buf *out, char *p, const char *str, size_t *len)
{
    size_t n = strlen(str);
    *len = n;
    p = need(out, p, n + 8);
    return p ? put_esc(out, p, (const unsigned char *)str, n, 0) : NULL;
}

/* Writes an optional NUL-terminated string: quoted, or null. */
static inline char *put_cstr_or_null(wh_buf *out, char *p, const char *s)
{
    size_t len;
    if (!s) {
        p = need(out, p, 4);
        return p ? LIT(p, "null") : NULL;
    }
    p = need(out, p, 1);
    if (!p)
        return NULL;
    *p++ = '"';
    if (!(p = put_cesc(out, p, s, &len)) || !(p = need(out, p, 1)))
        return NULL;
    *p++ = '"';
    return p;
}

static char *put_pos(wh_buf *out, char *p, const wh_position *pos)
{
    char tmp[POS_TEXT_MAX + 1];
    size_t at, n;
    p = need(out, p, 64);
    if (!p)
        return NULL;
    p = LIT(p, ",\"pos\":{\"logical\":");
    if (!pos->logical) {
        p = LIT(p, "null");
    } else {
        at = (size_t)(p - out->data);
        *p++ = '"';
        if (!(p = put_cesc(out, p, pos->logical, &n)) || !(p = need(out, p, 32)))
            return NULL;
        if (n + 1 + wh_u64_digits(pos->index) <= POS_TEXT_MAX) {
            *p++ = '/';
            p = wh_fmt_u64(p, pos->index);
            *p++ = '"';
        } else {                            /* cut at the old buffer's size */
            p = put_str(out, out->data + at, tmp, wh_position_logical(pos, tmp, sizeof tmp));
            if (!p)
                return NULL;
        }
    }
    p = need(out, p, 64);
    if (!p)
        return NULL;
    p = LIT(p, ",\"physical\":");
    at = (size_t)(p - out->data);
    *p++ = '"';
    n = 0;
    if (pos->log_name) {
        if (!(p = put_cesc(out, p, pos->log_name, &n)))
            return NULL;
        n++;
    }
    if (!(p = need(out, p, 64)))
        return NULL;
    if (n + wh_u64_digits(pos->offset) + 1 + wh_u64_digits(pos->index) <= POS_TEXT_MAX) {
        if (pos->log_name)
            *p++ = ':';
        p = wh_fmt_u64(p, pos->offset);
        *p++ = '/';
        p = wh_fmt_u64(p, pos->index);
        *p++ = '"';
    } else {                                /* cut at the old buffer's size */
        p = put_str(out, out->data + at, tmp, wh_position_physical(pos, tmp, sizeof tmp));
        if (!p || !(p = need(out, p, 2)))
            return NULL;
    }
    *p++ = '}';
    return p;
}

/* Writes ,"name":{...} for a row image. */
static char *put_row(wh_buf *out, char *p, const char *name, size_t name_len,
                     const wh_row *row)
{
    p = need(out, p, name_len + 8);
    if (!p)
        return NULL;
    memcpy(p, name, name_len);
    p += name_len;
    bool first = true;
    for (uint32_t k = 0; k < row->count; k++) {
        const wh_value *v = &row->values[k];
        if (v->type == WH_T_ABSENT)
            continue;
        p = need(out, p, 2);
        if (!p)
            return NULL;
        if (!first)
            *p++ = ',';
        first = false;
        *p++ = '"';
        size_t kl;
        p = put_cesc(out, p, row->names[k] ? row->names[k] : "", &kl);
        if (!p || !(p = need(out, p, 32)))
            return NULL;
        p[0] = '"';
        p[1] = ':';
        p += 2;
        /* The common scalar types inline; room for 21 bytes is there. */
        if (v->type == WH_T_INT)
            p = wh_fmt_i64(p, v->n.i);
        else if (v->type == WH_T_UINT)
            p = wh_fmt_u64(p, v->n.u);
        else if (!(p = put_value(out, p, v)))
            return NULL;
    }
    p = need(out, p, 2);
    if (p)
        *p++ = '}';
    return p;
}

int wh_update_to_json(const wh_update *u, wh_buf *out)
{
    bool kv = u->op >= WH_OP_PUT && u->op <= WH_OP_MERGE;
    size_t start = out->len;
    char *p = begin(out, 512);
    if (!p)
        goto nomem;
    p = LIT(p, "{\"shard\":");
    if (!(p = put_cstr_or_null(out, p, u->shard)))
        goto nomem;
    const char *op = wh_op_name(u->op);
    size_t oplen = strlen(op);
    if (!(p = need(out, p, oplen + 16)))
        goto nomem;
    p = LIT(p, ",\"op\":\"");
    memcpy(p, op, oplen);           /* static names that need no escaping */
    p += oplen;
    *p++ = '"';
    if (!kv && u->db) {
        if (!(p = need(out, p, 8)))
            goto nomem;
        p = LIT(p, ",\"db\":");
        if (!(p = put_cstr_or_null(out, p, u->db)))
            goto nomem;
    }
    if (u->table) {
        if (!(p = need(out, p, 16)))
            goto nomem;
        p = kv ? LIT(p, ",\"cf\":") : LIT(p, ",\"table\":");
        if (!(p = put_cstr_or_null(out, p, u->table)))
            goto nomem;
    }
    if (!(p = put_pos(out, p, &u->pos)))
        goto nomem;
    if (!(p = need(out, p, 64)))
        goto nomem;
    p = LIT(p, ",\"ts\":");
    p = wh_fmt_i64(p, u->ts);
    p = LIT(p, ",\"txn\":{\"id\":");
    if (!(p = put_cstr_or_null(out, p, u->txn.id)) || !(p = need(out, p, 64)))
        goto nomem;
    p = LIT(p, ",\"index\":");
    p = wh_fmt_u64(p, u->txn.index);
    p = u->txn.last ? LIT(p, ",\"last\":true}") : LIT(p, ",\"last\":false}");
    if (u->flags & WH_UF_RAW_VALUE)
        p = LIT(p, ",\"raw\":true");
    if (u->statement) {
        p = LIT(p, ",\"statement\":");
        if (!(p = put_str(out, p, u->statement, strlen(u->statement))))
            goto nomem;
    }
    if (u->has_before && !(p = put_row(out, p, ",\"before\":{", 11, &u->before)))
        goto nomem;
    if (u->has_after && !(p = put_row(out, p, ",\"after\":{", 10, &u->after)))
        goto nomem;
    if (!(p = need(out, p, 2)))
        goto nomem;
    p = LIT(p, "}\n");
    finish(out, p, start);
    return wh_buf_ok(out) ? WH_OK : WH_ERR_NOMEM;
nomem:
    finish(out, NULL, start);
    return WH_ERR_NOMEM;
}

/* ---- the public API (include/wormhole/json.h) ------------------------------ */

size_t wh_update_json(const wh_update *u, char *buf, size_t cap)
{
    if (!u || (!buf && cap)) {
        if (buf && cap)
            buf[0] = '\0';
        errno = EINVAL;
        return 0;
    }
    wh_buf out;
    wh_buf_borrow(&out, buf, cap);
    if (wh_update_to_json(u, &out) != WH_OK) {
        if (cap)
            buf[0] = '\0';
        wh_buf_free(&out);
        errno = ENOMEM;
        return 0;
    }
    assert(out.len >= 2 && out.data[out.len - 1] == '\n');
    size_t n = out.len - 1;                 /* the line without its '\n' */
    if (out.data == buf) {
        assert(n < cap);                    /* the borrowed buffer held it all */
        buf[n] = '\0';
    } else if (cap) {
        size_t k = n < cap ? n : cap - 1;
        memcpy(buf, out.data, k);
        buf[k] = '\0';
    }
    wh_buf_free(&out);
    return n;
}

char *wh_update_json_alloc(const wh_update *u, size_t *len)
{
    if (!u) {
        errno = EINVAL;
        return NULL;
    }
    wh_buf out = WH_BUF_INIT;
    if (wh_update_to_json(u, &out) != WH_OK) {
        wh_buf_free(&out);
        errno = ENOMEM;
        return NULL;
    }
    assert(out.len >= 2 && out.data[out.len - 1] == '\n');
    out.data[--out.len] = '\0';
    if (len)
        *len = out.len;
    return out.data;                        /* malloc'd by wh_buf: the caller frees */
}

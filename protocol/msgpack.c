/* msgpack.c -- the MessagePack writer and bounds-checked reader of the push protocol (see msgpack.h). */
#include <assert.h>
#include <string.h>

#include "core/endian.h"
#include "protocol/msgpack.h"

/* ---- writing ----------------------------------------------------------------------- */

static inline void put1(wh_buf *b, uint8_t c)
{
    wh_buf_putc(b, (char)c);
}

static inline void put_tag16(wh_buf *b, uint8_t tag, uint16_t v)
{
    uint8_t t[3] = { tag };
    wh_put_be16(t + 1, v);
    wh_buf_append(b, t, 3);
}

static inline void put_tag32(wh_buf *b, uint8_t tag, uint32_t v)
{
    uint8_t t[5] = { tag };
    wh_put_be32(t + 1, v);
    wh_buf_append(b, t, 5);
}

static inline void put_tag64(wh_buf *b, uint8_t tag, uint64_t v)
{
    uint8_t t[9] = { tag };
    wh_put_be64(t + 1, v);
    wh_buf_append(b, t, 9);
}

void mp_put_uint_any(wh_buf *b, uint64_t v)
{
    if (v < 128) {
        put1(b, (uint8_t)v);
    } else if (v <= 0xff) {
        uint8_t t[2] = { 0xcc, (uint8_t)v };
        wh_buf_append(b, t, 2);
    } else if (v <= 0xffff) {
        put_tag16(b, 0xcd, (uint16_t)v);
    } else if (v <= 0xffffffffu) {
        put_tag32(b, 0xce, (uint32_t)v);
    } else {
        put_tag64(b, 0xcf, v);
    }
}

void mp_put_int_any(wh_buf *b, int64_t v)
{
    if (v >= 0) {
        mp_put_uint(b, (uint64_t)v);
    } else if (v >= -32) {
        put1(b, (uint8_t)(int8_t)v);
    } else if (v >= INT8_MIN) {
        uint8_t t[2] = { 0xd0, (uint8_t)(int8_t)v };
        wh_buf_append(b, t, 2);
    } else if (v >= INT16_MIN) {
        put_tag16(b, 0xd1, (uint16_t)(int16_t)v);
    } else if (v >= INT32_MIN) {
        put_tag32(b, 0xd2, (uint32_t)(int32_t)v);
    } else {
        put_tag64(b, 0xd3, (uint64_t)v);
    }
}

void mp_put_float(wh_buf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_tag32(b, 0xca, u);
}

void mp_put_double(wh_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_tag64(b, 0xcb, u);
}

static void put_len(wh_buf *b, uint32_t n, uint8_t fix, uint32_t fixmax, uint8_t t8,
                    uint8_t t16, uint8_t t32)
{
    if (fix && n <= fixmax) {
        put1(b, (uint8_t)(fix | n));
    } else if (t8 && n <= 0xff) {
        uint8_t t[2] = { t8, (uint8_t)n };
        wh_buf_append(b, t, 2);
    } else if (n <= 0xffff) {
        put_tag16(b, t16, (uint16_t)n);
    } else {
        put_tag32(b, t32, n);
    }
}

void mp_put_str_any(wh_buf *b, const char *s, size_t len)
{
    put_len(b, (uint32_t)len, 0xa0, 31, 0xd9, 0xda, 0xdb);
    wh_buf_append(b, s, len);
}

void mp_put_cstr(wh_buf *b, const char *s)
{
    if (s)
        mp_put_str(b, s, strlen(s));
    else
        mp_put_nil(b);
}

void mp_put_bin_header(wh_buf *b, uint32_t len)
{
    put_len(b, len, 0, 0, 0xc4, 0xc5, 0xc6);
}

void mp_put_bin(wh_buf *b, const void *p, size_t len)
{
    mp_put_bin_header(b, (uint32_t)len);
    wh_buf_append(b, p, len);
}

void mp_put_array_any(wh_buf *b, uint32_t n) { put_len(b, n, 0x90, 15, 0, 0xdc, 0xdd); }

size_t mp_put_array32(wh_buf *b, uint32_t n)
{
    size_t at = b->len;
    put_tag32(b, 0xdd, n);
    return at;
}

void mp_patch_array32(wh_buf *b, size_t at, uint32_t n)
{
    assert(wh_buf_ok(b) && at + 5 <= b->len && (uint8_t)b->data[at] == 0xdd);
    wh_put_be32((uint8_t *)b->data + at + 1, n);
}
void mp_put_map_any(wh_buf *b, uint32_t n) { put_len(b, n, 0x80, 15, 0, 0xde, 0xdf); }

void mp_put_ext(wh_buf *b, int8_t type, const void *p, uint32_t len)
{
    static const uint8_t fixext[17] = { [1] = 0xd4, [2] = 0xd5, [4] = 0xd6, [8] = 0xd7,
                                        [16] = 0xd8 };
    if (len <= 16 && fixext[len]) {
        put1(b, fixext[len]);
    } else if (len <= 0xff) {
        uint8_t t[2] = { 0xc7, (uint8_t)len };
        wh_buf_append(b, t, 2);
    } else if (len <= 0xffff) {
        put_tag16(b, 0xc8, (uint16_t)len);
    } else {
        put_tag32(b, 0xc9, len);
    }
    put1(b, (uint8_t)type);
    wh_buf_append(b, p, len);
}

/* ---- reading ----------------------------------------------------------------------- */

static inline size_t left(const mp_reader *r) { return (size_t)(r->end - r->p); }

mp_kind mp_peek(const mp_reader *r)
{
    if (r->p >= r->end)
        return MP_BAD;
    uint8_t c = *r->p;
    if (c <= 0x7f) return MP_UINT;
    if (c <= 0x8f) return MP_MAP;
    if (c <= 0x9f) return MP_ARRAY;
    if (c <= 0xbf) return MP_STR;
    if (c >= 0xe0) return MP_INT;
    switch (c) {
    case 0xc0: return MP_NIL;
    case 0xc2: case 0xc3: return MP_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return MP_BIN;
    case 0xc7: case 0xc8: case 0xc9: return MP_EXT;
    case 0xca: return MP_FLOAT32;
    case 0xcb: return MP_FLOAT64;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return MP_UINT;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: return MP_INT;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return MP_EXT;
    case 0xd9: case 0xda: case 0xdb: return MP_STR;
    case 0xdc: case 0xdd: return MP_ARRAY;
    case 0xde: case 0xdf: return MP_MAP;
    default: return MP_BAD;
    }
}

/* Reads a big-endian unsigned of width bytes after the tag byte. */
static bool get_n(const mp_reader *r, int width, uint64_t *v)
{
    if (left(r) < (size_t)1 + (size_t)width)
        return false;
    const uint8_t *p = r->p + 1;
    uint64_t x = 0;
    for (int i = 0; i < width; i++)
        x = x << 8 | p[i];
    *v = x;
    return true;
}

/* Reads any integer as a sign flag and magnitude bits. */
static bool get_integer(mp_reader *r, bool *neg, uint64_t *bits)
{
    if (r->p >= r->end)
        return false;
    uint8_t c = *r->p;
    uint64_t x;
    int w;
    if (c <= 0x7f) {
        *neg = false;
        *bits = c;
        r->p++;
        return true;
    }
    if (c >= 0xe0) {
        *neg = true;
        *bits = (uint64_t)(int64_t)(int8_t)c;
        r->p++;
        return true;
    }
    switch (c) {
    case 0xcc: case 0xd0: w = 1; break;
    case 0xcd: case 0xd1: w = 2; break;
    case 0xce: case 0xd2: w = 4; break;
    case 0xcf: case 0xd3: w = 8; break;
    default: return false;
    }
    if (!get_n(r, w, &x))
        return false;
    if (c >= 0xd0) {  /* sign-extend */
        int shift = 64 - 8 * w;
        int64_t s = shift ? (int64_t)(x << shift) >> shift : (int64_t)x;
        *neg = s < 0;
        x = (uint64_t)s;
    } else {
        *neg = false;
    }
    *bits = x;
    r->p += 1 + w;
    return true;
}

bool mp_get_uint(mp_reader *r, uint64_t *v)
{
    const uint8_t *save = r->p;
    bool neg;
    if (!get_integer(r, &neg, v))
        return false;
    if (neg) {
        r->p = save;
        return false;
    }
    return true;
}

bool mp_get_int(mp_reader *r, int64_t *v)
{
    const uint8_t *save = r->p;
    bool neg;
    uint64_t bits;
    if (!get_integer(r, &neg, &bits))
        return false;
    if (!neg && bits > (uint64_t)INT64_MAX) {
        r->p = save;
        return false;
    }
    *v = (int64_t)bits;
    return true;
}

bool mp_get_double(mp_reader *r, double *v)
{
    uint64_t x;
    if (r->p >= r->end)
        return false;
    if (*r->p == 0xca) {
        if (!get_n(r, 4, &x))
            return false;
        uint32_t u = (uint32_t)x;
        float f;
        memcpy(&f, &u, 4);
        *v = f;
        r->p += 5;
        return true;
    }
    if (*r->p == 0xcb) {
        if (!get_n(r, 8, &x))
            return false;
        memcpy(v, &x, 8);
        r->p += 9;
        return true;
    }
    return false;
}

/* Reads a length-prefixed blob header; sets *hdr (bytes of header) and *len. */
static bool get_blob(mp_reader *r, uint8_t fixlo, uint8_t fixhi, uint8_t t8, uint8_t t16,
                     uint8_t t32, const uint8_t **p, uint32_t *len)
{
    if (r->p >= r->end)
        return false;
    uint8_t c = *r->p;
    uint64_t n;
    int hdr;
    if (fixhi && c >= fixlo && c <= fixhi) {
        n = c - fixlo;
        hdr = 1;
    } else if (c == t8) {
        if (!get_n(r, 1, &n)) return false;
        hdr = 2;
    } else if (c == t16) {
        if (!get_n(r, 2, &n)) return false;
        hdr = 3;
    } else if (c == t32) {
        if (!get_n(r, 4, &n)) return false;
        hdr = 5;
    } else {
        return false;
    }
    if (left(r) - (size_t)hdr < n)
        return false;
    *p = r->p + hdr;
    *len = (uint32_t)n;
    r->p += (size_t)hdr + n;
    return true;
}

bool mp_get_str(mp_reader *r, const char **s, uint32_t *len)
{
    const uint8_t *p;
    if (!get_blob(r, 0xa0, 0xbf, 0xd9, 0xda, 0xdb, &p, len))
        return false;
    *s = (const char *)p;
    return true;
}

bool mp_get_bin(mp_reader *r, const uint8_t **p, uint32_t *len)
{
    return get_blob(r, 0, 0, 0xc4, 0xc5, 0xc6, p, len);
}

/* Container header: count n, each element needs >= per bytes. */
static bool get_container(mp_reader *r, uint8_t fixlo, uint8_t fixhi, uint8_t t16, uint8_t t32,
                          uint32_t per, uint32_t *out)
{
    if (r->p >= r->end)
        return false;
    uint8_t c = *r->p;
    uint64_t n;
    int hdr;
    if (c >= fixlo && c <= fixhi) {
        n = c - fixlo;
        hdr = 1;
    } else if (c == t16) {
        if (!get_n(r, 2, &n)) return false;
        hdr = 3;
    } else if (c == t32) {
        if (!get_n(r, 4, &n)) return false;
        hdr = 5;
    } else {
        return false;
    }
    if ((left(r) - (size_t)hdr) / per < n)
        return false;
    *out = (uint32_t)n;
    r->p += hdr;
    return true;
}

bool mp_get_array(mp_reader *r, uint32_t *n)
{
    return get_container(r, 0x90, 0x9f, 0xdc, 0xdd, 1, n);
}

bool mp_get_map(mp_reader *r, uint32_t *n)
{
    return get_container(r, 0x80, 0x8f, 0xde, 0xdf, 2, n);
}

bool mp_get_ext(mp_reader *r, int8_t *type, const uint8_t **p, uint32_t *len)
{
    if (r->p >= r->end)
        return false;
    uint8_t c = *r->p;
    uint64_t n;
    int hdr;
    switch (c) {
    case 0xd4: n = 1; hdr = 1; break;
    case 0xd5: n = 2; hdr = 1; break;
    case 0xd6: n = 4; hdr = 1; break;
    case 0xd7: n = 8; hdr = 1; break;
    case 0xd8: n = 16; hdr = 1; break;
    case 0xc7: if (!get_n(r, 1, &n)) return false; hdr = 2; break;
    case 0xc8: if (!get_n(r, 2, &n)) return false; hdr = 3; break;
    case 0xc9: if (!get_n(r, 4, &n)) return false; hdr = 5; break;
    default: return false;
    }
    if (left(r) < (size_t)hdr + 1 || left(r) - (size_t)hdr - 1 < n)
        return false;
    *type = (int8_t)r->p[hdr];
    *p = r->p + hdr + 1;
    *len = (uint32_t)n;
    r->p += (size_t)hdr + 1 + n;
    return true;
}

bool mp_skip(mp_reader *r, int depth)
{
    const uint8_t *save = r->p, *bp;
    uint32_t n, len;
    uint64_t u;
    int64_t i;
    double d;
    bool b;
    const char *s;
    int8_t t;
    if (depth < 0)
        return false;
    switch (mp_peek(r)) {
    case MP_NIL: return mp_get_nil(r);
    case MP_BOOL: return mp_get_bool(r, &b);
    case MP_UINT: return mp_get_uint(r, &u);
    case MP_INT: return mp_get_int(r, &i);
    case MP_FLOAT32: case MP_FLOAT64: return mp_get_double(r, &d);
    case MP_STR: return mp_get_str(r, &s, &len);
    case MP_BIN: return mp_get_bin(r, &bp, &len);
    case MP_EXT: return mp_get_ext(r, &t, &bp, &len);
    case MP_ARRAY:
        if (!mp_get_array(r, &n))
            return false;
        for (uint32_t k = 0; k < n; k++)
            if (!mp_skip(r, depth - 1))
                goto fail;
        return true;
    case MP_MAP:
        if (!mp_get_map(r, &n))
            return false;
        for (uint32_t k = 0; k < 2 * n; k++)
            if (!mp_skip(r, depth - 1))
                goto fail;
        return true;
    case MP_BAD:
        break;
    }
    return false;
fail:
    r->p = save;
    return false;
}

/* wire.c -- frames, CRC32C and the MessagePack encoding of updates (see wire.h). */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "subscriber/wire.h"

static const char *const type_names[] = {
    "UNKNOWN", "HELLO", "HELLO_OK", "ERROR", "UPDATES", "DATAMARKER", "ACK", "HEARTBEAT",
    "SHARD_NOTICE",
};

const char *wire_type_name(int type)
{
    return (type > 0 && type <= WIRE__MAX) ? type_names[type] : type_names[0];
}

/* ---- CRC32C ---------------------------------------------------------------- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_hw;

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++)
            crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;  /* little-endian hosts only reach here with this layout */
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw_run(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t wire_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#if defined(__x86_64__)
    if (crc_hw)
        return ~crc_hw_run(crc, data, len);
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    crc = crc_sw(crc, data, len);
#else
    for (const uint8_t *p = data; len--; p++)
        crc = crc_table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
#endif
    return ~crc;
}

/* ---- frames ---------------------------------------------------------------- */

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

size_t wire_frame_begin(wh_buf *b, int type)
{
    size_t start = b->len;
    uint8_t hdr[WIRE_HEADER_LEN] = { 0, 0, 0, 0, (uint8_t)type };
    wh_buf_append(b, hdr, sizeof hdr);
    return start;
}

int wire_frame_end(wh_buf *b, size_t start)
{
    if (!wh_buf_ok(b))
        return WH_ERR_NOMEM;
    if (b->len < start + WIRE_HEADER_LEN)
        return WH_ERR_INVALID;
    size_t len = b->len - start - 4;
    if (len > WIRE_FRAME_MAX) {
        b->len = start;
        return WH_ERR_LIMIT;
    }
    uint8_t *f = (uint8_t *)b->data + start;
    put_be32(f, (uint32_t)len);
    uint8_t crc[4];
    put_be32(crc, wire_crc32c(0, f, len + 4));
    wh_buf_append(b, crc, 4);
    return wh_buf_ok(b) ? WH_OK : WH_ERR_NOMEM;
}

int wire_frame_parse(const uint8_t *p, size_t n, uint32_t max_len, int *type,
                     const uint8_t **payload, size_t *plen, size_t *consumed,
                     char *errbuf, size_t errlen)
{
    if (n < 4)
        return WH_ERR_AGAIN;
    uint32_t len = get_be32(p);
    if (len == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "frame length is 0");
    if (len > max_len)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                         "frame length %" PRIu32 " exceeds the limit of %" PRIu32 " bytes",
                         len, max_len);
    size_t total = 4 + (size_t)len + WIRE_TRAILER_LEN;
    if (n < total)
        return WH_ERR_AGAIN;
    uint32_t want = get_be32(p + 4 + len), got = wire_crc32c(0, p, 4 + (size_t)len);
    if (want != got)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "frame of type %u and length %" PRIu32
                         " fails its checksum (CRC32C %08" PRIx32 ", frame says %08" PRIx32 ")",
                         p[4], len, got, want);
    *type = p[4];
    *payload = p + WIRE_HEADER_LEN;
    *plen = len - 1;
    *consumed = total;
    return WH_OK;
}

/* ---- MessagePack writing ----------------------------------------------------- */

static inline void put1(wh_buf *b, uint8_t c)
{
    wh_buf_putc(b, (char)c);
}

static inline void put_tag16(wh_buf *b, uint8_t tag, uint16_t v)
{
    uint8_t t[3] = { tag, (uint8_t)(v >> 8), (uint8_t)v };
    wh_buf_append(b, t, 3);
}

static inline void put_tag32(wh_buf *b, uint8_t tag, uint32_t v)
{
    uint8_t t[5] = { tag };
    put_be32(t + 1, v);
    wh_buf_append(b, t, 5);
}

static inline void put_tag64(wh_buf *b, uint8_t tag, uint64_t v)
{
    uint8_t t[9] = { tag };
    put_be32(t + 1, (uint32_t)(v >> 32));
    put_be32(t + 5, (uint32_t)v);
    wh_buf_append(b, t, 9);
}

void mp_put_nil(wh_buf *b) { put1(b, 0xc0); }
void mp_put_bool(wh_buf *b, bool v) { put1(b, v ? 0xc3 : 0xc2); }

void mp_put_uint(wh_buf *b, uint64_t v)
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

void mp_put_int(wh_buf *b, int64_t v)
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

void mp_put_str(wh_buf *b, const char *s, size_t len)
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

void mp_put_bin(wh_buf *b, const void *p, size_t len)
{
    put_len(b, (uint32_t)len, 0, 0, 0xc4, 0xc5, 0xc6);
    wh_buf_append(b, p, len);
}

void mp_put_array(wh_buf *b, uint32_t n) { put_len(b, n, 0x90, 15, 0, 0xdc, 0xdd); }
void mp_put_map(wh_buf *b, uint32_t n) { put_len(b, n, 0x80, 15, 0, 0xde, 0xdf); }

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

/* ---- MessagePack reading ------------------------------------------------------ */

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

bool mp_get_nil(mp_reader *r)
{
    if (r->p >= r->end || *r->p != 0xc0)
        return false;
    r->p++;
    return true;
}

bool mp_get_bool(mp_reader *r, bool *v)
{
    if (r->p >= r->end || (*r->p != 0xc2 && *r->p != 0xc3))
        return false;
    *v = *r->p++ == 0xc3;
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

/* ---- positions and control messages ----------------------------------------------- */

void wire_put_pos(wh_buf *b, const wh_position *p)
{
    if (!p) {
        mp_put_nil(b);
        return;
    }
    mp_put_array(b, 4);
    mp_put_cstr(b, p->log_name);
    mp_put_uint(b, p->offset);
    mp_put_cstr(b, p->logical);
    mp_put_uint(b, p->index);
}

static bool get_opt_str(mp_reader *r, const char **s, uint32_t *len)
{
    if (mp_get_nil(r)) {
        *s = NULL;
        *len = 0;
        return true;
    }
    return mp_get_str(r, s, len);
}

static bool get_pos(mp_reader *r, wire_pos *p)
{
    uint32_t n;
    uint64_t idx;
    memset(p, 0, sizeof *p);
    if (mp_get_nil(r))
        return true;
    if (!mp_get_array(r, &n) || n != 4 || !get_opt_str(r, &p->log_name, &p->log_name_len) ||
        !mp_get_uint(r, &p->offset) || !get_opt_str(r, &p->logical, &p->logical_len) ||
        !mp_get_uint(r, &idx) || idx > UINT32_MAX)
        return false;
    p->index = (uint32_t)idx;
    p->present = true;
    return true;
}

int wire_put_hello(wh_buf *b, const char *app, const char *shard, const char *publisher,
                   uint64_t epoch, const wh_position *start, uint64_t heartbeat_ms)
{
    size_t f = wire_frame_begin(b, WIRE_HELLO);
    mp_put_map(b, 7);
    mp_put_uint(b, 1); mp_put_uint(b, WIRE_VERSION);
    mp_put_uint(b, 2); mp_put_cstr(b, app);
    mp_put_uint(b, 3); mp_put_cstr(b, shard);
    mp_put_uint(b, 4); mp_put_cstr(b, publisher);
    mp_put_uint(b, 5); mp_put_uint(b, epoch);
    mp_put_uint(b, 6); wire_put_pos(b, start);
    mp_put_uint(b, 7); mp_put_uint(b, heartbeat_ms);
    return wire_frame_end(b, f);
}

int wire_put_hello_ok(wh_buf *b, const char *instance)
{
    size_t f = wire_frame_begin(b, WIRE_HELLO_OK);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_uint(b, WIRE_VERSION);
    mp_put_uint(b, 2); mp_put_cstr(b, instance);
    return wire_frame_end(b, f);
}

int wire_put_error(wh_buf *b, int code, const char *message)
{
    size_t f = wire_frame_begin(b, WIRE_ERROR);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_int(b, code);
    mp_put_uint(b, 2); mp_put_cstr(b, message);
    return wire_frame_end(b, f);
}

int wire_put_datamarker(wh_buf *b, uint64_t seq, const wh_position *pos)
{
    size_t f = wire_frame_begin(b, WIRE_DATAMARKER);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_uint(b, seq);
    mp_put_uint(b, 2); wire_put_pos(b, pos);
    return wire_frame_end(b, f);
}

int wire_put_ack(wh_buf *b, uint64_t seq)
{
    size_t f = wire_frame_begin(b, WIRE_ACK);
    mp_put_map(b, 1);
    mp_put_uint(b, 1); mp_put_uint(b, seq);
    return wire_frame_end(b, f);
}

int wire_put_heartbeat(wh_buf *b, uint64_t time_ms)
{
    size_t f = wire_frame_begin(b, WIRE_HEARTBEAT);
    mp_put_map(b, 1);
    mp_put_uint(b, 1); mp_put_uint(b, time_ms);
    return wire_frame_end(b, f);
}

int wire_put_shard_notice(wh_buf *b, const char *shard, bool held)
{
    size_t f = wire_frame_begin(b, WIRE_SHARD_NOTICE);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_cstr(b, shard);
    mp_put_uint(b, 2); mp_put_bool(b, held);
    return wire_frame_end(b, f);
}

int wire_msg_decode(int type, const uint8_t *payload, size_t len, wire_msg *out,
                    char *errbuf, size_t errlen)
{
    mp_reader r = { payload, payload + len };
    uint32_t n;
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type <= 0 || type > WIRE__MAX || type == WIRE_UPDATES)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "unexpected frame type %d", type);
    if (!mp_get_map(&r, &n))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "%s payload is not a map",
                         wire_type_name(type));
    for (uint32_t k = 0; k < n; k++) {
        uint64_t key;
        bool ok;
        if (!mp_get_uint(&r, &key))
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "%s payload: key %u is not an unsigned integer",
                             wire_type_name(type), k);
        /* Key meanings depend on the type; see docs/PROTOCOL.md. */
        switch (type * 16 + (int)(key < 16 ? key : 15)) {
        case WIRE_HELLO * 16 + 1:
        case WIRE_HELLO_OK * 16 + 1: ok = mp_get_uint(&r, &out->version); break;
        case WIRE_HELLO * 16 + 2: ok = mp_get_str(&r, &out->app, &out->app_len); break;
        case WIRE_HELLO * 16 + 3: ok = mp_get_str(&r, &out->shard, &out->shard_len); break;
        case WIRE_HELLO * 16 + 4:
            ok = mp_get_str(&r, &out->publisher, &out->publisher_len);
            break;
        case WIRE_HELLO * 16 + 5: ok = mp_get_uint(&r, &out->epoch); break;
        case WIRE_HELLO * 16 + 6:
        case WIRE_DATAMARKER * 16 + 2: ok = get_pos(&r, &out->pos); break;
        case WIRE_HELLO * 16 + 7: ok = mp_get_uint(&r, &out->heartbeat_ms); break;
        case WIRE_HELLO_OK * 16 + 2:
            ok = get_opt_str(&r, &out->instance, &out->instance_len);
            break;
        case WIRE_ERROR * 16 + 1: ok = mp_get_int(&r, &out->code); break;
        case WIRE_ERROR * 16 + 2: ok = get_opt_str(&r, &out->message, &out->message_len); break;
        case WIRE_DATAMARKER * 16 + 1:
        case WIRE_ACK * 16 + 1: ok = mp_get_uint(&r, &out->seq); break;
        case WIRE_HEARTBEAT * 16 + 1: ok = mp_get_uint(&r, &out->time_ms); break;
        case WIRE_SHARD_NOTICE * 16 + 1: ok = mp_get_str(&r, &out->shard, &out->shard_len); break;
        case WIRE_SHARD_NOTICE * 16 + 2: ok = mp_get_bool(&r, &out->held); break;
        default: ok = mp_skip(&r, 16); break;
        }
        if (!ok)
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "%s payload: value of key %" PRIu64 " is malformed or of the wrong type",
                             wire_type_name(type), key);
    }
    if (r.p != r.end)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "%s payload: %zu bytes after the map",
                         wire_type_name(type), (size_t)(r.end - r.p));
    if (type == WIRE_HELLO && (!out->app || !out->shard))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "HELLO without app or shard");
    return WH_OK;
}

/* ---- update batches: encoding --------------------------------------------------------- */

/* Update map keys (docs/PROTOCOL.md). */
enum { UK_OP = 1, UK_FLAGS, UK_POS, UK_TS, UK_TXN, UK_DB, UK_TABLE, UK_SCHEMA, UK_STATEMENT,
       UK_BEFORE, UK_AFTER };
/* Batch map keys. */
enum { BK_SHARD = 1, BK_UPDATES = 2, BK_NAMES = 3 };
/* Extension types. */
#define EXT_TEMPORAL   1
#define EXT_TIMESTAMP  (-1)   /* MessagePack's own timestamp type */
/* Column descriptor byte 0: type in the low 5 bits, then flags. */
#define DESC_BIT       0x20
#define DESC_ZERO_DATE 0x40
#define DESC_FLOAT32   0x80

void wire_enc_init(wire_enc *e)
{
    memset(e, 0, sizeof *e);
}

void wire_enc_free(wire_enc *e)
{
    free(e->tables);
    memset(e, 0, sizeof *e);
}

void wire_enc_begin(wire_enc *e, wh_buf *out, const char *shard)
{
    e->out = out;
    e->count = 0;
    e->ntables = 0;
    e->oom = false;
    e->frame_start = wire_frame_begin(out, WIRE_UPDATES);
    mp_put_map(out, 3);
    mp_put_uint(out, BK_SHARD);
    mp_put_cstr(out, shard);
    mp_put_uint(out, BK_UPDATES);
    e->count_at = out->len;
    put_tag32(out, 0xdd, 0);   /* array32, count patched by wire_enc_end */
}

static bool same_names(const char *const *a, const char *const *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (a[k] != b[k] && (!a[k] || !b[k] || strcmp(a[k], b[k]) != 0))
            return false;
    return true;
}

/* Index of row's name table in this batch, adding it if new; UINT32_MAX on OOM. */
static uint32_t names_ref(wire_enc *e, const wh_row *row)
{
    for (uint32_t k = e->ntables; k-- > 0;)
        if (e->tables[k].names == row->names && e->tables[k].count == row->count)
            return k;
    /* Different pointers may still hold the same names (a mapper that copies
     * them per batch): compare the most recent few by content. */
    for (uint32_t k = e->ntables, seen = 0; k-- > 0 && seen < 4; seen++)
        if (e->tables[k].count == row->count && same_names(e->tables[k].names, row->names,
                                                           row->count))
            return k;
    if (e->ntables == e->cap_tables) {
        uint32_t cap = e->cap_tables ? e->cap_tables * 2 : 16;
        struct wire_names *t = realloc(e->tables, cap * sizeof *t);
        if (!t)
            return UINT32_MAX;
        e->tables = t;
        e->cap_tables = cap;
    }
    e->tables[e->ntables].names = row->names;
    e->tables[e->ntables].count = row->count;
    return e->ntables++;
}

static void put_temporal(wh_buf *b, const wh_value *v)
{
    const wh_temporal *t = &v->n.t;
    if (v->type == WH_T_TIMESTAMP) {
        uint8_t x[12];
        uint32_t nsec = t->usec * 1000u;
        uint64_t sec = (uint64_t)t->epoch_sec;
        if (t->epoch_sec >= 0 && sec >> 34 == 0) {
            uint64_t w = (uint64_t)nsec << 34 | sec;
            if (nsec == 0 && sec <= 0xffffffffu) {
                put_be32(x, (uint32_t)sec);
                mp_put_ext(b, EXT_TIMESTAMP, x, 4);
            } else {
                put_be32(x, (uint32_t)(w >> 32));
                put_be32(x + 4, (uint32_t)w);
                mp_put_ext(b, EXT_TIMESTAMP, x, 8);
            }
        } else {
            put_be32(x, nsec);
            put_be32(x + 4, (uint32_t)(sec >> 32));
            put_be32(x + 8, (uint32_t)sec);
            mp_put_ext(b, EXT_TIMESTAMP, x, 12);
        }
        return;
    }
    uint8_t x[13] = {
        (uint8_t)(t->year >> 8), (uint8_t)t->year, t->month, t->day,
        (uint8_t)(t->hour >> 8), (uint8_t)t->hour, t->minute, t->second,
        0, 0, 0, 0, t->negative ? 1 : 0,
    };
    put_be32(x + 8, t->usec);
    mp_put_ext(b, EXT_TEMPORAL, x, 13);
}

static void put_value(wh_buf *b, const wh_value *v)
{
    switch ((wh_type)v->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        mp_put_nil(b);
        return;
    case WH_T_INT:
        mp_put_int(b, v->n.i);
        return;
    case WH_T_UINT:
    case WH_T_YEAR:
        mp_put_uint(b, v->n.u);
        return;
    case WH_T_FLOAT:
        if (v->flags & WH_VF_FLOAT32)
            mp_put_float(b, (float)v->n.d);
        else
            mp_put_double(b, v->n.d);
        return;
    case WH_T_DECIMAL:
    case WH_T_STRING:
    case WH_T_JSON:
        mp_put_str(b, v->str ? v->str : "", v->str ? v->len : 0);
        return;
    case WH_T_BYTES:
        mp_put_bin(b, v->str ? v->str : "", v->str ? v->len : 0);
        return;
    case WH_T_ENUM:
    case WH_T_SET:
        if (v->str)
            mp_put_str(b, v->str, v->len);
        else
            mp_put_uint(b, v->n.u);
        return;
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        put_temporal(b, v);
        return;
    case WH_T__COUNT:
        break;
    }
    mp_put_nil(b);
}

static int put_row(wire_enc *e, const wh_row *row)
{
    wh_buf *b = e->out;
    uint32_t ref = names_ref(e, row);
    if (ref == UINT32_MAX)
        return WH_ERR_NOMEM;
    mp_put_array(b, 3);
    mp_put_uint(b, ref);
    /* Descriptors: two bytes per column, written straight into the buffer. */
    put_len(b, row->count * 2, 0, 0, 0xc4, 0xc5, 0xc6);
    if (!wh_buf_reserve(b, (size_t)row->count * 2))
        return WH_ERR_NOMEM;
    uint8_t *d = (uint8_t *)b->data + b->len;
    for (uint32_t k = 0; k < row->count; k++) {
        const wh_value *v = &row->values[k];
        uint8_t t = v->type < WH_T__COUNT ? v->type : WH_T_NULL;
        if (v->flags & WH_VF_BIT) t |= DESC_BIT;
        if (v->flags & WH_VF_ZERO_DATE) t |= DESC_ZERO_DATE;
        if (v->flags & WH_VF_FLOAT32) t |= DESC_FLOAT32;
        d[2 * k] = t;
        d[2 * k + 1] = v->scale;
    }
    b->len += (size_t)row->count * 2;
    mp_put_array(b, row->count);
    for (uint32_t k = 0; k < row->count; k++)
        put_value(b, &row->values[k]);
    return WH_OK;
}

int wire_enc_add(wire_enc *e, const wh_update *u)
{
    wh_buf *b = e->out;
    uint32_t n = 4 + (u->flags != 0) + (u->db != NULL) + (u->table != NULL) +
                 (u->schema_id != 0) + (u->statement != NULL) + u->has_before + u->has_after;
    mp_put_map(b, n);
    mp_put_uint(b, UK_OP); mp_put_uint(b, u->op);
    if (u->flags) {
        mp_put_uint(b, UK_FLAGS);
        mp_put_uint(b, u->flags);
    }
    mp_put_uint(b, UK_POS); wire_put_pos(b, &u->pos);
    mp_put_uint(b, UK_TS); mp_put_int(b, u->ts);
    mp_put_uint(b, UK_TXN);
    mp_put_array(b, 2);
    mp_put_cstr(b, u->txn.id);
    mp_put_bool(b, u->txn.last);
    if (u->db) {
        mp_put_uint(b, UK_DB);
        mp_put_cstr(b, u->db);
    }
    if (u->table) {
        mp_put_uint(b, UK_TABLE);
        mp_put_cstr(b, u->table);
    }
    if (u->schema_id) {
        mp_put_uint(b, UK_SCHEMA);
        mp_put_uint(b, u->schema_id);
    }
    if (u->statement) {
        mp_put_uint(b, UK_STATEMENT);
        mp_put_cstr(b, u->statement);
    }
    if (u->has_before) {
        mp_put_uint(b, UK_BEFORE);
        if (put_row(e, &u->before))
            e->oom = true;
    }
    if (u->has_after) {
        mp_put_uint(b, UK_AFTER);
        if (put_row(e, &u->after))
            e->oom = true;
    }
    e->count++;
    if (e->oom || !wh_buf_ok(b)) {
        e->oom = true;
        return WH_ERR_NOMEM;
    }
    return WH_OK;
}

int wire_enc_end(wire_enc *e)
{
    wh_buf *b = e->out;
    if (e->oom || !wh_buf_ok(b)) {
        b->len = e->frame_start;
        return WH_ERR_NOMEM;
    }
    put_be32((uint8_t *)b->data + e->count_at + 1, e->count);
    mp_put_uint(b, BK_NAMES);
    mp_put_array(b, e->ntables);
    for (uint32_t k = 0; k < e->ntables; k++) {
        mp_put_array(b, e->tables[k].count);
        for (uint32_t c = 0; c < e->tables[k].count; c++)
            mp_put_cstr(b, e->tables[k].names[c] ? e->tables[k].names[c] : "");
    }
    int rc = wire_frame_end(b, e->frame_start);
    if (rc != WH_OK)
        b->len = e->frame_start;
    return rc;
}

/* ---- update batches: decoding ---------------------------------------------------------- */

typedef struct dec {
    mp_reader   r;
    wh_arena   *arena;
    char       *errbuf;
    size_t      errlen;
    uint32_t    at;              /* update index, for messages */
} dec;

/* A row waiting for its names table (which may follow the updates). */
typedef struct row_fix {
    wh_row  *row;
    uint32_t ref;
} row_fix;

typedef struct name_table {
    const char **names;
    uint32_t     count;
} name_table;

static int bad(dec *d, const char *what)
{
    return wh_seterr(d->errbuf, d->errlen, WH_ERR_PROTOCOL,
                     "UPDATES payload: update %u: %s is malformed or of the wrong type", d->at,
                     what);
}

static bool get_cstr(dec *d, const char **out)
{
    const char *s;
    uint32_t len;
    if (mp_get_nil(&d->r)) {
        *out = NULL;
        return true;
    }
    if (!mp_get_str(&d->r, &s, &len))
        return false;
    *out = wh_arena_strndup(d->arena, s, len);
    return *out != NULL;
}

/* Days since 1970-01-01 to civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *dd)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *dd = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool get_temporal(dec *d, wh_value *v)
{
    int8_t type;
    const uint8_t *p;
    uint32_t len;
    wh_temporal *t = &v->n.t;
    if (!mp_get_ext(&d->r, &type, &p, &len))
        return false;
    if (v->type == WH_T_TIMESTAMP) {
        uint64_t sec;
        uint32_t nsec;
        if (type != EXT_TIMESTAMP)
            return false;
        if (len == 4) {
            sec = get_be32(p);
            nsec = 0;
        } else if (len == 8) {
            uint64_t w = get_be64(p);
            nsec = (uint32_t)(w >> 34);
            sec = w & ((1ull << 34) - 1);
        } else if (len == 12) {
            nsec = get_be32(p);
            sec = get_be64(p + 4);
        } else {
            return false;
        }
        int64_t s = (int64_t)sec;
        if (nsec > 999999999u || s < -62167219200LL || s > 253402300799LL)
            return false;   /* outside years 0000..9999 */
        memset(t, 0, sizeof *t);
        t->epoch_sec = s;
        t->usec = nsec / 1000;
        if (v->flags & WH_VF_ZERO_DATE)
            return true;
        int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
        int64_t rem = s - days * 86400, y;
        unsigned m, dd;
        civil_from_days(days, &y, &m, &dd);
        t->year = (uint16_t)y;
        t->month = (uint8_t)m;
        t->day = (uint8_t)dd;
        t->hour = (uint16_t)(rem / 3600);
        t->minute = (uint8_t)(rem / 60 % 60);
        t->second = (uint8_t)(rem % 60);
        return true;
    }
    if (type != EXT_TEMPORAL || len != 13)
        return false;
    memset(t, 0, sizeof *t);
    t->year = (uint16_t)(p[0] << 8 | p[1]);
    t->month = p[2];
    t->day = p[3];
    t->hour = (uint16_t)(p[4] << 8 | p[5]);
    t->minute = p[6];
    t->second = p[7];
    t->usec = get_be32(p + 8);
    t->negative = p[12] != 0;
    return t->year <= 9999 && t->month <= 12 && t->day <= 31 && t->minute < 60 &&
           t->second < 60 && t->usec < 1000000 && t->hour <= 838 &&
           (v->type == WH_T_TIME || t->hour < 24);
}

static bool get_value(dec *d, wh_value *v, uint8_t desc, uint8_t scale)
{
    memset(v, 0, sizeof *v);
    v->type = desc & 0x1f;
    v->scale = scale;
    if (desc & DESC_BIT) v->flags |= WH_VF_BIT;
    if (desc & DESC_ZERO_DATE) v->flags |= WH_VF_ZERO_DATE;
    if (desc & DESC_FLOAT32) v->flags |= WH_VF_FLOAT32;
    mp_reader *r = &d->r;
    switch ((wh_type)v->type) {
    case WH_T_ABSENT:
    case WH_T_NULL:
        return mp_get_nil(r);
    case WH_T_INT:
        return mp_get_int(r, &v->n.i);
    case WH_T_UINT:
    case WH_T_YEAR:
        return mp_get_uint(r, &v->n.u);
    case WH_T_FLOAT:
        return mp_get_double(r, &v->n.d);
    case WH_T_DECIMAL:
    case WH_T_STRING:
    case WH_T_JSON:
        return mp_get_str(r, &v->str, &v->len);
    case WH_T_BYTES: {
        const uint8_t *p;
        if (!mp_get_bin(r, &p, &v->len))
            return false;
        v->str = (const char *)p;
        return true;
    }
    case WH_T_ENUM:
    case WH_T_SET:
        if (mp_peek(r) == MP_STR)
            return mp_get_str(r, &v->str, &v->len);
        return mp_get_uint(r, &v->n.u);
    case WH_T_DATE:
    case WH_T_TIME:
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        return get_temporal(d, v);
    case WH_T__COUNT:
        break;
    }
    return false;
}

static int get_row(dec *d, wh_row *row, row_fix *fix, const char *which)
{
    uint32_t n, cols;
    uint64_t ref;
    const uint8_t *desc;
    uint32_t dlen;
    if (!mp_get_array(&d->r, &n) || n != 3 || !mp_get_uint(&d->r, &ref) || ref >= UINT32_MAX ||
        !mp_get_bin(&d->r, &desc, &dlen) || !mp_get_array(&d->r, &cols) || dlen != 2 * cols)
        return bad(d, which);
    wh_value *vals = cols ? wh_arena_alloc(d->arena, cols * sizeof *vals) : NULL;
    if (cols && !vals)
        return WH_ERR_NOMEM;
    for (uint32_t k = 0; k < cols; k++)
        if (!get_value(d, &vals[k], desc[2 * k], desc[2 * k + 1]))
            return wh_seterr(d->errbuf, d->errlen, WH_ERR_PROTOCOL,
                             "UPDATES payload: update %u: %s column %u: value does not match "
                             "its type %s", d->at, which, k, wh_type_name(desc[2 * k] & 0x1f));
    row->values = vals;
    row->count = cols;
    row->names = NULL;
    fix->row = row;
    fix->ref = (uint32_t)ref;
    return WH_OK;
}

static int get_update(dec *d, wh_update *u, row_fix *fixes, uint32_t *nfix)
{
    uint32_t n;
    uint64_t x;
    int rc;
    memset(u, 0, sizeof *u);
    if (!mp_get_map(&d->r, &n))
        return bad(d, "the update map");
    bool have_op = false, have_pos = false;
    for (uint32_t k = 0; k < n; k++) {
        if (!mp_get_uint(&d->r, &x))
            return bad(d, "a key");
        switch (x) {
        case UK_OP:
            if (!mp_get_uint(&d->r, &x) || x >= WH_OP__COUNT)
                return bad(d, "op");
            u->op = (uint8_t)x;
            have_op = true;
            break;
        case UK_FLAGS:
            if (!mp_get_uint(&d->r, &x) || x > 0xff)
                return bad(d, "flags");
            u->flags = (uint8_t)x;
            break;
        case UK_POS: {
            wire_pos p;
            if (!get_pos(&d->r, &p) || !p.present)
                return bad(d, "pos");
            u->pos.offset = p.offset;
            u->pos.index = p.index;
            u->pos.log_name = p.log_name ? wh_arena_strndup(d->arena, p.log_name, p.log_name_len)
                                         : NULL;
            u->pos.logical = p.logical ? wh_arena_strndup(d->arena, p.logical, p.logical_len)
                                       : NULL;
            if ((p.log_name && !u->pos.log_name) || (p.logical && !u->pos.logical))
                return WH_ERR_NOMEM;
            u->txn.index = p.index;
            have_pos = true;
            break;
        }
        case UK_TS:
            if (!mp_get_int(&d->r, &u->ts))
                return bad(d, "ts");
            break;
        case UK_TXN: {
            uint32_t an;
            if (!mp_get_array(&d->r, &an) || an != 2 || !get_cstr(d, &u->txn.id) ||
                !mp_get_bool(&d->r, &u->txn.last))
                return bad(d, "txn");
            break;
        }
        case UK_DB:
            if (!get_cstr(d, &u->db))
                return bad(d, "db");
            break;
        case UK_TABLE:
            if (!get_cstr(d, &u->table))
                return bad(d, "table");
            break;
        case UK_SCHEMA:
            if (!mp_get_uint(&d->r, &u->schema_id))
                return bad(d, "schema_id");
            break;
        case UK_STATEMENT:
            if (!get_cstr(d, &u->statement))
                return bad(d, "statement");
            break;
        case UK_BEFORE:
            if (u->has_before)
                return bad(d, "before (repeated)");
            if ((rc = get_row(d, &u->before, &fixes[(*nfix)++], "before")))
                return rc;
            u->has_before = true;
            break;
        case UK_AFTER:
            if (u->has_after)
                return bad(d, "after (repeated)");
            if ((rc = get_row(d, &u->after, &fixes[(*nfix)++], "after")))
                return rc;
            u->has_after = true;
            break;
        default:
            if (!mp_skip(&d->r, 16))
                return bad(d, "an unknown key's value");
            break;
        }
    }
    return (have_op && have_pos) ? WH_OK : bad(d, "op or pos (missing)");
}

int wire_batch_decode(const uint8_t *payload, size_t len, wh_arena *arena, wire_batch *out,
                      char *errbuf, size_t errlen)
{
    dec d = { { payload, payload + len }, arena, errbuf, errlen, 0 };
    uint32_t n, count = 0, nfix = 0, ntables = 0;
    wh_update *ups = NULL;
    row_fix *fixes = NULL;
    name_table *tables = NULL;
    bool have_updates = false, have_tables = false;
    uint64_t key;
    memset(out, 0, sizeof *out);
    if (!mp_get_map(&d.r, &n))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload is not a map");
    for (uint32_t k = 0; k < n; k++) {
        if (!mp_get_uint(&d.r, &key))
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload: bad key");
        if (key == BK_SHARD) {
            if (!get_cstr(&d, &out->shard) || !out->shard)
                return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload: bad shard");
        } else if (key == BK_UPDATES && !have_updates) {
            if (!mp_get_array(&d.r, &count))
                return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                 "UPDATES payload: updates is not an array");
            /* count <= bytes left, so these allocations are bounded by the frame. */
            ups = count ? wh_arena_alloc(arena, count * sizeof *ups) : NULL;
            fixes = count ? wh_arena_alloc(arena, 2 * (size_t)count * sizeof *fixes) : NULL;
            if (count && (!ups || !fixes))
                return WH_ERR_NOMEM;
            for (d.at = 0; d.at < count; d.at++) {
                int rc = get_update(&d, &ups[d.at], fixes, &nfix);
                if (rc)
                    return rc;
            }
            have_updates = true;
        } else if (key == BK_NAMES && !have_tables) {
            if (!mp_get_array(&d.r, &ntables))
                return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                 "UPDATES payload: names is not an array");
            tables = ntables ? wh_arena_alloc(arena, ntables * sizeof *tables) : NULL;
            if (ntables && !tables)
                return WH_ERR_NOMEM;
            for (uint32_t t = 0; t < ntables; t++) {
                uint32_t cols;
                if (!mp_get_array(&d.r, &cols))
                    return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                     "UPDATES payload: names table %u is not an array", t);
                tables[t].count = cols;
                tables[t].names = cols ? wh_arena_alloc(arena, cols * sizeof(char *)) : NULL;
                if (cols && !tables[t].names)
                    return WH_ERR_NOMEM;
                for (uint32_t c = 0; c < cols; c++) {
                    const char *s;
                    uint32_t sl;
                    if (!mp_get_str(&d.r, &s, &sl))
                        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                         "UPDATES payload: names table %u entry %u is not a "
                                         "string", t, c);
                    if (!(tables[t].names[c] = wh_arena_strndup(arena, s, sl)))
                        return WH_ERR_NOMEM;
                }
            }
            have_tables = true;
        } else if (!mp_skip(&d.r, 16)) {
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "UPDATES payload: value of key %" PRIu64 " is malformed", key);
        }
    }
    if (d.r.p != d.r.end)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload: %zu bytes after the map",
                         (size_t)(d.r.end - d.r.p));
    if (!out->shard || !have_updates)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES payload without %s",
                         out->shard ? "updates" : "shard");
    for (uint32_t f = 0; f < nfix; f++) {
        if (fixes[f].ref >= ntables || tables[fixes[f].ref].count != fixes[f].row->count)
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "UPDATES payload: a row refers to names table %u, which %s",
                             fixes[f].ref, fixes[f].ref >= ntables ? "does not exist"
                                                                   : "has another column count");
        fixes[f].row->names = tables[fixes[f].ref].names;
    }
    for (uint32_t i = 0; i < count; i++)
        ups[i].shard = out->shard;
    out->updates = ups;
    out->count = count;
    return WH_OK;
}

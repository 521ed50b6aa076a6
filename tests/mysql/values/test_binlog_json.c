/* test_binlog_json.c -- MySQL binary JSON (every node type) and partial JSON updates.
 *
 * Documents are built here by a small encoder that follows the documented
 * binary layout (json_binary.h); diff vectors follow the layout of MySQL's
 * Json_diff_vector::write_binary. Corrupt and truncated inputs must give
 * errors, never crashes (this file runs under ASan/UBSan in CI). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../check.h"
#include "mappers/mysql/binlog_value.h"

/* ---- a binary JSON encoder (test side) --------------------------------------- */

typedef struct jv {
    uint8_t type;
    uint8_t data[1 << 17];  /* encoded value without its type byte */
    size_t  len;
} jv;

static jv *jv_new(uint8_t type)
{
    jv *v = calloc(1, sizeof *v);
    v->type = type;
    return v;
}

static void put(jv *v, const void *p, size_t n)
{
    if (v->len + n > sizeof v->data)
        abort();
    memcpy(v->data + v->len, p, n);
    v->len += n;
}

static void put_le(jv *v, uint64_t x, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(x >> (8 * i));
        put(v, &b, 1);
    }
}

static void put_varlen(jv *v, size_t n)
{
    do {
        uint8_t b = n & 0x7f;
        n >>= 7;
        if (n)
            b |= 0x80;
        put(v, &b, 1);
    } while (n);
}

static jv *j_lit(int which) { jv *v = jv_new(0x04); put_le(v, (uint64_t)which, 1); return v; }
static jv *j_i16(int16_t x) { jv *v = jv_new(0x05); put_le(v, (uint16_t)x, 2); return v; }
static jv *j_u16(uint16_t x) { jv *v = jv_new(0x06); put_le(v, x, 2); return v; }
static jv *j_i32(int32_t x) { jv *v = jv_new(0x07); put_le(v, (uint32_t)x, 4); return v; }
static jv *j_u32(uint32_t x) { jv *v = jv_new(0x08); put_le(v, x, 4); return v; }
static jv *j_i64(int64_t x) { jv *v = jv_new(0x09); put_le(v, (uint64_t)x, 8); return v; }
static jv *j_u64(uint64_t x) { jv *v = jv_new(0x0a); put_le(v, x, 8); return v; }
static jv *j_dbl(double d)
{
    jv *v = jv_new(0x0b);
    uint64_t bits;
    memcpy(&bits, &d, 8);
    put_le(v, bits, 8);
    return v;
}
static jv *j_strn(const char *s, size_t n)
{
    jv *v = jv_new(0x0c);
    put_varlen(v, n);
    put(v, s, n);
    return v;
}
static jv *j_str(const char *s) { return j_strn(s, strlen(s)); }
static jv *j_opaque(uint8_t ft, const void *p, size_t n)
{
    jv *v = jv_new(0x0f);
    put(v, &ft, 1);
    put_varlen(v, n);
    put(v, p, n);
    return v;
}

static bool is_inlined(uint8_t t, bool large)
{
    return t == 0x04 || t == 0x05 || t == 0x06 || (large && (t == 0x07 || t == 0x08));
}

/* Object (keys != NULL) or array of n values; frees the values. Keys are
 * written in the order given (the caller sorts them as MySQL does). */
static jv *j_container(bool large, const char *const *keys, jv **vals, size_t n)
{
    unsigned osz = large ? 4 : 2;
    bool obj = keys != NULL;
    jv *c = jv_new(obj ? (large ? 0x01 : 0x00) : (large ? 0x03 : 0x02));
    size_t hdr = 2 * osz + n * ((obj ? osz + 2 : 0) + 1 + osz);
    size_t off = hdr;
    size_t *koff = calloc(n + 1, sizeof *koff), *voff = calloc(n + 1, sizeof *voff);
    for (size_t i = 0; obj && i < n; i++) {
        koff[i] = off;
        off += strlen(keys[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (is_inlined(vals[i]->type, large))
            continue;
        voff[i] = off;
        off += vals[i]->len;
    }
    put_le(c, n, osz);
    put_le(c, off, osz);
    for (size_t i = 0; obj && i < n; i++) {
        put_le(c, koff[i], osz);
        put_le(c, strlen(keys[i]), 2);
    }
    for (size_t i = 0; i < n; i++) {
        put(c, &vals[i]->type, 1);
        if (is_inlined(vals[i]->type, large)) {
            uint8_t e[4] = { 0 };
            memcpy(e, vals[i]->data, vals[i]->len);
            put(c, e, osz);
        } else {
            put_le(c, voff[i], osz);
        }
    }
    for (size_t i = 0; obj && i < n; i++)
        put(c, keys[i], strlen(keys[i]));
    for (size_t i = 0; i < n; i++) {
        if (!is_inlined(vals[i]->type, large))
            put(c, vals[i]->data, vals[i]->len);
        free(vals[i]);
    }
    free(koff);
    free(voff);
    return c;
}

/* The document bytes: type then value. Frees v. */
static size_t doc_of(jv *v, uint8_t *out)
{
    out[0] = v->type;
    memcpy(out + 1, v->data, v->len);
    size_t n = 1 + v->len;
    free(v);
    return n;
}

/* ---- helpers ---------------------------------------------------------------- */

static char errbuf[512];
static uint8_t doc[1 << 17];

static const char *render(const uint8_t *p, size_t n, int *rc)
{
    static wh_buf out = WH_BUF_INIT;
    wh_buf_reset(&out);
    errbuf[0] = '\0';
    *rc = binlog_json_to_text(p, n, &out, errbuf, sizeof errbuf);
    return out.data ? out.data : "";
}

static void expect_doc(jv *v, const char *want, int line)
{
    size_t n = doc_of(v, doc);
    int rc;
    const char *got = render(doc, n, &rc);
    if (rc || strcmp(got, want) != 0)
        fprintf(stderr, "line %d: rc %d (%s)\n", line, rc, errbuf);
    CHECK_EQ_INT(rc, WH_OK);
    CHECK_EQ_STR(got, want);
    /* every strict prefix is an error, never a crash or a different document */
    for (size_t k = 1; k < n; k++) {
        uint8_t *cut = malloc(k);
        memcpy(cut, doc, k);
        int r;
        render(cut, k, &r);
        if (r != WH_ERR_CORRUPT)
            fprintf(stderr, "line %d: prefix %zu of %zu gave %d\n", line, k, n, r);
        CHECK_EQ_INT(r, WH_ERR_CORRUPT);
        free(cut);
    }
}
#define EXPECT_DOC(v, want) expect_doc(v, want, __LINE__)

static void expect_bad(const uint8_t *p, size_t n, const char *msg_part, int line)
{
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    int rc;
    render(copy, n, &rc);
    free(copy);
    if (rc != WH_ERR_CORRUPT || (msg_part && !strstr(errbuf, msg_part)))
        fprintf(stderr, "line %d: rc %d, message: %s\n", line, rc, errbuf);
    CHECK_EQ_INT(rc, WH_ERR_CORRUPT);
    if (msg_part)
        CHECK(strstr(errbuf, msg_part) != NULL);
}
#define EXPECT_BAD(p, n, part) expect_bad(p, n, part, __LINE__)

/* ---- scalars ----------------------------------------------------------------- */

static void test_scalars(void)
{
    EXPECT_DOC(j_lit(0), "null");
    EXPECT_DOC(j_lit(1), "true");
    EXPECT_DOC(j_lit(2), "false");
    EXPECT_DOC(j_i16(-32768), "-32768");
    EXPECT_DOC(j_i16(32767), "32767");
    EXPECT_DOC(j_u16(65535), "65535");
    EXPECT_DOC(j_i32(INT32_MIN), "-2147483648");
    EXPECT_DOC(j_u32(UINT32_MAX), "4294967295");
    EXPECT_DOC(j_i64(INT64_MIN), "-9223372036854775808");
    EXPECT_DOC(j_i64(INT64_MAX), "9223372036854775807");
    EXPECT_DOC(j_u64(UINT64_MAX), "18446744073709551615");
    EXPECT_DOC(j_u64(0), "0");

    /* doubles as MySQL's my_gcvt writes them, ".0" on integral values */
    EXPECT_DOC(j_dbl(0.1), "0.1");
    EXPECT_DOC(j_dbl(3.14), "3.14");
    EXPECT_DOC(j_dbl(-2.5), "-2.5");
    EXPECT_DOC(j_dbl(1.0), "1.0");
    EXPECT_DOC(j_dbl(100.0), "100.0");
    EXPECT_DOC(j_dbl(0.0), "0.0");
    EXPECT_DOC(j_dbl(-0.0), "-0.0");
    EXPECT_DOC(j_dbl(1e14), "100000000000000.0");
    EXPECT_DOC(j_dbl(1e15), "1e15");
    EXPECT_DOC(j_dbl(123456789012345.6), "123456789012345.6");
    EXPECT_DOC(j_dbl(1.2345678901234567e16), "1.2345678901234568e16");
    EXPECT_DOC(j_dbl(0.0001), "0.0001");
    EXPECT_DOC(j_dbl(1e-5), "0.00001");
    EXPECT_DOC(j_dbl(1e-15), "0.000000000000001");
    EXPECT_DOC(j_dbl(1e-16), "1e-16");
    EXPECT_DOC(j_dbl(1.5e-7), "0.00000015");
    EXPECT_DOC(j_dbl(-1.5e-20), "-1.5e-20");
    EXPECT_DOC(j_dbl(1e300), "1e300");
    EXPECT_DOC(j_dbl(DBL_MAX), "1.7976931348623157e308");
    EXPECT_DOC(j_dbl(-DBL_MAX), "-1.7976931348623157e308");
    EXPECT_DOC(j_dbl(5e-324), "5e-324");
    EXPECT_DOC(j_dbl(2.5e-100), "2.5e-100");
    EXPECT_DOC(j_dbl(1e21), "1e21");

    /* strings: escapes, 4-byte UTF-8, multi-byte lengths */
    EXPECT_DOC(j_str(""), "\"\"");
    EXPECT_DOC(j_strn("a\"b\\c\n\t\r\b\f\x01\x1f/\x7f", 14),
               "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/\x7f\"");
    EXPECT_DOC(j_str("\xf0\x9f\x98\x80 \xc3\xa9"), "\"\xf0\x9f\x98\x80 \xc3\xa9\"");
    static char big[20000];
    memset(big, 'x', sizeof big);
    static char want[20010];
    for (size_t n = 127; n <= 16384; n = n == 127 ? 128 : n == 128 ? 16383 : 16384 + 1) {
        want[0] = '"';
        memcpy(want + 1, big, n);
        want[n + 1] = '"';
        want[n + 2] = '\0';
        EXPECT_DOC(j_strn(big, n), want);
        if (n == 16384 + 1)
            break;
    }
}

static void test_opaque(void)
{
    /* DECIMAL(10,2) -12.34: precision, scale, then the packed decimal */
    uint8_t dec[7] = { 10, 2, 0x7f, 0xff, 0xff, 0xf3, 0xdd };
    EXPECT_DOC(j_opaque(246, dec, 7), "-12.34");
    uint8_t dec0[3] = { 1, 0, 0x85 };
    EXPECT_DOC(j_opaque(246, dec0, 3), "5");
    /* temporals are packed longlongs (TIME_to_longlong_*_packed) */
    uint64_t ymd = (uint64_t)((2024 * 13 + 2) << 5 | 29);
    uint64_t hms = 12 << 12 | 34 << 6 | 56;
    uint64_t dt = ((ymd << 17 | hms) << 24) + 123456;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(dt >> (8 * i));
    EXPECT_DOC(j_opaque(12, b, 8), "\"2024-02-29 12:34:56.123456\"");
    EXPECT_DOC(j_opaque(7, b, 8), "\"2024-02-29 12:34:56.123456\"");
    uint64_t d = (ymd << 17) << 24;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(d >> (8 * i));
    EXPECT_DOC(j_opaque(10, b, 8), "\"2024-02-29\"");
    int64_t t = -(int64_t)(((uint64_t)(1 << 12 | 2 << 6 | 3) << 24) + 500000);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)t >> (8 * i));
    EXPECT_DOC(j_opaque(11, b, 8), "\"-01:02:03.500000\"");
    /* strings kept as opaque VAR_STRING print as strings */
    EXPECT_DOC(j_opaque(253, "abc", 3), "\"abc\"");
    /* everything else: base64:typeNN:, a newline every 76 characters */
    EXPECT_DOC(j_opaque(252, "\x01\x02\x03", 3), "\"base64:type252:AQID\"");
    EXPECT_DOC(j_opaque(16, "\x55", 1), "\"base64:type16:VQ==\"");
    EXPECT_DOC(j_opaque(15, "", 0), "\"base64:type15:\"");
    static uint8_t blob[100];
    for (int i = 0; i < 100; i++)
        blob[i] = (uint8_t)i;
    EXPECT_DOC(j_opaque(252, blob, 100),
               "\"base64:type252:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
               "MzQ1Njc4\\nOTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiYw==\"");
    /* malformed opaque payloads */
    uint8_t bad[16];
    size_t n = doc_of(j_opaque(246, "\x05\x06\x00", 3), bad); /* scale > precision */
    EXPECT_BAD(bad, n, "DECIMAL");
    n = doc_of(j_opaque(12, b, 7), bad);
    EXPECT_BAD(bad, n, "8 bytes");
    uint64_t hour24 = (((uint64_t)((2024 * 13 + 1) << 5 | 1) << 17 | 24 << 12) << 24);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hour24 >> (8 * i));
    n = doc_of(j_opaque(12, b, 8), bad);
    EXPECT_BAD(bad, n, "out of range");
    n = doc_of(j_opaque(253, "\xff", 1), bad);
    EXPECT_BAD(bad, n, "UTF-8");
}

/* ---- containers -------------------------------------------------------------- */

static void test_containers(void)
{
    EXPECT_DOC(j_container(false, NULL, NULL, 0), "[]");
    static const char *const none[1] = { NULL };
    EXPECT_DOC(j_container(false, none, NULL, 0), "{}");
    EXPECT_DOC(j_container(true, NULL, NULL, 0), "[]");
    EXPECT_DOC(j_container(true, none, NULL, 0), "{}");

    /* small array: inlined literal/int16/uint16, offset int32/string/double */
    jv *a[] = { j_lit(0), j_lit(1), j_lit(2), j_i16(-5), j_u16(7), j_i32(100000),
                j_u32(4000000000u), j_str("s"), j_dbl(2.5), j_i64(-1), j_u64(1) };
    EXPECT_DOC(j_container(false, NULL, a, 11), "[null,true,false,-5,7,100000,4000000000,\"s\",2.5,-1,1]");
    /* the same in a large array: int32/uint32 inlined too */
    jv *la[] = { j_lit(0), j_i16(-5), j_i32(INT32_MIN), j_u32(UINT32_MAX), j_str("s") };
    EXPECT_DOC(j_container(true, NULL, la, 5), "[null,-5,-2147483648,4294967295,\"s\"]");

    /* objects: keys as stored (MySQL stores them by length, then bytes) */
    static const char *const k3[] = { "a", "b", "aa" };
    jv *o[] = { j_i16(1), j_lit(1), j_str("x") };
    EXPECT_DOC(j_container(false, k3, o, 3), "{\"a\":1,\"b\":true,\"aa\":\"x\"}");
    static const char *const kl[] = { "k", "key\"q" };
    jv *lo[] = { j_i32(-7), j_u32(9) };
    EXPECT_DOC(j_container(true, kl, lo, 2), "{\"k\":-7,\"key\\\"q\":9}");

    /* nesting: {"arr":[1,{"x":[]}],"obj":{"y":null}} */
    static const char *const kx[] = { "x" };
    jv *inner[] = { j_container(false, NULL, NULL, 0) };
    jv *arr[] = { j_i16(1), j_container(false, kx, inner, 1) };
    static const char *const ky[] = { "y" };
    jv *oy[] = { j_lit(0) };
    static const char *const kt[] = { "arr", "obj" };
    jv *top[] = { j_container(false, NULL, arr, 2), j_container(true, ky, oy, 1) };
    EXPECT_DOC(j_container(false, kt, top, 2), "{\"arr\":[1,{\"x\":[]}],\"obj\":{\"y\":null}}");

    /* a large container that needs 4-byte offsets (> 64 KB) */
    static char chunk[40000];
    memset(chunk, 'z', sizeof chunk);
    jv *big[] = { j_strn(chunk, sizeof chunk), j_strn(chunk, sizeof chunk), j_i16(3) };
    jv *bigarr = j_container(true, NULL, big, 3);
    size_t n = doc_of(bigarr, doc);
    int rc;
    const char *got = render(doc, n, &rc);
    CHECK_EQ_INT(rc, WH_OK);
    static char want[2 * sizeof chunk + 16];
    snprintf(want, sizeof want, "[\"%.*s\",\"%.*s\",3]", (int)sizeof chunk, chunk,
             (int)sizeof chunk, chunk);
    CHECK_EQ_STR(got, want);
    CHECK(doc[0] == 0x03 && n > 65536);
}

static void test_depth(void)
{
    /* 100 nested arrays are fine, 101 are not (MySQL's limit) */
    for (int depth = 99; depth <= 101; depth++) {
        jv *v = j_container(false, NULL, NULL, 0);
        for (int i = 1; i < depth; i++) {
            jv *one[] = { v };
            v = j_container(false, NULL, one, 1);
        }
        size_t n = doc_of(v, doc);
        int rc;
        const char *got = render(doc, n, &rc);
        if (depth <= 100) {
            CHECK_EQ_INT(rc, WH_OK);
            CHECK_EQ_INT(strlen(got), 2 * (size_t)depth);
        } else {
            CHECK_EQ_INT(rc, WH_ERR_CORRUPT);
            CHECK(strstr(errbuf, "100") != NULL);
        }
    }
}

static void test_corrupt(void)
{
    uint8_t b[64];
    /* unknown type codes */
    b[0] = 0x0d;
    EXPECT_BAD(b, 1, "unknown value type");
    b[0] = 0x10;
    EXPECT_BAD(b, 3, "unknown value type");
    /* literal 3 */
    b[0] = 0x04;
    b[1] = 3;
    EXPECT_BAD(b, 2, "literal");
    /* container size larger than the document */
    static const uint8_t sz[] = { 0x02, 0x01, 0x00, 0x40, 0x00, 0x04, 0x00, 0x00 };
    EXPECT_BAD(sz, sizeof sz, "size");
    /* entries past the size */
    static const uint8_t cnt[] = { 0x02, 0x09, 0x00, 0x07, 0x00, 0x04, 0x00, 0x00 };
    EXPECT_BAD(cnt, sizeof cnt, "entries");
    /* value offset pointing past the container, and into the header */
    static const uint8_t voff[] = { 0x02, 0x01, 0x00, 0x07, 0x00, 0x0c, 0x30, 0x00 };
    EXPECT_BAD(voff, sizeof voff, "offset");
    static const uint8_t voff2[] = { 0x02, 0x01, 0x00, 0x08, 0x00, 0x0c, 0x02, 0x00, 0x00 };
    EXPECT_BAD(voff2, sizeof voff2, "offset");
    /* key offset/length out of bounds */
    static const uint8_t koff[] = { 0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x09, 0x00,
                                    0x04, 0x00, 0x00, 0x61 };
    EXPECT_BAD(koff, sizeof koff, "key");
    /* string length past the end, and a 6-byte length */
    static const uint8_t sl[] = { 0x0c, 0x05, 'a', 'b' };
    EXPECT_BAD(sl, sizeof sl, "string");
    static const uint8_t vl[] = { 0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
    EXPECT_BAD(vl, sizeof vl, "five bytes");
    /* invalid UTF-8 in a string and in a key */
    static const uint8_t bu[] = { 0x0c, 0x02, 0xc3, 0x28 };
    EXPECT_BAD(bu, sizeof bu, "UTF-8");
    static const uint8_t bk[] = { 0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00,
                                  0x04, 0x00, 0x00, 0xff };
    EXPECT_BAD(bk, sizeof bk, "UTF-8");
    /* non-finite double */
    uint8_t inf[9] = { 0x0b, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f };
    EXPECT_BAD(inf, sizeof inf, "finite");

    /* Flip every byte of a rich document through several values: an error
     * or a document, never a crash or an over-read (ASan). */
    static const char *const k2[] = { "n", "arr" };
    jv *arr[] = { j_str("hello"), j_dbl(1.5), j_u64(7), j_opaque(252, "xy", 2),
                  j_lit(1), j_i32(-3) };
    jv *top[] = { j_i16(2), j_container(false, NULL, arr, 6) };
    size_t n = doc_of(j_container(false, k2, top, 2), doc);
    static const uint8_t flips[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0x0f, 0x0c, 0x40 };
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            uint8_t *m = malloc(n);
            memcpy(m, doc, n);
            m[i] = flips[f];
            int rc;
            render(m, n, &rc);
            CHECK(rc == WH_OK || rc == WH_ERR_CORRUPT);
            free(m);
        }
    }
    /* appending keeps what the buffer held */
    wh_buf out = WH_BUF_INIT;
    wh_buf_puts(&out, "x=");
    static const uint8_t one[] = { 0x05, 0x01, 0x00 };
    CHECK_EQ_INT(binlog_json_to_text(one, 3, &out, errbuf, sizeof errbuf), WH_OK);
    CHECK_EQ_STR(out.data, "x=1");
    CHECK_EQ_INT(binlog_json_to_text(one, 0, &out, errbuf, sizeof errbuf), WH_OK);
    CHECK_EQ_STR(out.data, "x=1null");
    CHECK_EQ_INT(binlog_json_to_text(NULL, 3, &out, errbuf, sizeof errbuf), WH_ERR_INVALID);
    wh_buf_free(&out);
}

/* ---- partial updates ------------------------------------------------------------ */

typedef struct dv {
    uint8_t b[4096];
    size_t  len;
} dv;

static void dv_begin(dv *d) { d->len = 4; }

static void dv_packed(dv *d, size_t n)
{
    if (n < 251) {
        d->b[d->len++] = (uint8_t)n;
    } else {
        d->b[d->len++] = 0xfc;
        d->b[d->len++] = (uint8_t)n;
        d->b[d->len++] = (uint8_t)(n >> 8);
    }
}

/* Appends one diff; value is a binary JSON value (freed) or NULL for REMOVE. */
static void dv_add(dv *d, int op, const char *path, jv *value)
{
    d->b[d->len++] = (uint8_t)op;
    dv_packed(d, strlen(path));
    memcpy(d->b + d->len, path, strlen(path));
    d->len += strlen(path);
    if (value) {
        uint8_t tmp[4096];
        size_t n = doc_of(value, tmp);
        dv_packed(d, n);
        memcpy(d->b + d->len, tmp, n);
        d->len += n;
    }
}

static void dv_end(dv *d)
{
    uint32_t n = (uint32_t)(d->len - 4);
    for (int i = 0; i < 4; i++)
        d->b[i] = (uint8_t)(n >> (8 * i));
}

static int apply(const char *before, const dv *d, size_t avail, const char **out_text,
                 size_t *used)
{
    static wh_buf out = WH_BUF_INIT;
    wh_buf_reset(&out);
    errbuf[0] = '\0';
    uint8_t *copy = malloc(avail ? avail : 1);
    memcpy(copy, d->b, avail);
    int rc = binlog_json_apply_diff(before, strlen(before), copy, avail, used, &out, errbuf,
                                    sizeof errbuf);
    free(copy);
    *out_text = out.data ? out.data : "";
    return rc;
}

static void expect_apply(const char *before, dv *d, const char *want, int line)
{
    dv_end(d);
    const char *got;
    size_t used = 0;
    int rc = apply(before, d, d->len, &got, &used);
    if (rc || strcmp(got, want) != 0)
        fprintf(stderr, "line %d: rc %d (%s)\n", line, rc, errbuf);
    CHECK_EQ_INT(rc, WH_OK);
    CHECK_EQ_INT(used, d->len);
    CHECK_EQ_STR(got, want);
    /* every shorter row image is cut off */
    for (size_t k = 0; k < d->len; k++) {
        int r = apply(before, d, k, &got, &used);
        CHECK_EQ_INT(r, k < 4 ? WH_ERR_TRUNCATED : WH_ERR_TRUNCATED);
    }
    /* a vector length that ends inside a diff is corrupt (or, at a diff
     * boundary, a shorter valid vector): never a crash */
    uint8_t save[4];
    memcpy(save, d->b, 4);
    for (uint32_t total = 0; total + 4 < d->len; total++) {
        for (int i = 0; i < 4; i++)
            d->b[i] = (uint8_t)(total >> (8 * i));
        int r = apply(before, d, d->len, &got, &used);
        CHECK(r == WH_OK || r == WH_ERR_CORRUPT);
        if (r == WH_OK)
            CHECK_EQ_INT(used, total + 4);
    }
    memcpy(d->b, save, 4);
}
#define EXPECT_APPLY(before, d, want) expect_apply(before, d, want, __LINE__)

static void expect_apply_err(const char *before, dv *d, int code, const char *part, int line)
{
    dv_end(d);
    const char *got;
    size_t used;
    int rc = apply(before, d, d->len, &got, &used);
    if (rc != code || (part && !strstr(errbuf, part)))
        fprintf(stderr, "line %d: rc %d (%s)\n", line, rc, errbuf);
    CHECK_EQ_INT(rc, code);
    if (part)
        CHECK(strstr(errbuf, part) != NULL);
}
#define EXPECT_APPLY_ERR(before, d, code, part) expect_apply_err(before, d, code, part, __LINE__)

enum { REPLACE = 0, INSERT = 1, REMOVE = 2 };

static void test_diffs(void)
{
    dv d;
    const char *obj = "{\"a\":1,\"b\":2}";

    dv_begin(&d);
    dv_add(&d, REPLACE, "$.a", j_i16(5));
    EXPECT_APPLY(obj, &d, "{\"a\":5,\"b\":2}");

    /* inserted members take MySQL's key order: by length, then bytes */
    dv_begin(&d);
    dv_add(&d, INSERT, "$.aa", j_str("x"));
    dv_add(&d, INSERT, "$.c", j_lit(1));
    dv_add(&d, INSERT, "$.B", j_lit(0));
    EXPECT_APPLY(obj, &d, "{\"B\":null,\"a\":1,\"b\":2,\"c\":true,\"aa\":\"x\"}");

    dv_begin(&d);
    dv_add(&d, REMOVE, "$.b", NULL);
    EXPECT_APPLY(obj, &d, "{\"a\":1}");

    /* arrays: replace, insert (in the middle, past the end), remove, last */
    const char *arr = "[10,20,30]";
    dv_begin(&d);
    dv_add(&d, REPLACE, "$[1]", j_i16(21));
    EXPECT_APPLY(arr, &d, "[10,21,30]");
    dv_begin(&d);
    dv_add(&d, INSERT, "$[0]", j_i16(0));
    dv_add(&d, INSERT, "$[99]", j_i16(99));
    EXPECT_APPLY(arr, &d, "[0,10,20,30,99]");
    dv_begin(&d);
    dv_add(&d, REMOVE, "$[last]", NULL);
    dv_add(&d, REPLACE, "$[last-1]", j_str("first"));
    EXPECT_APPLY(arr, &d, "[\"first\",20]");
    dv_begin(&d);
    dv_add(&d, REMOVE, "$[0]", NULL);
    dv_add(&d, REMOVE, "$[0]", NULL);
    dv_add(&d, REMOVE, "$[0]", NULL);
    EXPECT_APPLY(arr, &d, "[]");

    /* nested paths, quoted member names, blanks */
    const char *nest = "{\"x\": [ {\"y\": 1}, {\"y\": 2} ], \"a b\": {\"k\\\"q\": true}}";
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.x[1].y", j_container(false, NULL, NULL, 0));
    dv_add(&d, REPLACE, "$.\"a b\".\"k\\\"q\"", j_lit(2));
    dv_add(&d, INSERT, "$ . x [ 0 ] . z", j_dbl(0.5));
    EXPECT_APPLY(nest, &d, "{\"x\":[{\"y\":1,\"z\":0.5},{\"y\":[]}],\"a b\":{\"k\\\"q\":false}}");

    /* scalars keep their exact text: uint64 above 2^63, decimals, escapes */
    const char *exact = "{\"n\":18446744073709551615,\"d\":1.10,\"s\":\"\\u00e9\\n\",\"e\":-1.5E+300}";
    dv_begin(&d);
    dv_add(&d, INSERT, "$.z", j_u64(UINT64_MAX));
    EXPECT_APPLY(exact, &d,
                 "{\"d\":1.10,\"e\":-1.5E+300,\"n\":18446744073709551615,\"s\":\"\\u00e9\\n\","
                 "\"z\":18446744073709551615}");

    /* a large value through 3-byte packed lengths */
    static char big[600];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.a", j_str(big));
    static char want[700];
    snprintf(want, sizeof want, "{\"a\":\"%s\",\"b\":2}", big);
    EXPECT_APPLY(obj, &d, want);

    /* nothing to do: an empty vector */
    dv_begin(&d);
    EXPECT_APPLY(obj, &d, obj);

    /* bytes after the vector are not consumed */
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.b", j_i16(3));
    dv_end(&d);
    d.b[d.len] = 0xee;
    const char *got;
    size_t used;
    CHECK_EQ_INT(apply(obj, &d, d.len + 1, &got, &used), WH_OK);
    CHECK_EQ_INT(used, d.len);

    /* refused paths */
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.*", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_UNSUPPORTED, "wildcard");
    dv_begin(&d);
    dv_add(&d, REPLACE, "$[*]", j_i16(1));
    EXPECT_APPLY_ERR(arr, &d, WH_ERR_UNSUPPORTED, "wildcard");
    dv_begin(&d);
    dv_add(&d, REPLACE, "$**.a", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_UNSUPPORTED, "**");
    dv_begin(&d);
    dv_add(&d, REMOVE, "$[0 to 1]", NULL);
    EXPECT_APPLY_ERR(arr, &d, WH_ERR_UNSUPPORTED, "range");
    dv_begin(&d);
    dv_add(&d, REMOVE, "a.b", NULL);
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "'$'");
    dv_begin(&d);
    dv_add(&d, REMOVE, "$[x]", NULL);
    EXPECT_APPLY_ERR(arr, &d, WH_ERR_CORRUPT, "index");
    dv_begin(&d);
    dv_add(&d, REPLACE, "$", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "whole document");

    /* diffs that do not fit the before image */
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.zz", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "does not apply");
    dv_begin(&d);
    dv_add(&d, INSERT, "$.a", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "does not apply");
    dv_begin(&d);
    dv_add(&d, REMOVE, "$[3]", NULL);
    EXPECT_APPLY_ERR(arr, &d, WH_ERR_CORRUPT, "does not apply");
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.a.b", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "does not apply");
    dv_begin(&d);
    dv_add(&d, REPLACE, "$[0]", j_i16(1));
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "does not apply");

    /* malformed vectors and before images */
    dv_begin(&d);
    dv_add(&d, 3, "$.a", NULL);
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "operation 3");
    dv_begin(&d);
    dv_add(&d, REPLACE, "$.a", j_i16(1));
    EXPECT_APPLY_ERR("{\"a\":1", &d, WH_ERR_CORRUPT, "before image");
    EXPECT_APPLY_ERR("{\"a\":1} x", &d, WH_ERR_CORRUPT, "before image");
    EXPECT_APPLY_ERR("{\"a\":01}", &d, WH_ERR_CORRUPT, "before image");
    EXPECT_APPLY_ERR("{\"a\":\"\\x\"}", &d, WH_ERR_CORRUPT, "before image");
    EXPECT_APPLY_ERR("", &d, WH_ERR_CORRUPT, "before image");
    dv_begin(&d);
    d.b[d.len++] = REPLACE;
    d.b[d.len++] = 3;
    memcpy(d.b + d.len, "$.a", 3);
    d.len += 3;
    d.b[d.len++] = 2;
    d.b[d.len++] = 0x04;
    d.b[d.len++] = 0x07; /* literal 7 */
    EXPECT_APPLY_ERR(obj, &d, WH_ERR_CORRUPT, "literal");
    CHECK_EQ_INT(apply(obj, &d, 2, &got, &used), WH_ERR_TRUNCATED);
}

int main(void)
{
    test_scalars();
    test_opaque();
    test_containers();
    test_depth();
    test_corrupt();
    test_diffs();
    return check_done("test_binlog_json");
}

/* test_binlog_charset.c -- collation ids to charsets, UTF-8 validation and conversion. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../check.h"
#include "core/utf8.h"
#include "mappers/mysql/binlog_charset.h"
#include "wormhole/error.h"

static char errbuf[512];

static void test_collations(void)
{
    static const struct {
        uint32_t id;
        binlog_charset cs;
    } ids[] = {
        { 0, CS_UNKNOWN },     { 1, CS_BIG5 },       { 5, CS_LATIN1 },     { 8, CS_LATIN1 },
        { 11, CS_ASCII },      { 17, CS_FILENAME },  { 28, CS_GBK },       { 33, CS_UTF8MB3 },
        { 35, CS_UCS2 },       { 45, CS_UTF8MB4 },   { 46, CS_UTF8MB4 },   { 47, CS_LATIN1 },
        { 51, CS_CP1251 },     { 54, CS_UTF16 },     { 56, CS_UTF16LE },   { 60, CS_UTF32 },
        { 63, CS_BINARY },     { 76, CS_UTF8MB3 },   { 83, CS_UTF8MB3 },   { 95, CS_CP932 },
        { 97, CS_EUCJPMS },    { 100, CS_UNKNOWN },  { 101, CS_UTF16 },    { 119, CS_UTF16 },
        { 124, CS_UTF16 },     { 125, CS_UNKNOWN },  { 128, CS_UCS2 },     { 159, CS_UCS2 },
        { 160, CS_UTF32 },     { 192, CS_UTF8MB3 },  { 223, CS_UTF8MB3 },  { 224, CS_UTF8MB4 },
        { 247, CS_UTF8MB4 },   { 248, CS_GB18030 },  { 250, CS_GB18030 },  { 251, CS_UNKNOWN },
        { 255, CS_UTF8MB4 },   { 272, CS_UNKNOWN },  { 309, CS_UTF8MB4 },  { 323, CS_UTF8MB4 },
        { 324, CS_UNKNOWN },   { 576, CS_UTF8MB3 },  { 578, CS_UTF8MB3 },  { 579, CS_UNKNOWN },
        { 608, CS_UTF8MB4 },   { 640, CS_UCS2 },     { 672, CS_UTF16 },    { 704, CS_UNKNOWN },
        { 736, CS_UTF32 },     { 738, CS_UTF32 },    { 1024, CS_UNKNOWN }, { 1025, CS_BIG5 },
        { 1032, CS_LATIN1 },   { 1057, CS_UTF8MB3 }, { 1087, CS_UNKNOWN }, { 1070, CS_UTF8MB4 },
        { 1248, CS_UTF8MB4 },  { 2048, CS_UTF8MB3 }, { 2303, CS_UTF8MB3 }, { 2304, CS_UTF8MB4 },
        { 2560, CS_UCS2 },     { 2816, CS_UTF16 },   { 3072, CS_UTF32 },   { 3327, CS_UTF32 },
        { 3328, CS_UNKNOWN },  { 65535, CS_UNKNOWN }, { 70000, CS_UNKNOWN },
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        binlog_charset got = binlog_collation_charset(ids[i].id);
        if (got != ids[i].cs)
            fprintf(stderr, "collation %u: got %s, want %s\n", ids[i].id,
                    binlog_charset_name(got), binlog_charset_name(ids[i].cs));
        CHECK_EQ_INT(got, ids[i].cs);
    }
    /* every id below 4096 maps to something in range */
    for (uint32_t id = 0; id < 4096; id++)
        CHECK((unsigned)binlog_collation_charset(id) < CS__COUNT);
    CHECK_EQ_STR(binlog_charset_name(CS_UTF8MB4), "utf8mb4");
    CHECK_EQ_STR(binlog_charset_name(CS_LATIN1), "latin1");
    CHECK_EQ_STR(binlog_charset_name(CS__COUNT), "unknown");
    CHECK_EQ_STR(binlog_charset_name((binlog_charset)-1), "unknown");
}

static bool valid(const char *s, size_t n, size_t *bad)
{
    /* an exact-size copy, so ASan sees any over-read */
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, s, n);
    bool ok = wh_utf8_valid(c, n, bad);
    free(c);
    return ok;
}

static void test_utf8(void)
{
    size_t bad = 99;
    CHECK(valid("", 0, &bad));
    CHECK(valid("plain ascii text, longer than eight bytes", 41, &bad));
    CHECK(valid("\x7f", 1, &bad));
    CHECK(valid("\xc2\x80", 2, &bad));              /* U+0080 */
    CHECK(valid("\xdf\xbf", 2, &bad));              /* U+07FF */
    CHECK(valid("\xe0\xa0\x80", 3, &bad));          /* U+0800 */
    CHECK(valid("\xed\x9f\xbf", 3, &bad));          /* U+D7FF */
    CHECK(valid("\xee\x80\x80", 3, &bad));          /* U+E000 */
    CHECK(valid("\xef\xbf\xbf", 3, &bad));          /* U+FFFF */
    CHECK(valid("\xf0\x90\x80\x80", 4, &bad));      /* U+10000 */
    CHECK(valid("\xf4\x8f\xbf\xbf", 4, &bad));      /* U+10FFFF */
    CHECK(valid("12345678\xf0\x9f\x98\x80", 12, &bad));
    static const struct {
        const char *s;
        size_t n, at;
    } bads[] = {
        { "\x80", 1, 0 },                 /* lone continuation */
        { "\xc0\x80", 2, 0 },             /* overlong NUL */
        { "\xc1\xbf", 2, 0 },             /* overlong */
        { "\xe0\x9f\xbf", 3, 0 },         /* overlong 3-byte */
        { "\xed\xa0\x80", 3, 0 },         /* surrogate */
        { "\xf0\x8f\xbf\xbf", 4, 0 },     /* overlong 4-byte */
        { "\xf4\x90\x80\x80", 4, 0 },     /* above U+10FFFF */
        { "\xf5\x80\x80\x80", 4, 0 },
        { "\xff", 1, 0 },
        { "ab\xc3", 3, 2 },               /* cut off */
        { "abcdefgh\xe2\x82", 10, 8 },
        { "abc\xe2\x28\xa1", 6, 3 },
        { "\xf0\x9f\x98", 3, 0 },
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        bad = 99;
        CHECK(!valid(bads[i].s, bads[i].n, &bad));
        CHECK_EQ_INT(bad, bads[i].at);
    }
}

static void test_convert(void)
{
    wh_arena arena = WH_ARENA_INIT;
    const char *out;
    size_t n;
    /* utf8 is zero-copy */
    static const uint8_t u[] = "h\xc3\xa9";
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_UTF8MB4, u, 3, &arena, &out, &n, errbuf, sizeof errbuf),
                 WH_OK);
    CHECK(out == (const char *)u && n == 3);
    /* latin1: every byte */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_LATIN1, all, 256, &arena, &out, &n, errbuf,
                                        sizeof errbuf), WH_OK);
    /* 128 ASCII; 0x80..0x9f: 17 characters of 3 bytes, 15 of 2 (ƒ Š Œ Ž ˆ ˜ š œ ž Ÿ
     * and the five C1 controls); 0xa0..0xff: 96 of 2 bytes */
    CHECK_EQ_INT(n, 128 + 17 * 3 + 15 * 2 + 96 * 2);
    CHECK(wh_utf8_valid((const uint8_t *)out, n, NULL));
    CHECK(memcmp(out + n - 2, "\xc3\xbf", 2) == 0);   /* 0xff is U+00FF */
    CHECK(memcmp(out + 128, "\xe2\x82\xac", 3) == 0); /* 0x80 is the euro sign */
    /* each iconv-backed charset converts ASCII unchanged where it is ASCII-based */
    static const binlog_charset ascii_based[] = {
        CS_BIG5, CS_DEC8, CS_CP850, CS_HP8, CS_KOI8R, CS_LATIN2, CS_UJIS, CS_CP1251,
        CS_HEBREW, CS_TIS620, CS_EUCKR, CS_LATIN7, CS_KOI8U, CS_GB2312, CS_GREEK, CS_CP1250,
        CS_GBK, CS_CP1257, CS_LATIN5, CS_ARMSCII8, CS_CP866, CS_MACCE, CS_MACROMAN, CS_CP852,
        CS_CP1256, CS_CP932, CS_EUCJPMS, CS_GB18030, CS_SJIS, CS_SWE7,
    };
    for (size_t i = 0; i < sizeof ascii_based / sizeof ascii_based[0]; i++) {
        int rc = binlog_charset_to_utf8(ascii_based[i], (const uint8_t *)"abc 123", 7, &arena,
                                        &out, &n, errbuf, sizeof errbuf);
        if (rc)
            fprintf(stderr, "%s: %s\n", binlog_charset_name(ascii_based[i]), errbuf);
        CHECK_EQ_INT(rc, WH_OK);
        CHECK(n == 7 && memcmp(out, "abc 123", 7) == 0);
    }
    /* koi8r 0xc1 is U+0430; latin2 0xb1 is U+0105; greek 0xe1 is U+03B1 */
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_KOI8R, (const uint8_t *)"\xc1", 1, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_OK);
    CHECK(n == 2 && memcmp(out, "\xd0\xb0", 2) == 0);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_LATIN2, (const uint8_t *)"\xb1", 1, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_OK);
    CHECK(n == 2 && memcmp(out, "\xc4\x85", 2) == 0);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_GREEK, (const uint8_t *)"\xe1", 1, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_OK);
    CHECK(n == 2 && memcmp(out, "\xce\xb1", 2) == 0);
    /* euckr B0 A1 is U+AC00; big5 A4 40 is U+4E00; gb18030 4-byte 81 30 81 30 is U+0080 */
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_EUCKR, (const uint8_t *)"\xb0\xa1", 2, &arena, &out,
                                        &n, errbuf, sizeof errbuf), WH_OK);
    CHECK(n == 3 && memcmp(out, "\xea\xb0\x80", 3) == 0);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_BIG5, (const uint8_t *)"\xa4\x40", 2, &arena, &out,
                                        &n, errbuf, sizeof errbuf), WH_OK);
    CHECK(n == 3 && memcmp(out, "\xe4\xb8\x80", 3) == 0);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_GB18030, (const uint8_t *)"\x81\x30\x81\x30", 4,
                                        &arena, &out, &n, errbuf, sizeof errbuf), WH_OK);
    CHECK(n == 2 && memcmp(out, "\xc2\x80", 2) == 0);
    /* invalid multi-byte input names the charset and the offset */
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_EUCKR, (const uint8_t *)"ab\xb0", 3, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_ERR_CORRUPT);
    CHECK(strstr(errbuf, "euckr") && strstr(errbuf, "offset 2"));
    /* charsets without a converter, and the non-text ones */
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_KEYBCS2, (const uint8_t *)"a", 1, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_ERR_UNSUPPORTED);
    CHECK(strstr(errbuf, "keybcs2") != NULL);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_BINARY, (const uint8_t *)"a", 1, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_ERR_UNSUPPORTED);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_UNKNOWN, (const uint8_t *)"a", 1, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_ERR_UNSUPPORTED);
    /* empty input */
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_CP1251, (const uint8_t *)"", 0, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(binlog_charset_to_utf8(CS_UTF16, (const uint8_t *)"", 0, &arena, &out, &n,
                                        errbuf, sizeof errbuf), WH_OK);
    CHECK_EQ_INT(n, 0);
    wh_arena_free(&arena);
}

/* iconv descriptors are per thread: convert from several threads at once;
 * each thread's descriptors are closed when it exits (LeakSanitizer). */
static void *worker(void *arg)
{
    binlog_charset cs = *(const binlog_charset *)arg;
    wh_arena arena = WH_ARENA_INIT;
    char eb[256];
    long fails = 0;
    for (int i = 0; i < 2000; i++) {
        const char *out;
        size_t n;
        if (binlog_charset_to_utf8(cs, (const uint8_t *)"\xc0\xe0 text", 7, &arena, &out, &n, eb,
                                   sizeof eb) != WH_OK || n < 7)
            fails++;
        if (i % 100 == 0)
            wh_arena_reset(&arena);
    }
    wh_arena_free(&arena);
    return (void *)fails;
}

static void test_threads(void)
{
    static const binlog_charset cs[4] = { CS_CP1251, CS_LATIN2, CS_CP1251, CS_KOI8R };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, worker, (void *)&cs[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK_EQ_INT((long)r, 0);
    }
}

int main(void)
{
    test_collations();
    test_utf8();
    test_convert();
    test_threads();
    return check_done("test_binlog_charset");
}

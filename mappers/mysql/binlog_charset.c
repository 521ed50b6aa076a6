/* binlog_charset.c -- collation ids to character sets, and text to UTF-8 (see binlog_charset.h). */
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <string.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "core/utf8.h"
#include "mappers/mysql/binlog_charset.h"
#include "wormhole/error.h"

/* Character set of each collation id below 328: the union of MySQL 8.0's and
 * MariaDB's assignments (they agree wherever both assign an id; checked
 * against information_schema.COLLATIONS of MariaDB 10.11 and the MySQL 8.0
 * list). 0 = unassigned. */
static const uint8_t collation_cs_low[328] = {
    0, CS_BIG5, CS_LATIN2, CS_DEC8, CS_CP850, CS_LATIN1, CS_HP8, CS_KOI8R, /* 0 */
    CS_LATIN1, CS_LATIN2, CS_SWE7, CS_ASCII, CS_UJIS, CS_SJIS, CS_CP1251, CS_LATIN1, /* 8 */
    CS_HEBREW, CS_FILENAME, CS_TIS620, CS_EUCKR, CS_LATIN7, CS_LATIN2, CS_KOI8U, CS_CP1251, /* 16 */
    CS_GB2312, CS_GREEK, CS_CP1250, CS_LATIN2, CS_GBK, CS_CP1257, CS_LATIN5, CS_LATIN1, /* 24 */
    CS_ARMSCII8, CS_UTF8MB3, CS_CP1250, CS_UCS2, CS_CP866, CS_KEYBCS2, CS_MACCE, CS_MACROMAN, /* 32 */
    CS_CP852, CS_LATIN7, CS_LATIN7, CS_MACCE, CS_CP1250, CS_UTF8MB4, CS_UTF8MB4, CS_LATIN1, /* 40 */
    CS_LATIN1, CS_LATIN1, CS_CP1251, CS_CP1251, CS_CP1251, CS_MACROMAN, CS_UTF16, CS_UTF16, /* 48 */
    CS_UTF16LE, CS_CP1256, CS_CP1257, CS_CP1257, CS_UTF32, CS_UTF32, CS_UTF16LE, CS_BINARY, /* 56 */
    CS_ARMSCII8, CS_ASCII, CS_CP1250, CS_CP1256, CS_CP866, CS_DEC8, CS_GREEK, CS_HEBREW, /* 64 */
    CS_HP8, CS_KEYBCS2, CS_KOI8R, CS_KOI8U, CS_UTF8MB3, CS_LATIN2, CS_LATIN5, CS_LATIN7, /* 72 */
    CS_CP850, CS_CP852, CS_SWE7, CS_UTF8MB3, CS_BIG5, CS_EUCKR, CS_GB2312, CS_GBK, /* 80 */
    CS_SJIS, CS_TIS620, CS_UCS2, CS_UJIS, CS_GEOSTD8, CS_GEOSTD8, CS_LATIN1, CS_CP932, /* 88 */
    CS_CP932, CS_EUCJPMS, CS_EUCJPMS, CS_CP1250, 0, CS_UTF16, CS_UTF16, CS_UTF16, /* 96 */
    CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, /* 104 */
    CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, /* 112 */
    CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, CS_UTF16, 0, 0, 0, /* 120 */
    CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, /* 128 */
    CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, /* 136 */
    CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, CS_UCS2, /* 144 */
    0, 0, 0, 0, 0, 0, 0, CS_UCS2, /* 152 */
    CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, /* 160 */
    CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, /* 168 */
    CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, CS_UTF32, /* 176 */
    0, 0, 0, 0, 0, 0, 0, 0, /* 184 */
    CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, /* 192 */
    CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, /* 200 */
    CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, CS_UTF8MB3, /* 208 */
    0, 0, 0, 0, 0, 0, 0, CS_UTF8MB3, /* 216 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 224 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 232 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 240 */
    CS_GB18030, CS_GB18030, CS_GB18030, 0, 0, 0, CS_UTF8MB3, CS_UTF8MB4, /* 248 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 256 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 264 */
    0, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, 0, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 272 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 280 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, 0, /* 288 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, 0, CS_UTF8MB4, 0, 0, CS_UTF8MB4, /* 296 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 304 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, /* 312 */
    CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, CS_UTF8MB4, 0, 0, 0, 0, /* 320 */
};

binlog_charset binlog_collation_charset(uint32_t id)
{
    if (id < 328)
        return (binlog_charset)collation_cs_low[id];
    if (id >= 576 && id < 768) {
        /* MariaDB's *_croatian_ci, *_myanmar_ci and *_thai_520_w2 (UCA 5.2.0)
         * collations: three ids at the start of one 32-id block per charset. */
        if ((id & 31) > 2)
            return CS_UNKNOWN;
        switch ((id - 576) >> 5) {
        case 0: return CS_UTF8MB3;
        case 1: return CS_UTF8MB4;
        case 2: return CS_UCS2;
        case 3: return CS_UTF16;
        case 5: return CS_UTF32;
        default: return CS_UNKNOWN;
        }
    }
    if (id >= 1024 && id < 2048) {
        /* MariaDB's NO PAD variant of collation n has id 1024 + n. */
        binlog_charset cs = binlog_collation_charset(id - 1024);
        return cs == CS_BINARY ? CS_UNKNOWN : cs;
    }
    if (id >= 2048 && id < 2048 + 5 * 256) {
        /* MariaDB 10.10+ UCA 14.0.0 collations: one 256-id block per charset. */
        static const uint8_t uca1400[5] = { CS_UTF8MB3, CS_UTF8MB4, CS_UCS2, CS_UTF16, CS_UTF32 };
        return (binlog_charset)uca1400[(id - 2048) >> 8];
    }
    return CS_UNKNOWN;
}

/* Server name and iconv name of each character set; NULL iconv name means
 * the conversion is built in (or impossible). */
static const struct {
    const char *name;
    const char *iconv;
} charsets[CS__COUNT] = {
    [CS_UNKNOWN]  = { "unknown", NULL },
    [CS_BINARY]   = { "binary", NULL },
    [CS_UTF8MB3]  = { "utf8mb3", NULL },
    [CS_UTF8MB4]  = { "utf8mb4", NULL },
    [CS_ASCII]    = { "ascii", NULL },
    [CS_LATIN1]   = { "latin1", NULL },
    [CS_UCS2]     = { "ucs2", NULL },
    [CS_UTF16]    = { "utf16", NULL },
    [CS_UTF16LE]  = { "utf16le", NULL },
    [CS_UTF32]    = { "utf32", NULL },
    [CS_BIG5]     = { "big5", "BIG5" },
    [CS_DEC8]     = { "dec8", "DEC-MCS" },
    [CS_CP850]    = { "cp850", "CP850" },
    [CS_HP8]      = { "hp8", "HP-ROMAN8" },
    [CS_KOI8R]    = { "koi8r", "KOI8-R" },
    [CS_LATIN2]   = { "latin2", "ISO-8859-2" },
    [CS_SWE7]     = { "swe7", "ISO646-SE2" },
    [CS_UJIS]     = { "ujis", "EUC-JP" },
    [CS_SJIS]     = { "sjis", "SHIFT_JIS" },
    [CS_CP1251]   = { "cp1251", "CP1251" },
    [CS_HEBREW]   = { "hebrew", "ISO-8859-8" },
    [CS_TIS620]   = { "tis620", "TIS-620" },
    [CS_EUCKR]    = { "euckr", "EUC-KR" },
    [CS_LATIN7]   = { "latin7", "ISO-8859-13" },
    [CS_KOI8U]    = { "koi8u", "KOI8-U" },
    [CS_GB2312]   = { "gb2312", "GB2312" },
    [CS_GREEK]    = { "greek", "ISO-8859-7" },
    [CS_CP1250]   = { "cp1250", "CP1250" },
    [CS_GBK]      = { "gbk", "GBK" },
    [CS_CP1257]   = { "cp1257", "CP1257" },
    [CS_LATIN5]   = { "latin5", "ISO-8859-9" },
    [CS_ARMSCII8] = { "armscii8", "ARMSCII-8" },
    [CS_CP866]    = { "cp866", "CP866" },
    [CS_KEYBCS2]  = { "keybcs2", NULL },
    [CS_MACCE]    = { "macce", "MAC-CENTRALEUROPE" },
    [CS_MACROMAN] = { "macroman", "MACINTOSH" },
    [CS_CP852]    = { "cp852", "CP852" },
    [CS_CP1256]   = { "cp1256", "CP1256" },
    [CS_GEOSTD8]  = { "geostd8", NULL },
    [CS_CP932]    = { "cp932", "CP932" },
    [CS_EUCJPMS]  = { "eucjpms", "EUC-JP-MS" },
    [CS_GB18030]  = { "gb18030", "GB18030" },
    [CS_FILENAME] = { "filename", NULL },
};

const char *binlog_charset_name(binlog_charset cs)
{
    return ((unsigned)cs < CS__COUNT && charsets[cs].name) ? charsets[cs].name : "unknown";
}



/* ---- built-in converters -------------------------------------------------- */

/* MySQL's latin1 is Windows-1252 with 0x81, 0x8D, 0x8F, 0x90 and 0x9D mapped
 * to the C1 controls of the same value; 0xA0..0xFF are U+00A0..U+00FF. */
static const uint16_t latin1_80_9f[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
    0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static size_t conv_latin1(const uint8_t *p, size_t len, char *o)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c < 0x80)
            o[n++] = (char)c;
        else
            n += wh_utf8_encode(o + n, c < 0xa0 ? latin1_80_9f[c - 0x80] : c);
    }
    return n;
}

/* UTF-16 (big- or little-endian) and UCS-2 (big-endian, no surrogates).
 * Returns the output length, or (size_t)-1 with *bad set. */
static size_t conv_utf16(const uint8_t *p, size_t len, bool le, bool ucs2, char *o,
                         size_t *bad)
{
    size_t n = 0, i = 0;
    while (i < len) {
        if (len - i < 2)
            goto bad;
        uint32_t u = le ? wh_le16(p + i) : wh_be16(p + i);
        size_t step = 2;
        if (u >= 0xd800 && u <= 0xdfff) {
            if (ucs2 || u >= 0xdc00 || len - i < 4)
                goto bad;
            uint32_t u2 = le ? wh_le16(p + i + 2) : wh_be16(p + i + 2);
            if (u2 < 0xdc00 || u2 > 0xdfff)
                goto bad;
            u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
            step = 4;
        }
        n += wh_utf8_encode(o + n, u);
        i += step;
    }
    return n;
bad:
    *bad = i;
    return (size_t)-1;
}

static size_t conv_utf32(const uint8_t *p, size_t len, char *o, size_t *bad)
{
    size_t n = 0, i = 0;
    for (; i < len; i += 4) {
        if (len - i < 4)
            goto bad;
        uint32_t u = wh_be32(p + i);
        if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff))
            goto bad;
        n += wh_utf8_encode(o + n, u);
    }
    return n;
bad:
    *bad = i;
    return (size_t)-1;
}

/* ---- iconv, one descriptor per charset and thread -------------------------- */

typedef struct cs_cache {
    iconv_t cd[CS__COUNT];
    bool    failed[CS__COUNT];  /* iconv_open failed: this system lacks it */
    bool    registered;
} cs_cache;

static _Thread_local cs_cache tl_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_release(void *arg)
{
    cs_cache *c = arg;
    for (int i = 0; i < CS__COUNT; i++) {
        if (c->cd[i]) {
            iconv_close(c->cd[i]);
            c->cd[i] = NULL;
        }
    }
    c->registered = false;
}

static void cache_key_init(void)
{
    (void)pthread_key_create(&cache_key, cache_release);
}

static iconv_t cache_get(binlog_charset cs)
{
    cs_cache *c = &tl_cache;
    if (c->cd[cs])
        return c->cd[cs];
    if (c->failed[cs] || !charsets[cs].iconv)
        return NULL;
    iconv_t cd = iconv_open("UTF-8", charsets[cs].iconv);
    if (cd == (iconv_t)-1) {
        c->failed[cs] = true;
        return NULL;
    }
    if (!c->registered) {
        pthread_once(&cache_once, cache_key_init);
        c->registered = pthread_setspecific(cache_key, c) == 0;
    }
    c->cd[cs] = cd;
    return cd;
}

static int conv_iconv(binlog_charset cs, const uint8_t *p, size_t len, char *o, size_t cap,
                      size_t *out_len, char *errbuf, size_t errlen)
{
    iconv_t cd = cache_get(cs);
    if (!cd)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "text in character set %s cannot be converted to UTF-8: "
                         "this system's iconv has no converter for it",
                         binlog_charset_name(cs));
    iconv(cd, NULL, NULL, NULL, NULL); /* reset shift state */
    char *in = (char *)(uintptr_t)p, *out = o;
    size_t inleft = len, outleft = cap;
    if (iconv(cd, &in, &inleft, &out, &outleft) == (size_t)-1) {
        int e = errno;
        size_t at = len - inleft;
        if (e == E2BIG)
            return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                             "%s text of %zu bytes grew beyond three times its size "
                             "when converted to UTF-8", binlog_charset_name(cs), len);
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s text of %zu bytes has an %s byte sequence at offset %zu "
                         "(byte 0x%02x)", binlog_charset_name(cs), len,
                         e == EINVAL ? "incomplete" : "invalid", at, at < len ? p[at] : 0);
    }
    /* Flush any pending shift sequence. */
    if (iconv(cd, NULL, NULL, &out, &outleft) == (size_t)-1)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s text of %zu bytes ends in an incomplete shift sequence",
                         binlog_charset_name(cs), len);
    *out_len = (size_t)(out - o);
    return WH_OK;
}

/* ---- entry point ---------------------------------------------------------- */

int binlog_charset_to_utf8(binlog_charset cs, const uint8_t *p, size_t len,
                           wh_arena *arena, const char **out, size_t *out_len,
                           char *errbuf, size_t errlen)
{
    size_t bad = 0;
    switch (cs) {
    case CS_UTF8MB3:
    case CS_UTF8MB4:
        if (!wh_utf8_valid(p, len, &bad))
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "%s text of %zu bytes is not valid UTF-8 at offset %zu (byte 0x%02x)",
                             binlog_charset_name(cs), len, bad, p[bad]);
        *out = (const char *)p;
        *out_len = len;
        return WH_OK;
    case CS_ASCII:
        if ((bad = wh_ascii_prefix(p, len)) < len)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "ascii text of %zu bytes has byte 0x%02x at offset %zu",
                             len, p[bad], bad);
        *out = (const char *)p;
        *out_len = len;
        return WH_OK;
    case CS_LATIN1:
        if (wh_ascii_prefix(p, len) < len)
            break;
        *out = (const char *)p;   /* plain ASCII reads the same in UTF-8 */
        *out_len = len;
        return WH_OK;
    case CS_UNKNOWN:
    case CS_BINARY:
    case CS_FILENAME:
    case CS__COUNT:
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "cannot convert text in character set %s to UTF-8",
                         binlog_charset_name(cs));
    default:
        break;
    }
    if (len > (SIZE_MAX - 8) / 3)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s text of %zu bytes is too large",
                         binlog_charset_name(cs), len);
    /* No supported charset needs more than 3 UTF-8 bytes per input byte. */
    size_t cap = len * 3 + 4;
    char *o = wh_arena_alloc(arena, cap);
    if (!o)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                         "out of memory converting %zu bytes of %s text to UTF-8", len,
                         binlog_charset_name(cs));
    size_t n = 0;
    switch (cs) {
    case CS_LATIN1:
        n = conv_latin1(p, len, o);
        break;
    case CS_UCS2:
    case CS_UTF16:
    case CS_UTF16LE:
        n = conv_utf16(p, len, cs == CS_UTF16LE, cs == CS_UCS2, o, &bad);
        break;
    case CS_UTF32:
        n = conv_utf32(p, len, o, &bad);
        break;
    default: {
        int rc = conv_iconv(cs, p, len, o, cap, &n, errbuf, errlen);
        if (rc)
            return rc;
        break;
    }
    }
    if (n == (size_t)-1)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s text of %zu bytes has an invalid code unit at offset %zu",
                         binlog_charset_name(cs), len, bad);
    *out = o;
    *out_len = n;
    return WH_OK;
}

/* utf8.c -- UTF-8 validation (see utf8.h). */
#include <string.h>

#include "core/utf8.h"

size_t wh_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define HIGH_BITS 0x8080808080808080ull

size_t wh_ascii_prefix(const uint8_t *p, size_t len)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 64 <= len; i += 64) {
        __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i)),
                                 _mm_loadu_si128((const __m128i *)(p + i + 16)));
        __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i + 32)),
                                 _mm_loadu_si128((const __m128i *)(p + i + 48)));
        if (_mm_movemask_epi8(_mm_or_si128(a, b)))
            break;
    }
    for (; i + 16 <= len; i += 16) {
        int m = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(p + i)));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
    }
    /* The last 1..15 bytes: one load that ends at the end, overlapping bytes
     * already known to be ASCII. */
    if (i < len && len >= 16) {
        int m = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(p + len - 16)));
        return m ? len - 16 + (size_t)__builtin_ctz((unsigned)m) : len;
    }
#endif
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & HIGH_BITS)
            break;
    }
    for (; i < len; i++)
        if (p[i] & 0x80)
            return i;
    return len;
}

bool wh_utf8_valid(const uint8_t *p, size_t len, size_t *bad_at)
{
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i += wh_ascii_prefix(p + i, len - i);
            if (i >= len)
                break;
        }
        uint8_t c = p[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0;         /* no overlong forms */
            else if (c == 0xed)
                hi = 0x9f;         /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;         /* at most U+10FFFF */
        } else {
            goto bad;
        }
        if (len - i < n || p[i + 1] < lo || p[i + 1] > hi)
            goto bad;
        for (size_t k = 2; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                goto bad;
        i += n;
        continue;
    bad:
        if (bad_at)
            *bad_at = i;
        return false;
    }
    return true;
}

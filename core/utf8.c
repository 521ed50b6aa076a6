/* utf8.c -- UTF-8 validation (see utf8.h). */
#include <string.h>

#include "core/utf8.h"

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
        size_t n = wh_utf8_seq_len(p + i, len - i);
        if (n == 0) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += n;
    }
    return true;
}

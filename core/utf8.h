/* utf8.h -- validating and encoding UTF-8, shared by every module that handles text. */
#ifndef WH_UTF8_H
#define WH_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Length (1..4) of the well-formed UTF-8 sequence at s, of which n bytes
 * are available, or 0 if it is not well formed (overlong, surrogate, above
 * U+10FFFF, truncated, a stray continuation byte). n must be at least 1. */
static inline size_t wh_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xe0)
        return c >= 0xc2 && n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    /* The second byte's range excludes overlongs, surrogates and code
     * points above U+10FFFF. */
    unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (c < 0xf0)
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    return c <= 0xf4 && n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
           (s[3] & 0xc0) == 0x80 ? 4 : 0;
}

/* Length of the longest prefix of p[0..len) that is plain ASCII (every byte
 * below 0x80): len when all of it is. Sixteen bytes at a time. */
size_t wh_ascii_prefix(const uint8_t *p, size_t len);

/* True if len bytes at p are well-formed UTF-8. When false and bad_at is
 * not NULL, sets it to the offset of the first byte of the offending
 * sequence. Skips ASCII with wh_ascii_prefix: the hot path for text columns. */
bool wh_utf8_valid(const uint8_t *p, size_t len, size_t *bad_at);

/* Writes code point cp (at most U+10FFFF) as UTF-8 to o; returns 1..4. */
static inline size_t wh_utf8_encode(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Appends code point cp as UTF-8 to b. */
static inline void wh_buf_put_utf8(wh_buf *b, uint32_t cp)
{
    char u[4];
    wh_buf_append(b, u, wh_utf8_encode(u, cp));
}

#endif

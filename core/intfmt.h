/* intfmt.h -- integers as decimal text, two digits per step: the JSON renderer's hot path
 * and the decoders' text forms (GTIDs, sequence numbers, binary JSON numbers).
 * Header-only; every function writes no NUL and returns the end. */
#ifndef WH_INTFMT_H
#define WH_INTFMT_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* "00", "01", ... "99". */
static const char wh_digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Number of decimal digits of v (1..20). */
static inline unsigned wh_u64_digits(uint64_t v)
{
    unsigned n = 1;
    for (;;) {
        if (v < 10)
            return n;
        if (v < 100)
            return n + 1;
        if (v < 1000)
            return n + 2;
        if (v < 10000)
            return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* Writes v in decimal at p (at most 20 bytes); returns the end. */
static inline char *wh_fmt_u64(char *p, uint64_t v)
{
    char *end = p + wh_u64_digits(v), *q = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, wh_digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, wh_digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    assert(q == p);
    return end;
}

/* Writes v in decimal at p (at most 20 bytes: a sign and 19 digits); returns the end. */
static inline char *wh_fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return wh_fmt_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return wh_fmt_u64(p, (uint64_t)v);
}

#endif

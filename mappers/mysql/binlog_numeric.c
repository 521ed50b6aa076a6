/* binlog_numeric.c -- MySQL's packed DECIMAL and temporal encodings (see binlog_numeric.h).
 *
 * NEWDECIMAL (as the servers store it, decimal2bin): the integer and the
 * fraction part each in groups of 9 digits per 4 big-endian bytes, leftover
 * digits in 0..4 bytes (dig2bytes), the integer part's leftover group
 * first; the first byte's top bit is flipped, and a negative value has every
 * byte inverted. */
#include <string.h>

#include "core/errbuf.h"
#include "core/intfmt.h"
#include "mappers/mysql/binlog_numeric.h"

/* ---- decimals ---------------------------------------------------------------- */

static const uint8_t dig2bytes[10] = { 0, 1, 1, 2, 2, 3, 3, 4, 4, 4 };

size_t binlog_decimal_size(unsigned prec, unsigned scale)
{
    unsigned intg = prec - scale;
    return (intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 + dig2bytes[scale % 9];
}

static const uint32_t pow10_u32[10] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
};

/* Big-endian group of n bytes at p + pos, with the sign mask undone. */
static inline uint32_t dec_group(const uint8_t *p, size_t pos, unsigned n, uint8_t mask)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < n; k++) {
        uint8_t b = (uint8_t)(p[pos + k] ^ mask);
        if (pos + k == 0)
            b ^= 0x80;
        v = v << 8 | b;
    }
    return v;
}

/* Writes v with exactly `digits` digits (zero-padded). */
static inline char *put_digits(char *o, uint32_t v, unsigned digits)
{
    for (unsigned i = digits; i-- > 0;) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + digits;
}

int binlog_decimal_text(const uint8_t *p, unsigned prec, unsigned scale, char *out,
                        size_t *out_len, char *errbuf, size_t errlen)
{
    unsigned intg = prec - scale;
    unsigned intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
    size_t size = binlog_decimal_size(prec, scale), pos = 0;
    uint8_t mask = (p[0] & 0x80) ? 0 : 0xff;
    bool nonzero = false, started = false;
    char *o = out;

    for (size_t i = 0; i < size; i++)
        if ((uint8_t)(p[i] ^ mask ^ (i == 0 ? 0x80 : 0)))
            nonzero = true;
    if (mask && nonzero)
        *o++ = '-';
    if (intg0x) {
        unsigned n = dig2bytes[intg0x];
        uint32_t v = dec_group(p, pos, n, mask);
        if (v >= pow10_u32[intg0x])
            goto bad;
        if (v) {
            o = wh_fmt_u64(o, v);
            started = true;
        }
        pos += n;
    }
    for (unsigned g = 0; g < intg0; g++, pos += 4) {
        uint32_t v = dec_group(p, pos, 4, mask);
        if (v >= 1000000000u)
            goto bad;
        if (started) {
            o = put_digits(o, v, 9);
        } else if (v) {
            o = wh_fmt_u64(o, v);
            started = true;
        }
    }
    if (!started)
        *o++ = '0';
    if (scale) {
        *o++ = '.';
        for (unsigned g = 0; g < frac0; g++, pos += 4) {
            uint32_t v = dec_group(p, pos, 4, mask);
            if (v >= 1000000000u)
                goto bad;
            o = put_digits(o, v, 9);
        }
        if (frac0x) {
            uint32_t v = dec_group(p, pos, dig2bytes[frac0x], mask);
            if (v >= pow10_u32[frac0x])
                goto bad;
            o = put_digits(o, v, frac0x);
            pos += dig2bytes[frac0x];
        }
    }
    *out_len = (size_t)(o - out);
    return WH_OK;
bad:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                     "DECIMAL(%u,%u) value has a digit group out of range at byte %zu",
                     prec, scale, pos);
}

/* ---- packed temporal integers --------------------------------------------------- */

bool binlog_unpack_datetime(int64_t packed, wh_temporal *t)
{
    if (packed < 0)
        return false;
    uint64_t v = (uint64_t)packed;
    uint64_t usec = v & 0xffffff, ymdhms = v >> 24;
    uint64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms & 0x1ffff;
    uint64_t year = ym / 13, month = ym % 13, day = ymd & 31;
    unsigned hour = (unsigned)(hms >> 12), minute = (hms >> 6) & 63, second = hms & 63;
    if (usec >= 1000000 || year > 9999 || hour > 23 || minute > 59 || second > 59)
        return false;
    t->year = (uint16_t)year;
    t->month = (uint8_t)month;
    t->day = (uint8_t)day;
    t->hour = (uint16_t)hour;
    t->minute = (uint8_t)minute;
    t->second = (uint8_t)second;
    t->usec = (uint32_t)usec;
    t->negative = false;
    return true;
}

bool binlog_unpack_time(int64_t packed, wh_temporal *t)
{
    bool neg = packed < 0;
    uint64_t v = neg ? (uint64_t)0 - (uint64_t)packed : (uint64_t)packed;
    uint64_t usec = v & 0xffffff, hms = v >> 24;
    if (usec >= 1000000 || hms >= (1u << 22))
        return false;
    unsigned hour = (unsigned)(hms >> 12) & 1023, minute = (hms >> 6) & 63, second = hms & 63;
    if (minute > 59 || second > 59 || hour > 838)
        return false;
    memset(t, 0, sizeof *t);
    t->hour = (uint16_t)hour;
    t->minute = (uint8_t)minute;
    t->second = (uint8_t)second;
    t->usec = (uint32_t)usec;
    t->negative = neg;
    return true;
}

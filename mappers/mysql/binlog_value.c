/* binlog_value.c -- decoding one column value of a binlog row image (see binlog_value.h).
 *
 * Layouts (MySQL 5.6+/8.0 and MariaDB 10.x row images; all facts from the
 * servers' documented storage formats):
 *   integers         little-endian, 1/2/3/4/8 bytes
 *   FLOAT/DOUBLE     IEEE 754 little-endian, 4/8 bytes
 *   NEWDECIMAL       packed: 9 digits per 4 big-endian bytes, leftover digits
 *                    in 0..4 bytes, sign bit flipped, negatives inverted
 *   BIT(n)           (n+7)/8 big-endian bytes
 *   YEAR             1 byte, 0 or year-1900
 *   DATE, NEWDATE    3 bytes LE: day | month << 5 | year << 9
 *   TIME             3 bytes LE signed HHMMSS          (old format)
 *   DATETIME         8 bytes LE YYYYMMDDhhmmss         (old format)
 *   TIMESTAMP        4 bytes LE seconds since the epoch (old format)
 *   TIME2            3 bytes BE + (fsp+1)/2 fraction bytes, offset-binary
 *   DATETIME2        5 bytes BE: sign, year*13+month, day, h, m, s + fraction
 *   TIMESTAMP2       4 bytes BE seconds + fraction bytes
 *   VARCHAR          1 or 2 byte LE length (max length > 255) + bytes
 *   STRING (CHAR)    like VARCHAR; ENUM/SET hide in it (1-2 / 1-8 byte LE)
 *   BLOB/TEXT/GEOMETRY/JSON  1-4 byte LE length (meta) + bytes
 *   MariaDB COMPRESSED VARCHAR (141) / BLOB (140): as VARCHAR / BLOB, the
 *                    bytes being a header (0: stored as is; 0x80 | 8 if raw
 *                    deflate | n: n-byte BE original length, then a deflate
 *                    or zlib stream)
 * Hot types (integers, temporals, utf8 text) decode without allocating; the
 * commonest ones are also marked by binlog_column_plan so that the row
 * decoder takes them inline (binlog_value_decode_fast in the header). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "core/utf8.h"
#include "mappers/mysql/binlog_charset.h"
#include "mappers/mysql/binlog_numeric.h"
#include "mappers/mysql/binlog_value.h"
#include "mappers/mysql/binlog_value_int.h"

/* MariaDB's compressed column types (MYSQL_TYPE_BLOB_COMPRESSED and
 * MYSQL_TYPE_VARCHAR_COMPRESSED; not in MySQL). */
#define VT_BLOB_COMPRESSED    140
#define VT_VARCHAR_COMPRESSED 141

/* ---- names ------------------------------------------------------------------ */

const char *binlog_type_name(int type)
{
    switch (type) {
    case BT_DECIMAL:     return "DECIMAL";
    case BT_TINY:        return "TINYINT";
    case BT_SHORT:       return "SMALLINT";
    case BT_LONG:        return "INT";
    case BT_FLOAT:       return "FLOAT";
    case BT_DOUBLE:      return "DOUBLE";
    case BT_NULL:        return "NULL";
    case BT_TIMESTAMP:   return "TIMESTAMP";
    case BT_LONGLONG:    return "BIGINT";
    case BT_INT24:       return "MEDIUMINT";
    case BT_DATE:        return "DATE";
    case BT_TIME:        return "TIME";
    case BT_DATETIME:    return "DATETIME";
    case BT_YEAR:        return "YEAR";
    case BT_NEWDATE:     return "NEWDATE";
    case BT_VARCHAR:     return "VARCHAR";
    case BT_BIT:         return "BIT";
    case BT_TIMESTAMP2:  return "TIMESTAMP2";
    case BT_DATETIME2:   return "DATETIME2";
    case BT_TIME2:       return "TIME2";
    case BT_TYPED_ARRAY: return "TYPED_ARRAY";
    case BT_VECTOR:      return "VECTOR";
    case BT_JSON:        return "JSON";
    case BT_NEWDECIMAL:  return "NEWDECIMAL";
    case BT_ENUM:        return "ENUM";
    case BT_SET:         return "SET";
    case BT_TINY_BLOB:   return "TINY_BLOB";
    case BT_MEDIUM_BLOB: return "MEDIUM_BLOB";
    case BT_LONG_BLOB:   return "LONG_BLOB";
    case BT_BLOB:        return "BLOB";
    case BT_VAR_STRING:  return "VAR_STRING";
    case BT_STRING:      return "STRING";
    case BT_GEOMETRY:    return "GEOMETRY";
    case VT_BLOB_COMPRESSED:    return "BLOB_COMPRESSED";
    case VT_VARCHAR_COMPRESSED: return "VARCHAR_COMPRESSED";
    default:             return "UNKNOWN";
    }
}

void binlog_string_meta(uint16_t meta, uint8_t *real_type, uint32_t *max_len)
{
    unsigned b0 = meta >> 8, b1 = meta & 0xff;
    if ((b0 & 0x30) != 0x30) {
        /* Lengths above 255 keep their bits 8 and 9, inverted, in bits 4
         * and 5 of the type byte (types all have both bits set). */
        *max_len = b1 | (((b0 & 0x30) ^ 0x30) << 4);
        *real_type = (uint8_t)(b0 | 0x30);
    } else {
        *real_type = (uint8_t)b0;
        *max_len = b1;
    }
}

/* ---- errors ----------------------------------------------------------------- */

/* Writes "TYPE value (meta 0xMMMM): <reason>" and returns code. */
static int col_err(char *errbuf, size_t errlen, int code, const binlog_column *col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6), cold, noinline));

static int col_err(char *errbuf, size_t errlen, int code, const binlog_column *col,
                   const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return code;
    char reason[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return wh_seterr(errbuf, errlen, code, "binlog %s value (metadata 0x%04x): %s",
                     binlog_type_name(col->type), col->meta, reason);
}

/* Prefixes the sentence a helper already wrote into errbuf with the column. */
static int col_wrap(char *errbuf, size_t errlen, int code, const binlog_column *col)
    __attribute__((cold, noinline));
static int col_wrap(char *errbuf, size_t errlen, int code, const binlog_column *col)
{
    if (!errbuf || errlen == 0)
        return code;
    char reason[384];
    snprintf(reason, sizeof reason, "%s", errbuf);
    return col_err(errbuf, errlen, code, col, "%s", reason);
}

/* ---- where a value's bytes are ---------------------------------------------- */

enum { SP_FIXED, SP_PREFIXED };

/* How a column's value sits in a row image. */
typedef struct span {
    uint8_t  how;      /* SP_FIXED: n bytes; SP_PREFIXED: n-byte LE length, then data */
    uint8_t  type;     /* effective type (a STRING's real type resolved) */
    uint8_t  fsp;      /* temporal *2 types: fractional digits */
    uint32_t n;
    uint32_t max_len;  /* VARCHAR/STRING: declared maximum in bytes (0 = unchecked) */
} span;

static int fsp_of(const binlog_column *col, unsigned *fsp, char *errbuf, size_t errlen)
{
    if (col->meta > 6)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "fractional seconds precision %u is above 6", col->meta);
    *fsp = col->meta;
    return WH_OK;
}

/* Length-prefix bytes for BLOB-like types: meta when 1..4. */
static int blob_prefix(const binlog_column *col, uint32_t *n, char *errbuf, size_t errlen)
{
    if (col->meta < 1 || col->meta > 4)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "length prefix of %u bytes is not 1 to 4", col->meta);
    *n = col->meta;
    return WH_OK;
}

static inline __attribute__((always_inline))
int col_span(const binlog_column *col, span *s, char *errbuf, size_t errlen)
{
    unsigned fsp = 0;
    int rc;
    s->how = SP_FIXED;
    s->type = col->type;
    s->fsp = 0;
    s->n = 0;
    s->max_len = 0;
    switch (col->type) {
    case BT_NULL:      s->n = 0; return WH_OK;
    case BT_TINY:      s->n = 1; return WH_OK;
    case BT_SHORT:     s->n = 2; return WH_OK;
    case BT_INT24:     s->n = 3; return WH_OK;
    case BT_LONG:      s->n = 4; return WH_OK;
    case BT_LONGLONG:  s->n = 8; return WH_OK;
    case BT_FLOAT:     s->n = 4; return WH_OK;
    case BT_DOUBLE:    s->n = 8; return WH_OK;
    case BT_YEAR:      s->n = 1; return WH_OK;
    case BT_DATE:
    case BT_NEWDATE:   s->n = 3; return WH_OK;
    case BT_TIME:
    case BT_DATETIME:
    case BT_TIMESTAMP:
        if (col->meta != 0)
            return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col,
                           "fractional seconds in the old temporal format (MariaDB 5.3 "
                           "hires, mysql56_temporal_format=OFF) are not supported");
        s->n = col->type == BT_TIME ? 3 : col->type == BT_DATETIME ? 8 : 4;
        return WH_OK;
    case BT_TIME2:
        if ((rc = fsp_of(col, &fsp, errbuf, errlen)))
            return rc;
        s->fsp = (uint8_t)fsp;
        s->n = 3 + (fsp + 1) / 2;
        return WH_OK;
    case BT_DATETIME2:
        if ((rc = fsp_of(col, &fsp, errbuf, errlen)))
            return rc;
        s->fsp = (uint8_t)fsp;
        s->n = 5 + (fsp + 1) / 2;
        return WH_OK;
    case BT_TIMESTAMP2:
        if ((rc = fsp_of(col, &fsp, errbuf, errlen)))
            return rc;
        s->fsp = (uint8_t)fsp;
        s->n = 4 + (fsp + 1) / 2;
        return WH_OK;
    case BT_BIT: {
        unsigned bytes = col->meta >> 8, bits = col->meta & 0xff;
        if (bits > 7 || bytes * 8 + bits < 1 || bytes * 8 + bits > 64)
            return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                           "BIT length of %u bytes and %u bits is not 1 to 64 bits",
                           bytes, bits);
        s->n = bytes + (bits ? 1 : 0);
        return WH_OK;
    }
    case BT_NEWDECIMAL: {
        unsigned prec = col->meta >> 8, scale = col->meta & 0xff;
        if (prec < 1 || prec > 65 || scale > 30 || scale > prec)
            return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                           "DECIMAL(%u,%u) is not a valid precision and scale", prec, scale);
        s->n = (uint32_t)binlog_decimal_size(prec, scale);
        return WH_OK;
    }
    case BT_VARCHAR:
    case BT_VAR_STRING:
    case VT_VARCHAR_COMPRESSED:
        s->how = SP_PREFIXED;
        s->max_len = col->meta;
        s->n = col->meta > 255 ? 2 : 1;
        return WH_OK;
    case BT_STRING: {
        uint8_t rt;
        uint32_t max_len;
        binlog_string_meta(col->meta, &rt, &max_len);
        s->type = rt;
        if (rt == BT_ENUM || rt == BT_SET) {
            s->n = max_len;
            goto enum_set;
        }
        if (rt != BT_STRING)
            return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                           "real type %u in the metadata is not STRING, ENUM or SET", rt);
        s->how = SP_PREFIXED;
        s->max_len = max_len;
        s->n = max_len > 255 ? 2 : 1;
        return WH_OK;
    }
    case BT_ENUM:
    case BT_SET:
        s->n = col->meta & 0xff;
    enum_set:
        if (s->type == BT_ENUM ? (s->n < 1 || s->n > 2) : (s->n < 1 || s->n > 8))
            return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                           "%s pack length %u is not %s", s->type == BT_ENUM ? "ENUM" : "SET",
                           s->n, s->type == BT_ENUM ? "1 or 2" : "1 to 8");
        return WH_OK;
    case BT_TINY_BLOB:
    case BT_MEDIUM_BLOB:
    case BT_LONG_BLOB:
    case BT_BLOB:
    case BT_GEOMETRY:
    case BT_JSON:
    case BT_VECTOR:
    case VT_BLOB_COMPRESSED:
        s->how = SP_PREFIXED;
        return blob_prefix(col, &s->n, errbuf, errlen);
    case BT_DECIMAL:
        return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col,
                       "the pre-MySQL-5.0 DECIMAL format is not supported; rebuild the "
                       "table (ALTER TABLE ... FORCE) to convert the column to NEWDECIMAL");
    case BT_TYPED_ARRAY:
        return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col,
                       "typed arrays (multi-valued index internals) never appear in row "
                       "images and are not supported");
    default:
        return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col, "unknown column type code %u",
                       col->type);
    }
}

/* Finds the value's payload: data/dlen (without any length prefix) and the
 * bytes the value occupies. */
static inline __attribute__((always_inline))
int span_bytes(const binlog_column *col, const span *s, const uint8_t *p, size_t avail,
               const uint8_t **data, size_t *dlen, size_t *used, char *errbuf, size_t errlen)
{
    if (avail < s->n)
        return col_err(errbuf, errlen, WH_ERR_TRUNCATED, col,
                       "needs %u bytes but only %zu remain in the row image", s->n, avail);
    if (s->how == SP_FIXED) {
        *data = p;
        *dlen = s->n;
        *used = s->n;
        return WH_OK;
    }
    uint64_t len = wh_le_n(p, s->n);
    if (len > avail - s->n)
        return col_err(errbuf, errlen, WH_ERR_TRUNCATED, col,
                       "length %llu runs past the %zu bytes that remain in the row image",
                       (unsigned long long)len, avail - s->n);
    if (s->max_len && len > s->max_len)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "length %llu exceeds the column's maximum of %u bytes",
                       (unsigned long long)len, s->max_len);
    *data = p + s->n;
    *dlen = (size_t)len;
    *used = s->n + (size_t)len;
    return WH_OK;
}

int binlog_value_size(const binlog_column *col, const uint8_t *p, size_t avail,
                      size_t *used, char *errbuf, size_t errlen)
{
    if (!col || (!p && avail) || !used)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "binlog_value_size: NULL argument");
    span s;
    const uint8_t *data = NULL;
    size_t dlen;
    int rc = col_span(col, &s, errbuf, errlen);
    if (rc)
        return rc;
    return span_bytes(col, &s, p, avail, &data, &dlen, used, errbuf, errlen);
}

static inline bool col_is_binary(const binlog_column *col)
{
    return col->is_binary || col->collation == 63;
}

void binlog_column_plan(binlog_column *col)
{
    span s;
    col->fast = BF_GENERIC;
    col->fast_n = 0;
    col->fast_max = 0;
    if (col_span(col, &s, NULL, 0) != WH_OK || s.max_len > UINT16_MAX)
        return;   /* the general path says what is wrong */
    switch (s.type) {
    case BT_TINY: case BT_SHORT: case BT_INT24: case BT_LONG: case BT_LONGLONG:
        col->fast = col->is_unsigned ? BF_UINT : BF_INT;
        break;
    case BT_VARCHAR: case BT_VAR_STRING: case BT_STRING:
    case BT_TINY_BLOB: case BT_MEDIUM_BLOB: case BT_LONG_BLOB: case BT_BLOB: {
        binlog_charset cs = col->collation ? binlog_collation_charset(col->collation)
                                           : CS_UTF8MB4;
        if (col_is_binary(col) || cs == CS_BINARY) {
            if (s.type == BT_STRING)
                return;   /* BINARY(n): padded back to n bytes */
            col->fast = BF_BYTES;
        } else if (cs == CS_UTF8MB4 || cs == CS_UTF8MB3) {
            col->fast = BF_TEXT;
        } else if (cs == CS_LATIN1 || cs == CS_ASCII) {
            col->fast = BF_ASCII_TEXT;
        } else {
            return;
        }
        break;
    }
    case BT_GEOMETRY: case BT_VECTOR:
        col->fast = BF_BYTES;
        break;
    default:
        return;
    }
    col->fast_n = (uint8_t)s.n;
    col->fast_max = (uint16_t)s.max_len;
}

/* ---- temporals ----------------------------------------------------------------- */

/* Days since 1970-01-01 to a proleptic Gregorian date (z >= 0). */
static void civil_from_days(int64_t z, unsigned *year, unsigned *month, unsigned *day)
{
    z += 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = m;
    *year = (unsigned)(yoe + era * 400) + (m <= 2);
}

static void set_timestamp(wh_value *out, uint32_t sec, uint32_t usec, unsigned fsp)
{
    wh_temporal *t = &out->n.t;
    out->type = WH_T_TIMESTAMP;
    out->scale = (uint8_t)fsp;
    t->epoch_sec = sec;
    t->usec = usec;
    if (sec == 0 && usec == 0) {
        /* MySQL's zero TIMESTAMP '0000-00-00 00:00:00' */
        out->flags |= WH_VF_ZERO_DATE;
        return;
    }
    unsigned y, m, d, s = sec % 86400;
    civil_from_days(sec / 86400, &y, &m, &d);
    t->year = (uint16_t)y;
    t->month = (uint8_t)m;
    t->day = (uint8_t)d;
    t->hour = (uint16_t)(s / 3600);
    t->minute = (uint8_t)(s / 60 % 60);
    t->second = (uint8_t)(s % 60);
}

/* Fractional part of the *2 types: (fsp+1)/2 big-endian bytes scaled to
 * microseconds; signed (as the servers read it) for DATETIME2/TIME2. */
static inline int32_t frac_signed(const uint8_t *f, unsigned fsp)
{
    switch (fsp) {
    case 1: case 2: return (int8_t)f[0] * 10000;
    case 3: case 4: return (int16_t)wh_be16(f) * 100;
    case 5: case 6: return (int32_t)((uint32_t)wh_be_n(f, 3) ^ 0x800000u) - 0x800000;
    default:        return 0;
    }
}

static int decode_time2(const binlog_column *col, const uint8_t *d, unsigned fsp,
                        wh_value *out, char *errbuf, size_t errlen)
{
    int64_t packed;
    if (fsp >= 5) {
        packed = (int64_t)wh_be_n(d, 6) - 0x800000000000LL;
    } else {
        int64_t intpart = (int64_t)wh_be_n(d, 3) - 0x800000;
        int64_t frac = 0;
        if (fsp >= 3) {
            frac = wh_be16(d + 3);
            if (intpart < 0 && frac) {
                /* negatives keep their fraction in reverse order */
                intpart++;
                frac -= 0x10000;
            }
            frac *= 100;
        } else if (fsp >= 1) {
            frac = d[3];
            if (intpart < 0 && frac) {
                intpart++;
                frac -= 0x100;
            }
            frac *= 10000;
        }
        packed = intpart * (1LL << 24) + frac;
    }
    out->type = WH_T_TIME;
    out->scale = (uint8_t)fsp;
    if (!binlog_unpack_time(packed, &out->n.t))
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col, "TIME value %lld is out of range",
                       (long long)packed);
    return WH_OK;
}

static int decode_datetime2(const binlog_column *col, const uint8_t *d, unsigned fsp,
                            wh_value *out, char *errbuf, size_t errlen)
{
    int64_t intpart = (int64_t)wh_be_n(d, 5) - 0x8000000000LL;
    int64_t packed = intpart < 0 ? -1 : intpart * (1LL << 24) + frac_signed(d + 5, fsp);
    out->type = WH_T_DATETIME;
    out->scale = (uint8_t)fsp;
    if (intpart < 0 || !binlog_unpack_datetime(packed, &out->n.t))
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "DATETIME value %lld is out of range", (long long)packed);
    if (out->n.t.year == 0 && out->n.t.month == 0 && out->n.t.day == 0)
        out->flags |= WH_VF_ZERO_DATE;
    return WH_OK;
}

static int decode_timestamp2(const binlog_column *col, const uint8_t *d, unsigned fsp,
                             wh_value *out, char *errbuf, size_t errlen)
{
    uint32_t sec = wh_be32(d), usec = 0;
    switch (fsp) {
    case 1: case 2: usec = d[4] * 10000u; break;
    case 3: case 4: usec = wh_be16(d + 4) * 100u; break;
    case 5: case 6: usec = (uint32_t)wh_be_n(d + 4, 3); break;
    default: break;
    }
    if (usec >= 1000000)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "fraction of %u microseconds is out of range", usec);
    set_timestamp(out, sec, usec, fsp);
    return WH_OK;
}

static int decode_date(const binlog_column *col, uint32_t v, wh_value *out, char *errbuf,
                       size_t errlen)
{
    unsigned day = v & 31, month = (v >> 5) & 15, year = v >> 9;
    if (month > 12 || year > 9999)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "date %04u-%02u-%02u is out of range", year, month, day);
    out->type = WH_T_DATE;
    out->n.t.year = (uint16_t)year;
    out->n.t.month = (uint8_t)month;
    out->n.t.day = (uint8_t)day;
    if (v == 0)
        out->flags |= WH_VF_ZERO_DATE;
    return WH_OK;
}

/* Old TIME: signed HHMMSS as an integer. */
static int decode_time_old(const binlog_column *col, uint32_t raw, wh_value *out,
                           char *errbuf, size_t errlen)
{
    int32_t v = (int32_t)(raw ^ 0x800000u) - 0x800000;
    uint32_t a = v < 0 ? (uint32_t)-v : (uint32_t)v;
    unsigned hour = a / 10000, minute = a / 100 % 100, second = a % 100;
    if (hour > 838 || minute > 59 || second > 59)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col, "TIME value %d is out of range",
                       (int)v);
    out->type = WH_T_TIME;
    out->n.t.hour = (uint16_t)hour;
    out->n.t.minute = (uint8_t)minute;
    out->n.t.second = (uint8_t)second;
    out->n.t.negative = v < 0;
    return WH_OK;
}

/* Old DATETIME: YYYYMMDDhhmmss as an integer. */
static int decode_datetime_old(const binlog_column *col, uint64_t v, wh_value *out,
                               char *errbuf, size_t errlen)
{
    uint64_t date = v / 1000000;
    unsigned time = (unsigned)(v % 1000000);
    unsigned year = (unsigned)(date / 10000), month = (unsigned)(date / 100 % 100),
             day = (unsigned)(date % 100);
    unsigned hour = time / 10000, minute = time / 100 % 100, second = time % 100;
    if (date > 99991231 || month > 12 || day > 31 || hour > 23 || minute > 59 || second > 59)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "DATETIME value %llu is out of range", (unsigned long long)v);
    wh_temporal *t = &out->n.t;
    out->type = WH_T_DATETIME;
    t->year = (uint16_t)year;
    t->month = (uint8_t)month;
    t->day = (uint8_t)day;
    t->hour = (uint16_t)hour;
    t->minute = (uint8_t)minute;
    t->second = (uint8_t)second;
    if (date == 0)
        out->flags |= WH_VF_ZERO_DATE;
    return WH_OK;
}

/* ---- text ---------------------------------------------------------------------- */

/* Text of a CHAR/VARCHAR/TEXT column as UTF-8, or bytes for binary ones.
 * pad_to > dlen pads BINARY(n) values back to n bytes with 0x00: the row
 * image drops trailing pad bytes, SELECT returns them. */
static int decode_text(const binlog_column *col, const uint8_t *d, size_t dlen, size_t pad_to,
                       wh_arena *arena, wh_value *out, char *errbuf, size_t errlen)
{
    if (col_is_binary(col)) {
        out->type = WH_T_BYTES;
        if (pad_to > dlen) {
            char *b = wh_arena_alloc(arena, pad_to);
            if (!b)
                return col_err(errbuf, errlen, WH_ERR_NOMEM, col, "out of memory");
            memcpy(b, d, dlen);
            memset(b + dlen, 0, pad_to - dlen);
            out->str = b;
            out->len = (uint32_t)pad_to;
            return WH_OK;
        }
        out->str = (const char *)d;
        out->len = (uint32_t)dlen;
        return WH_OK;
    }
    binlog_charset cs = col->collation ? binlog_collation_charset(col->collation) : CS_UTF8MB4;
    if (cs == CS_BINARY) {
        out->type = WH_T_BYTES;
        out->str = (const char *)d;
        out->len = (uint32_t)dlen;
        return WH_OK;
    }
    if ((cs == CS_UTF8MB4 || cs == CS_UTF8MB3) && wh_utf8_valid(d, dlen, NULL)) {
        /* the common case: valid UTF-8, used in place */
        out->type = WH_T_STRING;
        out->str = (const char *)d;
        out->len = (uint32_t)dlen;
        return WH_OK;
    }
    if (cs == CS_UNKNOWN)
        return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col,
                       "collation id %u is not known to this version", col->collation);
    const char *s;
    size_t n;
    int rc = binlog_charset_to_utf8(cs, d, dlen, arena, &s, &n, errbuf, errlen);
    if (rc)
        return col_wrap(errbuf, errlen, rc, col);
    if (n > UINT32_MAX)
        return col_err(errbuf, errlen, WH_ERR_LIMIT, col, "text of %zu bytes is too long", n);
    out->type = WH_T_STRING;
    out->str = s;
    out->len = (uint32_t)n;
    return WH_OK;
}

static int decode_enum(const binlog_column *col, uint64_t idx, wh_value *out, char *errbuf,
                       size_t errlen)
{
    out->type = WH_T_ENUM;
    out->n.u = idx;
    if (!col->members)
        return WH_OK;
    if (idx == 0) {
        /* the empty string MySQL stores for an invalid value */
        out->str = "";
        return WH_OK;
    }
    if (idx > col->n_members)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "ENUM index %llu exceeds the %u known members",
                       (unsigned long long)idx, col->n_members);
    const char *m = col->members[idx - 1];
    out->str = m ? m : "";
    out->len = m ? (uint32_t)strlen(m) : 0;
    return WH_OK;
}

static int decode_set(const binlog_column *col, uint64_t bits, wh_arena *arena, wh_value *out,
                      char *errbuf, size_t errlen)
{
    out->type = WH_T_SET;
    out->n.u = bits;
    if (!col->members)
        return WH_OK;
    if (col->n_members < 64 && (bits >> col->n_members))
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "SET bitmask 0x%llx has bits beyond the %u known members",
                       (unsigned long long)bits, col->n_members);
    size_t total = 0;
    for (unsigned k = 0; k < col->n_members && k < 64; k++)
        if (bits >> k & 1)
            total += (col->members[k] ? strlen(col->members[k]) : 0) + 1;
    if (total == 0) {
        out->str = "";
        return WH_OK;
    }
    char *s = wh_arena_alloc(arena, total);
    if (!s)
        return col_err(errbuf, errlen, WH_ERR_NOMEM, col, "out of memory");
    size_t n = 0;
    for (unsigned k = 0; k < col->n_members && k < 64; k++) {
        if (!(bits >> k & 1))
            continue;
        if (n)
            s[n++] = ',';
        size_t ml = col->members[k] ? strlen(col->members[k]) : 0;
        memcpy(s + n, col->members[k], ml);
        n += ml;
    }
    out->str = s;
    out->len = (uint32_t)n;
    return WH_OK;
}

/* zlib allocates its state from the arena (released with the batch). */
static voidpf zalloc_arena(voidpf opaque, uInt items, uInt size)
{
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return wh_arena_alloc(opaque, (size_t)items * size);
}

static void zfree_arena(voidpf opaque, voidpf address)
{
    (void)opaque;
    (void)address;
}

/* A MariaDB COMPRESSED column: header byte, then either the value as is
 * (header 0) or its length and a deflate (header bit 3) or zlib stream. */
static int decode_compressed(const binlog_column *col, const uint8_t *d, size_t dlen,
                             wh_arena *arena, wh_value *out, char *errbuf, size_t errlen)
{
    if (dlen == 0)
        return decode_text(col, d, 0, 0, arena, out, errbuf, errlen);
    uint8_t hdr = d[0];
    if (!(hdr & 0x80)) {
        if (hdr != 0)
            return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                           "compression header 0x%02x is not valid", hdr);
        return decode_text(col, d + 1, dlen - 1, 0, arena, out, errbuf, errlen);
    }
    unsigned nlen = hdr & 7;
    if (hdr & 0x70)
        return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col,
                       "compression method in header 0x%02x is not zlib", hdr);
    if (nlen < 1 || nlen > 4 || dlen < 1 + nlen)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "compression header 0x%02x does not fit the %zu-byte value", hdr, dlen);
    uint64_t orig = wh_be_n(d + 1, nlen);
    /* DEFLATE expands at most 1032:1; anything more is corrupt. */
    if (orig > (uint64_t)(dlen - 1 - nlen) * 1032 + 64 || orig > UINT32_MAX)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "compressed value of %zu bytes claims %llu bytes of data", dlen,
                       (unsigned long long)orig);
    uint8_t *buf = wh_arena_alloc(arena, orig ? (size_t)orig : 1);
    if (!buf)
        return col_err(errbuf, errlen, WH_ERR_NOMEM, col, "out of memory");
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zalloc_arena;
    zs.zfree = zfree_arena;
    zs.opaque = arena;
    zs.next_in = (Bytef *)(uintptr_t)(d + 1 + nlen);
    zs.avail_in = (uInt)(dlen - 1 - nlen);
    zs.next_out = buf;
    zs.avail_out = (uInt)orig;
    int zr = inflateInit2(&zs, (hdr & 8) ? -MAX_WBITS : MAX_WBITS);
    if (zr != Z_OK)
        return col_err(errbuf, errlen, zr == Z_MEM_ERROR ? WH_ERR_NOMEM : WH_ERR_CORRUPT, col,
                       "cannot start decompression (zlib error %d)", zr);
    zr = inflate(&zs, Z_FINISH);
    uLong total = zs.total_out;
    inflateEnd(&zs);
    if (zr != Z_STREAM_END || total != orig || zs.avail_in != 0)
        return col_err(errbuf, errlen, WH_ERR_CORRUPT, col,
                       "compressed value does not inflate to its %llu bytes (zlib: %s)",
                       (unsigned long long)orig,
                       zr == Z_STREAM_END ? "length mismatch" : zs.msg ? zs.msg : "truncated");
    return decode_text(col, buf, (size_t)orig, 0, arena, out, errbuf, errlen);
}

/* ---- entry point ------------------------------------------------------------------ */

int binlog_value_decode(const binlog_column *col, const uint8_t *p, size_t avail,
                        wh_arena *arena, wh_value *out, size_t *used,
                        char *errbuf, size_t errlen)
{
    if (!col || (!p && avail) || !arena || !out || !used)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "binlog_value_decode: NULL argument");
    span s;
    const uint8_t *d = NULL;
    size_t dlen = 0;
    int rc = col_span(col, &s, errbuf, errlen);
    if (rc)
        return rc;
    rc = span_bytes(col, &s, p, avail, &d, &dlen, used, errbuf, errlen);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);

    switch (s.type) {
    case BT_NULL:
        out->type = WH_T_NULL;
        return WH_OK;
    case BT_TINY:
    case BT_SHORT:
    case BT_INT24:
    case BT_LONG:
    case BT_LONGLONG:
        binlog_int_value(d, s.n, col->is_unsigned, out);
        return WH_OK;
    case BT_FLOAT: {
        uint32_t bits = wh_le32(d);
        float f;
        memcpy(&f, &bits, sizeof f);
        out->type = WH_T_FLOAT;
        out->flags = WH_VF_FLOAT32;
        out->n.d = f;
        return WH_OK;
    }
    case BT_DOUBLE: {
        uint64_t bits = wh_le64(d);
        double v;
        memcpy(&v, &bits, sizeof v);
        out->type = WH_T_FLOAT;
        out->n.d = v;
        return WH_OK;
    }
    case BT_YEAR:
        out->type = WH_T_YEAR;
        out->n.u = d[0] ? 1900u + d[0] : 0;
        return WH_OK;
    case BT_BIT:
        out->type = WH_T_UINT;
        out->flags = WH_VF_BIT;
        out->n.u = wh_be_n(d, (unsigned)dlen);   /* col_span: 1..8 bytes */
        return WH_OK;
    case BT_NEWDECIMAL: {
        unsigned prec = col->meta >> 8, scale = col->meta & 0xff;
        char tmp[BINLOG_DECIMAL_TEXT_MAX];
        size_t n;
        if ((rc = binlog_decimal_text(d, prec, scale, tmp, &n, errbuf, errlen)))
            return col_wrap(errbuf, errlen, rc, col);
        char *t = wh_arena_alloc(arena, n + 1);
        if (!t)
            return col_err(errbuf, errlen, WH_ERR_NOMEM, col, "out of memory");
        memcpy(t, tmp, n);
        t[n] = '\0';
        out->type = WH_T_DECIMAL;
        out->scale = (uint8_t)scale;
        out->str = t;
        out->len = (uint32_t)n;
        return WH_OK;
    }
    case BT_DATE:
    case BT_NEWDATE:
        return decode_date(col, (uint32_t)wh_le_n(d, 3), out, errbuf, errlen);
    case BT_TIME:
        return decode_time_old(col, (uint32_t)wh_le_n(d, 3), out, errbuf, errlen);
    case BT_DATETIME:
        return decode_datetime_old(col, wh_le64(d), out, errbuf, errlen);
    case BT_TIMESTAMP:
        set_timestamp(out, wh_le32(d), 0, 0);
        return WH_OK;
    case BT_TIME2:
        return decode_time2(col, d, s.fsp, out, errbuf, errlen);
    case BT_DATETIME2:
        return decode_datetime2(col, d, s.fsp, out, errbuf, errlen);
    case BT_TIMESTAMP2:
        return decode_timestamp2(col, d, s.fsp, out, errbuf, errlen);
    case BT_VARCHAR:
    case BT_VAR_STRING:
        return decode_text(col, d, dlen, 0, arena, out, errbuf, errlen);
    case BT_STRING:
        return decode_text(col, d, dlen, s.max_len, arena, out, errbuf, errlen);
    case BT_ENUM:
        return decode_enum(col, wh_le_n(d, s.n), out, errbuf, errlen);
    case BT_SET:
        return decode_set(col, wh_le_n(d, s.n), arena, out, errbuf, errlen);
    case BT_TINY_BLOB:
    case BT_MEDIUM_BLOB:
    case BT_LONG_BLOB:
    case BT_BLOB:
        if (dlen > UINT32_MAX)
            return col_err(errbuf, errlen, WH_ERR_LIMIT, col, "value of %zu bytes is too long",
                           dlen);
        return decode_text(col, d, dlen, 0, arena, out, errbuf, errlen);
    case VT_BLOB_COMPRESSED:
    case VT_VARCHAR_COMPRESSED:
        return decode_compressed(col, d, dlen, arena, out, errbuf, errlen);
    case BT_GEOMETRY:
    case BT_VECTOR:
        if (dlen > UINT32_MAX)
            return col_err(errbuf, errlen, WH_ERR_LIMIT, col, "value of %zu bytes is too long",
                           dlen);
        out->type = WH_T_BYTES;
        out->str = (const char *)d;
        out->len = (uint32_t)dlen;
        return WH_OK;
    case BT_JSON: {
        const char *t;
        size_t n;
        rc = binlog_json_to_arena(d, dlen, arena, &t, &n, errbuf, errlen);
        if (rc)
            return col_wrap(errbuf, errlen, rc, col);
        if (n > UINT32_MAX)
            return col_err(errbuf, errlen, WH_ERR_LIMIT, col, "JSON text of %zu bytes is too long",
                           n);
        out->type = WH_T_JSON;
        out->str = t;
        out->len = (uint32_t)n;
        return WH_OK;
    }
    default:
        break;
    }
    /* col_span accepted a type this switch does not handle: a bug. */
    return col_err(errbuf, errlen, WH_ERR_UNSUPPORTED, col, "type %u has no decoder", s.type);
}

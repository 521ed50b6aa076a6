/* binlog_numeric.h -- MySQL's packed DECIMAL and temporal encodings, shared by
 * the row-value decoder (binlog_value.c) and the binary JSON decoder
 * (binlog_json.c, for DECIMAL and temporal opaque values).
 *
 * Pure functions: no I/O, no global state, no allocation. */
#ifndef BINLOG_NUMERIC_H
#define BINLOG_NUMERIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/update.h"

/* Longest text binlog_decimal_text writes: sign, 65 digits, point, and a
 * leading "0" when there are no integer digits. */
#define BINLOG_DECIMAL_TEXT_MAX 72

/* Bytes of MySQL's packed binary decimal of this precision and scale. The
 * caller has checked 1 <= prec <= 65, scale <= 30, scale <= prec. */
size_t binlog_decimal_size(unsigned prec, unsigned scale);

/* Writes the decimal stored at p (exactly binlog_decimal_size bytes must be
 * readable) as text with exactly scale digits after the point into out
 * (at least BINLOG_DECIMAL_TEXT_MAX bytes, not NUL-terminated) and sets
 * *out_len. Returns 0 or WH_ERR_CORRUPT (a digit group out of range; errbuf
 * says which). Negative zero is written without its sign. */
int binlog_decimal_text(const uint8_t *p, unsigned prec, unsigned scale, char *out,
                        size_t *out_len, char *errbuf, size_t errlen);

/* Splits MySQL's in-memory packed temporal integers (TIME_to_longlong_*_packed)
 * into t. Returns false if a field is out of range (month > 12, day > 31,
 * hour/minute/second too large, microseconds >= 10^6). */
bool binlog_unpack_datetime(int64_t packed, wh_temporal *t);
bool binlog_unpack_time(int64_t packed, wh_temporal *t);

#endif

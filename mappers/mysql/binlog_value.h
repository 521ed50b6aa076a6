/* binlog_value.h -- decoding one column value of a binlog row image.
 *
 * The contract between the event decoder (binlog_event.c and friends,
 * which parse table maps and row events) and the value decoders
 * (binlog_value.c, binlog_json.c): given a column's type and metadata from
 * the table map, turn the bytes of one non-NULL value into a typed wh_value.
 *
 * Pure functions: no I/O, no global state; safe on untrusted bytes (every
 * read is bounds-checked against avail; malformed input is WH_ERR_CORRUPT
 * with a sentence in errbuf, never a crash). */
#ifndef BINLOG_VALUE_H
#define BINLOG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/endian.h"
#include "core/utf8.h"
#include "wormhole/error.h"
#include "wormhole/update.h"

/* Column type codes as written in table map events (enum_field_types). */
enum binlog_type {
    BT_DECIMAL = 0, BT_TINY = 1, BT_SHORT = 2, BT_LONG = 3, BT_FLOAT = 4, BT_DOUBLE = 5,
    BT_NULL = 6, BT_TIMESTAMP = 7, BT_LONGLONG = 8, BT_INT24 = 9, BT_DATE = 10, BT_TIME = 11,
    BT_DATETIME = 12, BT_YEAR = 13, BT_NEWDATE = 14, BT_VARCHAR = 15, BT_BIT = 16,
    BT_TIMESTAMP2 = 17, BT_DATETIME2 = 18, BT_TIME2 = 19, BT_TYPED_ARRAY = 20,
    BT_VECTOR = 242, BT_JSON = 245, BT_NEWDECIMAL = 246, BT_ENUM = 247, BT_SET = 248,
    BT_TINY_BLOB = 249, BT_MEDIUM_BLOB = 250, BT_LONG_BLOB = 251, BT_BLOB = 252,
    BT_VAR_STRING = 253, BT_STRING = 254, BT_GEOMETRY = 255,
};

/* What the event decoder knows about a column, from the table map event
 * and its optional metadata (or from the server's schema). */
typedef struct binlog_column {
    uint8_t  type;           /* enum binlog_type as in the table map */
    uint8_t  real_type;      /* for BT_STRING: the real type (BT_ENUM, BT_SET or BT_STRING)
                                decoded from the metadata's high byte; else == type */
    uint16_t meta;           /* the type's metadata from the table map, decoded to host order:
                                FLOAT/DOUBLE: size; VARCHAR: max length (bytes);
                                BLOB/GEOMETRY/JSON: length-prefix bytes; NEWDECIMAL:
                                precision << 8 | scale; BIT: bits/8 << 8 | bits%8 (as
                                logged); TIMESTAMP2/DATETIME2/TIME2: fsp; STRING: the
                                two metadata bytes (byte0 << 8 | byte1) as logged;
                                ENUM/SET: pack length in the low byte */
    bool     is_unsigned;    /* from SIGNEDNESS metadata; false when unknown */
    bool     is_binary;      /* binary charset (63): strings become WH_T_BYTES */
    uint16_t collation;      /* collation id from DEFAULT/COLUMN_CHARSET metadata; 0 = unknown
                                (then utf8mb4 is assumed, invalid bytes rejected as corrupt) */
    const char *const *members; /* ENUM/SET member names (UTF-8), NULL when unknown */
    uint32_t n_members;
    /* Set by binlog_column_plan from the fields above (zero: no shortcut). */
    uint8_t  fast;           /* enum binlog_fast: how binlog_value_decode_fast takes it */
    uint8_t  fast_n;         /* BF_INT/BF_UINT: bytes; text and bytes: length-prefix bytes */
    uint16_t fast_max;       /* text and bytes: maximum length in bytes (0 = none) */
} binlog_column;

/* The column kinds binlog_value_decode_fast decodes inline: the common types
 * of row images, whose values need no conversion and no allocation. */
enum binlog_fast {
    BF_GENERIC = 0,          /* everything else: binlog_value_decode */
    BF_INT,                  /* TINYINT..BIGINT, signed */
    BF_UINT,                 /* TINYINT..BIGINT, unsigned */
    BF_TEXT,                 /* CHAR/VARCHAR/TEXT in utf8mb3 or utf8mb4 */
    BF_ASCII_TEXT,           /* the same in latin1 or ascii: inline when all ASCII */
    BF_BYTES,                /* VARBINARY, BLOB, GEOMETRY: the bytes as they are */
};

/* Decodes the non-NULL value at p (avail bytes remain in the row image) into
 * out and sets *used to the bytes it occupied. Strings and blobs in utf8 or
 * binary point into p (zero-copy: valid as long as the event buffer);
 * converted text (other charsets, JSON, decimals, SET lists) is allocated
 * in arena. TIMESTAMP values are in UTC. Returns 0, WH_ERR_CORRUPT or
 * WH_ERR_TRUNCATED (value runs past avail), or WH_ERR_UNSUPPORTED (type code
 * we do not know), with a sentence in errbuf naming the type and the reason. */
int binlog_value_decode(const binlog_column *col, const uint8_t *p, size_t avail,
                        wh_arena *arena, wh_value *out, size_t *used,
                        char *errbuf, size_t errlen);

/* Sets col's fast, fast_n and fast_max from its other fields. Call again
 * whenever they change. */
void binlog_column_plan(binlog_column *col);

/* An integer column's value: n (1..8) little-endian bytes, sign-extended
 * unless the column is unsigned. Sets every field of *out. */
static inline void binlog_int_value(const uint8_t *p, unsigned n, bool is_unsigned,
                                    wh_value *out)
{
    uint64_t v = wh_le_n(p, n);
    *out = (wh_value){ .type = WH_T_UINT };
    out->n.u = v;
    if (!is_unsigned) {
        unsigned shift = 64 - 8 * n;
        out->type = WH_T_INT;
        out->n.i = (int64_t)(v << shift) >> shift;
    }
}

/* binlog_value_decode, with the kinds binlog_column_plan marked decoded
 * inline. The result is the same in every case (anything irregular - a
 * truncated value, text that is not plain UTF-8 - takes the general path,
 * which converts it or says what is wrong). */
static inline int binlog_value_decode_fast(const binlog_column *col, const uint8_t *p,
                                           size_t avail, wh_arena *arena, wh_value *out,
                                           size_t *used, char *errbuf, size_t errlen)
{
    unsigned n = col->fast_n;
    switch (col->fast) {
    case BF_INT:
    case BF_UINT: {
        if (avail < n)
            break;
        binlog_int_value(p, n, col->fast == BF_UINT, out);
        *used = n;
        return WH_OK;
    }
    case BF_TEXT:
    case BF_ASCII_TEXT:
    case BF_BYTES: {
        if (avail < n)
            break;
        uint32_t len = (uint32_t)wh_le_n(p, n);   /* n <= 4 */
        if (len > avail - n || (col->fast_max && len > col->fast_max))
            break;
        if (col->fast != BF_BYTES) {
            size_t ascii = wh_ascii_prefix(p + n, len);
            /* not plain ASCII: valid UTF-8 is used as it is, anything else
             * takes the general path (converted, or reported) */
            if (ascii != len && (col->fast == BF_ASCII_TEXT ||
                                 !wh_utf8_valid(p + n + ascii, len - ascii, NULL)))
                break;
        }
        *out = (wh_value){ .type = col->fast == BF_BYTES ? WH_T_BYTES : WH_T_STRING,
                           .len = len, .str = (const char *)p + n };
        *used = n + len;
        return WH_OK;
    }
    default:
        break;
    }
    return binlog_value_decode(col, p, avail, arena, out, used, errbuf, errlen);
}

/* Converts a MySQL binary JSON document (the JSON column's bytes, without
 * its length prefix) to compact JSON text, appended to out. An empty input
 * (len 0) is the JSON null. Returns 0 or WH_ERR_CORRUPT with errbuf set. */
int binlog_json_to_text(const uint8_t *p, size_t len, wh_buf *out,
                        char *errbuf, size_t errlen);

/* Applies a MySQL 8.0 partial JSON update (PARTIAL_UPDATE_ROWS_EVENT, the
 * diff vector of one column: binlog_row_value_options=PARTIAL_JSON) to the
 * document before (compact JSON text) and writes the resulting compact JSON
 * text to out. Returns 0, or WH_ERR_CORRUPT / WH_ERR_UNSUPPORTED with errbuf;
 * *used is set to the bytes of the diff vector. */
int binlog_json_apply_diff(const char *before, size_t before_len,
                           const uint8_t *diff, size_t avail, size_t *used,
                           wh_buf *out, char *errbuf, size_t errlen);

/* Bytes a column's value occupies in a row image when the event decoder must
 * skip it without decoding; same errors as binlog_value_decode. */
int binlog_value_size(const binlog_column *col, const uint8_t *p, size_t avail,
                      size_t *used, char *errbuf, size_t errlen);

/* Added by the value decoders (additive to the contract above). */

/* Name of a column type code as MySQL spells it in SQL or in its sources
 * ("INT", "VARCHAR", "DATETIME2", ...), or "UNKNOWN". Static storage. */
const char *binlog_type_name(int type);

/* Splits a STRING column's table-map metadata (byte0 << 8 | byte1, as in
 * binlog_column.meta) into its real type (BT_STRING, BT_ENUM or BT_SET) and,
 * for BT_STRING, the maximum length in bytes (up to 1023; for ENUM/SET
 * *max_len is the pack length). Fills binlog_column.real_type. */
void binlog_string_meta(uint16_t meta, uint8_t *real_type, uint32_t *max_len);

#endif

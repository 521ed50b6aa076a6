/* binlog_rows.c -- row event headers and row images (see binlog_rows.h). */
#include <inttypes.h>
#include <string.h>

#include <zlib.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "mappers/mysql/binlog_rows.h"
#include "mappers/mysql/binlog_value.h"

#define PARTIAL_JSON_UPDATES 1   /* binlog_row_value_options bit */

/* Set bits of one byte (the portable build has no popcnt instruction, and
 * libgcc's fallback costs a call per byte). */
static inline uint32_t popcount8(uint8_t b)
{
    static const uint8_t nibble[16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4 };
    return (uint32_t)nibble[b & 15] + nibble[b >> 4];
}

static uint32_t popcount_bitmap(const uint8_t *map, uint32_t nbits)
{
    uint32_t n = 0, i = 0, full = nbits / 8;
    for (; i + 8 <= full; i += 8) {   /* a word at a time: one popcount per 64 columns */
        uint64_t w;
        memcpy(&w, map + i, 8);
        n += (uint32_t)__builtin_popcountll(w);
    }
    for (; i < full; i++)
        n += popcount8(map[i]);
    if (nbits & 7)
        n += popcount8((uint8_t)(map[full] & ((1u << (nbits & 7)) - 1)));
    return n;
}

int binlog_maria_inflate(const uint8_t *p, size_t len, wh_arena *arena, const uint8_t **out,
                         size_t *out_len, char *errbuf, size_t errlen)
{
    if (len < 1 || !(p[0] & 0x80))
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "compressed block has no valid header byte");
    unsigned lenlen = p[0] & 0x07, alg = (p[0] >> 4) & 0x07;
    if (alg != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "compressed block uses unknown algorithm %u (only zlib is known)", alg);
    if (lenlen < 1 || lenlen > 4 || len < 1 + lenlen)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "compressed block has an invalid length field of %u bytes", lenlen);
    uint64_t ulen = wh_be_n(p + 1, lenlen);
    /* zlib cannot expand more than about 1032:1; a larger claim is corrupt
     * (and must not make us allocate it). */
    if (ulen > BINLOG_MAX_INFLATE || ulen > (uint64_t)(len - 1 - lenlen) * 1040 + 1024)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "compressed block claims %" PRIu64 " bytes uncompressed", ulen);
    uint8_t *dst = wh_arena_alloc(arena, ulen ? (size_t)ulen : 1);
    if (!dst)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                         "out of memory inflating %" PRIu64 " bytes", ulen);
    uLongf dlen = (uLongf)ulen;
    int zrc = uncompress(dst, &dlen, p + 1 + lenlen, (uLong)(len - 1 - lenlen));
    if (zrc != Z_OK || dlen != ulen)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "compressed block does not inflate to its declared %" PRIu64
                         " bytes (zlib: %s)", ulen, zrc == Z_OK ? "length differs" : zError(zrc));
    *out = dst;
    *out_len = (size_t)ulen;
    return WH_OK;
}

int binlog_rows_parse(const binlog_event *ev, const binlog_fde *fde, wh_arena *arena,
                      binlog_rows_event *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    bool v2 = false, compressed = false;
    switch (ev->type) {
    case BE_WRITE_ROWS_COMPRESSED_V1: compressed = true; /* fall through */
    case BE_WRITE_ROWS_V1: out->op = WH_OP_INSERT; break;
    case BE_UPDATE_ROWS_COMPRESSED_V1: compressed = true; /* fall through */
    case BE_UPDATE_ROWS_V1: out->op = WH_OP_UPDATE; break;
    case BE_DELETE_ROWS_COMPRESSED_V1: compressed = true; /* fall through */
    case BE_DELETE_ROWS_V1: out->op = WH_OP_DELETE; break;
    case BE_WRITE_ROWS_COMPRESSED_V2: compressed = true; /* fall through */
    case BE_WRITE_ROWS_V2: out->op = WH_OP_INSERT; v2 = true; break;
    case BE_UPDATE_ROWS_COMPRESSED_V2: compressed = true; /* fall through */
    case BE_UPDATE_ROWS_V2: out->op = WH_OP_UPDATE; v2 = true; break;
    case BE_DELETE_ROWS_COMPRESSED_V2: compressed = true; /* fall through */
    case BE_DELETE_ROWS_V2: out->op = WH_OP_DELETE; v2 = true; break;
    case BE_PARTIAL_UPDATE_ROWS: out->op = WH_OP_UPDATE; v2 = true; out->partial = true; break;
    default:
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED, "event type %u is not a row event",
                         ev->type);
    }
    uint8_t post = binlog_post_header_len(fde, ev->type);
    const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
    size_t idlen = post == 6 ? 4 : 6;
    if (post != 6 && post != 8 && post != 10)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "%s post-header of %u bytes is not supported",
                         binlog_event_type_name(ev->type), post);
    if ((size_t)(end - p) < post)
        goto short_event;
    out->table_id = idlen == 4 ? wh_le32(p) : wh_le_n(p, 6);
    out->flags = wh_le16(p + idlen);
    p += idlen + 2;
    if (v2 || post == 10) {
        if ((size_t)(end - p) < 2)
            goto short_event;
        uint16_t extra = wh_le16(p);   /* includes its own two bytes */
        if (extra < 2 || (size_t)(end - p) < extra)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "%s event has an invalid extra data length %u",
                             binlog_event_type_name(ev->type), extra);
        p += extra;
    }
    uint64_t width;
    size_t k = binlog_packed_int(p, (size_t)(end - p), &width);
    if (!k || width > 65536)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s event has an invalid column count",
                         binlog_event_type_name(ev->type));
    p += k;
    out->width = (uint32_t)width;
    size_t nb = binlog_bitmap_bytes(width);
    if ((size_t)(end - p) < nb)
        goto short_event;
    out->present[0] = p;
    out->npresent[0] = popcount_bitmap(p, out->width);
    p += nb;
    if (out->op == WH_OP_UPDATE) {
        if ((size_t)(end - p) < nb)
            goto short_event;
        out->present[1] = p;
        out->npresent[1] = popcount_bitmap(p, out->width);
        p += nb;
    }
    if (compressed) {
        const uint8_t *rows;
        size_t rows_len;
        int rc = binlog_maria_inflate(p, (size_t)(end - p), arena, &rows, &rows_len,
                                      errbuf, errlen);
        if (rc != WH_OK)
            return wh_preferr(errbuf, errlen, rc, "%s event", binlog_event_type_name(ev->type));
        out->rows = rows;
        out->end = rows + rows_len;
    } else {
        out->rows = p;
        out->end = end;
    }
    return WH_OK;
short_event:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s event of %zu bytes ends inside its "
                     "header", binlog_event_type_name(ev->type), ev->body_len);
}

static const char *col_name(const binlog_table *t, uint32_t i)
{
    return t->names && t->names[i] ? t->names[i] : "?";
}

/* Applies a partial JSON update (the diff in the after image) to the before
 * image's document and stores the result in *v. */
static int apply_partial(const binlog_table *t, uint32_t i, const uint8_t *p, size_t avail,
                         size_t used, wh_arena *arena, wh_value *v, const wh_value *before,
                         wh_buf *jsonbuf, char *errbuf, size_t errlen)
{
    const binlog_column *col = &t->cols[i];
    if (!before || before[i].type != WH_T_JSON)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "column `%s` (%u) of `%s`.`%s` carries a partial JSON update but the "
                         "before image does not hold the column (set binlog_row_image=FULL, "
                         "or binlog_row_value_options='' on the server)", col_name(t, i), i + 1,
                         t->db, t->name);
    /* The value is the diff vector itself: its 4-byte length, then the diffs. */
    if (col->meta != 4 || used > avail)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "column `%s` (%u): malformed partial JSON value", col_name(t, i), i + 1);
    size_t dused = 0;
    wh_buf_reset(jsonbuf);
    int rc = binlog_json_apply_diff(before[i].str, before[i].len, p, used, &dused, jsonbuf,
                                    errbuf, errlen);
    if (rc != WH_OK)
        return wh_preferr(errbuf, errlen, rc, "column `%s` (%u) partial JSON update",
                          col_name(t, i), i + 1);
    if (dused != used)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "column `%s` (%u): the JSON diff uses %zu of its %zu bytes",
                         col_name(t, i), i + 1, dused, used);
    if (!wh_buf_ok(jsonbuf))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a JSON document");
    char *s = wh_arena_strndup(arena, jsonbuf->data ? jsonbuf->data : "", jsonbuf->len);
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a JSON document");
    memset(v, 0, sizeof *v);
    v->type = WH_T_JSON;
    v->str = s;
    v->len = (uint32_t)jsonbuf->len;
    return WH_OK;
}

int binlog_rows_image(const binlog_table *t, const binlog_rows_event *re, int image,
                      const uint8_t **pp, bool skip, wh_arena *arena, wh_value *vals,
                      const wh_value *before, wh_buf *jsonbuf, char *errbuf, size_t errlen)
{
    const uint8_t *p = *pp, *end = re->end;
    const uint8_t *present = re->present[image];
    const uint8_t *partial_bits = NULL;
    int rc;

    if (re->partial && image == 1) {
        uint64_t opts;
        size_t k = binlog_packed_int(p, (size_t)(end - p), &opts);
        if (!k)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "partial update row has no value options");
        p += k;
        if (opts & PARTIAL_JSON_UPDATES) {
            size_t nb = binlog_bitmap_bytes(t->n_json);
            if ((size_t)(end - p) < nb)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "partial update row ends inside its partial-columns bitmap");
            partial_bits = p;
            p += nb;
        }
    }
    size_t nb = binlog_bitmap_bytes(re->npresent[image]);
    if ((size_t)(end - p) < nb)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "row image ends inside its NULL bitmap");
    const uint8_t *nulls = p;
    p += nb;
    uint32_t j = 0, json_i = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const binlog_column *col = &t->cols[i];
        bool is_partial = false;
        if (partial_bits && col->type == BT_JSON) {
            is_partial = binlog_bit(partial_bits, json_i);
            json_i++;
        }
        if (!binlog_bit(present, i)) {
            if (!skip) {
                vals[i].type = WH_T_ABSENT;
                vals[i].str = NULL;
                vals[i].len = 0;
            }
            continue;
        }
        if (binlog_bit(nulls, j++)) {
            if (!skip) {
                vals[i].type = WH_T_NULL;
                vals[i].str = NULL;
                vals[i].len = 0;
            }
            continue;
        }
        size_t used;
        if (skip || is_partial)
            rc = binlog_value_size(col, p, (size_t)(end - p), &used, errbuf, errlen);
        else
            rc = binlog_value_decode_fast(col, p, (size_t)(end - p), arena, &vals[i], &used,
                                          errbuf, errlen);
        if (rc != WH_OK)
            return wh_preferr(errbuf, errlen, rc, "column `%s` (%u of `%s`.`%s`)",
                              col_name(t, i), i + 1, t->db, t->name);
        if (used > (size_t)(end - p))
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "column `%s` (%u) runs past the end of the row event",
                             col_name(t, i), i + 1);
        if (is_partial && !skip &&
            (rc = apply_partial(t, i, p, (size_t)(end - p), used, arena, &vals[i], before,
                                jsonbuf, errbuf, errlen)) != WH_OK)
            return rc;
        p += used;
    }
    *pp = p;
    return WH_OK;
}

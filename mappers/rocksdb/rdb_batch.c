/* rdb_batch.c -- write batch entry decoding (see rdb_batch.h). */
#include <stdbool.h>
#include <string.h>

#include "core/endian.h"
#include "mappers/rocksdb/rdb_batch.h"
#include "wormhole/error.h"
#include "wormhole/update.h"

int rdb_batch_header(const uint8_t *p, size_t len, uint64_t *seq, uint32_t *count)
{
    if (len < RDB_BATCH_HEADER)
        return -1;
    *seq = wh_le64(p);
    *count = wh_le32(p + 8);
    return 0;
}

/* Reads a varint32 at *pp (before end). Returns 1 on success, 0 if the
 * bytes end inside it, -1 if it is longer than 5 bytes or overflows. */
static inline int get_varint32(const uint8_t **pp, const uint8_t *end, uint32_t *out)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) {        /* the common one-byte case */
        *out = *p;
        *pp = p + 1;
        return 1;
    }
    uint32_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
        if (p >= end)
            return 0;
        uint32_t b = *p++;
        if (shift == 28 && b > 0x0f)
            return -1;
        v |= (b & 0x7f) << shift;
        if (b < 0x80) {
            *out = v;
            *pp = p;
            return 1;
        }
    }
    return -1;
}

/* Reads a length-prefixed slice. Same returns as get_varint32. */
static inline int get_slice(const uint8_t **pp, const uint8_t *end, const uint8_t **s, uint32_t *n)
{
    const uint8_t *p = *pp;
    int r = get_varint32(&p, end, n);
    if (r <= 0)
        return r;
    if ((size_t)(end - p) < *n)
        return 0;
    *s = p;
    *pp = p + *n;
    return 1;
}

long rdb_batch_entry(const uint8_t *p, size_t avail, rdb_entry *e, const char **why)
{
    const uint8_t *q = p, *end = p + avail;
    int r = 1;
    if (avail == 0)
        return 0;
    uint8_t tag = *q++;
    e->tag = tag;
    e->cf = 0;
    e->entity = 0;
    e->key = e->val = NULL;
    e->key_len = e->val_len = 0;
    bool has_cf = false, has_val = false;
    switch (tag) {
    case RDB_TAG_CF_VALUE: has_cf = true; /* fallthrough */
    case RDB_TAG_VALUE: e->kind = WH_OP_PUT; has_val = true; break;
    case RDB_TAG_CF_MERGE: has_cf = true; /* fallthrough */
    case RDB_TAG_MERGE: e->kind = WH_OP_MERGE; has_val = true; break;
    case RDB_TAG_CF_DELETION: has_cf = true; /* fallthrough */
    case RDB_TAG_DELETION: e->kind = WH_OP_KV_DELETE; break;
    case RDB_TAG_CF_SINGLE_DELETION: has_cf = true; /* fallthrough */
    case RDB_TAG_SINGLE_DELETION: e->kind = WH_OP_SINGLE_DELETE; break;
    case RDB_TAG_CF_RANGE_DELETION: has_cf = true; /* fallthrough */
    case RDB_TAG_RANGE_DELETION: e->kind = WH_OP_DELETE_RANGE; has_val = true; break;
    case RDB_TAG_CF_WIDE_COLUMN_ENTITY: has_cf = true; /* fallthrough */
    case RDB_TAG_WIDE_COLUMN_ENTITY: e->kind = WH_OP_PUT; e->entity = 1; has_val = true; break;
    case RDB_TAG_LOG_DATA:
        e->kind = RDB_KIND_NONE;
        break;
    case RDB_TAG_NOOP:
        e->kind = RDB_KIND_NONE;
        return 1;
    case RDB_TAG_BEGIN_PREPARE:
    case RDB_TAG_BEGIN_PERSISTED_PREPARE:
    case RDB_TAG_BEGIN_UNPREPARE:
    case RDB_TAG_END_PREPARE:
    case RDB_TAG_COMMIT:
    case RDB_TAG_COMMIT_WITH_TS:
    case RDB_TAG_ROLLBACK:
        *why = "a two-phase-commit transaction marker (TransactionDB Prepare/Commit), "
               "which this mapper does not support";
        return WH_ERR_UNSUPPORTED;
    case RDB_TAG_CF_BLOB_INDEX:
    case RDB_TAG_BLOB_INDEX:
        *why = "a stacked-BlobDB blob index (the value lives in a blob file), "
               "which this mapper does not support";
        return WH_ERR_UNSUPPORTED;
    case RDB_TAG_DELETION_WITH_TS:
        *why = "a timestamped deletion, which this mapper does not support";
        return WH_ERR_UNSUPPORTED;
    default:
        *why = "an unknown entry tag";
        return WH_ERR_CORRUPT;
    }
    if (has_cf && (r = get_varint32(&q, end, &e->cf)) <= 0)
        goto bad;
    if ((r = get_slice(&q, end, &e->key, &e->key_len)) <= 0)
        goto bad;
    if (has_val && (r = get_slice(&q, end, &e->val, &e->val_len)) <= 0)
        goto bad;
    return (long)(q - p);
bad:
    if (r == 0)
        return 0;
    *why = "a malformed varint length";
    return WH_ERR_CORRUPT;
}

int rdb_batch_check(const uint8_t *p, size_t len, size_t *bad_off, const char **why)
{
    uint64_t seq;
    uint32_t count, ops = 0;
    if (rdb_batch_header(p, len, &seq, &count) != 0) {
        *bad_off = 0;
        *why = "the batch is shorter than its 12-byte header";
        return WH_ERR_CORRUPT;
    }
    size_t off = RDB_BATCH_HEADER;
    rdb_entry e;
    while (off < len) {
        long n = rdb_batch_entry(p + off, len - off, &e, why);
        if (n <= 0) {
            *bad_off = off;
            if (n == 0) {
                *why = "an entry runs past the end of the batch";
                return WH_ERR_CORRUPT;
            }
            return (int)n;
        }
        if (e.kind != RDB_KIND_NONE)
            ops++;
        off += (size_t)n;
    }
    if (ops != count) {
        *bad_off = 0;
        *why = "the number of operations differs from the count in the batch header";
        return WH_ERR_CORRUPT;
    }
    return 0;
}

/* rdb_batch.h -- decoding RocksDB write batches (the payload of each WAL record).
 *
 * A write batch is a 12-byte header (fixed64 sequence number of its first
 * operation, fixed32 count of operations) followed by entries, each a tag
 * byte and its fields: an optional varint32 column family id, then
 * length-prefixed key and value (varint32 length + bytes). Operations that
 * change data (put, delete, single delete, range delete, merge, wide-column
 * put) each consume one sequence number in order; LogData blobs and Noop
 * markers consume none.
 *
 * The bytes are untrusted: every length is checked against the bytes that
 * are there. Nothing here allocates. */
#ifndef RDB_BATCH_H
#define RDB_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define RDB_BATCH_HEADER 12

/* Tags of batch entries (RocksDB's ValueType values as written to the WAL). */
enum rdb_tag {
    RDB_TAG_DELETION = 0x00,
    RDB_TAG_VALUE = 0x01,
    RDB_TAG_MERGE = 0x02,
    RDB_TAG_LOG_DATA = 0x03,
    RDB_TAG_CF_DELETION = 0x04,
    RDB_TAG_CF_VALUE = 0x05,
    RDB_TAG_CF_MERGE = 0x06,
    RDB_TAG_SINGLE_DELETION = 0x07,
    RDB_TAG_CF_SINGLE_DELETION = 0x08,
    RDB_TAG_BEGIN_PREPARE = 0x09,
    RDB_TAG_END_PREPARE = 0x0a,
    RDB_TAG_COMMIT = 0x0b,
    RDB_TAG_ROLLBACK = 0x0c,
    RDB_TAG_NOOP = 0x0d,
    RDB_TAG_CF_RANGE_DELETION = 0x0e,
    RDB_TAG_RANGE_DELETION = 0x0f,
    RDB_TAG_CF_BLOB_INDEX = 0x10,
    RDB_TAG_BLOB_INDEX = 0x11,
    RDB_TAG_BEGIN_PERSISTED_PREPARE = 0x12,
    RDB_TAG_BEGIN_UNPREPARE = 0x13,
    RDB_TAG_DELETION_WITH_TS = 0x14,
    RDB_TAG_COMMIT_WITH_TS = 0x15,
    RDB_TAG_WIDE_COLUMN_ENTITY = 0x16,
    RDB_TAG_CF_WIDE_COLUMN_ENTITY = 0x17,
};

/* What an entry means for us: a wh_op (WH_OP_PUT ... WH_OP_MERGE) or
 * RDB_KIND_NONE for entries that are not updates (LogData, Noop). */
#define RDB_KIND_NONE 0xff

typedef struct rdb_entry {
    uint8_t        kind;     /* wh_op or RDB_KIND_NONE */
    uint8_t        tag;      /* enum rdb_tag */
    uint8_t        entity;   /* 1: value is a serialized wide-column entity */
    uint32_t       cf;       /* column family id (0 = default) */
    const uint8_t *key;      /* key; range deletes: begin key; LogData: the blob */
    uint32_t       key_len;
    const uint8_t *val;      /* value, merge operand or range end key; NULL if none */
    uint32_t       val_len;
} rdb_entry;

/* Reads the header of a batch of len bytes. Returns 0, or -1 if len < 12. */
int rdb_batch_header(const uint8_t *p, size_t len, uint64_t *seq, uint32_t *count);

/* Decodes the entry at p, of which avail bytes are present. Returns the
 * entry's size in bytes (> 0); 0 if the entry runs past avail; or a negative
 * wh_err: WH_ERR_CORRUPT for an unknown tag or malformed varint,
 * WH_ERR_UNSUPPORTED for valid entries this mapper cannot deliver (two-phase
 * commit markers, BlobDB indexes, timestamped deletes). *why gets a static
 * sentence fragment naming the problem. */
long rdb_batch_entry(const uint8_t *p, size_t avail, rdb_entry *e, const char **why);

/* Checks a whole batch before anything of it is delivered: every entry
 * complete and known, and the number of data operations equal to the
 * header's count. Returns 0, or a negative wh_err with the entry's offset
 * in *bad_off and a reason in *why. O(len), allocates nothing. */
int rdb_batch_check(const uint8_t *p, size_t len, size_t *bad_off, const char **why);

#endif

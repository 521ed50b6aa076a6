/* rdb_wal.h -- reading RocksDB log files (WAL and MANIFEST) record by record.
 *
 * A log file is a sequence of 32 KiB blocks. Each block holds fragments: a
 * header (masked CRC32C, 16-bit length, type; recyclable files add the
 * 32-bit log number) and a payload. A logical record is one FULL fragment
 * or FIRST, MIDDLE..., LAST. A block tail shorter than a header is zero
 * padding. The CRC covers the type, the log number if any, and the payload.
 *
 * The reader reads through a window (a few blocks, read with pread) and
 * hands out records that point into the window when they are one fragment,
 * or into a caller's buffer when they were assembled from several. The
 * file may be growing (a live WAL): the end of the valid data is reported as
 * RDB_READ_END, distinguishing a clean end from bytes that do not (yet) form
 * a complete record, and the next call reads again from the same place.
 *
 * Pinning: while the caller still uses records that point into the window,
 * it sets rdb_wal_pin(); the reader then never moves the window (it only
 * appends to it) and returns RDB_READ_BLOCKED when it would have to.
 *
 * Threads: one reader is used by one thread at a time. */
#ifndef RDB_WAL_H
#define RDB_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define RDB_BLOCK_SIZE        32768
#define RDB_HEADER_SIZE       7
#define RDB_RECYCLABLE_HEADER 11

enum {
    RDB_READ_RECORD = 0,   /* *rec is a complete, CRC-checked record */
    RDB_READ_END = 1,      /* no complete record at the current offset (yet) */
    RDB_READ_BLOCKED = 2,  /* the window is pinned and would have to move */
};

/* Where rdb_record.data points. */
enum { RDB_IN_WINDOW = 0, RDB_IN_SINK = 1, RDB_IN_HEAD = 2 };

typedef struct rdb_record {
    const uint8_t *data;   /* record bytes (or their first bytes, header-only mode) */
    size_t         len;    /* bytes at data */
    size_t         total;  /* whole record length (== len unless header-only) */
    uint64_t       offset; /* file offset of the first fragment's header */
    uint64_t       end;    /* file offset just past the last fragment */
    int            where;  /* RDB_IN_* */
} rdb_record;

typedef struct rdb_wal rdb_wal;

/* Opens path for reading. number is the file's log number (from its name),
 * checked against recyclable headers; window is the read window in bytes
 * (rounded up to whole blocks, at least 2). On failure returns WH_ERR_IO or
 * WH_ERR_NOT_FOUND (ENOENT) with a sentence in errbuf. Caller frees with
 * rdb_wal_free. */
int rdb_wal_open(const char *path, uint64_t number, size_t window, rdb_wal **out,
                 char *errbuf, size_t errlen);

/* As rdb_wal_open for an already open descriptor, which the reader takes
 * over (closes). name is used in messages. */
int rdb_wal_open_fd(int fd, const char *name, uint64_t number, size_t window,
                    rdb_wal **out, char *errbuf, size_t errlen);

void rdb_wal_free(rdb_wal *w);

/* Reads the next logical record.
 *   sink != NULL: records made of several fragments are assembled into
 *     sink (reset first); one-fragment records point into the window.
 *     A record longer than max_len is WH_ERR_LIMIT.
 *   sink == NULL: header-only mode: every fragment is still read and
 *     CRC-checked, but only the first 64 bytes are kept (rec->len), with
 *     rec->total the full length. For seeking.
 * Returns RDB_READ_RECORD (and advances), RDB_READ_END or RDB_READ_BLOCKED
 * (nothing consumed), or a negative wh_err with a sentence naming the file
 * and offset: WH_ERR_CORRUPT (bad CRC, impossible length or fragment order;
 * rdb_wal_bad_tail() tells whether the bad bytes reach the end of the
 * file, as a torn last write would), WH_ERR_UNSUPPORTED (compressed WAL),
 * WH_ERR_LIMIT, WH_ERR_IO. After an error the reader stays at the record's
 * start, so a retry re-reads it. */
int rdb_wal_next(rdb_wal *w, wh_buf *sink, size_t max_len, rdb_record *rec,
                 char *errbuf, size_t errlen);

/* After RDB_READ_END: true if bytes follow the current offset that do not
 * form a complete record (a record being written, or a torn one). */
bool rdb_wal_partial(const rdb_wal *w);

/* After WH_ERR_CORRUPT: true if the bad record runs to the end of the file. */
bool rdb_wal_bad_tail(const rdb_wal *w);

/* After RDB_READ_END on a recycled file: true if the end is stale data of
 * the file's previous life (a record with another log number). */
bool rdb_wal_stale(const rdb_wal *w);

/* Offset of the next record to be read. */
uint64_t rdb_wal_offset(const rdb_wal *w);

/* True once the file's records are known to use recyclable headers. */
bool rdb_wal_recyclable(const rdb_wal *w);

const char *rdb_wal_name(const rdb_wal *w);
uint64_t rdb_wal_number(const rdb_wal *w);

/* Sets or clears the pin (see the file comment). */
void rdb_wal_pin(rdb_wal *w, bool pinned);

/* RocksDB stores its records' CRC32C (core/crc32c.h) masked, so that a CRC
 * over data containing CRCs stays well distributed: rotate right by 15 bits
 * and add a constant. */
static inline uint32_t rdb_crc_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline uint32_t rdb_crc_unmask(uint32_t masked)
{
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

#endif

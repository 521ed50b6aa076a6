/* binlog_event.h -- framing of MySQL/MariaDB binlog events: the common
 * header, the format description event, checksums and packed integers.
 *
 * Everything here is pure: no I/O, no global state, safe on untrusted bytes
 * (every read is bounds-checked by the caller-visible length). */
#ifndef BINLOG_EVENT_H
#define BINLOG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/endian.h"
#include "wormhole/error.h"

/* ---- event type codes (MySQL 5.x/8.x and MariaDB 10.x) ------------------ */

enum binlog_event_type {
    BE_UNKNOWN = 0, BE_START_V3 = 1, BE_QUERY = 2, BE_STOP = 3, BE_ROTATE = 4,
    BE_INTVAR = 5, BE_LOAD = 6, BE_SLAVE = 7, BE_CREATE_FILE = 8, BE_APPEND_BLOCK = 9,
    BE_EXEC_LOAD = 10, BE_DELETE_FILE = 11, BE_NEW_LOAD = 12, BE_RAND = 13,
    BE_USER_VAR = 14, BE_FORMAT_DESCRIPTION = 15, BE_XID = 16, BE_BEGIN_LOAD_QUERY = 17,
    BE_EXECUTE_LOAD_QUERY = 18, BE_TABLE_MAP = 19, BE_PRE_GA_WRITE_ROWS = 20,
    BE_PRE_GA_UPDATE_ROWS = 21, BE_PRE_GA_DELETE_ROWS = 22, BE_WRITE_ROWS_V1 = 23,
    BE_UPDATE_ROWS_V1 = 24, BE_DELETE_ROWS_V1 = 25, BE_INCIDENT = 26, BE_HEARTBEAT = 27,
    BE_IGNORABLE = 28, BE_ROWS_QUERY = 29, BE_WRITE_ROWS_V2 = 30, BE_UPDATE_ROWS_V2 = 31,
    BE_DELETE_ROWS_V2 = 32, BE_GTID = 33, BE_ANONYMOUS_GTID = 34, BE_PREVIOUS_GTIDS = 35,
    BE_TRANSACTION_CONTEXT = 36, BE_VIEW_CHANGE = 37, BE_XA_PREPARE = 38,
    BE_PARTIAL_UPDATE_ROWS = 39, BE_TRANSACTION_PAYLOAD = 40, BE_HEARTBEAT_V2 = 41,
    BE_GTID_TAGGED = 42,
    /* MariaDB */
    BE_ANNOTATE_ROWS = 160, BE_BINLOG_CHECKPOINT = 161, BE_MARIA_GTID = 162,
    BE_GTID_LIST = 163, BE_START_ENCRYPTION = 164, BE_QUERY_COMPRESSED = 165,
    BE_WRITE_ROWS_COMPRESSED_V1 = 166, BE_UPDATE_ROWS_COMPRESSED_V1 = 167,
    BE_DELETE_ROWS_COMPRESSED_V1 = 168, BE_WRITE_ROWS_COMPRESSED_V2 = 169,
    BE_UPDATE_ROWS_COMPRESSED_V2 = 170, BE_DELETE_ROWS_COMPRESSED_V2 = 171,
};

#define BINLOG_MAGIC            "\xfe" "bin"   /* first 4 bytes of every binlog file */
#define BINLOG_MAGIC_ENCRYPTED  "\xfd" "bin"   /* MySQL 8.0.14+ encrypted binlog */
#define BINLOG_MAGIC_LEN        4
#define BINLOG_HEADER_LEN       19            /* common header of binlog v4 */
#define BINLOG_CHECKSUM_LEN     4
#define BINLOG_MAX_EVENT        (1u << 30)    /* max_allowed_packet's upper bound */

/* Common header flags. */
#define BINLOG_F_IN_USE         0x0001        /* FDE: file was not closed properly */
#define BINLOG_F_IGNORABLE      0x0080        /* unknown event may be skipped */

/* Checksum algorithms in the format description event. */
#define BINLOG_CHECKSUM_OFF     0
#define BINLOG_CHECKSUM_CRC32   1
#define BINLOG_CHECKSUM_UNDEF   255

/* What the format description event says about the events that follow. */
typedef struct binlog_fde {
    uint16_t binlog_version;       /* 4 */
    char     server_version[51];   /* NUL-terminated, e.g. "10.11.6-MariaDB-log" */
    bool     is_mariadb;
    unsigned version[3];           /* major, minor, patch parsed from server_version */
    uint8_t  header_len;           /* common header length (19) */
    uint8_t  checksum_alg;         /* BINLOG_CHECKSUM_* */
    uint32_t created;              /* creation timestamp (0 if not at startup) */
    uint16_t n_post_headers;       /* number of entries in post_header_len */
    uint8_t  post_header_len[256]; /* by event type code; 0 where unknown */
} binlog_fde;

/* One event as it sits in a buffer. */
typedef struct binlog_event {
    uint32_t timestamp;
    uint8_t  type;
    uint32_t server_id;
    uint32_t length;         /* whole event: header + body + checksum */
    uint32_t next_pos;       /* end position as written by the server (informational) */
    uint16_t flags;
    const uint8_t *data;     /* the whole event (length bytes) */
    const uint8_t *body;     /* after the common header: post-header, then payload */
    size_t   body_len;       /* without the checksum */
} binlog_event;

/* Reads a packed ("length-encoded") integer at p. Returns the bytes it
 * occupies (1, 3, 4 or 9), or 0 if it runs past avail or starts with a
 * byte that is not a length (0xfb NULL, 0xff). Inline: the row decoder and
 * the JSON diff reader (binlog_json.c) both read them. */
static inline size_t binlog_packed_int(const uint8_t *p, size_t avail, uint64_t *out)
{
    if (avail < 1)
        return 0;
    uint8_t b = p[0];
    if (b < 0xfb) {
        *out = b;
        return 1;
    }
    size_t n = b == 0xfc ? 2 : b == 0xfd ? 3 : b == 0xfe ? 8 : 0;
    if (n == 0 || avail < 1 + n)
        return 0;             /* 0xfb (NULL) and 0xff are not lengths */
    *out = wh_le_n(p + 1, (unsigned)n);
    return 1 + n;
}

/* Bytes of a bitmap of n bits. */
static inline size_t binlog_bitmap_bytes(uint64_t n) { return (size_t)((n + 7) / 8); }
static inline bool binlog_bit(const uint8_t *map, uint32_t i)
{
    return (map[i >> 3] >> (i & 7)) & 1;
}

/* ---- events ---------------------------------------------------------------- */

/* zlib-compatible CRC-32 (the binlog's CRC32 checksum). */
uint32_t binlog_crc32(uint32_t crc, const void *p, size_t n);

/* Name of an event type as mysqlbinlog prints it ("Write_rows_v1",
 * "Gtid_list", ...), or "Unknown". Static storage. */
const char *binlog_event_type_name(int type);

/* Parses the common header of the event at p. avail is what the buffer
 * holds from p on; the event itself may be longer (check ev->length). Sets
 * every field but data/body/body_len (see binlog_event_frame). Returns 0,
 * WH_ERR_TRUNCATED if fewer than the header's bytes are available, or
 * WH_ERR_CORRUPT with errbuf set if the length is impossible. */
int binlog_event_header(const uint8_t *p, size_t avail, const binlog_fde *fde,
                        binlog_event *ev, char *errbuf, size_t errlen);

/* Completes ev for a fully buffered event at p (ev->length bytes): sets
 * data, body, body_len (the checksum excluded when the binlog has one) and,
 * if verify, checks the CRC32. Returns 0, or WH_ERR_CORRUPT with errbuf. */
int binlog_event_frame(const uint8_t *p, const binlog_fde *fde, bool verify,
                       binlog_event *ev, char *errbuf, size_t errlen);

/* Parses a format description event (fully buffered at p, ev from
 * binlog_event_header with fde NULL) into out, verifying its own checksum
 * when it declares CRC32. Returns 0, WH_ERR_CORRUPT or WH_ERR_UNSUPPORTED
 * (binlog version other than 4) with errbuf set. */
int binlog_fde_parse(const uint8_t *p, const binlog_event *ev, binlog_fde *out,
                     char *errbuf, size_t errlen);

/* A format description for events that carry no checksum (the events inside
 * a transaction payload): a copy of fde with checksum_alg OFF. */
void binlog_fde_without_checksum(const binlog_fde *fde, binlog_fde *out);

/* Fills a default format description (MySQL 5.6+ binlog v4 layout) for
 * tests and for decoding headerless fragments. */
void binlog_fde_default(binlog_fde *out, bool mariadb, uint8_t checksum_alg);

/* Post-header length of an event type, with the v4 defaults for types the
 * format description does not list. */
uint8_t binlog_post_header_len(const binlog_fde *fde, int type);

/* True for the row event types this decoder understands. */
bool binlog_is_rows_event(int type);

#endif

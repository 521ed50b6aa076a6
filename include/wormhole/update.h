/* update.h -- the update model: one change read from a datastore's log.
 *
 * An update is a set of key-values (the row image before and/or after the
 * change, or a key-value store's key and value) plus metadata: the shard it
 * came from, its op, its position in the log, the event timestamp, its
 * transaction and the source object (database and table, or column family).
 *
 * Values are typed so that filters and encoders never re-parse text.
 *
 * Ownership: an update and everything it points to belongs to whoever
 * produced it (a mapper's batch, a subscriber's receive buffer) and is valid
 * only until that producer says otherwise (for mappers: until the next
 * read call on the same mapper). Copy what you keep. */
#ifndef WORMHOLE_UPDATE_H
#define WORMHOLE_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values -------------------------------------------------------------- */

typedef enum wh_type {
    WH_T_ABSENT = 0,   /* column not carried by this image (never rendered) */
    WH_T_NULL,
    WH_T_INT,          /* n.i: signed integer (TINYINT..BIGINT) */
    WH_T_UINT,         /* n.u: unsigned integer, also BIT (as integer) */
    WH_T_FLOAT,        /* n.d: FLOAT (flags WH_VF_FLOAT32) or DOUBLE */
    WH_T_DECIMAL,      /* str: exact decimal text "-12.340", scale digits after '.' */
    WH_T_STRING,       /* str: UTF-8 text */
    WH_T_BYTES,        /* str: raw bytes (BINARY, BLOB, GEOMETRY, KV keys/values) */
    WH_T_DATE,         /* n.t: date part only */
    WH_T_TIME,         /* n.t: signed time of day/duration (hours may exceed 23) */
    WH_T_DATETIME,     /* n.t: date and time, no time zone */
    WH_T_TIMESTAMP,    /* n.t: instant, in UTC; n.t.epoch_sec also set */
    WH_T_YEAR,         /* n.u: year (0 or 1901..2155) */
    WH_T_JSON,         /* str: JSON document as compact JSON text */
    WH_T_ENUM,         /* str: member name (n.u: 1-based index; str NULL if unknown) */
    WH_T_SET,          /* str: comma-separated members (n.u: bitmask; str NULL if unknown) */
    WH_T__COUNT
} wh_type;

/* Value flags. */
#define WH_VF_FLOAT32   0x01   /* WH_T_FLOAT came from a 4-byte FLOAT: print with float precision */
#define WH_VF_BIT       0x02   /* WH_T_UINT came from a BIT(n) column */
#define WH_VF_ZERO_DATE 0x04   /* temporal value is MySQL's zero date 0000-00-00 */

typedef struct wh_temporal {
    uint16_t year;     /* 0..9999 */
    uint8_t  month;    /* 0..12 (0 only in zero dates) */
    uint8_t  day;      /* 0..31 */
    uint16_t hour;     /* TIME: 0..838; others 0..23 */
    uint8_t  minute;
    uint8_t  second;
    uint32_t usec;     /* 0..999999 */
    bool     negative; /* TIME only */
    int64_t  epoch_sec;/* TIMESTAMP only: seconds since 1970-01-01 UTC */
} wh_temporal;

typedef struct wh_value {
    uint8_t  type;     /* wh_type */
    uint8_t  scale;    /* DECIMAL: digits after the point; temporal: fractional digits 0..6 */
    uint16_t flags;    /* WH_VF_* */
    uint32_t len;      /* length of str in bytes (not counting any NUL) */
    const char *str;   /* STRING, BYTES, DECIMAL, JSON, ENUM, SET; may not be NUL-terminated */
    union {
        int64_t     i;
        uint64_t    u;
        double      d;
        wh_temporal t;
    } n;
} wh_value;

/* ---- rows ---------------------------------------------------------------- */

/* A row image: names[k] is the key of values[k]. Keys absent from the image
 * have values[k].type == WH_T_ABSENT. names usually points to the table's
 * column list, shared by all rows of the table while its schema is stable. */
typedef struct wh_row {
    const char *const *names;
    const wh_value    *values;
    uint32_t           count;
} wh_row;

/* ---- positions ----------------------------------------------------------- */

/* Where an update stands in the log.
 * physical: where in this replica's log (binlog file name + byte offset of
 *           the transaction's first event; RocksDB: log_name NULL, offset =
 *           batch sequence number).
 * logical:  the transaction's id that is the same on every replica (MariaDB
 *           GTID "domain-server-seq", MySQL "uuid:gno", RocksDB sequence in
 *           decimal); NULL if the log has none (then only physical resumes).
 * index:    the update's index inside its transaction, so that positions
 *           compare and resume at a single update.
 * Text forms (docs/UPDATES.md): physical "FILE:OFFSET/INDEX" or
 * "SEQ/INDEX", logical "GTID/INDEX". */
typedef struct wh_position {
    const char *log_name;
    uint64_t    offset;
    const char *logical;
    uint32_t    index;
} wh_position;

/* ---- the update ---------------------------------------------------------- */

typedef enum wh_op {
    WH_OP_INSERT = 0,
    WH_OP_UPDATE,
    WH_OP_DELETE,
    WH_OP_DDL,
    WH_OP_PUT,          /* key-value stores */
    WH_OP_KV_DELETE,    /* rendered "delete" */
    WH_OP_SINGLE_DELETE,
    WH_OP_DELETE_RANGE,
    WH_OP_MERGE,
    WH_OP_SNAPSHOT,       /* SQL bootstrap: an existing row, read from the table (after only);
                           * apply it as an upsert by primary key (docs/BOOTSTRAP.md) */
    WH_OP_SNAPSHOT_BEGIN, /* SQL bootstrap: the rows of db.table start coming (no rows) */
    WH_OP_SNAPSHOT_END,   /* SQL bootstrap: every row of db.table was sent (no rows) */
    WH_OP__COUNT
} wh_op;

#define WH_UF_RAW_VALUE  0x01   /* KV value could not be decoded as configured; delivered raw */

typedef struct wh_update {
    const char  *shard;        /* shard id from the publisher's config */
    uint8_t      op;           /* wh_op */
    uint8_t      flags;        /* WH_UF_* */
    wh_position  pos;
    int64_t      ts;           /* event time, seconds since the epoch (0 if unknown) */
    struct {
        const char *id;        /* transaction id (GTID, or FILE:OFFSET of its start) */
        uint32_t    index;     /* == pos.index */
        bool        last;      /* last update of the transaction */
    } txn;
    const char  *db;           /* SQL: database; NULL for KV stores */
    const char  *table;        /* SQL: table; KV: column family name (or id in decimal) */
    uint64_t     schema_id;    /* changes whenever the meaning of names[] changes; 0 = unknown.
                                  Lets filters resolve keys once per schema. */
    const char  *statement;    /* DDL: the statement text; otherwise NULL */
    bool         has_before, has_after;
    wh_row       before;       /* valid if has_before */
    wh_row       after;        /* valid if has_after */
} wh_update;

/* Names: "insert", "update", "delete", "ddl", "put", "delete" (KV),
 * "single_delete", "delete_range", "merge", "snapshot", "snapshot_begin",
 * "snapshot_end". Static storage. The snapshot ops are SQL ops (they carry
 * db and table) although their values come after the KV ops. */
const char *wh_op_name(int op);

/* Inverse of wh_op_name for SQL ops and KV ops. Returns the op or -1.
 * "delete" maps to WH_OP_DELETE; kv selects WH_OP_KV_DELETE instead. */
int wh_op_parse(const char *name, bool kv);

/* "null", "int", "uint", "float", "decimal", "string", "bytes", "date",
 * "time", "datetime", "timestamp", "year", "json", "enum", "set". */
const char *wh_type_name(int type);

/* Finds a key in a row by name; returns its index or -1. O(count). */
int wh_row_find(const wh_row *row, const char *name, size_t name_len);

/* Formats a temporal value in the server's text form ("2024-01-02 03:04:05.120",
 * "-838:59:59", "2024-01-02"), with scale fractional digits. buf must hold
 * at least 32 bytes. Returns the length written. */
size_t wh_temporal_format(const wh_value *v, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif

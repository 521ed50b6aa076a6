/* snapshot.h -- the snapshot reader contract: existing rows of a table, read in primary-key chunks, each with the log position it is consistent with.
 *
 * A bootstrap (docs/BOOTSTRAP.md) gives an app the rows a table already
 * holds. The publisher reads them through this interface, next to the
 * mapper that reads the same datastore's log: each chunk is the next `limit`
 * rows in primary-key order after a key, read in one short consistent
 * snapshot, together with the position `at` in this replica's log that the
 * snapshot is exactly consistent with (every transaction before `at` is in
 * it, none after). The publisher emits the chunk into a flow's stream where
 * that stream reaches `at`, dropping rows whose key the stream changed
 * meanwhile (publisher/pub_boot_window.h).
 *
 * Keys travel as JSON arrays (stored in ZooKeeper with a bootstrap's
 * progress): one element per primary-key column, the column's value in the
 * server's text form, or {"hex": "..."} for a binary string. RocksDB (a
 * column family is the table, db is "", the key is the one column "key"):
 * [TEXT] for a key of printable ASCII bytes, else [{"hex": "..."}].
 *
 * Threads: a snapshot reader is used by one thread at a time (the flow's
 * bootstrap worker); it is not the mapper's thread. */
#ifndef WH_SNAPSHOT_H
#define WH_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wormhole/error.h"
#include "wormhole/position.h"
#include "wormhole/update.h"

typedef struct wh_snapshot wh_snapshot;

/* One chunk. Everything it points to is owned by the reader and valid until
 * the next wh_snapshot_read, a wh_snapshot_keys or wh_snapshot_estimate of
 * another table, or wh_snapshot_close. */
typedef struct wh_snapshot_chunk {
    const wh_update *rows;     /* op WH_OP_SNAPSHOT, db, table, after image only */
    uint32_t n;
    const uint32_t *key_idx;   /* the primary key's columns: indices into rows' after.names */
    uint32_t nkey;
    const json_t *last_key;    /* key of rows[n - 1] (NULL when n == 0) */
    wh_pos   at;               /* the log position the rows are consistent with (physical) */
    bool     done;             /* fewer rows than asked: nothing comes after the last one */
} wh_snapshot_chunk;

/* A reader for the datastore of mapper `mapper` (the publisher's
 * mapper.name) with its options object; connects lazily. shard is borrowed
 * (stamped on rows) and must outlive the reader. WH_ERR_UNSUPPORTED when
 * that mapper has no snapshot reader; WH_ERR_CONFIG for options that cannot
 * reach the server. */
int  wh_snapshot_open(const char *mapper, const json_t *options, const char *shard,
                      wh_snapshot **out, char *errbuf, size_t errlen);

/* Reads up to limit rows of db.table with a primary key greater than after
 * (a key array as above; NULL: from the first row), in key order, in one
 * consistent snapshot. A table without a primary key is WH_ERR_UNSUPPORTED,
 * a missing one WH_ERR_NOT_FOUND, server trouble WH_ERR_MYSQL (the next
 * call connects again). */
int  wh_snapshot_read(wh_snapshot *s, const char *db, const char *table, const json_t *after,
                      uint32_t limit, wh_snapshot_chunk *out, char *errbuf, size_t errlen);

/* The primary key's column names of db.table, in key order: *names (n
 * entries) is owned by the reader and valid until it reads another table.
 * Errors as wh_snapshot_read. */
int  wh_snapshot_keys(wh_snapshot *s, const char *db, const char *table,
                      const char *const **names, uint32_t *n, char *errbuf, size_t errlen);

/* The server's estimate of db.table's row count (for progress). */
int  wh_snapshot_estimate(wh_snapshot *s, const char *db, const char *table, uint64_t *rows,
                          char *errbuf, size_t errlen);

/* The GTID state of this copy's log at the physical position at (a
 * chunk's): the newest GTID of each domain before it, "D-S-N[,D-S-N...]"
 * into out (outlen bytes). For a chunk whose window opened at a position
 * known only in its logical form (a flow resumed on another copy of the
 * shard, docs/BOOTSTRAP.md "Resuming"). WH_ERR_UNSUPPORTED when the
 * datastore has no GTIDs; errors otherwise as wh_snapshot_read. */
int  wh_snapshot_gtid_state(wh_snapshot *s, const wh_pos *at, char *out, size_t outlen,
                            char *errbuf, size_t errlen);

/* Closes the connection and frees. Accepts NULL. */
void wh_snapshot_close(wh_snapshot *s);

/* ---- implementations (mappers/<datastore>/) ------------------------------------------------ */

typedef struct wh_snapshot_ops {
    int  (*read)(wh_snapshot *s, const char *db, const char *table, const json_t *after,
                 uint32_t limit, wh_snapshot_chunk *out, char *errbuf, size_t errlen);
    int  (*keys)(wh_snapshot *s, const char *db, const char *table, const char *const **names,
                 uint32_t *n, char *errbuf, size_t errlen);
    int  (*estimate)(wh_snapshot *s, const char *db, const char *table, uint64_t *rows,
                     char *errbuf, size_t errlen);
    void (*close)(wh_snapshot *s);
    /* optional (NULL: WH_ERR_UNSUPPORTED) */
    int  (*gtid_state)(wh_snapshot *s, const wh_pos *at, char *out, size_t outlen,
                       char *errbuf, size_t errlen);
} wh_snapshot_ops;

/* Every reader starts with this header. */
struct wh_snapshot {
    const wh_snapshot_ops *ops;
};

/* mappers/mysql/mysql_snapshot.c */
int mysql_snapshot_open(const json_t *options, const char *shard, wh_snapshot **out,
                        char *errbuf, size_t errlen);
/* mappers/rocksdb/rdb_snapshot.c: a "table" is a column family, db is "". */
int rdb_snapshot_open(const json_t *options, const char *shard, wh_snapshot **out,
                      char *errbuf, size_t errlen);

#endif

/* mapper.h -- the positions mapper contract every datastore implements.
 *
 * A mapper reads one datastore's own write-ahead log (binlog files, RocksDB
 * WAL) and turns its records into updates. The publisher and
 * wormhole-logcat only ever talk to this interface; a new datastore is added
 * by implementing wh_mapper_ops and listing it in mapper.c (docs/MAPPERS.md).
 *
 * Positions are passed as a wh_pos (wormhole/position.h), parsed from their
 * text forms by the one parser in core/position.c: a mapper only interprets
 * the fields. A position names one update: the transaction starting at
 * log_name:offset (or having the logical id, e.g. a GTID; MariaDB may give
 * several comma-separated GTIDs, one per domain) and the index-th update in
 * it. A mapper never parses the "/INDEX" text forms itself.
 *
 * Threads: a mapper is used by one thread at a time. */
#ifndef WH_MAPPER_H
#define WH_MAPPER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/config.h"
#include "wormhole/error.h"
#include "wormhole/position.h"
#include "wormhole/update.h"

typedef struct wh_mapper wh_mapper;

typedef struct wh_mapper_ops {
    const char *name;                /* chosen by this name in config: "mysql", "rocksdb" */
    const wh_cfg_field *options;     /* its options table (for --help and docs) */

    /* Creates a mapper from its options object (may be NULL for defaults)
     * and the shard id stamped on every update (borrowed; must outlive the
     * mapper). Validates options and that the log exists; reads nothing yet. */
    int (*create)(const json_t *options, const char *shard, wh_mapper **out,
                  char *errbuf, size_t errlen);

    /* Validates an options object exactly as create does (keys, types,
     * ranges and values) without looking for the log or connecting anywhere
     * (`wormhole-publisher --check-config`). Required. */
    int (*check)(const json_t *options, char *errbuf, size_t errlen);

    /* Seeks to the physical part of pos (log_name, offset, index) in this
     * replica's log; pos is borrowed for the call. NULL (or a pos that is
     * not set) means the oldest position still in the log. With inclusive
     * the next update returned is the one at pos, otherwise the one after
     * it. A position no longer in the log is WH_ERR_PURGED, never a silent
     * skip; a position this mapper cannot use (a file name for a log
     * without files, none for one with files) is WH_ERR_INVALID. */
    int (*seek_physical)(wh_mapper *m, const wh_pos *pos, bool inclusive,
                         char *errbuf, size_t errlen);

    /* Maps the logical part of pos (logical, index) to this replica's
     * physical position and seeks there, as seek_physical. Works on any
     * replica of the shard. A logical text the mapper cannot read is
     * WH_ERR_PARSE. */
    int (*seek_logical)(wh_mapper *m, const wh_pos *pos, bool inclusive,
                        char *errbuf, size_t errlen);

    /* Reads the next updates, at most max. Returns the count (> 0) and sets
     * *updates to an array owned by the mapper, valid until the next call of
     * next_batch, seek_* or destroy. When the log has nothing new: with
     * follow set, waits up to timeout_ms (without spinning) and returns
     * WH_ERR_AGAIN; without follow returns WH_ERR_EOF. Any other negative
     * code is a failure described in errbuf; the mapper must then be
     * destroyed (crash-only: re-create and seek to resume). */
    int (*next_batch)(wh_mapper *m, const wh_update **updates, int max, int timeout_ms,
                      char *errbuf, size_t errlen);

    /* Optional (NULL: always healthy). Whether this copy of the shard can
     * serve it now: its server answers and, on a replica, replication runs
     * and lags at most max_lag_s seconds (<= 0: no bound). Returns WH_OK, or
     * a negative code with the reason in errbuf. May block up to the
     * mapper's connect timeout; called on a mapper kept for health checks
     * only (the publisher's election, docs/FAILOVER.md). */
    int (*health)(wh_mapper *m, int max_lag_s, char *errbuf, size_t errlen);

    /* Releases everything. Accepts NULL. */
    void (*destroy)(wh_mapper *m);

    /* Writes the identity of the copy of the shard whose log this mapper
     * reads into buf (len >= WH_COPY_ID_MAX): two mappers have the same
     * identity exactly when a physical position of one is valid in the log
     * of the other (docs/FAILOVER.md "Positions across copies"). Also
     * checks the copy's settings that a takeover relies on: a setting that
     * makes positions unusable is WH_ERR_CONFIG, others are logged. Called
     * once at start. NULL: the mapper has no identity (every position is
     * its own). */
    int (*identify)(wh_mapper *m, char *buf, size_t len, char *errbuf, size_t errlen);

    /* Whether this copy's log has received the logical part of pos yet:
     * WH_OK (a seek_logical finds it), WH_ERR_NOT_YET (not yet: a replica
     * that lags; try again later), WH_ERR_PURGED (no longer), WH_ERR_INVALID
     * (pos has no logical part), WH_ERR_PARSE, or a read error; a sentence
     * in errbuf for each but WH_OK. Reads the log, never the server; cheap
     * when called again (only what the log grew by). NULL: cannot tell. */
    int (*has_pos)(wh_mapper *m, const wh_pos *pos, char *errbuf, size_t errlen);

    /* Optional (NULL: cannot tell). For a log made of files, from the
     * options alone (no mapper object, no server: it lists the log's files
     * and their sizes; any thread): for each of pos[0..n), the bytes of log
     * from it to the head (behind[i]) and from the start of the oldest file
     * still kept to it (retained[i]); -1 for an unset position or one whose
     * file is not listed. Approximate: sizes are taken one file at a time
     * while the log grows (docs/MONITOR.md "Metrics"). */
    int (*log_span)(const json_t *options, const wh_pos *const *pos, size_t n, int64_t *behind,
                    int64_t *retained, char *errbuf, size_t errlen);
} wh_mapper_ops;

/* Buffer size of a copy identity, NUL included. */
#define WH_COPY_ID_MAX 512

/* Every mapper object starts with this header. */
struct wh_mapper {
    const wh_mapper_ops *ops;
    bool follow;                     /* tail the live log instead of stopping at its end */
    uint64_t log_bytes;              /* bytes of the log this mapper has read past so far
                                      * (events, and a file's header when it reads the file
                                      * from its start); kept by mappers that read a log
                                      * file (mysql), 0 in the others. Written by next_batch,
                                      * read by the thread that calls it. */
};

/* Looks a mapper up by name; NULL if there is none. */
const wh_mapper_ops *wh_mapper_find(const char *name);

/* NULL-terminated list of all mappers, for --help. */
const wh_mapper_ops *const *wh_mapper_all(void);

/* Finds by name and validates options without opening anything (ops->check).
 * Unknown name is WH_ERR_CONFIG, as for wh_mapper_create. */
int wh_mapper_check(const char *name, const json_t *options, char *errbuf, size_t errlen);

/* Convenience: find by name and create. Unknown name is WH_ERR_CONFIG with
 * the list of known names in errbuf. */
int wh_mapper_create(const char *name, const json_t *options, const char *shard,
                     bool follow, wh_mapper **out, char *errbuf, size_t errlen);

/* Finds by name and calls ops->log_span (see there). WH_ERR_UNSUPPORTED
 * (nothing filled) for a mapper without one; WH_ERR_CONFIG for an unknown
 * name. */
int wh_mapper_log_span(const char *name, const json_t *options, const wh_pos *const *pos,
                       size_t n, int64_t *behind, int64_t *retained, char *errbuf, size_t errlen);

/* ---- positions across copies (mapper_copy.c, docs/FAILOVER.md) ---- */

/* ops->identify, or "" (WH_OK) for a mapper without one. */
int wh_mapper_identify(wh_mapper *m, char *buf, size_t len, char *errbuf, size_t errlen);

/* Does this copy have position pos yet? ops->has_pos: WH_OK, WH_ERR_NOT_YET,
 * WH_ERR_PURGED, ... (see there); WH_OK for a mapper that cannot tell and
 * for an unset pos (the oldest position is always there). */
int wh_mapper_has_pos(wh_mapper *m, const wh_pos *pos, char *errbuf, size_t errlen);

/* The seek rule, part 1: what of pos, written by the copy pos_copy ("" when
 * the position does not say: written before copies were recorded, or by an
 * operator), this copy own_copy may use, into *out:
 *  - all of it when pos_copy is own_copy, or own_copy is "" (a mapper
 *    without identity);
 *  - else its logical part alone, when it has one (the physical part
 *    belongs to another log);
 *  - else (physical only) all of it when pos_copy is "" (as before copies
 *    were recorded: an operator's physical reset names this copy's log);
 *  - else nothing: WH_ERR_INVALID with a sentence (another copy's file and
 *    offset cannot be mapped to this log).
 * An unset pos stays unset. */
int wh_mapper_localize(const wh_pos *pos, const char *pos_copy, const char *own_copy, wh_pos *out,
                       char *errbuf, size_t errlen);

/* The seek rule, part 2, for a position that wh_mapper_localize returned:
 * seek_physical when it has a physical part, else seek_logical, and the
 * oldest position for an unset one (always inclusive). */
int wh_mapper_seek(wh_mapper *m, const wh_pos *pos, bool inclusive, char *errbuf, size_t errlen);

/* ops->health, or WH_OK for a mapper without one. */
static inline int wh_mapper_health(wh_mapper *m, int max_lag_s, char *errbuf, size_t errlen)
{
    return m->ops->health ? m->ops->health(m, max_lag_s, errbuf, errlen) : WH_OK;
}

static inline void wh_mapper_destroy(wh_mapper *m)
{
    if (m)
        m->ops->destroy(m);
}

#endif

/* binlog_gtid_seek.h -- a logical position (GTIDs) in this copy's binlog: the file a seek starts scanning from, and whether the log has received the position yet.
 *
 * A logical position names transactions by GTID (binlog_gtid.h), which are
 * the same on every copy of a shard; the file and offset holding them
 * differ. The head of each binlog file says which GTIDs came before it
 * (MariaDB Gtid_list, MySQL Previous_gtids): that picks the file to scan
 * from. Whether the log holds the position at all is the head state of the
 * newest file plus the GTID events written in it since, which a
 * binlog_gtid_tail walks once and then only as far as the file grew.
 *
 * Not thread-safe: the mapper's thread. */
#ifndef BINLOG_GTID_SEEK_H
#define BINLOG_GTID_SEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappers/mysql/binlog_gtid.h"
#include "mappers/mysql/binlog_reader.h"

/* What is known of the newest binlog file's GTIDs (see above). Zero it to
 * start; free with binlog_gtid_tail_free. */
typedef struct binlog_gtid_tail {
    char     file[WH_POS_LOG_NAME_MAX];  /* the file walked; "" none yet */
    uint64_t off;                        /* where its next walk goes on */
    binlog_gtid_state head;              /* its head state (empty without one) */
    binlog_gtid last[BINLOG_POS_MAX_GTIDS]; /* newest GTID of each stream walked in it */
    uint32_t nlast;
} binlog_gtid_tail;

void binlog_gtid_tail_free(binlog_gtid_tail *t);

/* Whether this copy's log holds every transaction lp names: each GTID of
 * lp is in the newest file's head state or at most the newest GTID of its
 * stream (MariaDB domain, MySQL uuid) written since. Returns WH_OK;
 * WH_ERR_NOT_YET when one is not there yet (a replica that lags: errbuf
 * names it and what the log has of its stream); or a read error. pos_text
 * is lp's text, for messages. Cost: the newest file's new bytes since the
 * last call (event headers, and the GTID events' bodies). */
int binlog_gtid_log_has(binlog_reader *rd, binlog_gtid_tail *t, const binlog_logical_pos *lp,
                        const char *pos_text, char *errbuf, size_t errlen);

/* The index (in binlog_reader_file order) of the file a seek to lp starts
 * scanning from: the newest file whose head state does not yet hold lp's
 * transaction (nor anything after the other GTIDs it lists). WH_ERR_PURGED
 * when even the oldest file starts after it; WH_ERR_NOT_FOUND when the
 * index lists no file; WH_ERR_INVALID for a MariaDB position in a MySQL
 * binlog or the reverse; read errors. dir is the binlog directory, for
 * messages. */
int binlog_gtid_find_start(binlog_reader *rd, const binlog_logical_pos *lp,
                           const char *pos_text, const char *dir, size_t *start,
                           char *errbuf, size_t errlen);

/* The GTID state just before offset off of binlog file `file` (the start
 * of an event): the file's head state and every GTID event before off,
 * into *run. For a physical seek, whose first transaction's positions
 * then carry the state like any later one's.
 * Errors: read errors, WH_ERR_LIMIT beyond BINLOG_POS_MAX_GTIDS streams.
 * Cost: one walk of the file's event headers up to off. */
int binlog_gtid_run_at(binlog_reader *rd, const char *file, uint64_t off,
                       binlog_gtid_run *run, char *errbuf, size_t errlen);

#endif

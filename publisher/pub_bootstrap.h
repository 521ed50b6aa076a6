/* pub_bootstrap.h -- a flow's bootstrap: existing rows of the requested tables, read in chunks beside the flow's stream and emitted into it at their watermark.
 *
 * docs/BOOTSTRAP.md has the design. One bootstrap per flow whose app asked
 * for one (the request node, protocol/zk_bootstrap.h) and has not finished
 * it. A worker thread of its own reads chunks through a snapshot reader
 * (mappers/snapshot.h), so a slow SELECT never holds the caravan that feeds
 * this flow and others. The caravan thread, while it encodes the flow's
 * stream, records the keys of the table being read (pub_boot_window.h) and
 * emits a ready chunk just before the first update at or after the chunk's
 * snapshot position (or when the reader is at the head of the log), as
 * updates of op snapshot, between snapshot_begin and snapshot_end markers
 * for each table. A datamarker follows each chunk; when the app acknowledges
 * it, the loop hands the progress to the ZooKeeper agent (pub_zk_note_boot).
 * A chunk is emitted only once the previous one is acknowledged and its
 * progress is in ZooKeeper (the agent wrote it: pub_boot_stored), so a kill
 * of the publisher or of the subscriber re-sends at most one chunk.
 *
 * Threads and locks: the state is under the flow's mu. The loop thread
 * makes and frees the bootstrap (with the flow) and calls _acked and
 * _reset_locked; the caravan thread of the flow's caravan calls
 * _encode_locked and _idle_locked; the worker takes f->mu only briefly
 * (never while it reads from the server). */
#ifndef WH_PUB_BOOTSTRAP_H
#define WH_PUB_BOOTSTRAP_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/zk_bootstrap.h"
#include "publisher/pub.h"

struct pub_flow;
typedef struct pub_boot pub_boot;

/* The bootstrap of flow f for the request request_json (a request node's
 * data) resumed from progress_json (this shard's progress node, or NULL).
 * NULL when there is nothing to do: no request, an invalid one (logged),
 * or progress that says it is done. The worker starts at once; it waits
 * for the flow to have a position before it reads. Loop thread. */
pub_boot *pub_boot_new(struct pub_flow *f, const char *request_json, const char *progress_json);

/* Stops the worker and frees. Accepts NULL. f->mu must not be held. Loop thread. */
void pub_boot_free(pub_boot *b);

/* Whether a flow for a request (node data, or NULL) with this progress
 * (or NULL) has a bootstrap to serve: a valid request, and no progress of
 * the same id that is done. */
bool pub_boot_needed(const char *request_json, const char *progress_json);

/* Whether b serves the request request_json (same id): an assignment whose
 * request changed makes a new flow. */
bool pub_boot_same_request(const pub_boot *b, const char *request_json);

/* The flow's ACK moved f->boot_acked: returns the progress to store (node
 * data, malloc'd) when it moved, else NULL. Loop thread. */
char *pub_boot_acked(struct pub_flow *f);

/* The progress pub_boot_acked returned was handed to the agent, which will
 * have written it once its written count (pub_zk_boot_written) reaches
 * ticket; 0: it will not write it (no ZooKeeper entry), nothing to wait for.
 * Until then no chunk is emitted. Loop thread, right after pub_boot_acked. */
void pub_boot_set_ticket(struct pub_flow *f, uint64_t ticket);

/* The agent's written count for the flow's app is written: true when that
 * stores the acknowledged progress, and the next chunk may now go (the
 * caller kicks the flow's caravan). Loop thread. */
bool pub_boot_stored(struct pub_flow *f, uint64_t written);

/* f has a bootstrap whose acknowledged progress waits to be stored. Loop
 * thread. */
bool pub_boot_store_pending(const struct pub_flow *f);

/* The flow is reset to its acknowledged position (f->mu held): forgets the
 * chunk read and the chunk sent and not acknowledged; reading resumes after
 * the acknowledged key. */
void pub_boot_reset_locked(pub_boot *b);

/* Encodes ups[0..n) for f (pub_flow_encode_locked, with the filter's
 * schema check against names, which may be NULL: no check), recording the
 * keys of the bootstrap's table and emitting a ready chunk where the stream
 * reaches its snapshot position (its rows checked alike: a misfit fails the
 * flow with the chunk not emitted). Caravan thread, f->mu held. */
int  pub_boot_encode_locked(struct pub_flow *f, struct pub_schemas *names,
                            const wh_update *ups, int n, bool *ready, char *errbuf,
                            size_t errlen);

/* The flow's reader stands in this copy's log: it delivers a batch (then
 * pub_boot_encode_locked calls it) or found the head. Only then does the
 * worker read a chunk: a reader still waiting for its start position to
 * arrive in a lagging copy's log (pub_caravan.c) would otherwise let it read
 * a snapshot older than what the app already has. Caravan thread, f->mu
 * held. */
void pub_boot_arrived_locked(struct pub_flow *f);

/* The caravan's reader found nothing new in a read that started at
 * read_start_ms (wh_mono_ms): a chunk that was ready before then is emitted
 * now. Caravan thread, f->mu held. */
int  pub_boot_idle_locked(struct pub_flow *f, struct pub_schemas *names, int64_t read_start_ms,
                          bool *ready, char *errbuf, size_t errlen);

/* A chunk waits to be emitted (the caravan shortens its waits for new log
 * data). Any thread, without a lock. */
bool pub_boot_waiting(const pub_boot *b);

/* The bootstrap is not done yet (its flow reads alone, pub_caravan.c).
 * False for NULL. Any thread, without a lock. */
bool pub_boot_active(const pub_boot *b);

/* ---- progress for the status file (protocol/status_file.h "bootstraps") ---- */

/* What a running bootstrap has done, for pub_report.c. */
typedef struct pub_boot_view {
    char     id[ZKU_BOOT_ID_MAX + 1];
    char     table[400];      /* "db.table" being read; "" once all were sent */
    uint32_t table_index, tables;
    uint64_t rows, rows_acked, table_rows, estimate, reread;
    double   rows_per_sec;    /* rows sent since this publisher began serving it */
    int64_t  eta_s;           /* until the current table is sent; -1: unknown */
} pub_boot_view;

/* Fills v for flow f's bootstrap; false when it has none or it is done.
 * Takes f->mu. Loop thread. */
bool pub_boot_view_get(struct pub_flow *f, pub_boot_view *v);

#endif

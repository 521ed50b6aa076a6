/* applied.h -- effectively once for apps: has this update been applied already?
 *
 * libwormhole delivers each shard's updates in log order, at least once:
 * after a crash, a reconnect or a failover some updates come again. An app
 * that applies updates to a store of its own gets exactly-once *effects*
 * by keeping, per shard, the position of the last update it applied, and
 * by writing that position in the same transaction as the changes:
 *
 *     begin
 *     load the shard's stored position into a wh_applied     (wh_applied_load)
 *     for each update of the batch:
 *         wh_applied_check:  SEEN -> drop it; NEW -> apply it, wh_applied_advance
 *     store wh_applied_physical/wh_applied_logical for the shard
 *     commit, then acknowledge (wh_subscriber_ack)
 *
 * Redelivered updates then compare as SEEN and change nothing.
 *
 * How positions compare (docs/UPDATES.md gives the text forms):
 *  - Logically, whenever the update and the stored position both have a
 *    logical part of the same kind; this is what holds across a failover to
 *    another copy of the shard. MariaDB GTIDs "domain-server-seq" compare by
 *    seq within their replication domain (the server id is not compared,
 *    but an equal domain and seq with a different server id is an error:
 *    two histories diverged); MySQL GTIDs "uuid:gno" by gno within their
 *    uuid; RocksDB sequence numbers as numbers. The stored logical part
 *    keeps the last applied update of every domain (or uuid) seen, so
 *    several domains, which a replica may interleave differently, compare
 *    correctly: an update is SEEN iff the stored GTID state covers it. An
 *    update of a domain the stored position does not list is NEW. An update
 *    position whose logical text carries a GTID state ("1-1-57,0-1-100", the
 *    mapper's form; the wire carries the first GTID only) is compared by its
 *    first GTID.
 *  - Physically otherwise, within one publisher's log: binlog positions
 *    "FILE:OFFSET/INDEX" compare when both files have the same base name
 *    ("binlog.000009" < "binlog.000010": base name, then the file's
 *    sequence number as a number, then offset, then index); RocksDB
 *    positions "SEQ/INDEX" by sequence, then index. Two different servers
 *    that share a base name cannot be told apart physically: give their
 *    logs GTIDs (then the logical rule applies) or distinct base names.
 *  - The index (the update's place inside its transaction) breaks ties in
 *    both: an update is SEEN when it is at or before the stored one.
 *  - When neither rule applies (different base names and no common logical
 *    kind; a position with only a logical part against one with only a
 *    physical part), wh_applied_check returns WH_ERR_UNSUPPORTED and says
 *    why in errbuf: it never guesses.
 *
 * Stored text (what an app writes to its store and loads back):
 *  - physical: "FILE:OFFSET/INDEX" or "SEQ/INDEX" of the last applied update;
 *  - logical: "GTID/INDEX[,GTID/INDEX...]": the last applied update's
 *    logical position first (so a single-domain log stores exactly the
 *    logical form of docs/UPDATES.md), then the last applied update of each
 *    other domain or uuid seen. At most WH_APPLIED_MAX_STREAMS entries.
 *
 * Ownership: a wh_applied owns its memory; strings it returns are owned by
 * it and valid until the next call that changes it (load, advance, copy
 * into it, clear) or wh_applied_free. Positions passed in are only read
 * during the call.
 * Threads: no internal locking; use one object from one thread at a time
 * (for example the subscriber's loop thread, inside the batch callback).
 * Different objects may be used concurrently. */
#ifndef WORMHOLE_APPLIED_H
#define WORMHOLE_APPLIED_H

#include <stdbool.h>
#include <stddef.h>

#include "wormhole/error.h"
#include "wormhole/update.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Results of wh_applied_check besides errors. */
#define WH_APPLIED_NEW  0   /* after the stored position: apply it */
#define WH_APPLIED_SEEN 1   /* at or before the stored position: drop it */

/* Most logical streams (MariaDB domains, MySQL uuids) one position keeps. */
#define WH_APPLIED_MAX_STREAMS 256

typedef struct wh_applied wh_applied;

/* A new, empty position (nothing applied: every update is NEW). Returns 0
 * and *out, or WH_ERR_NOMEM. Caller frees with wh_applied_free. */
int wh_applied_new(wh_applied **out);

/* Frees a; accepts NULL. */
void wh_applied_free(wh_applied *a);

/* Back to empty. */
void wh_applied_clear(wh_applied *a);

/* True if nothing has been loaded or applied. */
bool wh_applied_empty(const wh_applied *a);

/* Replaces a with a stored position: physical and logical in the text forms
 * above; NULL or "" for a part that was not stored (both missing = empty).
 * Returns 0, or WH_ERR_PARSE (the text is malformed: errbuf quotes it and
 * says what is wrong), WH_ERR_LIMIT (more than WH_APPLIED_MAX_STREAMS
 * entries) or WH_ERR_NOMEM; on error a is unchanged. */
int wh_applied_load(wh_applied *a, const char *physical, const char *logical, char *errbuf,
                    size_t errlen);

/* Compares an update's position with a (the rules above). Returns
 * WH_APPLIED_SEEN, WH_APPLIED_NEW, or a negative code with the reason in
 * errbuf: WH_ERR_UNSUPPORTED when the positions cannot be compared,
 * WH_ERR_PARSE when pos carries a logical id that is not a GTID or a
 * sequence number, WH_ERR_CORRUPT when the same MariaDB GTID seq comes from
 * two different servers. Does not change a. Cost: O(streams) plus parsing
 * pos->logical; no allocation. */
int wh_applied_check(const wh_applied *a, const wh_position *pos, char *errbuf, size_t errlen);

/* Records that the update at pos has been applied: a becomes pos (its
 * physical part, and its logical part in front of the other streams').
 * Call it only for updates wh_applied_check found NEW, in delivery order.
 * An update without a logical part clears the logical part of a. Returns
 * 0, or WH_ERR_PARSE / WH_ERR_LIMIT / WH_ERR_NOMEM (a is then unchanged). */
int wh_applied_advance(wh_applied *a, const wh_position *pos, char *errbuf, size_t errlen);

/* Makes dst an equal copy of src (for example to keep the committed
 * position while a transaction advances a working copy). Returns 0 or
 * WH_ERR_NOMEM (dst unchanged). */
int wh_applied_copy(wh_applied *dst, const wh_applied *src);

/* The text to store: physical ("FILE:OFFSET/INDEX" or "SEQ/INDEX") and
 * logical ("GTID/INDEX[,...]"), or NULL when a has no such part. Owned by
 * a (see above). NULL also if formatting runs out of memory. */
const char *wh_applied_physical(wh_applied *a);
const char *wh_applied_logical(wh_applied *a);

#ifdef __cplusplus
}
#endif
#endif

/* pub_caravan.h -- caravans: shared mapper readers, each feeding the flows that stand at its position.
 *
 * This module alone decides which flow is in which caravan: it places
 * streaming flows (pub_caravans_place), takes them out (pub_caravan_leave),
 * merges caravans that stand at the same position and reaps empty ones. A
 * caravan's thread drops a member whose window stays full: it moves the flow
 * to its leavers and wakes the loop, and pub_caravans_collect hands the flow
 * back to the loop, which places it again (a reader of its own, or a
 * caravan at the flow's position).
 *
 * Membership: a flow is a member or a leaver of at most one caravan, and
 * f->caravan names that caravan (NULL when none). f->caravan is written only
 * here, on the loop thread, with the caravan's mu held; a caravan thread
 * reads its member list under its mu and never reads f->caravan.
 *
 * Threads: every function is for the loop thread. */
#ifndef WH_PUB_CARAVAN_H
#define WH_PUB_CARAVAN_H

#include <stdbool.h>
#include <stdint.h>

#include "publisher/pub.h"
#include "publisher/pub_flow.h"

typedef struct pub_caravans pub_caravans;

/* The (empty) set of caravans of p, or NULL on out of memory. */
pub_caravans *pub_caravans_new(publisher *p);
/* Stops and frees every caravan, then the set; no flow may be in one any
 * more. Accepts NULL. */
void pub_caravans_free(pub_caravans *s);

/* Gives every streaming flow of the list flows that has no caravan one: a
 * caravan standing at the flow's resume position (a batch boundary, or the
 * start of a caravan that has not read yet), or a new caravan starting
 * there. A new caravan gathers before it reads: it starts reading only
 * delivery.caravan_gather_ms after its last flow joined and once no flow
 * at its start position is still connecting (at most ten times that long
 * after it was made), so flows that start together at one position share
 * one reader however their connections and ZooKeeper's news of them are
 * spread; call this at every tick so that gathered caravans start. With
 * delivery.max_caravans reached, a flow with no caravan at its position
 * waits (f->caravan_waiting_ms, logged once); waiting flows get new
 * caravans first come first served. A failure to start a reader is fatal
 * (pub_fatal). */
void pub_caravans_place(pub_caravans *s, pub_flow *flows);

/* Hands the leavers back: each flow that a caravan dropped gets no caravan
 * and resumes from its processed position. Returns whether there were any
 * (then place them). Cheap when there are none. */
bool pub_caravans_collect(pub_caravans *s);

/* Takes f out of its caravan (member or leaver), if any; after return no
 * caravan thread touches f. */
void pub_caravan_leave(pub_caravans *s, pub_flow *f);

/* f's window may have opened (an ACK): wakes its caravan if it waits. */
void pub_caravan_kick(pub_flow *f);

/* The loop took f's backlog: wakes its caravan if it waits for the loop and
 * its lock is free at once (else it retries within a millisecond anyway). */
void pub_caravan_nudge(pub_flow *f);

/* Marks which caravans catch up (all but the lead, the one furthest ahead,
 * and those at the head): their read rate is capped by
 * delivery.catchup_read_bytes_per_s. Then merges caravans that have read
 * up to the same position, so that flows that split off share one reader
 * again once they have caught up. Skips a caravan that is busy delivering
 * (the next call tries again). */
void pub_caravans_merge(pub_caravans *s);

/* Log bytes read by every reader (mapper), and readers (caravan threads)
 * started, since the publisher started: the status file's "log_bytes_read"
 * and "readers_started" (docs/MONITOR.md). */
void pub_caravans_counters(pub_caravans *s, uint64_t *log_bytes_read, uint64_t *readers_started);

/* Stops and frees caravans that have no member and no leaver left. */
void pub_caravans_reap(pub_caravans *s);

/* The error of a caravan whose reader failed with an error that is not its
 * flows' alone (valid until the caravan is
 * reaped), or NULL. */
const char *pub_caravans_failed(pub_caravans *s);

/* Stops for good (pub_flow_fail_for_good) every flow of a caravan whose
 * reader failed with an error that belongs to its flows alone (their start
 * position purged, unusable or unparsable: docs/RUNBOOK.md "A flow
 * failed"); the caravan, now empty, is reaped. Returns whether there were
 * any. pub_caravans_failed does not report such caravans. */
bool pub_caravans_fail_flows(pub_caravans *s);

/* Asserts the membership invariants over every caravan and the flows list
 * (debug builds; a no-op with NDEBUG). O(flows + members^2). */
void pub_caravans_check(pub_caravans *s, pub_flow *flows);

/* A caravan's progress, for the status file. */
typedef struct pub_caravan_view {
    uint64_t id;
    int64_t  beat_ms;     /* wh_mono_ms() when the reader last came back from its mapper */
    bool     reading;     /* has read at least one batch */
    bool     at_head;     /* the last read found nothing new */
    int64_t  last_ts;     /* event time of the last update read (seconds; 0 unknown) */
    uint32_t members;     /* flows it feeds (leavers not counted) */
    wh_pos   last;        /* position of the last update read (unset until then) */
    uint64_t bytes_read;  /* log bytes its reader has read (mappers that count them) */
    bool     capped;      /* a catch-up caravan: delivery.catchup_read_bytes_per_s applies */
    int64_t  waiting_since_ms; /* wall ms since its start position is awaited (it is not in
                                * this copy's log yet: WH_ERR_NOT_YET); 0 when not waiting */
    char     waiting_why[512]; /* ... and the sentence saying which GTID is missing */
} pub_caravan_view;

/* Fills v with the i-th caravan's progress; false when there are at most i. */
bool pub_caravans_view(pub_caravans *s, uint32_t i, pub_caravan_view *v);

/* Whether f is a member of a caravan whose reader has read and found
 * nothing new at its last read (the flow has been handed the head of the
 * log). Takes the caravan's mu; loop thread (f->caravan is the loop's). */
bool pub_caravan_flow_at_head(const pub_flow *f);

#endif

/* pub_flow.h -- a flow: the push connection of one subscriber app, its state machine, output and datamarkers.
 *
 * A flow connects to the app's chosen instance, sends HELLO, and once the
 * instance answers HELLO_OK it streams: a caravan (pub_caravan.h) encodes
 * updates and datamarkers into its output buffer, the loop sends them, and
 * each ACK pops the datamarkers up to the acknowledged one (docs/PROTOCOL.md).
 * A failure closes the connection and retries after a backoff from the
 * acknowledged position.
 *
 * Threads: the loop thread owns a flow. It alone creates and frees it,
 * changes its state and calls connect, send, recv and close on its socket.
 * While the flow is a member of a caravan, that caravan's thread calls the
 * _locked functions below with f->mu held: it appends to f->out and pushes
 * datamarkers, and never touches the socket. The loop takes f->mu to move
 * f->out into its own send buffer, to pop datamarkers on an ACK and to reset
 * the flow. A flow is never reset or freed while it is in a caravan
 * (asserted): the loop first takes it out (pub_caravan_leave).
 *
 * Functions that can fail the connection return PUB_FLOW_FAILED with the
 * reason in f->why; the loop then takes the flow out of its caravan and
 * calls pub_flow_reset.
 *
 * A flow that cannot go on at its acknowledged position for a reason its
 * app can fix (its subscriber refuses the flow with ERROR WH_ERR_REFUSED,
 * refuses an update as larger than its max_update_bytes or is too old to
 * take one larger than a frame, or its filter does not fit a table) *fails*
 * like one whose position cannot be read: retrying would only meet the same
 * refusal. The flow returns PUB_FLOW_FAILED | PUB_FLOW_STOPPED, or the
 * caravan drops it with stop_pending set; the loop takes it out of its
 * caravan and calls pub_flow_fail_for_good. It stays FLOW_FAILED, without a
 * connection, reported in the status file and its failure node, until its
 * instance registers anew, its app's filter changes or SIGHUP
 * (pub_assign.c, pub_flow_retry). */
#ifndef WH_PUB_FLOW_H
#define WH_PUB_FLOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "filters/filter.h"
#include "publisher/pub.h"
#include "publisher/pub_mutex.h"
#include "publisher/pub_schema.h"
#include "publisher/pub_shared_enc.h"
#include "wormhole/position.h"
#include "protocol/wire.h"
#include "protocol/wire_tls.h"

typedef enum pub_flow_state {
    FLOW_BACKOFF = 0,   /* waiting before (re)connecting */
    FLOW_CONNECTING,    /* TCP connect in progress */
    FLOW_HELLO,         /* HELLO sent, waiting for HELLO_OK */
    FLOW_STREAMING,     /* delivering */
    FLOW_FAILED,        /* stopped for good (why, failed_*): its position cannot be read
                         * (revived only by a new position from ZooKeeper: an operator
                         * reset); or it cannot go on at its acknowledged position
                         * because of something its app can fix: its subscriber refused
                         * the flow (ERROR WH_ERR_REFUSED: rc WH_ERR_REFUSED), cannot take
                         * an update (too large: rc WH_ERR_LIMIT) or its filter does not
                         * fit a table (pub_schema.h: rc WH_ERR_CONFIG); those are revived
                         * also when the instance registers anew, the app's filter
                         * changes, or SIGHUP (pub_flow_retry) */
} pub_flow_state;

/* What a flow's I/O asks of the loop, as bit flags. */
enum {
    PUB_FLOW_FAILED = 1 << 0,  /* the connection failed (f->why): leave the caravan, reset */
    PUB_FLOW_ACKED  = 1 << 1,  /* f->acked moved: record it, let the caravan feed the flow again */
    PUB_FLOW_TOOK   = 1 << 2,  /* the loop took a backlog (pub_flow_backlogged_locked): a
                                * caravan waiting for the loop may go on */
    PUB_FLOW_STOPPED = 1 << 3, /* with FAILED: the flow cannot go on (f->stop_rc, f->why:
                                  refused, or an update too large): leave the caravan,
                                  pub_flow_fail_for_good */
};

typedef struct pub_marker {
    uint64_t seq;
    uint64_t bytes_end;   /* flow->bytes_total when the marker was queued */
    wh_pos   pos;
    uint64_t boot;        /* bootstrap chunks emitted before it (f->boot_emitted) */
    uint64_t sent_end;    /* flow->n_sent when the marker was queued */
    int64_t  ts;          /* event time at pos (seconds; 0 unknown) */
} pub_marker;

/* What a HELLO says about this publisher (from its ZooKeeper agent). */
typedef struct pub_hello {
    const char *publisher;     /* "" once fenced */
    uint64_t    epoch;
} pub_hello;

struct pub_caravan;
struct pub_boot;

typedef struct pub_flow {
    /* ---- loop thread only */
    struct pub_flow *next;
    publisher *pub;
    char   *app, *instance, *endpoint, *filter_json;
    int64_t instance_czxid;   /* the instance node's creation (pub_assign) */
    pub_flow_state state;
    int     fd;
    wire_tls *tls;            /* TLS over fd (NULL: plaintext to a loopback subscriber) */
    bool    handshaking;      /* FLOW_CONNECTING: connected, TLS handshake under way */
    int64_t state_since, backoff_until, backoff_ms;
    int64_t last_recv, last_send;
    bool    doomed;           /* assignment went away: close and free */
    wire_inbuf in;            /* received bytes: frames of at most WIRE_CONTROL_MAX */
    wh_buf  sending;          /* taken from out; sent_off of it written to the socket */
    size_t  sent_off;
    /* The caravan the flow is a member or a leaver of; written by the
     * caravan module on the loop thread only (pub_caravan.h). */
    struct pub_caravan *caravan;
    int64_t caravan_waiting_ms; /* wall ms since it waits for a caravan of its own
                                 * (delivery.max_caravans reached), 0: not waiting;
                                 * the caravan module's, loop thread */
    wh_pos  resume;           /* where this flow's next reader starts */
    bool    resume_start;     /* resume is a recorded start: the reader seeks to it inclusively */
    char    why[1200];        /* reason of the last PUB_FLOW_FAILED */
    int     stop_rc;          /* with PUB_FLOW_STOPPED: the failure's WH_ERR_* */
    uint64_t reset_gen;       /* the assignment's reset_gen this flow was made for */
    bool    on_purged_oldest; /* the app's policy: a purged position resumes from the oldest */
    int     failed_rc;        /* FLOW_FAILED: the mapper's WH_ERR_*, WH_ERR_REFUSED,
                                 WH_ERR_LIMIT or WH_ERR_CONFIG */
    wh_pos  failed_pos;       /* FLOW_FAILED: the position that could not be read, or where
                                 the flow stopped */
    int64_t failed_since_ms;  /* FLOW_FAILED: wh_wall_ms() when it failed */
    char    failed_why[1024]; /* FLOW_FAILED: the reason */
    struct pub_boot *boot;    /* its bootstrap (publisher/pub_bootstrap.h), NULL if none; set
                               * when the flow is made, freed with it */
    uint64_t reconnects;      /* connections reset after a failure (pub_flow_reset with a why) */
    char    last_error[256];  /* the last such failure's reason, "" if none (status file) */

    /* ---- shared with the caravan thread: under mu */
    pub_mutex mu;
    wh_buf   out;             /* encoded, not yet taken by the loop */
    uint64_t bytes_total;     /* bytes ever queued on this connection */
    uint64_t bytes_acked;     /* bytes_end of the last acknowledged marker */
    pub_marker *markers;      /* ring of unacknowledged markers */
    uint32_t nmarkers, capmarkers, headmarker;
    uint64_t next_mseq;
    wh_pos   processed;       /* last update handed to this flow (sent or filtered out) */
    bool     processed_start; /* processed is still the recorded start: nothing handed yet */
    wh_pos   marked;          /* position of the newest marker */
    uint64_t since_marker;    /* updates processed since the newest marker */
    uint64_t bytes_at_marker;
    int64_t  last_marker_ms;
    wh_pos   acked;           /* newest acknowledged position, or the recorded start */
    bool     acked_start;     /* acked is the app's recorded start, not yet delivered
                               * (docs/ZOOKEEPER.md, "A new app's start") */
    bool     needs_start;     /* no position at all: the caravan records the flow's start in
                               * ZooKeeper before its first update (written by the caravan) */
    atomic_bool out_ready;    /* out went from empty to non-empty: the loop should send */
    uint32_t peer_frame_max;  /* the subscriber's limits, from its HELLO_OK (wire_enc_peer) */
    bool     peer_parts;
    int      stop_pending;    /* the caravan met an update f cannot take: WH_ERR_CONFIG (its
                                 filter does not fit the table) or WH_ERR_LIMIT (larger than
                                 the subscriber takes); 0: none. The caravan drops f, the loop
                                 fails it (pub_flow_stop_pending, pub_flow_fail_for_good) */
    char     stop_why[1200];  /* ... and why */
    uint64_t boot_emitted;    /* bootstrap chunks emitted (pub_bootstrap.c) */
    uint64_t boot_marked;     /* ... when the newest marker was queued */
    uint64_t boot_acked;      /* ... before the newest acknowledged marker */
    int64_t  processed_ts;    /* event time of the processed position (s; 0 unknown) */
    int64_t  acked_ts;        /* event time of the acknowledged position (s; 0 unknown) */
    uint64_t sent_acked;      /* n_sent up to the newest acknowledged marker */
    uint64_t delivered_updates; /* updates acknowledged by the subscriber, over every
                                 * connection of this flow (a re-sent one counts again) */
    uint64_t delivered_bytes; /* frame bytes acknowledged, likewise */

    /* ---- the caravan thread only while a member */
    wh_filter *filter;
    pub_schema_seen schemas;  /* schema_ids its filter was checked against (pub_schema.h) */
    wire_enc   enc;
    uint64_t   n_sent, n_filtered, n_frames;   /* approximate when read elsewhere; n_sent is
                                                * written under mu (markers copy it) */
} pub_flow;

/* ---- the loop thread ---------------------------------------------------------- */

/* A flow for assignment a, in FLOW_BACKOFF with no delay, or NULL (out of
 * memory, or the instance's filter does not parse: logged). Free with
 * pub_flow_free. */
pub_flow *pub_flow_new(publisher *p, const pub_assign *a);
/* Frees a flow that is in no caravan; closes its socket. Accepts NULL. */
void pub_flow_free(pub_flow *f);

/* Handles epoll events of f's socket: connect completion (then HELLO with
 * hello, which must be filled while f is FLOW_CONNECTING), writability, and
 * received frames. Returns PUB_FLOW_* flags. */
int  pub_flow_event(pub_flow *f, uint32_t events, const pub_hello *hello);

/* Timers at time now (wh_mono_ms): connects when the backoff is over, times
 * out connects, handshakes and silent peers, queues the timed datamarker
 * and the heartbeat of an idle connection, and sends. Returns PUB_FLOW_*. */
int  pub_flow_tick(pub_flow *f, int64_t now);

/* Sends what is queued until done or the socket is full (the loop sends
 * again on EPOLLOUT). Returns PUB_FLOW_FAILED, PUB_FLOW_TOOK, both or 0. */
int  pub_flow_send(pub_flow *f);

/* Closes the connection (why, if not NULL, is logged) and prepares a retry
 * from the acknowledged position: at once with retry_soon, else after the
 * backoff, which doubles. f must be in no caravan. */
void pub_flow_reset(pub_flow *f, const char *why, bool retry_soon);

/* Stops f for good (FLOW_FAILED) at pos, for rc and why: its reader could
 * not use the position (a mapper's WH_ERR_*), its subscriber refused it
 * (WH_ERR_REFUSED), it cannot take an update (WH_ERR_LIMIT), or its filter
 * does not fit a table (WH_ERR_CONFIG: a connected instance is first told
 * with ERROR WH_ERR_CONFIG and why). Tells a streaming instance that the
 * shard is released, closes the connection, logs one ERROR and records the
 * failure (pub_zk_note_failed, the status file). f must be in no caravan. */
void pub_flow_fail_for_good(pub_flow *f, int rc, const wh_pos *pos, const char *why);

/* Whether the caravan asked for f to fail (stop_pending): returns its
 * WH_ERR_* (0: no) and copies the reason to f->why. */
int  pub_flow_stop_pending(pub_flow *f);

/* Queues SHARD_NOTICE(held=false) and sends it: the publisher closes a
 * streaming connection on purpose (docs/PROTOCOL.md). */
void pub_flow_release(pub_flow *f);

/* Whether f is FLOW_FAILED for a reason that its subscriber or its app can
 * fix (WH_ERR_REFUSED, WH_ERR_LIMIT, WH_ERR_CONFIG), which a new registration of the
 * instance, a new filter or SIGHUP retries; a failed position needs a reset. */
bool pub_flow_failed_retryable(const pub_flow *f);

/* A retryable FLOW_FAILED flow (above) tries again at once (SIGHUP); its
 * failure record goes (pub_zk_note_revived). Other flows are left alone. */
void pub_flow_retry(pub_flow *f);

/* Datamarkers queued and not yet acknowledged. */
uint32_t pub_flow_unacked_markers(pub_flow *f);

/* ---- any thread, f->mu held ------------------------------------------------------ */

/* Sets the processed and marked positions to pos: the next update f gets is
 * the one after pos, or with start the one at pos (a recorded start); an
 * unset pos (the oldest) makes f need a start (a caravan takes f in at its
 * current position). */
void pub_flow_rewind_locked(pub_flow *f, const wh_pos *pos, bool start);

/* Queues a datamarker for f's processed position if it moved since the
 * newest one (on out of memory, the next call tries again). */
void pub_flow_mark_locked(pub_flow *f);

/* Encodes the updates of ups[0..n) (n > 0) that pass f's filter as UPDATES
 * frames within the subscriber's limits (at most the smaller of
 * delivery.max_frame_bytes and its HELLO_OK's; an update larger than that
 * as UPDATES_PART frames), advances f's processed position over all of
 * them, and queues a datamarker when enough updates or bytes went by.
 * Checks f's filter against the schema of each table it has not met yet
 * (pub_schema.h; names holds every schema the reader met). An update f
 * cannot take (its filter does not fit the table; or it is larger than a
 * frame and the subscriber takes no parts) sets stop_pending instead: f
 * stops just before it and takes nothing more, and the caravan must drop
 * it. Sets *ready when out went from empty to non-empty (the caller wakes
 * the loop). Returns 0, or a fatal error described in errbuf. */
int  pub_flow_encode_locked(pub_flow *f, pub_schemas *names, const wh_update *ups, int n,
                            bool *ready, char *errbuf, size_t errlen);

/* pub_flow_encode_locked through a caravan's shared encodings of the batch
 * ups[0..n) (pub_shared_enc.h; pub_shared_enc_begin called for this batch,
 * by the caravan thread that owns shared): f's filter runs as above, and
 * when a member before f selected the same updates with the same frame
 * limit, its frames are copied instead of encoded again. The bytes queued
 * are the same as pub_flow_encode_locked's. shared NULL: no sharing. */
int  pub_flow_encode_shared_locked(pub_flow *f, pub_schemas *names, const wh_update *ups, int n,
                                   pub_shared_enc *shared, bool *ready, char *errbuf,
                                   size_t errlen);

/* Bytes queued and not acknowledged (the window in use). */
uint64_t pub_flow_unacked_bytes_locked(pub_flow *f);

/* The window is full: f must not be fed until an ACK. */
bool pub_flow_window_full_locked(pub_flow *f);

/* The loop has not yet taken f's output and much is queued there: the loop
 * is behind (busy or short of CPU), not the subscriber. */
bool pub_flow_backlogged_locked(pub_flow *f);

#endif

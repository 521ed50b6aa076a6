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
 * A flow whose subscriber cannot take an update (it refuses one as larger
 * than its max_update_bytes, or it is too old to take one larger than a
 * frame) is *stopped*: retrying would only send the same update again. The
 * flow returns PUB_FLOW_STOPPED, or the caravan drops it with stop_pending
 * set; the loop takes it out of its caravan and calls pub_flow_stop. It
 * stays stopped, without a connection, until its instance registers again
 * (pub_assign.c) or the publisher restarts; its reason is logged and
 * reported in the status file. */
#ifndef WH_PUB_FLOW_H
#define WH_PUB_FLOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "filters/filter.h"
#include "publisher/pub.h"
#include "publisher/pub_mutex.h"
#include "wormhole/position.h"
#include "protocol/wire.h"

typedef enum pub_flow_state {
    FLOW_BACKOFF = 0,   /* waiting before (re)connecting */
    FLOW_CONNECTING,    /* TCP connect in progress */
    FLOW_HELLO,         /* HELLO sent, waiting for HELLO_OK */
    FLOW_STREAMING,     /* delivering */
    FLOW_STOPPED,       /* the subscriber cannot take an update (stopped_why) */
    FLOW_FAILED,        /* stopped for good: its position cannot be read (why, failed_*);
                         * only a new position from ZooKeeper (an operator reset) revives it */
} pub_flow_state;

/* What a flow's I/O asks of the loop, as bit flags. */
enum {
    PUB_FLOW_FAILED = 1 << 0,  /* the connection failed (f->why): leave the caravan, reset */
    PUB_FLOW_ACKED  = 1 << 1,  /* f->acked moved: record it, let the caravan feed the flow again */
    PUB_FLOW_TOOK   = 1 << 2,  /* the loop took a backlog (pub_flow_backlogged_locked): a
                                * caravan waiting for the loop may go on */
    PUB_FLOW_STOPPED = 1 << 3, /* the subscriber cannot take an update (f->why): leave the
                                  caravan, pub_flow_stop */
};

typedef struct pub_marker {
    uint64_t seq;
    uint64_t bytes_end;   /* flow->bytes_total when the marker was queued */
    wh_pos   pos;
    uint64_t boot;        /* bootstrap chunks emitted before it (f->boot_emitted) */
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
    int64_t czxid;            /* of the instance's node when the flow was made */
    pub_flow_state state;
    int     fd;
    int64_t state_since, backoff_until, backoff_ms;
    int64_t last_recv, last_send;
    bool    doomed;           /* assignment went away: close and free */
    wire_inbuf in;            /* received bytes: frames of at most WIRE_CONTROL_MAX */
    wh_buf  sending;          /* taken from out; sent_off of it written to the socket */
    size_t  sent_off;
    /* The caravan the flow is a member or a leaver of; written by the
     * caravan module on the loop thread only (pub_caravan.h). */
    struct pub_caravan *caravan;
    wh_pos  resume;           /* where this flow's next reader starts */
    char    why[700];         /* reason of the last PUB_FLOW_FAILED or _STOPPED */
    char    stopped_why[700]; /* FLOW_STOPPED: why */
    int64_t stopped_since_ms; /* FLOW_STOPPED: wh_wall_ms() when it stopped */
    uint64_t reset_gen;       /* the assignment's reset_gen this flow was made for */
    bool    on_purged_oldest; /* the app's policy: a purged position resumes from the oldest */
    int     failed_rc;        /* FLOW_FAILED: the mapper's WH_ERR_* */
    wh_pos  failed_pos;       /* FLOW_FAILED: the position that could not be read */
    int64_t failed_since_ms;  /* FLOW_FAILED: wh_wall_ms() when it failed */
    char    failed_why[1024]; /* FLOW_FAILED: the reason */
    struct pub_boot *boot;    /* its bootstrap (publisher/pub_bootstrap.h), NULL if none; set
                               * when the flow is made, freed with it */

    /* ---- shared with the caravan thread: under mu */
    pub_mutex mu;
    wh_buf   out;             /* encoded, not yet taken by the loop */
    uint64_t bytes_total;     /* bytes ever queued on this connection */
    uint64_t bytes_acked;     /* bytes_end of the last acknowledged marker */
    pub_marker *markers;      /* ring of unacknowledged markers */
    uint32_t nmarkers, capmarkers, headmarker;
    uint64_t next_mseq;
    wh_pos   processed;       /* last update handed to this flow (sent or filtered out) */
    wh_pos   marked;          /* position of the newest marker */
    uint64_t since_marker;    /* updates processed since the newest marker */
    uint64_t bytes_at_marker;
    int64_t  last_marker_ms;
    wh_pos   acked;           /* newest acknowledged position */
    atomic_bool out_ready;    /* out went from empty to non-empty: the loop should send */
    uint32_t peer_frame_max;  /* the subscriber's limits, from its HELLO_OK (wire_enc_peer) */
    bool     peer_parts;
    bool     stop_pending;    /* the caravan met an update the subscriber cannot take */
    char     stop_why[700];   /* ... and why */
    uint64_t boot_emitted;    /* bootstrap chunks emitted (pub_bootstrap.c) */
    uint64_t boot_marked;     /* ... when the newest marker was queued */
    uint64_t boot_acked;      /* ... before the newest acknowledged marker */

    /* ---- the caravan thread only while a member */
    wh_filter *filter;
    wire_enc   enc;
    uint64_t   n_sent, n_filtered, n_frames;   /* approximate when read elsewhere */
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

/* Stops f (see above): closes the connection, logs why at ERROR level,
 * keeps it in stopped_why and leaves f in FLOW_STOPPED. f must be in no
 * caravan. */
void pub_flow_stop(pub_flow *f, const char *why);

/* Whether the caravan asked for f to stop (stop_pending); the reason is
 * copied to f->why. */
bool pub_flow_stop_pending(pub_flow *f);

/* Stops f for good (FLOW_FAILED): its reader could not use the position pos
 * (rc, why). Tells a streaming instance that the shard is released, closes
 * the connection and logs one ERROR. f must be in no caravan. */
void pub_flow_fail_for_good(pub_flow *f, int rc, const wh_pos *pos, const char *why);

/* Queues SHARD_NOTICE(held=false) and sends it: the publisher closes a
 * streaming connection on purpose (docs/PROTOCOL.md). */
void pub_flow_release(pub_flow *f);

/* Datamarkers queued and not yet acknowledged. */
uint32_t pub_flow_unacked_markers(pub_flow *f);

/* ---- any thread, f->mu held ------------------------------------------------------ */

/* Sets the processed and marked positions to pos: the next update f gets is
 * the one after pos (a caravan takes f in at its current position). */
void pub_flow_rewind_locked(pub_flow *f, const wh_pos *pos);

/* Queues a datamarker for f's processed position if it moved since the
 * newest one (on out of memory, the next call tries again). */
void pub_flow_mark_locked(pub_flow *f);

/* Encodes the updates of ups[0..n) (n > 0) that pass f's filter as UPDATES
 * frames within the subscriber's limits (at most the smaller of
 * delivery.max_frame_bytes and its HELLO_OK's; an update larger than that
 * as UPDATES_PART frames), advances f's processed position over all of
 * them, and queues a datamarker when enough updates or bytes went by. Sets
 * *ready when out went from empty to non-empty (the caller wakes the loop).
 * An update the subscriber cannot take (larger than a frame, and it takes
 * no parts) sets stop_pending instead, and f then takes nothing more: the
 * caravan must drop it. Returns 0, or a fatal error described in errbuf. */
int  pub_flow_encode_locked(pub_flow *f, const wh_update *ups, int n, bool *ready,
                            char *errbuf, size_t errlen);

/* Bytes queued and not acknowledged (the window in use). */
uint64_t pub_flow_unacked_bytes_locked(pub_flow *f);

/* The window is full: f must not be fed until an ACK. */
bool pub_flow_window_full_locked(pub_flow *f);

/* The loop has not yet taken f's output and much is queued there: the loop
 * is behind (busy or short of CPU), not the subscriber. */
bool pub_flow_backlogged_locked(pub_flow *f);

#endif

/* pub.h -- the publisher's internal objects: config, flows, caravans, the ZooKeeper agent.
 *
 * Threads (docs/PROTOCOL.md, docs/ZOOKEEPER.md):
 *  - the loop thread (main) owns flows and their sockets: connects, sends
 *    HELLO, reads ACKs and heartbeats, times out peers, and starts, joins and
 *    regroups caravans;
 *  - each caravan thread reads its mapper and encodes updates into the
 *    output buffers of its member flows (under each flow's mu);
 *  - the ZooKeeper agent thread keeps the session, registration, watches on
 *    apps and instances, and writes acknowledged positions.
 * Lock order: caravan.mu before flow.mu; zk.mu is never held with either. */
#ifndef WH_PUB_H
#define WH_PUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/config.h"
#include "filters/filter.h"
#include "mappers/mapper.h"
#include "wormhole/position.h"
#include "protocol/wire.h"

/* ---- configuration (docs/CONFIG.md) ------------------------------------------ */

typedef struct pub_config {
    char   *shard;
    char   *id;
    char   *mapper_name;
    json_t *mapper_options;
    char   *zk_connect;
    char   *zk_root;
    int64_t zk_session_ms;
    int64_t batch_size;
    int64_t window_bytes;
    int64_t marker_updates;
    int64_t marker_ms;
    int64_t heartbeat_ms;
    int64_t heartbeat_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int64_t caravan_wait_ms;
    int64_t frame_bytes;
    int64_t flush_ms;
    char   *log_level;
    char   *log_debug;
} pub_config;

extern const wh_cfg_field pub_config_fields[];

/* ---- flows ---------------------------------------------------------------------- */

typedef enum pub_flow_state {
    FLOW_BACKOFF = 0,   /* waiting before (re)connecting */
    FLOW_CONNECTING,    /* TCP connect in progress */
    FLOW_HELLO,         /* HELLO sent, waiting for HELLO_OK */
    FLOW_STREAMING,     /* delivering */
} pub_flow_state;

typedef struct pub_marker {
    uint64_t seq;
    uint64_t bytes_end;   /* flow->bytes_total when the marker was queued */
    wh_pos   pos;
} pub_marker;

struct pub_caravan;
struct publisher;

typedef struct pub_flow {
    struct pub_flow *next;
    struct publisher *pub;
    /* identity: loop thread */
    char   *app, *instance, *endpoint, *filter_json;
    pub_flow_state state;
    int     fd;
    int64_t state_since, backoff_until, backoff_ms;
    int64_t last_recv;
    bool    doomed;           /* assignment went away: close and free */
    bool    gen_seen;
    wh_buf  in;
    size_t  in_off;
    struct pub_caravan *caravan;
    wh_pos  resume;           /* where this flow's next reader starts */

    /* shared with the caravan thread: under mu */
    pthread_mutex_t mu;
    wh_buf   out;
    size_t   out_off;
    int      io_errno;        /* send failed: the loop tears the flow down */
    uint64_t bytes_total;     /* bytes ever queued on this connection */
    uint64_t bytes_acked;     /* bytes_end of the last acknowledged marker */
    pub_marker *markers;      /* ring of unacknowledged markers */
    uint32_t nmarkers, capmarkers, headmarker;
    uint64_t next_mseq;
    wh_pos   processed;       /* last update handed to this flow (sent or filtered out) */
    wh_pos   marked;          /* position of the newest marker */
    uint64_t since_marker;    /* updates processed since the newest marker */
    uint64_t bytes_at_marker;
    int64_t  last_marker_ms, last_send;
    wh_pos   acked;           /* newest acknowledged position */
    uint64_t acked_gen;       /* bumped on each ack */
    /* caravan thread only while a member */
    wh_filter *filter;
    wire_enc   enc;
    /* counters (approximate when read from other threads) */
    uint64_t n_sent, n_filtered, n_frames;
} pub_flow;

/* ---- caravans -------------------------------------------------------------------- */

typedef struct pub_caravan {
    struct pub_caravan *next;
    struct publisher *pub;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t  cond;      /* a member's window opened, or stop */
    pub_flow **members;
    uint32_t   nmembers, capmembers;
    wh_pos     start;          /* where it began */
    wh_pos     last;           /* position of the last update read; unset until then */
    bool       reading;        /* has read at least one batch */
    bool       at_head;        /* the last read found nothing new: caught up with the log */
    int64_t    last_ts;        /* event time of the last update read (seconds; 0 unknown) */
    atomic_bool stop;
    atomic_bool dead;          /* the thread ended on an error */
    atomic_llong beat_ms;      /* last time the thread came back from its mapper */
    char       err[1024];
    uint64_t   id;
} pub_caravan;

/* ---- ZooKeeper agent ------------------------------------------------------------------ */

/* One app's assignment for this publisher's shard. */
typedef struct pub_assign {
    char   *app, *instance, *endpoint, *filter_json;
    wh_pos  pos;               /* position to start a new flow from */
} pub_assign;

typedef struct pub_zk pub_zk;

int  pub_zk_new(struct publisher *p, pub_zk **out, char *errbuf, size_t errlen);
/* Starts the agent thread; it connects, registers and keeps doing so. */
int  pub_zk_start(pub_zk *z, char *errbuf, size_t errlen);
/* Takes the newest assignment if its generation is newer than gen:
 * returns true and sets out and n (caller frees with pub_assign_free). */
bool pub_zk_take_assignment(pub_zk *z, uint64_t *gen, pub_assign **out, int *n);
void pub_assign_free(pub_assign *a, int n);
/* Records a newly acknowledged position of app's flow (written in batches). */
void pub_zk_note_acked(pub_zk *z, const char *app, const wh_pos *pos);
/* Non-NULL once the agent met an unrecoverable error (e.g. fenced). */
const char *pub_zk_fatal(pub_zk *z);
uint64_t pub_zk_epoch(pub_zk *z);
bool pub_zk_connected(pub_zk *z);
/* Writes every pending position now (bounded wait), then stops the thread,
 * deletes the registration and frees. Accepts NULL. */
void pub_zk_free(pub_zk *z);

/* ---- the publisher ------------------------------------------------------------------------ */

typedef struct publisher {
    pub_config cfg;
    const char *config_path;
    char    *id_configured;     /* cfg.id as the file had it (it may be empty) */
    pub_zk  *zk;
    int      epfd, efd;
    pub_flow *flows;
    pub_caravan *caravans;
    uint64_t next_caravan_id;
    uint64_t assign_gen;
    atomic_int sig_term, sig_hup;
    /* live tuning (SIGHUP), read by caravan threads without a lock */
    atomic_llong window_bytes, marker_updates, marker_ms, batch_size, caravan_wait_ms;
    char     fatal[1024];
    atomic_bool has_fatal;
} publisher;

void pub_wake(publisher *p);
/* Records an unrecoverable error; the loop exits with it. Any thread. */
void pub_fatal(publisher *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t pub_now_ms(void);

/* Waits on cond (mu held, as pthread_cond_timedwait) for at most ms
 * milliseconds; returns early when signalled. */
void pub_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);

/* Creates a mapper by name: the registry's (mappers/mapper.c), or the
 * publisher's own "synthetic" generator (pub_synthetic.c) for benchmarks and
 * tests. Same contract as wh_mapper_create. */
int pub_mapper_create(const char *name, const json_t *options, const char *shard, bool follow,
                      wh_mapper **out, char *errbuf, size_t errlen);
/* Validates a mapper's options by name without opening anything (the
 * synthetic generator's too). Same contract as wh_mapper_check. */
int pub_mapper_check(const char *name, const json_t *options, char *errbuf, size_t errlen);
extern const wh_mapper_ops pub_synthetic_ops;

/* Caravans (pub_caravan.c). */
pub_caravan *pub_caravan_new(publisher *p, const wh_pos *start);
int  pub_caravan_run(pub_caravan *c);     /* starts its thread */
/* Adds f (loop thread). */
bool pub_caravan_add(pub_caravan *c, pub_flow *f);
/* Moves every member of from into into when both have read up to the same
 * position (loop thread; the members' caravan pointers follow). Returns how
 * many moved; from is then empty and can be reaped. */
uint32_t pub_caravan_merge(pub_caravan *into, pub_caravan *from);
/* Removes f if it is a member; after return the caravan never touches f. */
void pub_caravan_remove(pub_caravan *c, pub_flow *f);
void pub_caravan_free(pub_caravan *c);    /* stops and joins */
/* Queues a datamarker for f's processed position if it moved (flow mu held). */
void pub_flow_mark_locked(pub_flow *f);
/* Writes what f has queued (flow mu held); returns false if the socket failed. */
bool pub_flow_send_locked(pub_flow *f);

#endif

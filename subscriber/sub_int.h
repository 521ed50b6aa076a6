/* sub_int.h -- libwormhole's internals shared by sub.c, sub_zk.c and sub_conn.c.
 *
 * Threads: one loop thread (wh_subscriber_run, or the thread of
 * wh_subscriber_start) owns everything below except the fields under mu:
 * the manual-ack queue (written by the application's threads through
 * wh_subscriber_ack) and the ZooKeeper event flags (written by the
 * ZooKeeper client's threads). ZooKeeper calls from the loop are
 * asynchronous, so an outage never blocks delivery; the watcher and the
 * completions only set flags and wake the loop. */
#ifndef WH_SUB_INT_H
#define WH_SUB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "protocol/wire.h"
#include "protocol/zk_client.h"
#include "protocol/zk_layout.h"
#include "wormhole/subscriber.h"

#define SUB_READ_CHUNK   (256u << 10)
#define SUB_OUT_LIMIT    (1u << 20)     /* unsent control bytes before we give up on a peer */
#define SUB_MAX_MARKERS  65536
#define SUB_HELLO_TIMEOUT_MS 5000       /* defaults of wh_sub_options */
#define SUB_MAX_PENDING  64
#define SUB_BURST_QUIET_MS 10000        /* a burst of dropped pending connections ends */
#define SUB_LINGER_MS    2000           /* a refused connection is drained this long at most */

/* ZooKeeper events posted to the loop (wh_subscriber.zk_flags). */
#define ZKF_CONNECTED  0x01
#define ZKF_EXPIRED    0x02
#define ZKF_REG_OK     0x04
#define ZKF_REG_EXISTS 0x08
#define ZKF_REG_FAILED 0x10
#define ZKF_DELETED    0x20
#define ZKF_ACL_OK     0x40   /* the instances folder's ACL was read (zk_reg_ids) */
#define ZKF_AUTH_FAILED 0x80

typedef struct sub_marker {
    uint64_t mseq;      /* datamarker sequence number */
    uint64_t upto;      /* updates received before it */
} sub_marker;

/* One publisher connection (one shard's flow once HELLO arrived). Until
 * its HELLO it is *pending*: it may hold at most WIRE_HELLO_MAX bytes, for
 * at most hello_ms, and at most max_pending connections are pending at
 * once (sub_conn.c). */
typedef struct sub_conn {
    struct sub_conn *next;
    int       fd;
    char      peer[64];
    uint64_t  flow;
    bool      greeted;       /* its HELLO was accepted: no longer pending */
    bool      streaming;     /* greeted and not released */
    char     *shard;
    int64_t   accepted_ms;
    wire_inbuf  in;
    wire_outbuf out;
    wire_asm    parts;       /* an update arriving in UPDATES_PART frames */
    bool      refusing;      /* an ERROR was queued: close gracefully (conn_linger) */
    int64_t   linger_until;  /* lingering after an ERROR until then; 0: not */
    uint64_t  seq;           /* updates received */
    uint64_t  epoch;         /* the publisher's epoch, from its HELLO */
    uint64_t  app_acked;     /* manual mode: app's cumulative ack */
    sub_marker *markers;
    uint32_t  nmarkers, capmarkers;
    int64_t   last_recv, last_send, hb_ms;
    bool      want_out;
} sub_conn;

struct wh_subscriber {
    /* options (owned copies) */
    char *zk_connect, *zk_root, *app, *instance, *listen_host, *advertise_host;
    char **shards;          /* NULL = all */
    int   session_ms, zk_wait_ms, hb_timeout_ms;
    bool  manual_ack;
    uint32_t max_frame;
    uint64_t max_update;
    int   hello_ms, max_pending;
    wh_sub_batch_cb  on_batch;
    wh_sub_update_cb on_update;
    wh_sub_notice_cb on_notice;
    void *opaque;

    char *filter_json;      /* canonical JSON, or NULL for everything */
    char  endpoint[300];
    char  node_path[ZKU_PATH_MAX];
    char *node_data;

    int lfd, efd, epfd;
    zhandle_t *zh;
    int64_t registered_session;     /* session id the node was created in, 0 = none */
    bool reg_inflight;
    int64_t reg_retry_at;
    int  last_zk_state;
    zku_auth auth;          /* the app's ZooKeeper identity (off: open ACLs) */
    bool zk_auth_added;     /* its credential is queued on the current handle */
    char zk_fatal[512];     /* before the first registration: why it cannot succeed */

    pthread_mutex_t mu;     /* guards zk_flags, zk_reg_rc, acks */
    unsigned zk_flags;
    int      zk_reg_rc;
    zku_acl_ids zk_reg_ids; /* the ids the app's instances folder grants (ZKF_ACL_OK) */
    struct { uint64_t flow, seq; } *acks;
    uint32_t nacks, capacks;

    atomic_bool stop;
    sub_conn *conns;
    int       npending;     /* connections not greeted */
    /* Pending connections dropped for a limit, logged once per burst: the
     * first drop is logged, the rest counted and summed up once none came
     * for SUB_BURST_QUIET_MS. */
    struct { uint64_t total, deadline, bytes, crowd; int64_t last_ms; } burst;
    uint64_t next_flow;
    wh_arena arena;
    wh_sub_stats stats;

    pthread_t thread;
    bool thread_started;
};

/* sub.c: wakes the loop from any thread. */
void sub_wake(wh_subscriber *s);

/* sub_zk.c (loop thread unless said otherwise). */
int  sub_zk_open(wh_subscriber *s);                 /* new session; WH_ERR_ZK (errno) */
void sub_zk_handle_events(wh_subscriber *s);        /* reacts to posted events, (re)registers */
void sub_zk_unregister(wh_subscriber *s);           /* deletes our node if this session made it */
/* Builds node_path and node_data from the options (in wh_subscriber_new). */
int  sub_zk_prepare(wh_subscriber *s, char *errbuf, size_t errlen);

/* sub_conn.c (loop thread). */
void sub_accept_all(wh_subscriber *s);
void sub_conn_readable(wh_subscriber *s, sub_conn *c);
/* Writes what is pending; false if the peer is gone or does not read. */
bool sub_conn_flush(wh_subscriber *s, sub_conn *c);
/* Closes and frees c; why (NULL: a clean close) is logged. */
void sub_conn_close(wh_subscriber *s, sub_conn *c, const char *why);
void sub_handle_acks(wh_subscriber *s);             /* applies wh_subscriber_ack's queue */
void sub_timers(wh_subscriber *s);                  /* heartbeats and peer timeouts */

#endif

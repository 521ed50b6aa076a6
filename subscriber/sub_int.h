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
#include "protocol/wire_tls.h"
#include "protocol/zk_bootstrap.h"
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
#define ZKF_APP_READ   0x40   /* the app node's data arrived (app_read*) */
#define ZKF_APP_KIDS   0x80   /* the app's instance list arrived (app_others*) */
#define ZKF_REG_RACE   0x100  /* the app node changed between its read and the registration */
#define ZKF_ACL_OK     0x200  /* the instances folder's ACL was read (zk_reg_ids) */
#define ZKF_AUTH_FAILED 0x400
#define ZKF_BOOT_DONE  0x800  /* the bootstrap request's create completed (boot_rc) */

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
    struct wire_tls *tls;    /* NULL: plaintext (a loopback peer) */
    bool      handshaking;   /* TLS handshake not complete: no frame read yet */
    uint64_t  drain_gen;     /* sub_conn_drain_tls's round that last served it */
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

/* A callback failing on one shard's update, counted across reconnects
 * (sub_deliver.c): one entry per shard, while the callback fails on it. */
typedef struct sub_failing {
    char    *shard;
    wh_pos   pos;           /* the update the count is about */
    uint32_t attempts;      /* failed calls on it */
} sub_failing;

struct wh_subscriber {
    /* options (owned copies) */
    char *zk_connect, *zk_root, *app, *instance, *listen_host, *advertise_host;
    char **shards;          /* NULL = all */
    int   session_ms, zk_wait_ms, hb_timeout_ms;
    bool  manual_ack;
    uint32_t max_frame;
    uint64_t max_update;
    int   hello_ms, max_pending;
    struct wire_tls_ctx *tls;   /* NULL: plaintext, loopback peers only */
    char *tls_pub_names;        /* patterns a publisher's certificate must match */
    wh_sub_batch_cb  on_batch;
    wh_sub_update_cb on_update;
    wh_sub_notice_cb on_notice;
    wh_sub_error_cb  on_error;
    void *opaque;
    uint32_t max_attempts;
    wh_sub_give_up give_up;
    char *dead_letter_path;
    int   dead_fd;          /* open with O_APPEND, or -1 */
    bool  replace_filter;
    /* the bootstrap option (sub_zk.c): the tables (NULL-terminated, copies) and
     * the request node being created; boot_asked once ZooKeeper answered */
    char **boot_tables;
    uint32_t nboot_tables;
    zku_boot_node boot_node;
    bool  boot_inflight, boot_asked;

    /* loop thread: callbacks that fail (sub_deliver.c) */
    sub_failing *failing;
    uint32_t nfailing, capfailing;
    bool  in_callback;      /* a batch or update callback runs */
    char  cb_reason[512];   /* wh_subscriber_callback_error's text for the running callback */

    char *filter_json;      /* canonical JSON, or NULL for everything */
    char  endpoint[300];
    char  node_path[ZKU_PATH_MAX];
    char *node_data;
    char  app_path[ZKU_PATH_MAX];        /* apps/APP: the app's filter (zk_layout.h) */
    char  instances_path[ZKU_PATH_MAX];
    char *app_data;         /* the app record this instance creates the app node with */
    char *reg_app_data;     /* the app node's data the registration's multi writes */
    /* the registration's multi (one in flight): kept until its completion */
    zoo_op_t        reg_ops[2];
    zoo_op_result_t reg_results[2];
    struct Stat     reg_stat;
    char            reg_created[ZKU_PATH_MAX];
    zku_acl         reg_acl;    /* the create's ACL with authentication on */
    /* unrecoverable (loop thread): the loop ends and run returns fatal_rc */
    bool  has_fatal;
    int   fatal_rc;
    char  fatal[1024];

    int lfd, efd, epfd;
    zhandle_t *zh;
    int64_t registered_session;     /* session id the node was created in, 0 = none */
    bool reg_inflight;
    int64_t reg_retry_at;
    int  last_zk_state;
    zku_auth auth;          /* the app's ZooKeeper identity (off: open ACLs) */
    bool zk_auth_added;     /* its credential is queued on the current handle */
    char zk_fatal[2048];    /* before the first registration: why it cannot succeed */

    pthread_mutex_t mu;     /* guards zk_flags, zk_reg_rc, app_read*, app_others*, acks */
    unsigned zk_flags;
    int      zk_reg_rc;
    char    *app_read;      /* the app node's data as read (malloc'd), NULL: none */
    int      app_read_len, app_read_version, app_read_rc;
    int      app_others;    /* live instances of the app other than this one, -1 unknown */
    char     app_other[ZKU_NAME_MAX + 1];   /* one of them */
    int      app_kids_rc;
    zku_acl_ids zk_reg_ids; /* the ids the app's instances folder grants (ZKF_ACL_OK) */
    int      boot_rc;       /* the bootstrap request's create (ZKF_BOOT_DONE) */
    struct { uint64_t flow, seq; } *acks;
    uint32_t nacks, capacks;

    atomic_bool stop;
    sub_conn *conns;
    int       npending;     /* connections not greeted */
    /* Pending connections dropped for a limit, logged once per burst: the
     * first drop is logged, the rest counted and summed up once none came
     * for SUB_BURST_QUIET_MS. */
    struct { uint64_t total, deadline, bytes, crowd, tls; int64_t last_ms; } burst;
    uint64_t drain_gen;
    uint64_t next_flow;
    wh_arena arena;
    wh_sub_stats stats;

    pthread_t thread;
    bool thread_started;
};

/* sub.c: wakes the loop from any thread. */
void sub_wake(wh_subscriber *s);
/* sub.c (loop thread): records an unrecoverable failure (the first one
 * wins), logs it, tells on_error and ends the loop; run returns rc. */
void sub_fatal(wh_subscriber *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* sub.c (loop thread): tells on_error, if set. */
void sub_report(wh_subscriber *s, const wh_sub_error *e);

/* sub_zk.c (loop thread unless said otherwise). */
int  sub_zk_open(wh_subscriber *s);                 /* new session; WH_ERR_ZK (errno) */
void sub_zk_handle_events(wh_subscriber *s);        /* reacts to posted events, (re)registers */
void sub_zk_unregister(wh_subscriber *s);           /* deletes our node if this session made it */
/* Builds node_path and node_data from the options (in wh_subscriber_new). */
int  sub_zk_prepare(wh_subscriber *s, char *errbuf, size_t errlen);

/* sub_conn.c (loop thread). */
void sub_accept_all(wh_subscriber *s);
void sub_conn_readable(wh_subscriber *s, sub_conn *c);
/* Reads from TLS connections that hold decrypted bytes their socket no
 * longer signals; true if some still do (the loop must not sleep). */
bool sub_conn_drain_tls(wh_subscriber *s);
/* Writes what is pending; false if the peer is gone or does not read. */
bool sub_conn_flush(wh_subscriber *s, sub_conn *c);
/* Closes and frees c; why (NULL: a clean close) is logged. */
void sub_conn_close(wh_subscriber *s, sub_conn *c, const char *why);
void sub_handle_acks(wh_subscriber *s);             /* applies wh_subscriber_ack's queue */
void sub_timers(wh_subscriber *s);                  /* heartbeats and peer timeouts */

/* sub_deliver.c (loop thread): calls the application's callbacks for a
 * decoded batch of c's shard, counting failed calls per update position and
 * giving up on an update after max_attempts (refuse or dead-letter).
 * Returns NULL when the batch is processed (acknowledgeable), or why the
 * connection must close (written into why); *refused is set when the flow
 * was refused with ERROR (already queued and flushed). */
const char *sub_deliver(wh_subscriber *s, sub_conn *c, const wh_update *ups, uint32_t count,
                        bool *refused, char *why, size_t whylen);
/* Opens the dead-letter file (wh_subscriber_new); errbuf names the path. */
int  sub_deliver_open(wh_subscriber *s, char *errbuf, size_t errlen);
/* Frees the failure records and closes the dead-letter file. */
void sub_deliver_free(wh_subscriber *s);

#endif

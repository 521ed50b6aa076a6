/* pub.h -- the publisher object, its settings and its ZooKeeper agent; flows and caravans have their own headers.
 *
 * Threads (docs/PROTOCOL.md, docs/ZOOKEEPER.md):
 *  - the loop thread (main.c) owns the flows (pub_flow.h) and is the only
 *    thread that calls connect, send, recv or close on their sockets: it
 *    handshakes, writes what the flows have queued, reads ACKs and
 *    heartbeats, times out peers, and places flows in caravans, merges and
 *    reaps caravans (pub_caravan.h);
 *  - each caravan thread reads its mapper and encodes updates and
 *    datamarkers into the output buffers of its member flows (under each
 *    flow's mu), then wakes the loop (pub_wake) when a buffer that was empty
 *    has something to send, and waits while the loop has not yet taken a
 *    large output; it moves a member whose window stays full to its list
 *    of leavers and wakes the loop, which gives the flow a reader of its own;
 *  - the ZooKeeper agent thread (pub_zk.c) keeps the session, registration,
 *    watches on apps and instances, and writes acknowledged positions and
 *    the recorded starts of new apps, which a caravan waits for before
 *    their first update (it polls pub_zk_written without its locks).
 * Lock order: caravan.mu before flow.mu; zk.mu is never held with either. */
#ifndef WH_PUB_H
#define WH_PUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/config.h"
#include "wormhole/position.h"

/* ---- configuration (pub_config.c, docs/CONFIG.md) ---------------------------- */

typedef struct pub_config {
    char   *shard;
    char   *id;
    char   *mapper_name;
    json_t *mapper_options;
    char   *zk_connect;
    char   *zk_root;
    int64_t zk_session_ms;
    char   *zk_user;          /* ZooKeeper identity, "" none (docs/ZOOKEEPER.md) */
    char   *zk_secret_file;   /* its password's file */
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
    int64_t caravan_gather_ms;
    int64_t max_caravans;
    int64_t catchup_read_bytes_per_s;
    int64_t frame_bytes;
    int64_t flush_ms;
    int64_t lease_priority;
    bool    lease_failback;
    int64_t lease_grace_ms;
    int64_t health_interval_ms;
    int64_t health_max_lag_s;
    char   *log_level;
    char   *log_debug;
    char   *tls_mode;           /* "auto", "on", "off" (wire_tls.h) */
    char   *tls_ca_file, *tls_cert_file, *tls_key_file;
    char   *tls_subscriber_names;
    int64_t boot_chunk_rows;
    int64_t boot_rows_per_sec;
    int64_t boot_window_keys;
} pub_config;

extern const wh_cfg_field pub_config_fields[];

/* Checks the settings that must fit together (the table checks each one
 * alone): the heartbeat timeout holds at least two heartbeat intervals, the
 * first reconnect delay is not longer than the longest. Returns 0 or
 * WH_ERR_CONFIG with "WHERE: keys 'A' (x) and 'B' (y): why" in errbuf. */
int pub_config_check(const pub_config *cfg, const char *where, char *errbuf, size_t errlen);

/* Prints the settings table as the Markdown table of docs/CONFIG.md
 * (--config-markdown; the unit test config_doc keeps the two in step). */
void pub_config_print_markdown(FILE *out);

/* ---- ZooKeeper agent (pub_zk.c) ---------------------------------------------- */

struct publisher;

/* One app's assignment for this publisher's shard. */
typedef struct pub_assign {
    char   *app, *instance, *endpoint;
    char   *filter_json;       /* the app's filter (its app node), NULL: every update */
    int64_t instance_czxid;    /* creation of the instance's node: new when it registers anew */
    wh_pos  pos;               /* position to start a new flow from */
    bool    pos_start;         /* pos is a recorded start, not yet delivered: read it inclusively */
    uint64_t reset_gen;        /* moves when a failed flow's position was reset */
    bool    on_purged_oldest;  /* the app node's "on_purged":"oldest" */
    char   *boot_request;      /* the app's bootstrap request node data, NULL if none */
    char   *boot_progress;     /* this shard's progress on it (newest known), NULL if none */
} pub_assign;

typedef struct pub_zk pub_zk;

int  pub_zk_new(struct publisher *p, pub_zk **out, char *errbuf, size_t errlen);
/* Starts the agent thread; it connects, registers and keeps doing so. */
int  pub_zk_start(pub_zk *z, char *errbuf, size_t errlen);
/* Takes the newest assignment if its generation is newer than gen:
 * returns true and sets out and n (caller frees with pub_assign_free). */
bool pub_zk_take_assignment(pub_zk *z, uint64_t *gen, pub_assign **out, int *n);
void pub_assign_free(pub_assign *a, int n);
/* Records a newly acknowledged position of app's flow (written in batches)
 * and the log's event time there (seconds since the epoch, 0 unknown:
 * "event_ms" of its node, wormhole-ctl's lag). */
void pub_zk_note_acked(pub_zk *z, const char *app, const wh_pos *pos, int64_t event_s);
/* Records pos as the start of app's flow, which has no position yet: the
 * position of the first update it will get, marked as not yet delivered
 * (docs/ZOOKEEPER.md, "A new app's start"); written at once. Returns the
 * generation to pass to pub_zk_written (0 on out of memory: never written).
 * Any thread that holds no caravan or flow lock. A NULL z (a publisher
 * without its agent: the unit tests) records nothing and counts as written. */
uint64_t pub_zk_note_start(pub_zk *z, const char *app, const wh_pos *pos);
/* Whether ZooKeeper has confirmed the write of app's position generation
 * gen (or a newer one). Any thread that holds no caravan or flow lock. */
bool pub_zk_written(pub_zk *z, const char *app, uint64_t gen);
/* Records that app's flow FAILED at pos (rc, why, since_ms wall clock): the
 * agent writes its failure node and watches its position node, whose change
 * (an operator reset) revives the flow through a new assignment whose
 * reset_gen moved. Loop thread. */
void pub_zk_note_failed(pub_zk *z, const char *app, int rc, const wh_pos *pos,
                        const char *why, int64_t since_ms);
/* A failed flow of app starts again otherwise than by a reset of its
 * position (its subscriber or filter can work now: pub_flow_retry, a new
 * assignment): the agent deletes its failure node. Loop thread. */
void pub_zk_note_revived(pub_zk *z, const char *app);
/* Records app's acknowledged bootstrap progress (node data, taken over:
 * freed by the agent), written to its progress node at once (the next chunk
 * waits for it) and handed to a new flow of the app. Returns its ticket:
 * it is written once pub_zk_boot_written(app) >= ticket; 0 when it will
 * not be (no entry: out of memory). Loop thread. */
uint64_t pub_zk_note_boot(pub_zk *z, const char *app, char *progress_json);
/* The newest bootstrap progress ticket of app written to ZooKeeper. Any thread. */
uint64_t pub_zk_boot_written(pub_zk *z, const char *app);
/* True once since the last call when the agent wrote bootstrap progress
 * (it wakes the loop, pub_wake). Loop thread. */
bool pub_zk_take_boot_written(pub_zk *z);
/* Non-NULL once the agent met an unrecoverable error (e.g. fenced). */
const char *pub_zk_fatal(pub_zk *z);
uint64_t pub_zk_epoch(pub_zk *z);
bool pub_zk_connected(pub_zk *z);
/* Roles (docs/FAILOVER.md). Any thread. True while we hold the shard's lease. */
bool pub_zk_active(pub_zk *z);
/* True once our candidate node is registered (running, as active or standby). */
bool pub_zk_registered(pub_zk *z);
/* True while the agent knows the apps and instances it handed the loop are
 * stale: a watch fired and the assignment is not read yet, or is being
 * read (new caravans wait for it, pub_caravan.c). Any thread. */
bool pub_zk_assign_settling(pub_zk *z);
/* The agent asks the loop to stop delivering (hand-over): the loop drains
 * and closes every flow, then calls pub_zk_handover_done; the agent writes
 * the acknowledged positions and deletes the lease. Loop thread. */
bool pub_zk_handover_requested(pub_zk *z);
void pub_zk_handover_done(pub_zk *z);
/* Asks for a planned move away from us (SIGUSR1): a move request that the
 * best other healthy candidate takes. Any thread but a signal handler. */
void pub_zk_request_move(pub_zk *z);
/* True (and why) when we are active and ZooKeeper has not answered a ping
 * for two thirds of the session timeout, or the lease is lost: the loop must
 * stop delivering at once (close every flow, take no assignment) and call
 * pub_zk_fenced. The agent then resumes (same session, lease still ours: a
 * new assignment generation) or drops the lease (standby). Loop thread. */
bool pub_zk_fence_due(pub_zk *z, int64_t now, char *why, size_t len);
void pub_zk_fenced(pub_zk *z);
/* True from pub_zk_fenced until the agent resumed or dropped the lease. */
bool pub_zk_is_fenced(pub_zk *z);
/* The ids this publisher's nodes get in their ACLs (protocol/zk_acl.h): a
 * node under ROOT/shards/SHARD is created with
 * zku_acl_for_path(cfg.zk_root, path, pub_zk_acl_ids(z), &acl, ...).
 * Constant after pub_zk_new; any thread. */
const struct zku_acl_ids *pub_zk_acl_ids(const pub_zk *z);
/* Writes every pending position now (bounded wait), then stops the thread,
 * deletes the registration and frees. Accepts NULL. */
void pub_zk_free(pub_zk *z);

/* ---- the publisher (publisher.c) --------------------------------------------- */

struct pub_flow;
struct pub_caravans;
struct pub_schemas;
struct status_report;

typedef struct publisher {
    pub_config cfg;            /* loop thread; other threads read only the settings that never
                                * change after start (shard, mapper, zookeeper, frame size) */
    const char *config_path;
    /* This copy's identity (the mapper's identify, docs/FAILOVER.md), "" for
     * a mapper without one: written once at start, before any other thread
     * runs, then read by all; recorded with every position written. */
    char     copy_id[512];
    char    *id_configured;    /* cfg.id as the file had it (it may be empty) */
    pub_zk  *zk;
    int      epfd, efd;        /* the loop's epoll set and its wake-up eventfd */
    /* loop thread only */
    struct pub_flow     *flows;
    struct pub_caravans *caravans;
    uint64_t assign_gen;
    struct status_report *rep;    /* status file (NULL when not supervised) */
    struct wire_tls_ctx  *tls;    /* NULL: plaintext, loopback subscribers only (pub_tls_*) */
    int64_t  last_report;
    bool     running_reported;
    uint64_t status_failures;     /* status file writes that failed */
    char     status_error[1024];  /* the last failure's reason, "" after a success */
    /* any thread (mutex inside): the columns of every table read (pub_schema.h) */
    struct pub_schemas *schemas;
    /* any thread */
    atomic_int sig_term, sig_hup, sig_move;
    /* live tuning (SIGHUP), read by caravan threads without a lock */
    atomic_llong window_bytes, marker_updates, marker_ms, batch_size, caravan_wait_ms;
    atomic_llong caravan_gather_ms, max_caravans, catchup_read_bytes_per_s;
    atomic_llong boot_chunk_rows, boot_rows_per_sec, boot_window_keys;
    atomic_llong flush_ms;       /* positions.flush_interval_ms, read by the ZooKeeper agent */
    /* counters for the status file (cumulative, relaxed atomics) */
    atomic_ullong zk_writes;        /* creates and sets sent to ZooKeeper (pub_zk.c) */
    atomic_ullong updates_decoded;  /* updates the mappers returned to caravans */
    atomic_ullong batches_decoded;  /* ... in this many batches */
    atomic_bool fatal_claimed; /* the first pub_fatal caller writes fatal */
    atomic_bool has_fatal;     /* fatal is written */
    char     fatal[1024];
} publisher;

/* Wakes the loop thread (its epoll_wait returns). Any thread, async-signal-safe. */
void pub_wake(publisher *p);
/* Records an unrecoverable error (the first one wins); the loop exits with it.
 * Any thread. */
void pub_fatal(publisher *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- settings at start and on SIGHUP (pub_reload.c) ------------------------- */

/* Loads p->config_path into p->cfg and checks what the table cannot (shard
 * name, ZooKeeper root), applies the log settings (and the --debug areas
 * when debug is not NULL), fills in a missing id (host-pid) and the live
 * settings. Returns 0, or WH_ERR_CONFIG with file, key and reason in errbuf. */
int  pub_load_config(publisher *p, const char *debug, char *errbuf, size_t errlen);
/* Applies log.level and log.debug; errbuf names the bad key. */
int  pub_apply_logging(const pub_config *cfg, char *errbuf, size_t errlen);
/* Publishes the live delivery settings to the caravan threads. */
void pub_apply_live(publisher *p);
/* SIGHUP: re-reads the config file and applies the live settings, and
 * loads the TLS certificate, key and CA files again (loop thread). */
void pub_reload(publisher *p);
/* Sets up p->tls from the tls.* settings (docs/SECURITY.md): a context when
 * certificates are configured (required with tls.mode "on"), none for
 * plaintext. Returns 0 or WH_ERR_CONFIG naming the key or file. */
int  pub_tls_setup(publisher *p, char *errbuf, size_t errlen);

/* ---- assignments (pub_assign.c) ---------------------------------------------- */

/* Applies a new assignment from ZooKeeper: starts flows for new apps or
 * moved instances, stops those no longer assigned (loop thread). */
void pub_assign_apply(publisher *p, pub_assign *as, int n);

/* ---- status file (pub_report.c) ---------------------------------------------- */

/* Writes the monitor's status file when its interval has passed, or at once
 * when the publisher has just become running (loop thread). The flows
 * stopped for good are listed in it ("failed_flows"), and the figures of
 * every flow, caravan and counter ("flows", "caravans", ...: docs/MONITOR.md
 * "Metrics"). */
void pub_report_tick(publisher *p, int64_t now);

/* Writes one status (status_report_write) and reports a failure: logged as
 * an error the first time and whenever the reason changes, counted in
 * p->status_failures, and its end logged. No-op when not supervised. */
void pub_report_write(publisher *p, const char *state, const char *position, int64_t lag_ms,
                      const json_t *extra);

#endif

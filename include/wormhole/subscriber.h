/* subscriber.h -- libwormhole: receive a datastore's updates as a subscriber app instance.
 *
 * An application that wants updates runs one or more *instances*. Each
 * instance creates a wh_subscriber: it listens on a TCP port, registers
 * itself in ZooKeeper under /ROOT/apps/APP/instances/INSTANCE (ephemeral,
 * with its endpoint, filter and the shards it takes, docs/ZOOKEEPER.md;
 * every instance of an app runs the app's one filter, kept in /ROOT/apps/APP,
 * and an instance with another filter is refused while others run) and
 * accepts the connections publishers open to it, one per shard it is
 * assigned (docs/PROTOCOL.md). Updates arrive in log order per shard, at
 * least once: after a failure some updates may come again, each with its
 * position, so an app that needs exactly-once drops what it has seen.
 *
 * The app keeps no delivery state: the publisher records the app's
 * acknowledged position in ZooKeeper. With auto_ack (the default) a
 * datamarker is acknowledged as soon as the callbacks for every update
 * before it have returned; with manual ack the app calls
 * wh_subscriber_ack() once what it received is durable on its side.
 *
 * Thread model:
 *  - One internal thread (the loop) does all network I/O and calls every
 *    callback, one at a time, never concurrently. Callbacks must not block
 *    for long: while one runs, no shard of this instance makes progress and
 *    heartbeats are not answered (a publisher drops an instance that stays
 *    silent past its heartbeat timeout, then redelivers).
 *  - wh_subscriber_run() makes the calling thread the loop;
 *    wh_subscriber_start() starts a thread of its own instead.
 *  - wh_subscriber_stop() and wh_subscriber_ack() may be called from any
 *    thread, also from inside a callback; wh_subscriber_stop() is also
 *    async-signal-safe.
 *  - wh_subscriber_free() must not be called from a callback.
 *  - The ZooKeeper client runs its own two threads; they never call the
 *    app's callbacks.
 *
 * Ownership: updates, their rows, values and strings, and the delivery
 * record passed to a callback are valid only during that callback. Copy
 * what you keep (wh_update_json in wormhole/json.h renders an update as
 * JSON text that the app owns; an update's position is kept as a wh_pos with
 * wh_pos_from_view, stored as its text forms and compared with wh_pos_equal:
 * wormhole/position.h). */
#ifndef WORMHOLE_SUBSCRIBER_H
#define WORMHOLE_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"
#include "wormhole/position.h"
#include "wormhole/update.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wh_subscriber wh_subscriber;

/* Where a batch came from: identifies it for wh_subscriber_ack. */
typedef struct wh_sub_delivery {
    const char *shard;      /* shard the updates belong to */
    uint64_t    flow;       /* id of the publisher connection (new on each reconnect) */
    uint64_t    seq;        /* updates received on that connection, including this batch */
} wh_sub_delivery;

/* Called for each batch of updates (in log order). Return 0 to go on; any
 * other value drops the connection without acknowledging the batch, so the
 * publisher delivers it again later (a failed local commit, for instance).
 *
 * A callback that keeps failing on the same update is not called forever:
 * after max_attempts failed calls on it the subscriber gives up on the
 * update (see wh_sub_give_up), reports it to on_error and in the log, and
 * never loops silently. Attempts are counted per shard by the update's
 * position, across reconnects and publishers; a failed batch is counted by
 * its first update, and a batch that contains that update and succeeds
 * clears the count. Return WH_ERR_AGAIN instead for a failure that is not
 * the update's (a full queue, a backend that is down): the batch comes again
 * without counting an attempt. wh_subscriber_callback_error says why a
 * callback fails, for the report. */
typedef int (*wh_sub_batch_cb)(void *opaque, const wh_update *updates, size_t count,
                               const wh_sub_delivery *d);

/* Called for each update when no batch callback is set. Same return rule;
 * attempts are counted by the failing update itself. */
typedef int (*wh_sub_update_cb)(void *opaque, const wh_update *update,
                                const wh_sub_delivery *d);

/* What the subscriber does with an update whose callback failed
 * max_attempts times. */
typedef enum wh_sub_give_up {
    /* Refuse the flow (the default): the subscriber closes the shard's
     * connection with ERROR WH_ERR_REFUSED naming the update's position and
     * the callback's error; the publisher stops that flow and records it as
     * failed (its status file, its log) until the instance registers again
     * or the publisher is told to retry (docs/PROTOCOL.md, ERROR). The
     * update stays unacknowledged. */
    WH_SUB_GIVE_UP_STOP = 0,
    /* Dead-letter it: append one JSON line per update given up on (the
     * failing update, or the whole failing batch with on_batch) to the file
     * dead_letter_path, fsync it, and go on as if the callback had
     * succeeded: the update counts as processed and is acknowledged. */
    WH_SUB_GIVE_UP_DEAD_LETTER = 1,
} wh_sub_give_up;

/* A failure reported to the application (on_error). Valid only during the
 * callback. */
typedef struct wh_sub_error {
    int         code;         /* WH_ERR_REFUSED: gave up on an update and refused the flow;
                                 WH_OK: gave up on an update and dead-lettered it;
                                 WH_ERR_CONFIG: this instance cannot register (its filter
                                 differs from the app's) or a publisher's settings do not
                                 fit this instance's; other codes: a publisher refused or
                                 ended a flow with ERROR (the publisher's code) */
    const char *message;      /* one sentence, as logged */
    const char *shard;        /* the shard concerned, or NULL */
    const wh_update *update;  /* the update given up on (the first of the batch with
                                 on_batch), or NULL */
    uint32_t    attempts;     /* failed calls on it */
    int         callback_rc;  /* what the callback returned the last time */
} wh_sub_error;

/* Called on the loop thread when the subscriber gives up on an update, when
 * it cannot register, and when a publisher ends a flow with ERROR. Must not
 * call wh_subscriber_free. */
typedef void (*wh_sub_error_cb)(void *opaque, const wh_sub_error *e);

/* Shard notice (Wormhole's onShardNotice): held is true when a publisher
 * starts delivering shard to this instance, false when it stops (the flow
 * moved to another instance, the connection broke, or the subscriber is
 * closing). Updates of a shard arrive only between its held and released
 * notices. */
typedef void (*wh_sub_notice_cb)(void *opaque, const char *shard, bool held);

typedef struct wh_sub_options {
    const char *zk_connect;     /* required: "host:port[,host:port...]" */
    const char *zk_root;        /* default "/wormhole" */
    int         zk_session_timeout_ms; /* default 10000 */
    int         zk_wait_ms;     /* how long start/run wait for the first registration; default 15000 */
    const char *app;            /* required: app name ([A-Za-z0-9._-], 1..128 chars) */
    const char *instance;       /* default: the advertised endpoint "host:port" */
    const char *filter;         /* filter text (docs/FILTERS.md); NULL or "" = everything.
                                   Must be the app's filter while other instances run
                                   (see replace_filter) */
    const char *const *shards;  /* NULL-terminated shard list; NULL = all shards */
    const char *listen_host;    /* default "127.0.0.1"; "0.0.0.0" for every interface */
    int         listen_port;    /* default 0: a free port chosen by the kernel */
    const char *advertise_host; /* host publishers connect to; default listen_host
                                   (the host name if listen_host is 0.0.0.0) */
    bool        manual_ack;     /* default false: acknowledge automatically */
    int         heartbeat_timeout_ms; /* drop a publisher silent this long; default 10000 */
    uint32_t    max_frame_bytes;/* largest frame accepted, 16 KiB..64 MiB; default 64 MiB
                                   (lowered to max_update_bytes when that is smaller) */
    wh_sub_batch_cb  on_batch;  /* one of on_batch and on_update is required */
    wh_sub_update_cb on_update;
    wh_sub_notice_cb on_shard_notice; /* optional */
    void       *opaque;         /* passed to every callback */
    /* Bounds on what a publisher, or anything that connects, can make the
     * instance hold (docs/PROTOCOL.md, "Limits"): */
    uint64_t    max_update_bytes; /* largest update accepted, as encoded on the wire; a
                                   larger one stops its shard's flow with an ERROR naming
                                   its position; at least 16 KiB; default 256 MiB */
    int         hello_timeout_ms; /* drop a connection that has not said HELLO this long
                                   after it was accepted; default 5000 */
    int         max_pending_connections; /* connections accepted but not yet past HELLO;
                                   beyond it the oldest is dropped; default 64 */
    /* Added later; wh_sub_options_init sets them. */
    uint32_t    max_attempts;   /* failed calls on one update before giving up; default 10 */
    wh_sub_give_up give_up;     /* default WH_SUB_GIVE_UP_STOP */
    const char *dead_letter_path; /* required with WH_SUB_GIVE_UP_DEAD_LETTER, else NULL */
    wh_sub_error_cb on_error;   /* optional */
    bool        replace_filter; /* register even when the app runs another filter with live
                                   instances, replacing the app's filter (docs/ZOOKEEPER.md,
                                   "One filter per app"); default false */
    /* Mutual TLS with publishers (docs/SECURITY.md, docs/PROTOCOL.md "TLS"). Added
     * after the fields above, which keep their offsets. */
    const char *tls_mode;       /* "auto" (default, NULL): TLS when the three files below
                                   are set, else plaintext with loopback peers only;
                                   "on": TLS required (the files too); "off": plaintext
                                   chosen explicitly, still loopback peers only */
    const char *tls_ca_file;    /* PEM CA a publisher's certificate must chain to */
    const char *tls_cert_file;  /* PEM certificate of this instance, shown to publishers,
                                   which deliver an app only to a certificate named for it
                                   (by default subscriber.APP.wormhole) */
    const char *tls_key_file;   /* PEM private key; refused unless mode 0600 or stricter
                                   and owned by this user or root */
    const char *tls_publisher_names; /* comma-separated name patterns a publisher's
                                   certificate (SAN DNS, else CN) must match for the shard
                                   its HELLO names: "{shard}" stands for that shard, "*"
                                   for any run of characters but '.'; default
                                   "publisher.{shard}.wormhole". The three files are
                                   read again, at the next connection, once one of them
                                   changes (a renewed certificate needs no restart) */
    /* ZooKeeper authentication (docs/ZOOKEEPER.md, "Access control"), added
     * after the TLS fields, which keep their offsets: the app's identity,
     * digest scheme. Both NULL (the default): none, and the
     * instance node is created open to anyone (a warning says so). With an
     * identity, the app must have been set up by an operator
     * (wormhole-ctl add-app): the instance node takes the ACL its app's
     * instances folder names, and start fails with WH_ERR_ZK naming the
     * cause if ZooKeeper refuses the identity or the app is not set up. */
    const char *zk_user;        /* the app's ZooKeeper user name */
    const char *zk_secret_file; /* file with its password (mode 0600 or stricter,
                                   owned by this user or root); read at
                                   wh_subscriber_new, never logged */
    /* Bootstrap (docs/BOOTSTRAP.md, "Asking for one"), added after the
     * ZooKeeper identity, which keeps its offsets: the tables whose existing
     * rows the app wants before the stream, NULL-terminated ("db.table"; a
     * RocksDB column family by its name). At registration the instance
     * writes the app's request node ROOT/apps/APP/bootstrap, the one
     * wormhole-ctl bootstrap writes, only when the app has none: a running or
     * finished bootstrap is never restarted because an instance (re)starts,
     * and the tables of an existing request win over these. A new bootstrap
     * is asked with wormhole-ctl bootstrap (a new id). With ZooKeeper
     * authentication the app may not create the node (docs/ZOOKEEPER.md):
     * a warning says so and the operator asks instead. NULL (the default):
     * none. Names are checked at wh_subscriber_new (WH_ERR_CONFIG). */
    const char *const *bootstrap_tables;
} wh_sub_options;

/* Fills o with the defaults above (all pointers NULL). */
void wh_sub_options_init(wh_sub_options *o);

/* Checks the options, parses the filter, opens the dead-letter file, binds
 * and listens on the port, and creates the ZooKeeper client (connecting in
 * the background). Strings in o are copied. Returns 0 and *out, or a code
 * with the reason in errbuf (WH_ERR_CONFIG for bad options, naming the
 * option, or both options when two do not fit together; WH_ERR_PARSE for a
 * bad filter naming its offset; WH_ERR_IO when the dead-letter file cannot
 * be opened; WH_ERR_NET when the port cannot be bound). Caller frees with
 * wh_subscriber_free. */
int wh_subscriber_new(const wh_sub_options *o, wh_subscriber **out, char *errbuf,
                      size_t errlen);

/* Runs the loop in the calling thread until wh_subscriber_stop. First waits
 * up to zk_wait_ms for the instance to be registered in ZooKeeper and fails
 * with WH_ERR_ZK if it cannot be (no callback is then called), or with
 * WH_ERR_CONFIG at once when the app is registered with another filter
 * that live instances run ("app X is registered with filter F; this
 * instance has G": docs/ZOOKEEPER.md, "One filter per app"). Later
 * ZooKeeper outages and session expiry are survived: the instance
 * re-registers when ZooKeeper is back, logging each step (a re-registration
 * refused for its filter is unrecoverable). Returns 0 after a stop, or a
 * negative code for an unrecoverable failure (errbuf says why; on_error is
 * told too). */
int wh_subscriber_run(wh_subscriber *s, char *errbuf, size_t errlen);

/* Same as wh_subscriber_run on a thread of the library's own; returns once
 * registration succeeded (0) or failed (an error; no thread is left). */
int wh_subscriber_start(wh_subscriber *s, char *errbuf, size_t errlen);

/* Asks the loop to stop: it releases every shard (notices), closes its
 * connections and deletes its ZooKeeper node. Any thread; async-signal-safe. */
void wh_subscriber_stop(wh_subscriber *s);

/* Manual ack: everything delivered on d->flow up to and including update
 * number d->seq is processed and may be acknowledged to the publisher.
 * Acks are cumulative; acking an old or closed flow is a no-op. Returns 0,
 * or WH_ERR_INVALID if the subscriber is in auto_ack mode. Any thread. */
int wh_subscriber_ack(wh_subscriber *s, const wh_sub_delivery *d);

/* From inside a batch or update callback (the loop thread), just before it
 * returns a failure: reason (copied; one sentence) says why, and goes into
 * the log line, the ERROR frame and on_error if the subscriber gives up on
 * the update. Ignored outside a callback. */
void wh_subscriber_callback_error(wh_subscriber *s, const char *reason);

/* The endpoint publishers connect to ("host:port") and the instance name.
 * Valid until wh_subscriber_free. */
const char *wh_subscriber_endpoint(const wh_subscriber *s);
const char *wh_subscriber_instance(const wh_subscriber *s);

/* Counters for monitoring and tests (loop-thread values read without a lock:
 * approximate while the loop runs). */
typedef struct wh_sub_stats {
    uint64_t updates;        /* updates passed to callbacks */
    uint64_t batches;
    uint64_t bytes;          /* bytes received from publishers */
    uint64_t acks;           /* ACK frames sent */
    uint64_t connections;    /* publisher connections accepted */
    uint64_t dropped;        /* connections dropped for an error */
    uint64_t failed_calls;   /* callback calls that failed (WH_ERR_AGAIN not counted) */
    uint64_t given_up;       /* updates given up on (flows refused or dead-lettered) */
    uint64_t dead_lettered;  /* updates written to the dead-letter file */
} wh_sub_stats;
void wh_subscriber_stats(const wh_subscriber *s, wh_sub_stats *out);

/* Stops (if running), joins the library's thread, and frees. Accepts NULL.
 * Not from a callback. */
void wh_subscriber_free(wh_subscriber *s);

#ifdef __cplusplus
}
#endif
#endif

/* status_file.h -- the status file a supervised publisher writes and the monitor reads (docs/MONITOR.md).
 *
 * The contract between a supervised process and wormhole-monitor, both
 * ends in one place: the monitor names a file in $WORMHOLE_STATUS_FILE and
 * a period in $WORMHOLE_STATUS_INTERVAL_MS; the process reports heartbeats,
 * position and lag by replacing that file with one JSON object (write a
 * temporary file, then rename), at most STATUS_FILE_MAX bytes:
 *     {"pid":N,"ts":MS,"state":S,"position":P,"lag_ms":L,"error":E, ...extra}
 * with pid required, state one of starting, running, stopping, exiting
 * (absent: running), lag_ms >= 0, a publisher's "role" (active or standby)
 * and "epoch" (>= 0) when present, and any other field passed through.
 *
 * Writer (status_report): needs only libc, jansson and core/errbuf. Every
 * function accepts rep == NULL (the process is not supervised) and then
 * does nothing and succeeds. One status_report belongs to one thread: the
 * one whose progress the heartbeats vouch for.
 *
 * Reader (status_parse): validates one file's text; reentrant. Detecting a
 * replacement (file identity) and timing heartbeats is the monitor's
 * (monitor/mon_health.c).
 *
 * Module prefix: status_. */
#ifndef WH_STATUS_FILE_H
#define WH_STATUS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "wormhole/error.h"

/* The environment variables the monitor sets for the supervised process. */
#define STATUS_ENV_FILE     "WORMHOLE_STATUS_FILE"
#define STATUS_ENV_INTERVAL "WORMHOLE_STATUS_INTERVAL_MS"

/* Largest status file the monitor reads, in bytes. */
#define STATUS_FILE_MAX (64 * 1024)

/* ---- writing (the supervised process) ---------------------------------------------------- */

typedef struct status_report status_report;

/* Creates a reporter from $WORMHOLE_STATUS_FILE and
 * $WORMHOLE_STATUS_INTERVAL_MS. Sets *out to NULL and returns WH_OK when the
 * variable is unset. Caller frees with status_report_free. */
int status_report_from_env(status_report **out, char *errbuf, size_t errlen);

/* Creates a reporter that writes path (interval_ms <= 0 means 1000). */
int status_report_new(status_report **out, const char *path, int interval_ms, char *errbuf,
                      size_t errlen);

void status_report_free(status_report *rep);

/* The heartbeat period the monitor asked for, in milliseconds (1000 when
 * rep is NULL). */
int status_report_interval_ms(const status_report *rep);

/* Writes one heartbeat: {"pid","ts","state","position","lag_ms", ...extra}.
 * state is "starting", "running", "stopping" or "exiting" (NULL = running);
 * position may be NULL (the last one given is kept); lag_ms < 0 means
 * unknown (omitted); extra (may be NULL, borrowed) is an object whose fields
 * are added. Returns WH_ERR_IO (or WH_ERR_NOMEM) with a sentence in errbuf
 * naming the file if it cannot be replaced: that heartbeat is lost, and the
 * caller must say so (a monitor that sees no heartbeat for its stuck
 * timeout kills the process as stuck). Failed writes are counted
 * (status_report_failures) and, once a write succeeds again, the count is
 * in the file as "write_failures". A status over STATUS_FILE_MAX bytes is
 * still written (it counts as a heartbeat), but the monitor ignores its
 * fields: keep extra small. */
int status_report_write(status_report *rep, const char *state, const char *position,
                        int64_t lag_ms, const json_t *extra, char *errbuf, size_t errlen);

/* Writes that failed since rep was created (0 when rep is NULL). */
uint64_t status_report_failures(const status_report *rep);

/* Writes the final status {"state":"exiting","error":reason} (keeping the
 * last position and lag). Best effort: errors are ignored, because the
 * caller is about to exit anyway. */
void status_report_exiting(status_report *rep, const char *reason);

/* Appends one reader that waits for its start position to reach this
 * copy's log (a replica that lags; docs/FAILOVER.md "Positions across
 * copies") to extra's "waiting_readers" array (created when absent):
 * {"position":P,"reason":R,"since_ms":T}. Returns WH_OK or WH_ERR_NOMEM. */
int status_add_waiting_reader(json_t *extra, const char *position, const char *reason,
                              int64_t since_ms);

/* Appends one failed flow to extra's "failed_flows" array (created when
 * absent): {"app":A,"code":C,"reason":R,"position":P|null,"since_ms":T}
 * (docs/MONITOR.md, docs/RUNBOOK.md "A flow failed"). A publisher lists
 * there every flow it stopped for good while the others go on. Returns
 * WH_OK or WH_ERR_NOMEM. */
int status_add_failed_flow(json_t *extra, const char *app, const char *code, const char *reason,
                           const char *position, int64_t since_ms);

/* Sets a publisher's role ("active" or "standby") and the shard epoch it
 * holds or last held (0: never) in extra (docs/FAILOVER.md). Returns WH_OK or
 * WH_ERR_NOMEM. */
int status_set_role(json_t *extra, const char *role, uint64_t epoch);

/* Sets a publisher's cumulative reading counters in extra (top-level fields,
 * docs/MONITOR.md): "log_bytes_read", the bytes of log read by all its
 * readers since it started (N apps in one caravan read the log once), and
 * "readers_started", the readers (caravans) it started since then. Returns
 * WH_OK or WH_ERR_NOMEM. */
int status_set_reading(json_t *extra, uint64_t log_bytes_read, uint64_t readers_started);

/* Appends one flow that waits for a reader because the cap on caravans is
 * reached (delivery.max_caravans) to extra's "waiting_for_caravan" array
 * (created when absent): {"app":A,"position":P|null,"since_ms":T}, P null for
 * the oldest position. Returns WH_OK or WH_ERR_NOMEM. */
int status_add_waiting_flow(json_t *extra, const char *app, const char *position,
                            int64_t since_ms);
/* One running bootstrap of a flow (docs/BOOTSTRAP.md), as the status file's
 * "bootstraps" array shows it. Strings are borrowed for the call. */
typedef struct status_bootstrap {
    const char *app;
    const char *id;          /* the request's id */
    const char *table;       /* "db.table" being read; NULL once all were sent */
    uint32_t    table_index; /* of the request's tables, from 0 */
    uint32_t    tables;
    uint64_t    rows;        /* snapshot rows sent, in all tables */
    uint64_t    rows_acked;  /* ... of them acknowledged by the app */
    uint64_t    table_rows;  /* rows of the current table sent */
    uint64_t    estimate;    /* the server's row estimate of the current table (0: none) */
    double      rows_per_sec;/* since this publisher began serving it */
    int64_t     eta_s;       /* until the current table is sent; < 0: unknown */
    uint64_t    reread;      /* chunks read again (snapshot behind the stream, window full) */
} status_bootstrap;

/* Appends one running bootstrap to extra's "bootstraps" array (created when
 * absent): {"app","id","table"|null,"table_index","tables","rows",
 * "rows_acked","table_rows","estimate","rows_per_sec","eta_s"|null,
 * "reread"} (docs/MONITOR.md). Returns WH_OK or WH_ERR_NOMEM. */
int status_add_bootstrap(json_t *extra, const status_bootstrap *b);
/* Per-flow and per-publisher figures (docs/MONITOR.md, "Metrics"). The
 * file stays under STATUS_FILE_MAX: at most STATUS_FLOWS_MAX flows and
 * STATUS_CARAVANS_MAX caravans are listed (the others are counted in
 * "flows_unlisted" / "caravans_unlisted"), strings are cut to
 * STATUS_TEXT_MAX bytes, and status_report_write drops listed flows from
 * the end (counting them too) if the document would still be larger. */
#define STATUS_FLOWS_MAX    128
#define STATUS_CARAVANS_MAX 32
#define STATUS_TEXT_MAX     200

/* One flow's figures. Counters are cumulative over the flow's life in this
 * process; a negative int64_t means unknown (omitted). */
typedef struct status_flow {
    const char *app;
    const char *state;            /* backoff, connecting, hello, streaming, failed */
    uint64_t    delivered_updates; /* acknowledged by the subscriber */
    uint64_t    delivered_bytes;   /* frame bytes acknowledged */
    const char *acked_position;   /* NULL or "": none yet */
    int64_t     acked_ts;         /* event time (s) of acked_position; < 0 unknown */
    int64_t     lag_s;            /* seconds behind the head by event time; < 0 unknown */
    int64_t     behind_bytes;     /* log bytes between acked_position and the head; < 0 unknown */
    int64_t     retained_bytes;   /* log bytes between the oldest kept and acked_position */
    uint64_t    in_flight_bytes;  /* sent and not acknowledged */
    uint64_t    window_bytes;     /* the window (delivery.window_bytes) */
    uint64_t    reconnects;
    const char *last_error;       /* the last reconnect's reason, NULL: none */
    const char *failure_code;     /* state failed: its code (zku_failure_code) */
    const char *failure_reason;
} status_flow;

/* Appends one flow to extra's "flows" array (created when absent), or past
 * STATUS_FLOWS_MAX counts it in "flows_unlisted". Returns WH_OK or
 * WH_ERR_NOMEM. */
int status_add_flow(json_t *extra, const status_flow *fl);

/* Appends one caravan (a shared reader) to extra's "caravans" array:
 * {"id","position","members","at_head"}; past STATUS_CARAVANS_MAX counts it
 * in "caravans_unlisted". Returns WH_OK or WH_ERR_NOMEM. */
int status_add_caravan(json_t *extra, uint64_t id, const char *position, uint32_t members,
                       bool at_head);

/* A publisher's cumulative counters. */
typedef struct status_counters {
    const char *shard;
    const char *mapper;            /* the mapper's name ("mysql", ...) */
    uint64_t    updates_decoded;   /* updates the mapper returned */
    uint64_t    batches_decoded;
    uint64_t    zk_writes;         /* creates and sets sent to ZooKeeper */
} status_counters;

/* Sets "shard", "zk_writes" and "decoded":{"mapper","updates","batches"}
 * in extra. Returns WH_OK or WH_ERR_NOMEM. */
int status_set_counters(json_t *extra, const status_counters *c);

/* ---- reading (the monitor) ---------------------------------------------------------------- */

/* Validates one status document (len bytes of a file's text) for pid. On
 * success *out is a new reference to the object. On failure writes the
 * reason and returns WH_ERR_PARSE (bad JSON, a duplicate key, a missing pid
 * or a field of the wrong type) or WH_ERR_NOT_FOUND (the status of another
 * pid: a stale file of an earlier run). */
int status_parse(const char *text, size_t len, pid_t pid, json_t **out, char *errbuf,
                 size_t errlen);

#endif

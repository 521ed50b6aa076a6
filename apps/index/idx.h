/* idx.h -- wormhole-index's internals: the config, the index backends (SQLite FTS5, PostgreSQL) and the batch applier.
 *
 * Threads: everything here runs on the subscriber's loop thread (main's
 * thread, inside the batch callback), except idx_stats, which the status
 * thread reads under its mutex. */
#ifndef IDX_H
#define IDX_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "apps/app_tls.h"
#include "core/buf.h"
#include "core/config.h"
#include "wormhole/applied.h"
#include "wormhole/error.h"
#include "wormhole/update.h"

/* ---- config (idx_config.c) ---------------------------------------------------------- */

/* One indexed source table. Columns of the index are cols[0..ncols): first the
 * key columns, then the text (searchable) columns, then the stored ones. */
typedef struct idx_table {
    char    *source;        /* "db.table" as configured */
    char    *db, *table;    /* its two parts */
    char    *name;          /* the index table's name */
    char   **cols;
    uint32_t nkey, ntext, nstored, ncols;

    /* Where cols[k] was in the last row seen (the applier's cache, checked by name). */
    int     *at;
} idx_table;

typedef struct idx_config {
    /* the settings table (idx_config_fields) */
    char    *zk_connect, *zk_root;
    char    *zk_user, *zk_secret_file;   /* the app's ZooKeeper identity, "" none */
    int64_t  zk_session_ms, zk_wait_ms;
    char    *app, *instance, *listen_host, *advertise_host;
    int64_t  listen_port, heartbeat_timeout_ms;
    app_tls_config tls;   /* subscriber.tls.* (apps/app_tls.h) */
    json_t  *shards_json;
    char    *backend;
    int64_t  retry_min_ms, retry_max_ms;
    char    *sqlite_path, *sqlite_synchronous, *sqlite_tokenize;
    int64_t  sqlite_busy_ms;
    char    *pg_conninfo, *pg_ts_config;
    bool     counters;
    json_t  *tables_json;
    char    *status_file;
    int64_t  status_interval_ms;
    char    *log_level, *log_debug;

    /* derived by idx_config_load */
    idx_table *tables;
    uint32_t   ntables;
    char     **shards;      /* NULL-terminated, or NULL for all shards */
    char      *filter;      /* the filter text that selects the tables' updates */
} idx_config;

extern const wh_cfg_field idx_config_fields[];
extern const wh_cfg_field idx_table_fields[];

/* Loads and checks a config file. Returns 0, or WH_ERR_CONFIG with a sentence
 * naming the file and key in errbuf (c is then freed). */
int idx_config_load(const char *path, idx_config *c, char *errbuf, size_t errlen);
void idx_config_free(idx_config *c);

/* ---- values --------------------------------------------------------------------------- */

/* Appends v's text form (integers in decimal, temporals as the server prints
 * them, bytes as \x and lowercase hex, text as is) to b. Returns false for
 * NULL and absent values (nothing appended). */
bool idx_value_text(const wh_value *v, wh_buf *b);

/* Equal values (same type and contents)? */
bool idx_value_equal(const wh_value *a, const wh_value *b);

/* ---- backends ------------------------------------------------------------------------- */

typedef struct idx_backend idx_backend;

/* Results besides WH_OK: WH_ERR_CONFIG = permanent (the index does not match
 * the config; stop), anything else = the backend failed (retry later). */
typedef struct idx_backend_ops {
    const char *name;
    /* Connects/opens, creates the schema when missing and checks it. */
    int  (*open)(idx_backend *b, char *errbuf, size_t errlen);
    void (*close)(idx_backend *b);
    /* Starts the batch's transaction and loads the shard's stored position
     * (locking it against other instances) into pos. */
    int  (*begin)(idx_backend *b, const char *shard, wh_applied *pos, char *errbuf,
                  size_t errlen);
    /* vals[0..t->ncols): the row's index columns; the key's row is created or
     * replaced. fresh: the key is expected to be new (an insert). */
    int  (*upsert)(idx_backend *b, const idx_table *t, const wh_value *const *vals, bool fresh,
                   char *errbuf, size_t errlen);
    /* keys[0..t->nkey). */
    int  (*remove)(idx_backend *b, const idx_table *t, const wh_value *const *keys,
                   char *errbuf, size_t errlen);
    /* Every row of t (the source table was truncated or dropped). */
    int  (*clear)(idx_backend *b, const idx_table *t, char *errbuf, size_t errlen);
    /* Counter table: one more applied change of key (NUL-terminated text, keylen bytes) in t. */
    int  (*count)(idx_backend *b, const idx_table *t, const char *key, size_t keylen,
                  char *errbuf, size_t errlen);
    /* Stores the shard's position and commits. */
    int  (*commit)(idx_backend *b, const char *shard, const char *physical, const char *logical,
                   int64_t event_ts, uint64_t applied, char *errbuf, size_t errlen);
    /* Rolls the open transaction back (never fails; a dead connection is closed). */
    void (*rollback)(idx_backend *b);
    void (*destroy)(idx_backend *b);
} idx_backend_ops;

struct idx_backend {
    const idx_backend_ops *ops;
    const idx_config      *cfg;
    bool                   open;
};

/* Creates the configured backend (not yet opened). */
int idx_backend_new(const idx_config *cfg, idx_backend **out, char *errbuf, size_t errlen);

idx_backend *idx_sqlite_new(const idx_config *cfg);
idx_backend *idx_pg_new(const idx_config *cfg);

/* Quotes an identifier for SQL ("name"; the config allows only [A-Za-z0-9_]). */
void idx_sql_ident(wh_buf *b, const char *name);

/* ---- statistics (read by the status thread) ----------------------------------------- */

typedef struct idx_shard_stat {
    char    *shard;
    bool     held;
    uint64_t applied, skipped, batches;
    char    *physical, *logical;   /* last committed position, or NULL */
    int64_t  event_ts;             /* event time of the last applied update (s) */
    int64_t  commit_ms;            /* wall time of the last commit */
} idx_shard_stat;

typedef struct idx_stats {
    pthread_mutex_t mu;
    uint64_t applied, skipped, updates, batches, commits, errors, refused;
    bool     backend_up;
    bool     failed;               /* an unrecoverable error: the app stops */
    bool     stopped;              /* the app has stopped (the last status) */
    char     last_error[1024];
    int64_t  last_error_ms;
    idx_shard_stat *shards;
    uint32_t nshards, capshards;
} idx_stats;

/* ---- the applier (idx_apply.c) --------------------------------------------------------- */

typedef struct idx_app {
    idx_config  *cfg;
    idx_backend *be;
    idx_stats    stats;
    wh_applied  *pos;          /* the batch's working position */
    wh_buf       key;          /* scratch: counter key text */
    const wh_value **vals;     /* scratch: one per index column */
    const wh_value **keys;     /* scratch: one per key column (before image) */
    uint32_t     maxcols;

    int64_t      retry_at_ms;  /* backend down: when to try again (mono ms) */
    int64_t      backoff_ms;
    volatile sig_atomic_t stopping; /* set by the signal handler */
    char         fatal[1024];  /* set once: the unrecoverable error that stops the app */
    bool         has_fatal;
} idx_app;

int  idx_app_init(idx_app *app, idx_config *cfg, char *errbuf, size_t errlen);
void idx_app_free(idx_app *app);

/* Opens the backend, retrying with backoff until it opens, app->stopping is
 * set (returns WH_ERR_CLOSED) or the error is permanent (WH_ERR_CONFIG). */
int idx_app_open_backend(idx_app *app, char *errbuf, size_t errlen);

/* Applies one delivered batch in one transaction. Returns WH_OK (committed:
 * acknowledge it), WH_ERR_AGAIN (not applied: the backend failed or is down;
 * do not acknowledge) or another code after setting app->fatal (stop). */
int idx_app_batch(idx_app *app, const wh_update *ups, size_t n, const char *shard);

/* Shard notices, for the statistics. */
void idx_app_notice(idx_app *app, const char *shard, bool held);

/* Writes the status JSON (the status file's contents) to b. */
void idx_stats_json(idx_app *app, const char *instance, double rate, wh_buf *b);

#endif

/* cache.h -- wormhole-cache internals: configuration, rules and key templates, cache backends.
 *
 * wormhole-cache turns the updates a subscriber receives into cache
 * operations (docs/APPS.md). The pieces:
 *  - cache_config.c: the JSON config, read with core/config.c's tables; rules
 *    and caches are checked and compiled at start.
 *  - cache_rules.c: key and value templates, and the rule engine that turns
 *    one update into cache ops (cache_rules_apply). Pure: no I/O.
 *  - cache_memcached.c, cache_redis.c: the backends that send a group of ops
 *    pipelined and confirm them in one round trip.
 *  - cache_main.c: the subscriber callbacks, the apply queue and its worker
 *    thread, acknowledgements, statistics and the command line.
 *
 * Threads: the config and its rules are built by the main thread before the
 * subscriber starts; afterwards rules are used only by the subscriber's loop
 * thread (cache_rules_apply mutates each rule's column cache and filter
 * cache) and backends only by the worker thread. */
#ifndef WH_APPS_CACHE_H
#define WH_APPS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "apps/app_tls.h"
#include "core/buf.h"
#include "core/config.h"
#include "filters/filter.h"
#include "wormhole/update.h"

#define CACHE_MAX_CACHES   16
#define CACHE_MAX_RULES    1024
#define CACHE_MAX_TTL      2592000   /* 30 days: memcached reads larger exptimes as dates */
#define CACHE_MC_MAX_KEY   250       /* memcached's key length limit */

/* ---- configuration ------------------------------------------------------------------------ */

typedef enum cache_type { CACHE_MEMCACHED = 0, CACHE_REDIS } cache_type;

/* One cache (a memcached pool or one Redis server). */
typedef struct cache_cfg {
    char    *name;
    int      type;            /* cache_type */
    char   **servers;         /* "host:port"; memcached: one or more, Redis: exactly one */
    uint32_t nservers;
    int64_t  timeout_ms;      /* connect and I/O timeout */
    int64_t  db;              /* Redis: database number */
    char    *password;        /* Redis: AUTH password, NULL = none */
    bool     ketama;          /* memcached: consistent (ketama) distribution, else modula */
    int64_t  max_item_bytes;  /* memcached: largest item the servers store (-I) */
} cache_cfg;

/* A template: literal text with column references ("user:{id}"). */
#define TPL_ROW (-2)          /* {*}: the whole image as a JSON object (values only) */
typedef struct tpl_part {
    uint32_t lit_off, lit_len;  /* literal text before the reference, in tpl->lit */
    int32_t  col;               /* index into the rule's columns, TPL_ROW, or -1 at the end */
} tpl_part;

typedef struct cache_tpl {
    char     *text;       /* as written in the config */
    char     *lit;        /* the unescaped literal pieces, back to back */
    tpl_part *parts;
    uint32_t  nparts;     /* the last part has col == -1 */
} cache_tpl;

typedef enum rule_action { RULE_DELETE = 0, RULE_SET } rule_action;
typedef enum rule_ddl { DDL_IGNORE = 0, DDL_STOP, DDL_FLUSH } rule_ddl;

typedef struct cache_rule {
    int        index;         /* position in "rules", for messages */
    char      *db, *table;
    char      *filter_text;   /* NULL = every row of the table */
    wh_filter *filter;
    cache_tpl *keys;
    uint32_t   nkeys;
    int        action;        /* rule_action */
    cache_tpl  value;         /* RULE_SET: the value template ("{*}" = JSON of the row) */
    int64_t    ttl;           /* RULE_SET: seconds, 0 = no expiry */
    uint32_t   caches;        /* bit mask of cache indexes */
    int        on_ddl;        /* rule_ddl */
    char      *null_text;     /* how SQL NULL renders in keys and values */
    char     **cols;          /* distinct column names the templates reference */
    uint32_t   ncols;
    char      *patterns;      /* the keys as glob patterns, each NUL-terminated (DDL flush) */
    uint32_t   patterns_len;
    /* column resolution cache (loop thread) */
    uint64_t   res_schema;    /* schema_id the indexes below belong to; 0 = none */
    const char *const *res_names;
    uint32_t   res_count;
    int32_t   *res_idx;       /* per column: index in the row, -1 = not in the table */
    /* one-time warnings (loop thread) */
    bool       warned_fallback;
} cache_rule;

typedef struct cache_config {
    /* read by the settings table */
    char    *zk_connect, *zk_root, *app, *instance, *listen, *advertise, *filter;
    char    *zk_user, *zk_secret_file;   /* the app's ZooKeeper identity, "" none */
    json_t  *shards;
    int64_t  session_ms, zk_wait_ms, heartbeat_timeout_ms;
    app_tls_config tls;   /* subscriber.tls.* (apps/app_tls.h) */
    json_t  *caches_json, *rules_json;
    int64_t  group_ops, max_pending_bytes, retry_min_ms, retry_max_ms, redelete_ms;
    int64_t  stats_interval_ms, status_interval_ms;
    char    *status_file;
    char    *log_level, *log_debug;
    /* compiled */
    const char *path;
    cache_cfg  caches[CACHE_MAX_CACHES];
    uint32_t   ncaches;
    cache_rule *rules;
    uint32_t   nrules;
    char      *sub_filter;    /* the filter sent to publishers: "filter" or derived from the rules */
    char     **shard_list;    /* NULL-terminated, or NULL for every shard */
} cache_config;

/* The settings table (docs/APPS.md and --help-config show it). */
extern const wh_cfg_field cache_config_fields[];

/* Reads and checks the config file: every setting, cache and rule, the
 * templates, filters and declared columns. Returns 0 and *out, or
 * WH_ERR_CONFIG with "FILE: key 'K': reason" in errbuf. Free with
 * cache_config_free. */
int cache_config_load(const char *path, cache_config **out, char *errbuf, size_t errlen);

/* Same from an already parsed document (tests); where names it in messages. */
int cache_config_from_json(const json_t *root, const char *where, cache_config **out,
                           char *errbuf, size_t errlen);

void cache_config_free(cache_config *c);   /* accepts NULL */

/* ---- templates ---------------------------------------------------------------------------- */

/* Parses a template: "{col}" references a column, "{{" and "}}" are literal
 * braces; "{*}" (the image as a JSON object) only where allow_row. Column
 * names are added to *cols (deduplicated, *ncols grows; malloc'd). Returns 0
 * or WH_ERR_CONFIG with the offset and reason in errbuf. */
int cache_tpl_parse(const char *text, bool allow_row, cache_tpl *out, char ***cols,
                    uint32_t *ncols, char *errbuf, size_t errlen);
void cache_tpl_free(cache_tpl *t);

/* Appends v rendered as text for a key or value (docs/APPS.md, "Rendering"):
 * integers in decimal, floats in their shortest round-trip form, decimals
 * exactly, strings as their UTF-8 bytes, bytes as lowercase hex, temporals
 * ISO-8601 style with a 'T', JSON compact, ENUM/SET by name, NULL as
 * null_text. ABSENT appends nothing (callers check first). */
void cache_render_value(wh_buf *out, const wh_value *v, const char *null_text);

/* Appends the image as a JSON object of its present columns. */
void cache_render_row_json(wh_buf *out, const wh_row *row);

/* ---- ops ---------------------------------------------------------------------------------- */

typedef enum cache_op_kind { OP_DELETE = 0, OP_SET, OP_FLUSH } cache_op_kind;

/* One cache operation; key and value live in the owning list's data. */
typedef struct cache_op {
    uint8_t  kind;            /* cache_op_kind */
    uint16_t rule;            /* index of the rule that made it */
    uint32_t caches;          /* bit mask of the caches it goes to */
    uint32_t ttl;
    uint32_t key_off, key_len;
    uint32_t val_off, val_len;/* OP_SET: the value; OP_FLUSH: the rule's patterns */
} cache_op;

typedef struct cache_oplist {
    cache_op *ops;
    uint32_t  n, cap;
    wh_buf    data;
    uint64_t  fallbacks;      /* sets turned into deletes (incomplete after image) */
} cache_oplist;

void cache_oplist_reset(cache_oplist *l);
void cache_oplist_free(cache_oplist *l);

/* Appends the ops that update u calls for under the rules: for a row change,
 * each matching rule's keys from the before image (invalidated) and from the
 * after image (invalidated, or set to the rendered value), each distinct key
 * once; for DDL that names a ruled table, what the rule's on_ddl says.
 * Returns 0; WH_ERR_NOMEM; or WH_ERR_CONFIG when a rule cannot be applied
 * (a template names a column the table does not have, or a column the image
 * does not carry) or on_ddl is "stop", with the sentence in errbuf: the
 * update must then not be acknowledged. Loop thread only. */
int cache_rules_apply(cache_config *c, const wh_update *u, cache_oplist *out, char *errbuf,
                      size_t errlen);

/* ---- backends (worker thread only) -------------------------------------------------------- */

/* What a backend did, for statistics. */
typedef struct cache_counts {
    uint64_t deletes, sets, flushes, unstorable, hits;
} cache_counts;

typedef struct cache_backend cache_backend;

/* One round: begin, add each op (in order), flush (everything sent), then
 * confirm (every op answered, or known to be processed). Any failure
 * returns an error with the reason in errbuf; the caller then calls reset
 * (drops the connection) and retries the whole round later. data is the
 * op's list's data; it stays valid until confirm returns. */
typedef struct cache_backend_ops {
    int  (*begin)(cache_backend *b, char *errbuf, size_t errlen);
    int  (*add)(cache_backend *b, const cache_op *op, const char *data, char *errbuf,
                size_t errlen);
    int  (*flush)(cache_backend *b, char *errbuf, size_t errlen);
    int  (*confirm)(cache_backend *b, cache_counts *counts, char *errbuf, size_t errlen);
    void (*reset)(cache_backend *b);
    void (*free)(cache_backend *b);
} cache_backend_ops;

/* The part every backend starts with. */
struct cache_backend {
    const cache_backend_ops *ops;
    const cache_cfg         *cfg;      /* must outlive the backend */
    char  desc[512];                   /* "memcached 127.0.0.1:11211,...", "redis 127.0.0.1:6379/0" */
};

/* Create a backend for cfg; they connect lazily, in begin. */
int cache_memcached_new(const cache_cfg *cfg, cache_backend **out);
int cache_redis_new(const cache_cfg *cfg, cache_backend **out);

static inline int cache_backend_new(const cache_cfg *cfg, cache_backend **out)
{
    return cfg->type == CACHE_REDIS ? cache_redis_new(cfg, out) : cache_memcached_new(cfg, out);
}

static inline void cache_backend_free(cache_backend *b)
{
    if (b)
        b->ops->free(b);
}

/* Splits "host:port" ("[v6]:port" too) into host and port. Returns 0 or WH_ERR_CONFIG. */
int cache_split_hostport(const char *s, char *host, size_t hostlen, int *port);

/* True if key can be stored in memcached (1..250 bytes, no space or control byte). */
bool cache_mc_key_ok(const char *key, size_t len);

#endif

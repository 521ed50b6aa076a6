/* zk_bootstrap.h -- the bootstrap nodes in ZooKeeper: an app's request and each shard's progress (paths and codecs).
 *
 *   ROOT/apps/APP/bootstrap          persistent  the request: {"id":ID,"tables":["db.t",...]}
 *   ROOT/apps/APP/bootstrap/SHARD    persistent  progress of shard SHARD's publisher
 *
 * The request is written by wormhole-ctl (or anyone); a publisher watches
 * it and serves the request to that app's flow. A request with a new id
 * starts over; progress of another id is ignored. Progress is written by the
 * shard's publisher after the app acknowledged a chunk (docs/ZOOKEEPER.md,
 * docs/BOOTSTRAP.md). Module prefix zku_ (protocol/zk_layout.h). */
#ifndef WH_ZK_BOOTSTRAP_H
#define WH_ZK_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "protocol/zk_acl.h"
#include "protocol/zk_layout.h"
#include "wormhole/error.h"

#define ZKU_BOOT_MAX      16384   /* bytes of a request or progress node */
#define ZKU_BOOT_ID_MAX   64      /* characters of a request id */
#define ZKU_BOOT_TABLES   256     /* tables in one request */

int zku_path_bootstrap(char *buf, size_t len, const char *root, const char *app);
int zku_path_boot_progress(char *buf, size_t len, const char *root, const char *app,
                           const char *shard);

/* An app's request. A table is "db.table" (SQL), or a key-value store's
 * table without a db, a RocksDB column family: "name" (no '.'), or ".name"
 * when the name holds dots. */
typedef struct zku_boot_request {
    char     id[ZKU_BOOT_ID_MAX + 1];
    char   **db, **table;     /* malloc'd: table i is db[i].table[i]; db[i] "" for a column family */
    uint32_t ntables;
} zku_boot_request;

/* Writes a request's node data (malloc'd in *out) for tables given as
 * texts of the forms above. WH_ERR_PARSE (errbuf) for an empty id, a name
 * of none of the forms ("a.b.c", "a.", ""), or too many tables. */
int  zku_boot_request_to_json(const char *id, const char *const *tables, uint32_t n,
                              char **out, char *errbuf, size_t errlen);
/* Parses a request; WH_ERR_PARSE with errbuf. Free with zku_boot_request_free
 * (also after a failure). */
int  zku_boot_request_from_json(const char *data, size_t len, zku_boot_request *out,
                                char *errbuf, size_t errlen);
void zku_boot_request_free(zku_boot_request *r);

/* The request node as it is written, by wormhole-ctl bootstrap and by the
 * library's bootstrap option (wh_sub_options.bootstrap_tables) alike: its
 * path, data and ACL. */
typedef struct zku_boot_node {
    char    path[ZKU_PATH_MAX];
    char   *data;              /* malloc'd */
    zku_acl acl;               /* of kind bootstrap for ids (open when ids->enabled is false) */
} zku_boot_node;

/* Builds the request node of app under root for tables (forms above) with
 * request id id (NULL: the wall clock in milliseconds, what makes a new
 * request). WH_ERR_PARSE (bad id or table), WH_ERR_LIMIT (path too long),
 * with errbuf; WH_ERR_CONFIG when the ACL needs an id ids lacks (path and
 * data are made: an existing node can still be rewritten). Free with
 * zku_boot_node_free (also after a failure). */
int  zku_boot_node_make(const char *root, const char *app, const char *id,
                        const char *const *tables, uint32_t n, const zku_acl_ids *ids,
                        zku_boot_node *out, char *errbuf, size_t errlen);
void zku_boot_node_free(zku_boot_node *n);

/* A shard's progress on a request. */
typedef struct zku_boot_progress {
    char     id[ZKU_BOOT_ID_MAX + 1];  /* the request it belongs to */
    uint32_t table;        /* index of the table being read (ntables: all done) */
    json_t  *key;          /* last key of that table the app acknowledged; NULL: from its start */
    uint64_t rows;         /* snapshot rows acknowledged, all tables */
    uint64_t table_rows;   /* ... of the current table */
    uint64_t estimate;     /* the server's estimate of the current table's rows */
    uint64_t dropped;      /* chunk rows dropped because the stream carried them (windows) */
    bool     done;         /* every table was sent and acknowledged */
    int64_t  started_ms;   /* wall clock: the bootstrap started */
    int64_t  updated_ms;   /* wall clock: this progress was acknowledged */
} zku_boot_progress;

int  zku_boot_progress_to_json(const zku_boot_progress *p, char **out, char *errbuf,
                               size_t errlen);
/* Parses progress; WH_ERR_PARSE with errbuf. out->key is a new reference
 * (free with zku_boot_progress_free, also after a failure). */
int  zku_boot_progress_from_json(const char *data, size_t len, zku_boot_progress *out,
                                 char *errbuf, size_t errlen);
void zku_boot_progress_free(zku_boot_progress *p);

#endif

/* zk_layout.h -- the ZooKeeper layout contract: paths, names, node data, assignment (docs/ZOOKEEPER.md).
 *
 * The publisher and the subscriber library agree on what lives where in
 * ZooKeeper only through this file: each node's path is built here, and
 * each node's data is written and read here, so a writer and its reader
 * cannot drift apart.
 *
 *   ROOT/apps                                    zku_path_apps
 *   ROOT/apps/APP                     persistent zku_path_app, zku_app_* (its data)
 *   ROOT/apps/APP/instances                      zku_path_instances
 *   ROOT/apps/APP/instances/INSTANCE  ephemeral  zku_path_instance, zku_instance_*
 *   ROOT/apps/APP/positions                      zku_path_positions
 *   ROOT/apps/APP/positions/SHARD     persistent zku_path_position, zku_position_*
 *   ROOT/apps/APP/failures                       zku_path_failures
 *   ROOT/apps/APP/failures/SHARD      persistent zku_path_failure, zku_failure_*
 *   ROOT/apps/APP/bootstrap           persistent zku_path_bootstrap (protocol/zk_bootstrap.h)
 *   ROOT/apps/APP/bootstrap/SHARD     persistent zku_path_boot_progress
 *   ROOT/shards/SHARD                            zku_path_shard
 *   ROOT/shards/SHARD/epoch           persistent zku_path_epoch, zku_epoch_*
 *   ROOT/shards/SHARD/publishers                 zku_path_publishers
 *   ROOT/shards/SHARD/publishers/ID   ephemeral  zku_path_publisher, zku_publisher_to_json
 *   ROOT/shards/SHARD/candidates                 zku_path_candidates
 *   ROOT/shards/SHARD/candidates/ID   ephemeral  zku_path_candidate, zku_candidate_*
 *   ROOT/shards/SHARD/lease           ephemeral  zku_path_lease, zku_lease_*
 *   ROOT/shards/SHARD/move            persistent zku_path_move, zku_move_*
 *
 * Node sizes: every node's data has a limit here (ZKU_*_MAX, counting a
 * NUL), the same for its writer, which refuses to write more, and for its
 * reader, which reads at most that much and reports a larger node as an
 * error, never as something else. All limits stay well under ZooKeeper's
 * own (jute.maxbuffer, 1 MiB by default), so no write fails in the server
 * (docs/ZOOKEEPER.md, "Node sizes").
 *
 * Path builders write into the caller's buffer and return WH_OK, or
 * WH_ERR_LIMIT (buf set to "") when the path does not fit: a path is never
 * truncated. ZKU_PATH_MAX always suffices for a root of at most
 * ZKU_ROOT_MAX bytes and names of at most ZKU_NAME_MAX.
 *
 * Who may do what on each of these nodes (their ACLs) is protocol/zk_acl.h.
 *
 * Module prefix zku_ (shared with protocol/zk_client.h, the helpers that
 * need the ZooKeeper client library; this file does not).
 *
 * Threads: every function is reentrant. */
#ifndef WH_ZK_LAYOUT_H
#define WH_ZK_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"
#include "wormhole/position.h"

#define ZKU_DEFAULT_ROOT "/wormhole"
#define ZKU_ROOT_MAX     512      /* bytes of a root path */
#define ZKU_NAME_MAX     128      /* characters of an app, instance or shard name */
#define ZKU_PATH_MAX     1024     /* a path buffer that fits every valid path */
#define ZKU_ID_MAX       255      /* characters of a publisher id in a position node */

/* ---- names and the connect string ------------------------------------------------------ */

/* True if name is a valid single path component for apps, instances, shards:
 * 1..ZKU_NAME_MAX characters of [A-Za-z0-9._:-], not "." or "..". */
bool zku_valid_name(const char *name);

/* True if root can be the root of the layout: absolute ('/' first) and at
 * most ZKU_ROOT_MAX bytes. */
bool zku_valid_root(const char *root);

/* Splits "host:port[,host:port]/root/path" into the connect string and the
 * root (ZKU_DEFAULT_ROOT when there is no '/'; trailing '/' removed). Writes
 * into the caller's buffers; returns false if either does not fit or the
 * root is not a valid absolute path (empty, "/" alone, or with "//"). */
bool zku_split_connect(const char *spec, char *hosts, size_t hostlen, char *root,
                       size_t rootlen);

/* ---- paths ------------------------------------------------------------------------------- */

int zku_path_apps(char *buf, size_t len, const char *root);
int zku_path_app(char *buf, size_t len, const char *root, const char *app);
int zku_path_instances(char *buf, size_t len, const char *root, const char *app);
int zku_path_instance(char *buf, size_t len, const char *root, const char *app,
                      const char *instance);
int zku_path_positions(char *buf, size_t len, const char *root, const char *app);
int zku_path_position(char *buf, size_t len, const char *root, const char *app,
                      const char *shard);
int zku_path_failures(char *buf, size_t len, const char *root, const char *app);
int zku_path_failure(char *buf, size_t len, const char *root, const char *app,
                     const char *shard);
int zku_path_shard(char *buf, size_t len, const char *root, const char *shard);
int zku_path_epoch(char *buf, size_t len, const char *root, const char *shard);
int zku_path_publishers(char *buf, size_t len, const char *root, const char *shard);
int zku_path_publisher(char *buf, size_t len, const char *root, const char *shard,
                       const char *id);

/* ---- the instance node: apps/APP/instances/INSTANCE --------------------------------------- */

/* Data of an instance node, at most this many bytes: the subscriber refuses
 * to start with more (wh_subscriber_new fails naming the filter's size),
 * the publisher reads this much. Room for a filter of 64 KiB of text in
 * any form (its canonical JSON takes at most about three times its text)
 * and a list of a thousand shards, at half of jute.maxbuffer. */
#define ZKU_INSTANCE_MAX (512 * 1024)

/* Writes an instance node's data into *out (malloc'd, caller frees):
 *   {"endpoint":E,"filter":F|null,"pid":N,"protocol":V,"shards":"all"|[S,...]}
 * (compact, keys sorted) where filter_json is the filter's canonical JSON
 * (NULL: every update), shards a NULL-terminated list (NULL: all shards)
 * and V the push protocol version (WIRE_VERSION). Returns WH_OK,
 * WH_ERR_INVALID (filter_json is not JSON), WH_ERR_LIMIT (more than
 * ZKU_INSTANCE_MAX - 1 bytes) or WH_ERR_NOMEM, with a sentence in errbuf. */
int zku_instance_to_json(const char *endpoint, const char *filter_json,
                         const char *const *shards, long pid, char **out, char *errbuf,
                         size_t errlen);

/* An instance node's data as read by a publisher. Owns its strings. */
typedef struct zku_instance {
    char    *endpoint;      /* "host:port" where publishers connect */
    char    *filter_json;   /* canonical filter JSON (compact), NULL: every update */
    bool     all_shards;    /* "shards" is "all", null or absent */
    char   **shards;        /* otherwise the string entries of "shards" */
    uint32_t nshards;
    int64_t  protocol;      /* push protocol version, 0 if absent */
    int64_t  pid;           /* 0 if absent */
} zku_instance;

/* Parses an instance node's data (len bytes, no NUL needed). The object
 * must have a string "endpoint"; "shards" that is neither "all", null, nor
 * an array takes no shard (an array's non-strings are skipped); other
 * fields are optional and unknown fields are ignored. Returns WH_OK,
 * WH_ERR_PARSE (errbuf says why) or WH_ERR_NOMEM. Free with
 * zku_instance_free, also after a failure. */
int zku_instance_from_json(const char *data, size_t len, zku_instance *out, char *errbuf,
                           size_t errlen);

/* True if the instance takes shard. */
bool zku_instance_takes_shard(const zku_instance *in, const char *shard);

/* Frees what out owns and zeroes it; accepts NULL. */
void zku_instance_free(zku_instance *in);

/* ---- the position node: apps/APP/positions/SHARD ------------------------------------------ */

/* Data of a position node, at most this many bytes: the longest text forms
 * (wormhole/position.h), publisher id and copy identity, even with every byte escaped in
 * JSON, take less than 14 KiB. */
#define ZKU_POSITION_MAX 16384
/* Buffer size of each text form of a position in zku_position: the longest
 * text form of wormhole/position.h (a logical text of many GTIDs). */
#define ZKU_POS_TEXT_MAX WH_POS_LOGICAL_TEXT_MAX

/* Bytes of a copy identity in a position node, NUL included (the
 * mappers' WH_COPY_ID_MAX). */
#define ZKU_COPY_MAX 512

/* Writes a position node's data into *out (malloc'd, caller frees):
 *   {"copy":C,"epoch":E,"logical":L|null,"physical":P|null,"publisher":ID}
 * (compact, keys sorted). physical and logical are the text forms of
 * docs/UPDATES.md ("FILE:OFFSET/INDEX" or "SEQ/INDEX", and "GTID/INDEX");
 * NULL or "" writes null (both null: a claim without a position). copy is
 * the identity of the copy of the shard whose log the physical part
 * belongs to (docs/FAILOVER.md "Positions across copies"); NULL or "" leaves
 * the field out, as nodes written before it existed. Returns WH_OK,
 * WH_ERR_LIMIT (more than ZKU_POSITION_MAX - 1 bytes, or copy longer than
 * ZKU_COPY_MAX - 1) or WH_ERR_NOMEM, with a sentence in errbuf. */
int zku_position_to_json(const char *physical, const char *logical, const char *copy,
                         uint64_t epoch, const char *publisher, char **out, char *errbuf,
                         size_t errlen);

/* As zku_position_to_json, for a new app's start (docs/ZOOKEEPER.md, "A new
 * app's start"): the node also holds "start":true, which says that the
 * position is the first update the app will get, not yet delivered (a
 * reader seeks to it inclusively), instead of the last one acknowledged. */
int zku_position_start_to_json(const char *physical, const char *logical, const char *copy,
                               uint64_t epoch, const char *publisher, char **out, char *errbuf,
                               size_t errlen);

/* Adds "event_ms":event_ms to the position node data in *node (written by
 * zku_position_to_json; replaced, the old buffer freed): the log's event
 * time of the acknowledged position, in milliseconds since the Unix epoch
 * (docs/ZOOKEEPER.md, "Position nodes"). event_ms <= 0 (unknown) leaves the
 * node as it is. Returns WH_OK, WH_ERR_LIMIT or WH_ERR_NOMEM (*node NULL
 * then), with a sentence in errbuf. */
int zku_position_add_event_ms(char **node, int64_t event_ms, char *errbuf, size_t errlen);

/* A position node's data as read: text forms, "" where the node has null,
 * "" or nothing. */
typedef struct zku_position {
    char     physical[ZKU_POS_TEXT_MAX];
    char     logical[ZKU_POS_TEXT_MAX];
    char     copy[ZKU_COPY_MAX];          /* "" if absent (an older writer) */
    uint64_t epoch;                       /* 0 if absent */
    char     publisher[ZKU_ID_MAX + 1];   /* "" if absent or not a string */
    bool     start;                       /* "start":true: the position is a start, not yet
                                           * delivered; false (absent, as in every node
                                           * written before it existed): acknowledged up
                                           * to and including the position */
    int64_t  event_ms;                    /* "event_ms": the log's event time of the position,
                                           * ms since the Unix epoch; 0 if absent (unknown,
                                           * a start, or an older writer) */
} zku_position;

/* Parses a position node's data (len bytes, no NUL needed). physical,
 * logical and copy must be strings or null, epoch an integer >= 0, start (if
 * there) true or false, event_ms (if there) an integer >= 0 or null. The text forms
 * are returned as they are; checking their syntax is the caller's (the
 * publisher's pub_pos_parse). Returns WH_OK or WH_ERR_PARSE (errbuf names
 * the problem; a text form or publisher id too long for its buffer is one). */
int zku_position_from_json(const char *data, size_t len, zku_position *out, char *errbuf,
                           size_t errlen);

/* ---- the app node: apps/APP ---------------------------------------------------------------- */

/* An app node's data is one JSON object whose fields are all optional and
 * each have one writer, which changes only its own fields and keeps the
 * others (so the app's filter and its settings never wipe each other out):
 *   {"filter":F|null,"on_purged":"stop"|"oldest","set_by":I}
 * - filter, set_by (libwormhole, when an instance registers): the app's one
 *   filter, which every instance of the app runs (docs/ZOOKEEPER.md, "One
 *   filter per app"): F is the filter's canonical JSON form carried as a
 *   JSON *string*, so that its numbers stay exact; null for every update;
 *   I the instance that wrote it;
 * - on_purged (wormhole-ctl policy): zku_app_settings below.
 * Empty data (an app node made before anything was kept there) has no
 * field. Writers compact the object with sorted keys. */

/* Data of an app node, at most this many bytes: a filter that fits an
 * instance node (ZKU_INSTANCE_MAX) fits here, carried as a JSON string. */
#define ZKU_APP_MAX (512 * 1024)

/* Writes into *out (malloc'd, caller frees) the app node's data (len bytes;
 * empty, or not an object: no field kept) with filter set to filter_json
 * (NULL: every update) and set_by to set_by. Returns WH_OK, WH_ERR_LIMIT
 * (more than ZKU_APP_MAX - 1 bytes) or WH_ERR_NOMEM, with a sentence in
 * errbuf. */
int zku_app_with_filter(const char *data, size_t len, const char *filter_json,
                        const char *set_by, char **out, char *errbuf, size_t errlen);

/* The app's filter as read. Owns its strings. */
typedef struct zku_app {
    bool  recorded;         /* the node has a "filter" field (false: the app's filter is not
                               kept there yet, as in an app node made before it was) */
    char *filter_json;      /* the app's filter (canonical JSON), NULL: every update */
    char *set_by;           /* the instance that wrote it, "" if absent */
} zku_app;

/* Reads the app's filter from an app node's data (len bytes, no NUL
 * needed): empty data, or an object without "filter", is no record
 * (out->recorded false); "filter" must be a string or null; other fields
 * are ignored. Returns WH_OK, WH_ERR_PARSE (errbuf says why) or
 * WH_ERR_NOMEM. Free with zku_app_free, also after a failure. */
int zku_app_from_json(const char *data, size_t len, zku_app *out, char *errbuf, size_t errlen);

/* Whether two filters in canonical JSON (NULL: every update) are the same. */
bool zku_app_same_filter(const char *a, const char *b);

/* Frees what out owns and zeroes it; accepts NULL. */
void zku_app_free(zku_app *a);

/* An app's settings that publishers apply to its flows. */
typedef struct zku_app_settings {
    bool on_purged_oldest;   /* "on_purged":"oldest": a purged position resumes from the
                              * oldest position still in the log (a WARN names the gap);
                              * "stop" (the default): the flow FAILS with reason purged */
} zku_app_settings;

/* Writes into *out (malloc'd) the app node's data (len bytes; empty, or not
 * an object: no field kept) with "on_purged" set from s. Returns WH_OK,
 * WH_ERR_LIMIT or WH_ERR_NOMEM, with a sentence in errbuf. */
int zku_app_settings_to_json(const char *data, size_t len, const zku_app_settings *s,
                             char **out, char *errbuf, size_t errlen);
/* Parses an app node's data. Empty data (the node as the subscriber creates
 * it) is the defaults; otherwise a JSON object whose "on_purged", if there,
 * is "stop" or "oldest"; unknown fields are ignored. Returns WH_OK or
 * WH_ERR_PARSE (errbuf; out holds the defaults). */
int zku_app_settings_from_json(const char *data, size_t len, zku_app_settings *out,
                               char *errbuf, size_t errlen);
/* "stop" or "oldest" to a setting; false for anything else. */
bool zku_on_purged_parse(const char *text, bool *oldest);

/* ---- the failure node: apps/APP/failures/SHARD ------------------------------------------- */

/* A flow that cannot go on (its position purged from the log, or one its
 * mapper cannot seek to; its subscriber refused it; the app's filter does
 * not fit a table) is stopped alone and recorded here by the shard's
 * publisher; wormhole-ctl reads it and deletes it on reset or remove. */

/* Data of a failure node, at most this many bytes: a reason of
 * ZKU_REASON_MAX, the longest text forms of a position and a publisher id
 * take less than 17 KiB even with every byte escaped in JSON. */
#define ZKU_FAILURE_MAX (32 * 1024)
/* Bytes of a failure's reason (with its NUL); longer reasons are cut. */
#define ZKU_REASON_MAX 1024

/* A failure node's data. */
typedef struct zku_failure {
    char     code[32];                    /* "purged", "invalid", "parse", ... (wh_err_name-like) */
    char     reason[ZKU_REASON_MAX];      /* the full sentence of the log's ERROR line */
    char     physical[ZKU_POS_TEXT_MAX];  /* the flow's position when it failed; "" none */
    char     logical[ZKU_POS_TEXT_MAX];
    char     publisher[ZKU_ID_MAX + 1];
    uint64_t epoch;
    int64_t  since_ms;                    /* wall-clock ms (Unix epoch) of the failure */
} zku_failure;

/* Writes a failure node's data into *out (malloc'd, caller frees):
 *   {"code":C,"epoch":E,"logical":L|null,"physical":P|null,"publisher":ID,
 *    "reason":R,"since_ms":T}
 * (compact, keys sorted; "" positions are written as null). Returns WH_OK,
 * WH_ERR_LIMIT (more than ZKU_FAILURE_MAX - 1 bytes) or WH_ERR_NOMEM with
 * a sentence in errbuf. */
int zku_failure_to_json(const zku_failure *f, char **out, char *errbuf, size_t errlen);
/* Parses a failure node's data (len bytes, no NUL needed): an object whose
 * "code" and "reason" are strings; the other fields are optional. A reason
 * longer than its buffer is cut. Returns WH_OK or WH_ERR_PARSE (errbuf). */
int zku_failure_from_json(const char *data, size_t len, zku_failure *out, char *errbuf,
                          size_t errlen);
/* The failure code of a WH_ERR_* result: "purged", "invalid", "parse",
 * "refused" (the subscriber refused the flow: WH_ERR_REFUSED), "too_large"
 * (its subscriber cannot take an update: WH_ERR_LIMIT), "config" (the app's
 * filter does not fit a table: WH_ERR_CONFIG), or "error". */
const char *zku_failure_code(int rc);

/* ---- the epoch node: shards/SHARD/epoch ------------------------------------------------- */

/* ZooKeeper's default limit on a node's data (jute.maxbuffer); every limit
 * above is at most half of it. */
#define ZKU_JUTE_MAXBUFFER (1024 * 1024)

/* Bytes of the epoch node's data, with room for a NUL. */
#define ZKU_EPOCH_MAX 64

/* Writes epoch as decimal text (the node's data); returns its length. buf
 * must have at least ZKU_EPOCH_MAX bytes. */
size_t zku_epoch_format(char *buf, size_t len, uint64_t epoch);

/* The decimal number at the start of data (after optional blanks, as
 * strtoull reads it); 0 for data without one, like a node that does not
 * exist yet. */
uint64_t zku_epoch_parse(const char *data, size_t len);

/* ---- the publisher node: shards/SHARD/publishers/ID -------------------------------------- */

/* Data of a publisher node, at most this many bytes. */
#define ZKU_PUBLISHER_MAX 512

/* Writes a publisher node's data into *out (malloc'd, caller frees):
 *   {"epoch":E,"host":H,"pid":N}
 * Returns WH_OK, WH_ERR_LIMIT (more than ZKU_PUBLISHER_MAX - 1 bytes) or
 * WH_ERR_NOMEM, with a sentence in errbuf. */
int zku_publisher_to_json(uint64_t epoch, const char *host, long pid, char **out, char *errbuf,
                          size_t errlen);

/* ---- roles: candidates, the lease and moves (docs/FAILOVER.md) -------------------------- */

int zku_path_candidates(char *buf, size_t len, const char *root, const char *shard);
int zku_path_candidate(char *buf, size_t len, const char *root, const char *shard,
                       const char *id);
int zku_path_lease(char *buf, size_t len, const char *root, const char *shard);
int zku_path_move(char *buf, size_t len, const char *root, const char *shard);

/* Data of a candidate, lease or move node, at most this many bytes. */
#define ZKU_ROLE_MAX 2048
/* Bytes of a candidate's health reason (with its NUL); longer ones are cut. */
#define ZKU_HEALTH_REASON_MAX 512

/* A candidate node: every publisher started for the shard has one while its
 * session lives. */
typedef struct zku_candidate {
    int64_t priority;                     /* higher is preferred */
    bool    healthy;                      /* its datastore can serve the shard */
    bool    starting;                     /* its first health check has not ended yet (then
                                           * not healthy); false in nodes of older publishers */
    char    reason[ZKU_HEALTH_REASON_MAX]; /* why not healthy; "" when healthy */
    char    host[128];
    int64_t pid;
} zku_candidate;

/* Writes a candidate node's data into *out (malloc'd, caller frees):
 *   {"healthy":B,"host":H,"pid":N,"priority":P,"reason":R,"starting":S}
 * Returns WH_OK, WH_ERR_LIMIT or WH_ERR_NOMEM with a sentence in errbuf. */
int zku_candidate_to_json(const zku_candidate *c, char **out, char *errbuf, size_t errlen);
/* Parses a candidate node's data: an object with an integer "priority" and
 * a boolean "healthy"; the rest is optional (a reason too long is cut; no
 * "starting": false).
 * Returns WH_OK or WH_ERR_PARSE (errbuf). */
int zku_candidate_from_json(const char *data, size_t len, zku_candidate *out, char *errbuf,
                            size_t errlen);

/* The lease node: held (created, ephemeral) by the active publisher. */
typedef struct zku_lease {
    char    id[ZKU_ID_MAX + 1];           /* the holder's publisher id */
    int64_t priority;                     /* the holder's priority */
} zku_lease;

/* Writes a lease node's data into *out (malloc'd): {"id":ID,"priority":P}.
 * Returns WH_OK, WH_ERR_LIMIT or WH_ERR_NOMEM with a sentence in errbuf. */
int zku_lease_to_json(const zku_lease *l, char **out, char *errbuf, size_t errlen);
/* Parses a lease node's data: an object with a non-empty string "id" of at
 * most ZKU_ID_MAX characters and an integer "priority". WH_OK or
 * WH_ERR_PARSE (errbuf). */
int zku_lease_from_json(const char *data, size_t len, zku_lease *out, char *errbuf,
                        size_t errlen);

/* The move node: a request that the active publisher hands the lease over
 * (wormhole-ctl move, or a preferred candidate asking for failback). */
typedef struct zku_move {
    char from[ZKU_ID_MAX + 1];            /* the active it is addressed to; "" any */
    char to[ZKU_ID_MAX + 1];              /* the candidate to take over; "" the best other */
    char by[64];                          /* "ctl", "failback" or "signal" */
} zku_move;

/* Writes a move node's data into *out (malloc'd): {"by":B,"from":F,"to":T}.
 * Returns WH_OK, WH_ERR_LIMIT or WH_ERR_NOMEM with a sentence in errbuf. */
int zku_move_to_json(const zku_move *m, char **out, char *errbuf, size_t errlen);
/* Parses a move node's data: an object whose "from", "to" and "by" are
 * strings when present. WH_OK or WH_ERR_PARSE (errbuf). */
int zku_move_from_json(const char *data, size_t len, zku_move *out, char *errbuf,
                       size_t errlen);

/* ---- assignment: which instance of an app gets a shard's flow --------------------------------- */

/* Rendezvous (highest random weight) hashing: the weight of instance for
 * shard. The flow of (shard, app) goes to the live instance with the
 * highest weight (ties: the smaller name), so when an instance leaves only
 * its own flows move, and when one joins it takes about 1/N of them. Every
 * publisher computes the same choice without talking to the others. */
uint64_t zku_rendezvous_weight(const char *instance, const char *shard);

/* Index of the chosen instance among names[0..n), or -1 if n == 0. */
int zku_rendezvous_pick(const char *const *names, int n, const char *shard);

#endif

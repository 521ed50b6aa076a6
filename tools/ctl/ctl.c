/* ctl.c -- wormhole-ctl: inspect and repair subscriber apps' positions and failed flows in ZooKeeper, and move shards.
 *
 * Talks to ZooKeeper only through protocol/zk_layout.h (paths and node
 * formats) and protocol/zk_client.h. Commands: apps, app APP, reset APP
 * SHARD, remove APP, gc, policy, move SHARD, bootstrap
 * APP (usage() is the manual; docs/RUNBOOK.md "A flow
 * failed" the procedure). Exit codes in tools/ctl/ctl_args.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "protocol/zk_bootstrap.h"
#include "protocol/zk_client.h"
#include "protocol/zk_layout.h"
#include "tools/ctl/ctl_args.h"
#include "wormhole/position.h"

static void usage(FILE *f)
{
    fprintf(f,
        "NAME\n"
        "    wormhole-ctl - inspect and repair wormhole apps, positions and failed flows\n"
        "\n"
        "SYNOPSIS\n"
        "    wormhole-ctl --zk HOST:PORT[,...]/ROOT [--json] COMMAND ...\n"
        "\n"
        "COMMANDS\n"
        "    apps                 every app: instances, position per shard (and how long ago\n"
        "                         it was written), failed flows\n"
        "    app APP              the same for one app, with each failure's full reason\n"
        "    reset APP SHARD --to-position FILE:OFFSET/INDEX | --to-logical GTID/INDEX |\n"
        "                    --to-oldest\n"
        "                         sets APP's position of SHARD; the shard's publisher notices\n"
        "                         (it watches the position node of a failed flow) and starts\n"
        "                         the flow again from there. Refused (exit 3) unless the flow\n"
        "                         has FAILED or no publisher is registered for SHARD: a live\n"
        "                         publisher would overwrite the reset with its next\n"
        "                         acknowledged position. --force writes anyway.\n"
        "    remove APP           deletes the app's nodes (positions, failures); refused while\n"
        "                         an instance is registered unless --force\n"
        "    policy APP --on-purged stop|oldest\n"
        "                         what the app's flows do when their position was purged from\n"
        "                         the log: stop (the default: the flow FAILS, see reset) or\n"
        "                         resume from the oldest position still there (a WARN names\n"
        "                         the gap); stored in the app node ROOT/apps/APP\n"
        "    move SHARD [--to PUBLISHER]\n"
        "                         hands SHARD's lease over cleanly (docs/FAILOVER.md): the\n"
        "                         active publisher writes its acknowledged positions, stops\n"
        "                         delivering and releases; PUBLISHER (a healthy candidate),\n"
        "                         or the best other healthy candidate, takes over. Waits up\n"
        "                         to --timeout-ms for the new holder; refused (exit 3) when no\n"
        "                         such candidate is healthy or a move is already pending\n"
        "    bootstrap APP --tables DB.TABLE[,DB.TABLE...] [--id ID]\n"
        "                         asks every shard's publisher to send APP the rows these\n"
        "                         tables hold now (op snapshot), then go on with the stream\n"
        "                         (docs/BOOTSTRAP.md); stored in ROOT/apps/APP/bootstrap. A\n"
        "                         new ID (default: the time in ms) starts over; progress per\n"
        "                         shard shows in app APP\n"
        "    gc --older-than S    removes apps that have no instance and whose positions were\n"
        "                         last written more than S seconds ago\n"
        "    init --publisher-id ID\n"
        "                         creates ROOT, ROOT/apps and ROOT/shards with the ACLs of\n"
        "                         docs/ZOOKEEPER.md (\"Access control\") for the publishers'\n"
        "                         identity ID (USER:BASE64SHA1), and sets them on nodes that\n"
        "                         exist already (shards and everything under them)\n"
        "    add-app APP --app-id ID [--publisher-id ID]\n"
        "                         creates the app's node and instances folder with its ACLs:\n"
        "                         only identity ID may register instances of APP; sets them\n"
        "                         on its existing nodes (positions, failures) too. The\n"
        "                         publishers' id defaults to the one init put on ROOT/shards\n"
        "\n"
        "OPTIONS\n"
        "    --zk SPEC            ZooKeeper hosts and the layout's root (required)\n"
        "    --json               one JSON document on stdout instead of a table\n"
        "    --force              skip the safety checks of reset and remove\n"
        "    --to PUBLISHER       move: the candidate to take the shard\n"
        "    --tables LIST        bootstrap: the tables, db.table separated by commas\n"
        "    --id ID              bootstrap: the request's id\n"
        "    --timeout-ms N       how long to try to connect (10000)\n"
        "    --zk-user USER       ZooKeeper identity (digest scheme); operators use the\n"
        "                         ensemble's super user (superDigest, docs/SECURITY.md)\n"
        "    --zk-secret-file F   the file holding USER's password (mode 0600)\n"
        "    --help               this text\n"
        "\n"
        "EXIT STATUS\n"
        "    0 done; 1 ZooKeeper unreachable, a node unreadable or no such app; 2 bad usage;\n"
        "    3 refused for safety (see --force).\n");
}

typedef struct ctl {
    const ctl_args *a;
    zhandle_t *zh;
    char root[ZKU_ROOT_MAX + 1];
    zku_auth auth;
} ctl;

static void watcher_none(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh; (void)type; (void)state; (void)path; (void)ctx;
}

static int ctl_connect(ctl *c)
{
    char hosts[1024];
    if (!zku_split_connect(c->a->zk, hosts, sizeof hosts, c->root, sizeof c->root)) {
        fprintf(stderr, "wormhole-ctl: --zk '%s' is not HOST:PORT[,...]/ROOT\n", c->a->zk);
        return CTL_EXIT_USAGE;
    }
    zku_quiet();
    c->zh = zookeeper_init(hosts, watcher_none, 10000, NULL, NULL, 0);
    int64_t deadline = wh_mono_ms() + c->a->timeout_ms;
    while (c->zh && zoo_state(c->zh) != ZOO_CONNECTED_STATE && wh_mono_ms() < deadline)
        nanosleep(&(struct timespec){ 0, 20 * 1000000 }, NULL);
    if (!c->zh || zoo_state(c->zh) != ZOO_CONNECTED_STATE) {
        fprintf(stderr, "wormhole-ctl: ZooKeeper %s: not connected within %" PRId64 " ms\n",
                hosts, c->a->timeout_ms);
        return CTL_EXIT_ERROR;
    }
    char err[512];
    if (zku_auth_load(&c->auth, c->a->zk_user, c->a->zk_secret_file, err, sizeof err) != WH_OK) {
        fprintf(stderr, "wormhole-ctl: %s\n", err);
        return CTL_EXIT_USAGE;
    }
    if (zku_auth_on(&c->auth)) {
        int rc = zku_auth_add_wait(c->zh, &c->auth, c->a->timeout_ms);
        if (rc != ZOK) {
            fprintf(stderr, "wormhole-ctl: ZooKeeper %s refused the authentication of user %s: "
                    "%s\n", hosts, c->auth.user, zerror(rc));
            return CTL_EXIT_ERROR;
        }
    }
    return CTL_EXIT_OK;
}

/* Reads a node's data (NUL-terminated, malloc'd) and stat; ZNONODE etc.
 * max is the node's limit (protocol/zk_layout.h, counting a NUL): a node
 * holding more is not read cut short but ZBADARGUMENTS, with the sentence in
 * err (st is still filled). */
static int get_node(ctl *c, const char *path, size_t max, char **data, struct Stat *st,
                    char *err, size_t errlen)
{
    int len = (int)max - 1;
    *data = malloc(max);
    if (!*data)
        return ZSYSTEMERROR;
    int rc = zoo_get(c->zh, path, 0, *data, &len, st);
    if (rc == ZOK && len >= 0 && st->dataLength > len) {   /* len -1: no data at all */
        snprintf(err, errlen, "ZooKeeper node %s holds %d bytes, more than the limit of %zu "
                 "(docs/ZOOKEEPER.md)", path, (int)st->dataLength, max - 1);
        rc = ZBADARGUMENTS;
    }
    if (rc != ZOK) {
        free(*data);
        *data = NULL;
        return rc;
    }
    (*data)[len < 0 ? 0 : len] = '\0';
    return ZOK;
}

static int ctl_ids(ctl *c, const char *app, zku_acl_ids *ids);

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Children of path, sorted; an absent node has none. */
static int children(ctl *c, const char *path, struct String_vector *v)
{
    memset(v, 0, sizeof *v);
    int rc = zoo_get_children(c->zh, path, 0, v);
    if (rc == ZNONODE)
        return ZOK;
    if (rc == ZOK && v->count > 1)
        qsort(v->data, (size_t)v->count, sizeof *v->data,
              strcmp_ptr);
    return rc;
}

static bool has_child(const struct String_vector *v, const char *name)
{
    for (int i = 0; i < v->count; i++)
        if (strcmp(v->data[i], name) == 0)
            return true;
    return false;
}

/* One shard of an app as JSON: position, when it was written, failure. */
/* A shard's bootstrap progress (null when none): rows, the table being
 * read, its estimate, the rate since the start and an ETA for that table. */
static json_t *boot_json(ctl *c, const char *app, const char *shard, int64_t now_ms)
{
    char path[ZKU_PATH_MAX], err[512], *data;
    struct Stat st;
    zku_boot_progress pr;
    zku_boot_request rq = { 0 };
    if (zku_path_boot_progress(path, sizeof path, c->root, app, shard) != WH_OK ||
        get_node(c, path, ZKU_BOOT_MAX, &data, &st, err, sizeof err) != ZOK)
        return json_null();
    int rc = zku_boot_progress_from_json(data, strlen(data), &pr, err, sizeof err);
    free(data);
    if (rc != WH_OK)
        return json_pack("{s:s}", "error", err);
    zku_path_bootstrap(path, sizeof path, c->root, app);
    if (get_node(c, path, ZKU_BOOT_MAX, &data, &st, err, sizeof err) == ZOK) {
        zku_boot_request_from_json(data, strlen(data), &rq, err, sizeof err);
        free(data);
    }
    double secs = (double)(pr.updated_ms - pr.started_ms) / 1000.0;
    double rate = secs > 0 ? (double)pr.rows / secs : 0;
    json_t *o = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:f,s:I}", "id", pr.id, "done", pr.done,
                          "rows", (json_int_t)pr.rows, "table_rows", (json_int_t)pr.table_rows,
                          "estimate", (json_int_t)pr.estimate,
                          "dropped", (json_int_t)pr.dropped, "rows_per_sec", rate,
                          "updated_ago_ms", (json_int_t)(now_ms - pr.updated_ms));
    if (!pr.done && pr.table < rq.ntables && strcmp(rq.id, pr.id) == 0) {
        char t[600];
        snprintf(t, sizeof t, "%s.%s", rq.db[pr.table], rq.table[pr.table]);
        json_object_set_new(o, "table", json_string(t));
        if (rate > 0 && pr.estimate > pr.table_rows)
            json_object_set_new(o, "eta_s", json_real((double)(pr.estimate - pr.table_rows) /
                                                      rate));
    }
    zku_boot_request_free(&rq);
    zku_boot_progress_free(&pr);
    return o;
}

static json_t *shard_json(ctl *c, const char *app, const char *shard, int64_t now_ms)
{
    char path[ZKU_PATH_MAX], err[512], *data;
    struct Stat st;
    json_t *o = json_pack("{s:s}", "shard", shard);
    zku_path_position(path, sizeof path, c->root, app, shard);
    int rc = get_node(c, path, ZKU_POSITION_MAX, &data, &st, err, sizeof err);
    if (rc == ZBADARGUMENTS)
        json_object_set_new(o, "position_error", json_string(err));
    if (rc == ZOK) {
        zku_position zp;
        if (zku_position_from_json(data, strlen(data), &zp, err, sizeof err) == WH_OK) {
            json_object_set_new(o, "physical", zp.physical[0] ? json_string(zp.physical)
                                                               : json_null());
            json_object_set_new(o, "logical", zp.logical[0] ? json_string(zp.logical)
                                                             : json_null());
            json_object_set_new(o, "epoch", json_integer((json_int_t)zp.epoch));
            json_object_set_new(o, "publisher", json_string(zp.publisher));
            /* A new app's recorded start: nothing acknowledged yet. */
            json_object_set_new(o, "start", json_boolean(zp.start));
            /* The log's event time of the acknowledged position and its age
             * (docs/ZOOKEEPER.md "Position nodes"): null when the node has
             * none (a start, or written before the field existed). ZooKeeper
             * cannot tell whether the flow stands at the head of the log, so
             * a flow with nothing new to deliver ages too. */
            bool ev = zp.event_ms > 0 && !zp.start;
            json_object_set_new(o, "event_ms", ev ? json_integer(zp.event_ms) : json_null());
            json_object_set_new(o, "lag_ms", ev ? json_integer(now_ms > zp.event_ms
                                                               ? now_ms - zp.event_ms : 0)
                                                : json_null());
        } else {
            json_object_set_new(o, "position_error", json_string(err));
        }
        json_object_set_new(o, "written_ago_ms", json_integer(now_ms - st.mtime));
        free(data);
    }
    zku_path_failure(path, sizeof path, c->root, app, shard);
    json_t *fail = json_null();
    rc = get_node(c, path, ZKU_FAILURE_MAX, &data, &st, err, sizeof err);
    if (rc == ZBADARGUMENTS)
        fail = json_pack("{s:s,s:s}", "code", "unreadable", "reason", err);
    if (rc == ZOK) {
        zku_failure f;
        if (zku_failure_from_json(data, strlen(data), &f, err, sizeof err) == WH_OK)
            fail = json_pack("{s:s,s:s,s:o,s:o,s:s,s:I}", "code", f.code, "reason", f.reason,
                             "physical", f.physical[0] ? json_string(f.physical) : json_null(),
                             "logical", f.logical[0] ? json_string(f.logical) : json_null(),
                             "publisher", f.publisher, "since_ms", (json_int_t)f.since_ms);
        else
            fail = json_pack("{s:s,s:s}", "code", "unreadable", "reason", err);
        free(data);
    }
    json_object_set_new(o, "failure", fail);
    json_object_set_new(o, "bootstrap", boot_json(c, app, shard, now_ms));
    return o;
}

/* An app as JSON, or NULL with *rc set (ZNONODE: no such app). */
static json_t *app_json(ctl *c, const char *app, int *rc)
{
    char path[ZKU_PATH_MAX];
    struct String_vector inst, pos, fail;
    struct Stat st;
    zku_path_app(path, sizeof path, c->root, app);
    if ((*rc = zoo_exists(c->zh, path, 0, &st)) != ZOK)
        return NULL;
    zku_path_instances(path, sizeof path, c->root, app);
    if ((*rc = children(c, path, &inst)) != ZOK)
        return NULL;
    zku_path_positions(path, sizeof path, c->root, app);
    *rc = children(c, path, &pos);
    zku_path_failures(path, sizeof path, c->root, app);
    if (*rc == ZOK)
        *rc = children(c, path, &fail);
    if (*rc != ZOK) {
        deallocate_String_vector(&inst);
        deallocate_String_vector(&pos);
        return NULL;
    }
    int64_t now = wh_wall_ms();
    json_t *o = json_pack("{s:s,s:[],s:[]}", "app", app, "instances", "shards");
    char *data;
    zku_app_settings set = { 0 };
    zku_app rec = { 0 };
    char err[256];
    zku_path_app(path, sizeof path, c->root, app);
    int grc = get_node(c, path, ZKU_APP_MAX, &data, &st, err, sizeof err);
    if (grc == ZBADARGUMENTS)
        json_object_set_new(o, "settings_error", json_string(err));
    if (grc == ZOK) {
        zku_app_settings_from_json(data, strlen(data), &set, err, sizeof err);
        zku_app_from_json(data, strlen(data), &rec, err, sizeof err);
        free(data);
    }
    json_object_set_new(o, "on_purged", json_string(set.on_purged_oldest ? "oldest" : "stop"));
    /* The app's one filter (docs/ZOOKEEPER.md), in canonical JSON; null: every update. */
    json_object_set_new(o, "filter", rec.filter_json ? json_string(rec.filter_json)
                                                     : json_null());
    zku_app_free(&rec);
    json_t *ia = json_object_get(o, "instances"), *sa = json_object_get(o, "shards");
    for (int i = 0; i < inst.count; i++)
        json_array_append_new(ia, json_string(inst.data[i]));
    for (int i = 0; i < pos.count; i++)
        json_array_append_new(sa, shard_json(c, app, pos.data[i], now));
    for (int i = 0; i < fail.count; i++)
        if (!has_child(&pos, fail.data[i]))
            json_array_append_new(sa, shard_json(c, app, fail.data[i], now));
    deallocate_String_vector(&inst);
    deallocate_String_vector(&pos);
    deallocate_String_vector(&fail);
    return o;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static void print_table(const json_t *apps, bool reasons)
{
    size_t i, k;
    json_t *app, *sh;
    printf("%-20s %-9s %-12s %-40s %-10s %-10s %s\n", "APP", "INSTANCES", "SHARD", "POSITION",
           "WRITTEN", "LAG", "STATE");
    json_array_foreach(apps, i, app) {
        json_t *shards = json_object_get(app, "shards");
        size_t ninst = json_array_size(json_object_get(app, "instances"));
        if (json_array_size(shards) == 0)
            printf("%-20s %-9zu %-12s %-40s %-10s %-10s %s\n", str_or(app, "app", "?"), ninst,
                   "-", "-", "-", "-", "-");
        json_array_foreach(shards, k, sh) {
            char ago[32] = "-";
            json_t *w = json_object_get(sh, "written_ago_ms");
            if (w)
                snprintf(ago, sizeof ago, "%llds", (long long)json_integer_value(w) / 1000);
            char lag[32] = "-";
            json_t *l = json_object_get(sh, "lag_ms");
            if (json_is_integer(l))
                snprintf(lag, sizeof lag, "%llds", (long long)json_integer_value(l) / 1000);
            json_t *f = json_object_get(sh, "failure");
            char state[64] = "ok";
            if (json_is_object(f))
                snprintf(state, sizeof state, "FAILED (%s)", str_or(f, "code", "?"));
            else if (json_is_true(json_object_get(sh, "start")))
                snprintf(state, sizeof state, "start (nothing acknowledged)");
            const char *pos = str_or(sh, "physical", str_or(sh, "logical", "(oldest)"));
            printf("%-20s %-9zu %-12s %-40s %-10s %-10s %s\n", str_or(app, "app", "?"), ninst,
                   str_or(sh, "shard", "?"), pos, ago, lag, state);
            if (reasons && json_is_object(f))
                printf("    reason: %s\n", str_or(f, "reason", ""));
            json_t *b = json_object_get(sh, "bootstrap");
            if (json_is_object(b) && json_is_true(json_object_get(b, "done")))
                printf("    bootstrap %s: done, %lld rows\n", str_or(b, "id", "?"),
                       (long long)json_integer_value(json_object_get(b, "rows")));
            else if (json_is_object(b))
                printf("    bootstrap %s: %s %lld of ~%lld rows, %lld in all, %.0f rows/s, "
                       "ETA %.0f s\n", str_or(b, "id", "?"), str_or(b, "table", "?"),
                       (long long)json_integer_value(json_object_get(b, "table_rows")),
                       (long long)json_integer_value(json_object_get(b, "estimate")),
                       (long long)json_integer_value(json_object_get(b, "rows")),
                       json_real_value(json_object_get(b, "rows_per_sec")),
                       json_real_value(json_object_get(b, "eta_s")));
        }
    }
}

static void emit(const ctl *c, json_t *doc, bool reasons)
{
    if (c->a->json) {
        char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        print_table(json_is_array(doc) ? doc : json_object_get(doc, "apps"), reasons);
    }
}

static int cmd_apps(ctl *c)
{
    char path[ZKU_PATH_MAX];
    struct String_vector apps;
    zku_path_apps(path, sizeof path, c->root);
    int rc = children(c, path, &apps);
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: %s: %s\n", path, zerror(rc));
        return CTL_EXIT_ERROR;
    }
    json_t *arr = json_array();
    for (int i = 0; i < apps.count; i++) {
        json_t *o = app_json(c, apps.data[i], &rc);
        if (o)
            json_array_append_new(arr, o);
    }
    deallocate_String_vector(&apps);
    json_t *doc = json_pack("{s:o}", "apps", arr);
    emit(c, doc, false);
    json_decref(doc);
    return CTL_EXIT_OK;
}

static int cmd_app(ctl *c)
{
    int rc;
    json_t *o = app_json(c, c->a->app, &rc);
    if (!o) {
        fprintf(stderr, "wormhole-ctl: app %s: %s\n", c->a->app,
                rc == ZNONODE ? "no such app" : zerror(rc));
        return CTL_EXIT_ERROR;
    }
    json_t *doc = json_pack("{s:[o]}", "apps", o);
    if (c->a->json)
        emit(c, o, true);
    else
        emit(c, doc, true);
    json_decref(doc);
    return CTL_EXIT_OK;
}

/* Whether a publisher is registered for shard (-1 on error). */
static int publishers_of(ctl *c, const char *shard)
{
    char path[ZKU_PATH_MAX];
    struct String_vector v;
    zku_path_publishers(path, sizeof path, c->root, shard);
    if (children(c, path, &v) != ZOK)
        return -1;
    int n = v.count;
    deallocate_String_vector(&v);
    return n;
}

static int cmd_reset(ctl *c)
{
    const ctl_args *a = c->a;
    char ppath[ZKU_PATH_MAX], fpath[ZKU_PATH_MAX], parent[ZKU_PATH_MAX], err[512];
    char phys[ZKU_POS_TEXT_MAX] = "", logi[ZKU_POS_TEXT_MAX] = "";
    wh_pos p;
    if (a->to == CTL_TO_POSITION) {
        if (wh_pos_parse_physical(&p, a->to_text, strlen(a->to_text), err, sizeof err) != WH_OK) {
            fprintf(stderr, "wormhole-ctl: --to-position: %s\n", err);
            return CTL_EXIT_USAGE;
        }
        wh_pos_format_physical(&p, phys, sizeof phys);
    } else if (a->to == CTL_TO_LOGICAL) {
        if (wh_pos_parse_logical(&p, a->to_text, strlen(a->to_text), err, sizeof err) != WH_OK) {
            fprintf(stderr, "wormhole-ctl: --to-logical: %s\n", err);
            return CTL_EXIT_USAGE;
        }
        wh_pos_format_logical(&p, logi, sizeof logi);
    }
    zku_path_position(ppath, sizeof ppath, c->root, a->app, a->shard);
    zku_path_failure(fpath, sizeof fpath, c->root, a->app, a->shard);
    zku_path_positions(parent, sizeof parent, c->root, a->app);
    struct Stat st;
    bool failed = zoo_exists(c->zh, fpath, 0, &st) == ZOK;
    int npub = publishers_of(c, a->shard);
    if (!a->force && !failed && npub != 0) {
        fprintf(stderr, "wormhole-ctl: refusing to reset %s of shard %s: its flow has not "
                "failed and %s publisher is registered for the shard, whose next position "
                "write would overwrite the reset. Stop the app's instances or the publisher, "
                "or use --force.\n", a->app, a->shard, npub < 0 ? "maybe a" : "a");
        return CTL_EXIT_REFUSED;
    }
    /* Keep the node's epoch: the shard's publisher fences writes of newer epochs. */
    char *data;
    uint64_t epoch = 0;
    int version = -1;
    int grc = get_node(c, ppath, ZKU_POSITION_MAX, &data, &st, err, sizeof err);
    if (grc == ZOK) {
        zku_position zp;
        if (zku_position_from_json(data, strlen(data), &zp, err, sizeof err) == WH_OK)
            epoch = zp.epoch;
        free(data);
    }
    if (grc == ZOK || grc == ZBADARGUMENTS)   /* one too large is replaced like a bad one */
        version = st.version;
    char *node;
    /* No copy: an operator's position is read by the seek rule of docs/FAILOVER.md. */
    if (zku_position_to_json(phys, logi, NULL, epoch, "wormhole-ctl", &node, err, sizeof err) !=
        WH_OK) {
        fprintf(stderr, "wormhole-ctl: %s\n", err);
        return CTL_EXIT_ERROR;
    }
    int rc;
    if (version < 0) {
        zku_acl_ids ids;
        zku_acl acl;
        rc = ctl_ids(c, a->app, &ids);
        if (rc == ZOK)
            rc = zku_create_parents(c->zh, c->root, parent, true, &ids);
        if (rc == ZOK && zku_acl_for_path(c->root, ppath, &ids, &acl, err, sizeof err) != WH_OK) {
            fprintf(stderr, "wormhole-ctl: %s (give --publisher-id)\n", err);
            free(node);
            return CTL_EXIT_USAGE;
        }
        if (rc == ZOK)
            rc = zoo_create(c->zh, ppath, node, (int)strlen(node), zku_acl_vector(&acl), 0, NULL,
                            0);
    } else {
        rc = zoo_set(c->zh, ppath, node, (int)strlen(node), version);
    }
    free(node);
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: writing %s: %s%s\n", ppath, zerror(rc),
                rc == ZBADVERSION ? " (written meanwhile; try again)" : "");
        return CTL_EXIT_ERROR;
    }
    zoo_delete(c->zh, fpath, -1);
    const char *to = a->to == CTL_TO_OLDEST ? "the oldest position in the log"
                   : phys[0] ? phys : logi;
    if (a->json)
        printf("{\"app\":\"%s\",\"reset\":true,\"shard\":\"%s\"}\n", a->app, a->shard);
    else
        printf("reset %s of shard %s to %s\n", a->app, a->shard, to);
    return CTL_EXIT_OK;
}

/* ---- access control (docs/ZOOKEEPER.md, "Access control") ------------------------------- */

/* The ACL of path's kind as stored, matched against the table: fills ids
 * from it (ZNONODE, or ZOK and ids->enabled false when it does not match). */
static int acl_ids_of(ctl *c, const char *path, zku_acl_ids *ids)
{
    struct ACL_vector acl = { 0, NULL };
    struct Stat st;
    memset(ids, 0, sizeof *ids);
    int rc = zoo_get_acl(c->zh, path, &acl, &st);
    if (rc != ZOK)
        return rc;
    zku_acl_match(zku_node_kind_of(c->root, path), &acl, ids);
    deallocate_ACL_vector(&acl);
    return ZOK;
}

/* The ids nodes created for app (NULL: none) get: with authentication on,
 * the publishers' from --publisher-id, else from the ACL of ROOT/shards (init)
 * or of the app's node; the app's from --app-id, else from its node's ACL.
 * An id found nowhere stays "": building an ACL that needs it fails then. */
static int ctl_ids(ctl *c, const char *app, zku_acl_ids *ids)
{
    char path[ZKU_PATH_MAX];
    zku_acl_ids from;
    memset(ids, 0, sizeof *ids);
    ids->enabled = zku_auth_on(&c->auth);
    if (!ids->enabled)
        return ZOK;
    if (app && zku_path_app(path, sizeof path, c->root, app) == WH_OK &&
        acl_ids_of(c, path, &from) == ZOK && from.enabled)
        *ids = from;
    if (!ids->publisher[0] && snprintf(path, sizeof path, "%s/shards", c->root) < (int)sizeof path &&
        acl_ids_of(c, path, &from) == ZOK && from.enabled)
        snprintf(ids->publisher, sizeof ids->publisher, "%s", from.publisher);
    if (c->a->publisher_id)
        snprintf(ids->publisher, sizeof ids->publisher, "%s", c->a->publisher_id);
    if (c->a->app_id)
        snprintf(ids->app, sizeof ids->app, "%s", c->a->app_id);
    ids->enabled = true;
    return ZOK;
}

/* Creates path if missing, else sets its ACL to its kind's; then (deep) the
 * same for its children, except instance nodes (their instances set their
 * own on registering). Returns a ZooKeeper code; err says which node. */
static int apply_acl(ctl *c, const char *path, const zku_acl_ids *ids, bool deep, char *err,
                     size_t errlen)
{
    zku_acl acl;
    zku_node_kind kind = zku_node_kind_of(c->root, path);
    if (kind == ZKU_NODE_INSTANCE)
        return ZOK;
    if (zku_acl_for(kind, ids, &acl, err, errlen) != WH_OK)
        return ZBADARGUMENTS;
    int rc = zoo_create(c->zh, path, NULL, -1, zku_acl_vector(&acl), 0, NULL, 0);
    if (rc == ZNODEEXISTS)
        rc = zoo_set_acl(c->zh, path, -1, zku_acl_vector(&acl));
    if (rc != ZOK) {
        snprintf(err, errlen, "%s: %s", path, zerror(rc));
        return rc;
    }
    struct String_vector v = { 0, NULL };
    if (deep && (rc = children(c, path, &v)) != ZOK) {
        snprintf(err, errlen, "%s: %s", path, zerror(rc));
        return rc;
    }
    for (int i = 0; deep && rc == ZOK && i < v.count; i++) {
        char sub[ZKU_PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, v.data[i]) >= (int)sizeof sub)
            continue;
        rc = apply_acl(c, sub, ids, true, err, errlen);
    }
    deallocate_String_vector(&v);
    return rc;
}

static int cmd_init(ctl *c)
{
    char path[ZKU_PATH_MAX], err[512] = "";
    zku_acl_ids ids;
    int rc = ctl_ids(c, NULL, &ids);
    /* ROOT's ancestors, ROOT, apps (its apps are add-app's), shards and below. */
    if (rc == ZOK)
        rc = zku_create_parents(c->zh, c->root, c->root, false, &ids);
    if (rc == ZOK)
        rc = apply_acl(c, c->root, &ids, false, err, sizeof err);
    if (rc == ZOK && zku_path_apps(path, sizeof path, c->root) == WH_OK)
        rc = apply_acl(c, path, &ids, false, err, sizeof err);
    if (rc == ZOK && snprintf(path, sizeof path, "%s/shards", c->root) < (int)sizeof path)
        rc = apply_acl(c, path, &ids, true, err, sizeof err);
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: init: %s\n", err[0] ? err : zerror(rc));
        return rc == ZBADARGUMENTS ? CTL_EXIT_USAGE : CTL_EXIT_ERROR;
    }
    printf(c->a->json ? "{\"init\":true,\"root\":\"%s\"}\n" : "initialised %s\n", c->root);
    return CTL_EXIT_OK;
}

static int cmd_add_app(ctl *c)
{
    char path[ZKU_PATH_MAX], err[ZKU_PATH_MAX + 256] = "";
    zku_acl_ids ids;
    int rc = ctl_ids(c, c->a->app, &ids);
    if (rc == ZOK && zku_path_app(path, sizeof path, c->root, c->a->app) != WH_OK)
        rc = ZBADARGUMENTS;
    char apps[ZKU_PATH_MAX];
    if (rc == ZOK && zku_path_apps(apps, sizeof apps, c->root) == WH_OK &&
        (rc = zoo_exists(c->zh, apps, 0, NULL)) == ZNONODE)
        snprintf(err, sizeof err, "%s does not exist: run wormhole-ctl init first", apps);
    if (rc == ZOK)
        rc = apply_acl(c, path, &ids, true, err, sizeof err);
    if (rc == ZOK && zku_path_instances(path, sizeof path, c->root, c->a->app) == WH_OK)
        rc = apply_acl(c, path, &ids, false, err, sizeof err);
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: add-app %s: %s\n", c->a->app, err[0] ? err : zerror(rc));
        return rc == ZBADARGUMENTS ? CTL_EXIT_USAGE : CTL_EXIT_ERROR;
    }
    printf(c->a->json ? "{\"app\":\"%s\",\"added\":true}\n" : "added app %s\n", c->a->app);
    return CTL_EXIT_OK;
}

/* Deletes path and everything under it. */
static int delete_tree(ctl *c, const char *path)
{
    struct String_vector v;
    int rc = children(c, path, &v);
    for (int i = 0; rc == ZOK && i < v.count; i++) {
        char sub[ZKU_PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, v.data[i]) >= (int)sizeof sub)
            rc = ZBADARGUMENTS;
        else
            rc = delete_tree(c, sub);
    }
    deallocate_String_vector(&v);
    if (rc != ZOK)
        return rc;
    rc = zoo_delete(c->zh, path, -1);
    return rc == ZNONODE ? ZOK : rc;
}

static int remove_app(ctl *c, const char *app, bool force)
{
    char path[ZKU_PATH_MAX];
    struct String_vector v;
    zku_path_instances(path, sizeof path, c->root, app);
    if (children(c, path, &v) != ZOK)
        return CTL_EXIT_ERROR;
    int n = v.count;
    deallocate_String_vector(&v);
    if (n > 0 && !force) {
        fprintf(stderr, "wormhole-ctl: refusing to remove %s: %d instance%s registered; stop "
                "them or use --force\n", app, n, n == 1 ? " is" : "s are");
        return CTL_EXIT_REFUSED;
    }
    zku_path_app(path, sizeof path, c->root, app);
    int rc = delete_tree(c, path);
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: removing %s: %s\n", path, zerror(rc));
        return CTL_EXIT_ERROR;
    }
    return CTL_EXIT_OK;
}

static int cmd_remove(ctl *c)
{
    struct Stat st;
    char path[ZKU_PATH_MAX];
    zku_path_app(path, sizeof path, c->root, c->a->app);
    if (zoo_exists(c->zh, path, 0, &st) != ZOK) {
        fprintf(stderr, "wormhole-ctl: app %s: no such app\n", c->a->app);
        return CTL_EXIT_ERROR;
    }
    int rc = remove_app(c, c->a->app, c->a->force);
    if (rc == CTL_EXIT_OK && !c->a->json)
        printf("removed %s\n", c->a->app);
    else if (rc == CTL_EXIT_OK)
        printf("{\"app\":\"%s\",\"removed\":true}\n", c->a->app);
    return rc;
}

/* gc: apps without instances whose positions (or app node) were last
 * written more than --older-than ago. */
static int cmd_gc(ctl *c)
{
    char path[ZKU_PATH_MAX];
    struct String_vector apps;
    zku_path_apps(path, sizeof path, c->root);
    if (children(c, path, &apps) != ZOK)
        return CTL_EXIT_ERROR;
    int64_t now = wh_wall_ms(), limit = c->a->older_than_s * 1000;
    int status = CTL_EXIT_OK;
    json_t *removed = json_array();
    for (int i = 0; i < apps.count; i++) {
        const char *app = apps.data[i];
        struct String_vector v;
        struct Stat st;
        zku_path_instances(path, sizeof path, c->root, app);
        if (children(c, path, &v) != ZOK)
            continue;
        int ninst = v.count;
        deallocate_String_vector(&v);
        if (ninst > 0)
            continue;
        int64_t newest = 0;
        zku_path_app(path, sizeof path, c->root, app);
        if (zoo_exists(c->zh, path, 0, &st) == ZOK)
            newest = st.mtime > st.ctime ? st.mtime : st.ctime;
        zku_path_positions(path, sizeof path, c->root, app);
        if (children(c, path, &v) != ZOK)
            continue;
        for (int k = 0; k < v.count; k++) {
            char pp[ZKU_PATH_MAX];
            zku_path_position(pp, sizeof pp, c->root, app, v.data[k]);
            if (zoo_exists(c->zh, pp, 0, &st) == ZOK && st.mtime > newest)
                newest = st.mtime;
        }
        deallocate_String_vector(&v);
        if (now - newest <= limit)
            continue;
        int rc = remove_app(c, app, false);
        if (rc == CTL_EXIT_OK)
            json_array_append_new(removed, json_string(app));
        else
            status = rc;
    }
    deallocate_String_vector(&apps);
    if (c->a->json) {
        json_t *doc = json_pack("{s:o}", "removed", removed);
        char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(doc);
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(removed, i, v)
            printf("removed %s\n", json_string_value(v));
        json_decref(removed);
    }
    return status;
}

static int cmd_policy(ctl *c)
{
    char path[ZKU_PATH_MAX], err[256], *node = NULL;
    zku_app_settings st = { 0 };
    zku_on_purged_parse(c->a->on_purged, &st.on_purged_oldest);
    zku_path_app(path, sizeof path, c->root, c->a->app);
    /* Under authentication the parents take the table's ACLs (the app
     * node's gives the app rw, so its instances can record the filter). */
    zku_acl_ids ids;
    int rc = ctl_ids(c, c->a->app, &ids);
    if (rc == ZOK)
        rc = zku_create_parents(c->zh, c->root, path, true, &ids);
    /* The node also holds the app's filter (docs/ZOOKEEPER.md): change only
     * on_purged, conditional on the version read, so that a subscriber
     * registering meanwhile is not overwritten. */
    if (rc == ZOK)
        rc = ZBADVERSION;
    for (int attempt = 0; attempt < 20 && rc == ZBADVERSION; attempt++) {
        char *data = NULL;
        struct Stat stat;
        err[0] = '\0';
        rc = get_node(c, path, ZKU_APP_MAX, &data, &stat, err, sizeof err);
        if (rc != ZOK) {
            if (err[0]) {
                fprintf(stderr, "wormhole-ctl: %s\n", err);
                free(node);
                return CTL_EXIT_ERROR;
            }
            break;
        }
        free(node);
        node = NULL;
        int jrc = zku_app_settings_to_json(data, strlen(data), &st, &node, err, sizeof err);
        free(data);
        if (jrc != WH_OK) {
            fprintf(stderr, "wormhole-ctl: %s\n", err);
            return CTL_EXIT_ERROR;
        }
        rc = zoo_set(c->zh, path, node, (int)strlen(node), stat.version);
    }
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: writing %s: %s\n", path, zerror(rc));
        free(node);
        return CTL_EXIT_ERROR;
    }
    printf(c->a->json ? "%s\n" : "app %s: %s\n", c->a->json ? node : c->a->app, node);
    free(node);
    return CTL_EXIT_OK;
}

/* The lease holder of shard (holder "" when vacant). */
static int lease_holder(ctl *c, const char *path, zku_lease *l)
{
    char *data, err[256];
    struct Stat st;
    memset(l, 0, sizeof *l);
    int rc = get_node(c, path, ZKU_ROLE_MAX, &data, &st, err, sizeof err);
    if (rc == ZNONODE)
        return ZOK;
    if (rc != ZOK)
        return rc;
    if (zku_lease_from_json(data, strlen(data), l, err, sizeof err) != WH_OK)
        fprintf(stderr, "wormhole-ctl: %s: %s\n", path, err);
    free(data);
    return ZOK;
}

/* Whether candidate id of shard is registered and healthy (why says otherwise). */
static bool candidate_healthy(ctl *c, const char *shard, const char *id, char *why, size_t len)
{
    char path[ZKU_PATH_MAX], *data, err[256];
    struct Stat st;
    zku_candidate cd;
    if (zku_path_candidate(path, sizeof path, c->root, shard, id) != WH_OK ||
        get_node(c, path, ZKU_ROLE_MAX, &data, &st, err, sizeof err) != ZOK) {
        snprintf(why, len, "%s is not a registered candidate of shard %s", id, shard);
        return false;
    }
    int rc = zku_candidate_from_json(data, strlen(data), &cd, err, sizeof err);
    free(data);
    if (rc != WH_OK || !cd.healthy) {
        snprintf(why, len, "candidate %s of shard %s is not healthy: %s", id, shard,
                 rc != WH_OK ? err : cd.reason);
        return false;
    }
    return true;
}

static int cmd_move(ctl *c)
{
    const char *shard = c->a->shard, *to = c->a->move_to ? c->a->move_to : "";
    char lpath[ZKU_PATH_MAX], mpath[ZKU_PATH_MAX], why[1024], err[256], *node;
    zku_lease l;
    zku_path_lease(lpath, sizeof lpath, c->root, shard);
    zku_path_move(mpath, sizeof mpath, c->root, shard);
    int rc = lease_holder(c, lpath, &l);
    if (rc != ZOK || !l.id[0]) {
        fprintf(stderr, "wormhole-ctl: shard %s has no active publisher%s%s\n", shard,
                rc != ZOK ? ": " : "", rc != ZOK ? zerror(rc) : "");
        return CTL_EXIT_ERROR;
    }
    if (*to && strcmp(to, l.id) == 0) {
        printf("shard %s: %s is already active\n", shard, to);
        return CTL_EXIT_OK;
    }
    if (*to && !candidate_healthy(c, shard, to, why, sizeof why)) {
        fprintf(stderr, "wormhole-ctl: refused: %s\n", why);
        return CTL_EXIT_REFUSED;
    }
    zku_move m;
    memset(&m, 0, sizeof m);
    snprintf(m.from, sizeof m.from, "%s", l.id);
    snprintf(m.to, sizeof m.to, "%s", to);
    snprintf(m.by, sizeof m.by, "ctl");
    if (zku_move_to_json(&m, &node, err, sizeof err) != WH_OK) {
        fprintf(stderr, "wormhole-ctl: %s\n", err);
        return CTL_EXIT_ERROR;
    }
    zku_acl_ids ids;
    zku_acl acl;
    rc = ctl_ids(c, NULL, &ids);
    if (rc == ZOK && zku_acl_for_path(c->root, mpath, &ids, &acl, err, sizeof err) != WH_OK) {
        fprintf(stderr, "wormhole-ctl: %s (give --publisher-id)\n", err);
        free(node);
        return CTL_EXIT_USAGE;
    }
    if (rc == ZOK)
        rc = zoo_create(c->zh, mpath, node, (int)strlen(node), zku_acl_vector(&acl), 0, NULL, 0);
    free(node);
    if (rc == ZNODEEXISTS) {
        fprintf(stderr, "wormhole-ctl: refused: a move of shard %s is pending (%s)\n", shard,
                mpath);
        return CTL_EXIT_REFUSED;
    }
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: writing %s: %s\n", mpath, zerror(rc));
        return CTL_EXIT_ERROR;
    }
    int64_t deadline = wh_mono_ms() + c->a->timeout_ms;
    zku_lease now;
    while (wh_mono_ms() < deadline) {
        if (lease_holder(c, lpath, &now) == ZOK && now.id[0] && strcmp(now.id, l.id) != 0 &&
            (!*to || strcmp(now.id, to) == 0)) {
            printf("shard %s moved from %s to %s\n", shard, l.id, now.id);
            return CTL_EXIT_OK;
        }
        nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
    }
    zoo_delete(c->zh, mpath, -1);
    fprintf(stderr, "wormhole-ctl: shard %s did not move from %s within %" PRId64 " ms (the "
            "request is withdrawn; see the publishers' logs)\n", shard, l.id, c->a->timeout_ms);
    return CTL_EXIT_ERROR;
}

static int cmd_bootstrap(ctl *c)
{
    char err[512], *list = strdup(c->a->tables);
    const char *tables[ZKU_BOOT_TABLES];
    uint32_t n = 0;
    for (char *save = NULL, *t = list ? strtok_r(list, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        if (n == ZKU_BOOT_TABLES) {
            fprintf(stderr, "wormhole-ctl: at most %d tables in one bootstrap\n",
                    ZKU_BOOT_TABLES);
            free(list);
            return CTL_EXIT_USAGE;
        }
        tables[n++] = t;
    }
    zku_acl_ids ids;
    zku_boot_node bn;
    int rc = ctl_ids(c, c->a->app, &ids);
    if (rc != ZOK) {
        free(list);
        fprintf(stderr, "wormhole-ctl: reading the ACL ids of app %s: %s\n", c->a->app,
                zerror(rc));
        return CTL_EXIT_ERROR;
    }
    /* The same node as the library's bootstrap option writes (protocol/zk_bootstrap.h). */
    int mk = zku_boot_node_make(c->root, c->a->app, c->a->boot_id, tables, n, &ids, &bn, err,
                                sizeof err);
    free(list);
    /* Without the ids the ACL needs, an existing node can still be rewritten. */
    if (mk != WH_OK && mk != WH_ERR_CONFIG) {
        fprintf(stderr, "wormhole-ctl: %s\n", err);
        zku_boot_node_free(&bn);
        return CTL_EXIT_USAGE;
    }
    rc = zku_create_parents(c->zh, c->root, bn.path, false, &ids);
    if (rc == ZOK)
        rc = zoo_set(c->zh, bn.path, bn.data, (int)strlen(bn.data), -1);
    if (rc == ZNONODE && mk == WH_ERR_CONFIG) {
        fprintf(stderr, "wormhole-ctl: %s (give --publisher-id and --app-id)\n", err);
        zku_boot_node_free(&bn);
        return CTL_EXIT_USAGE;
    }
    if (rc == ZNONODE)
        rc = zoo_create(c->zh, bn.path, bn.data, (int)strlen(bn.data), zku_acl_vector(&bn.acl),
                        0, NULL, 0);
    if (rc != ZOK) {
        fprintf(stderr, "wormhole-ctl: writing %s: %s\n", bn.path, zerror(rc));
        zku_boot_node_free(&bn);
        return CTL_EXIT_ERROR;
    }
    printf(c->a->json ? "%s\n" : "app %s: bootstrap requested: %s\n",
           c->a->json ? bn.data : c->a->app, bn.data);
    zku_boot_node_free(&bn);
    return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    ctl_args a;
    char err[512];
    if (ctl_args_parse(&a, argc, argv, err, sizeof err) != WH_OK) {
        fprintf(stderr, "wormhole-ctl: %s (see --help)\n", err);
        return CTL_EXIT_USAGE;
    }
    if (a.cmd == CTL_HELP) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    ctl c = { .a = &a };
    int status = ctl_connect(&c);
    if (status == CTL_EXIT_OK) {
        switch (a.cmd) {
        case CTL_APPS:   status = cmd_apps(&c); break;
        case CTL_APP:    status = cmd_app(&c); break;
        case CTL_RESET:  status = cmd_reset(&c); break;
        case CTL_REMOVE: status = cmd_remove(&c); break;
        case CTL_GC:     status = cmd_gc(&c); break;
        case CTL_POLICY: status = cmd_policy(&c); break;
        case CTL_MOVE:   status = cmd_move(&c); break;
        case CTL_INIT:   status = cmd_init(&c); break;
        case CTL_ADD_APP: status = cmd_add_app(&c); break;
        case CTL_BOOTSTRAP: status = cmd_bootstrap(&c); break;
        default:         status = CTL_EXIT_USAGE; break;
        }
    }
    if (c.zh)
        zookeeper_close(c.zh);
    zku_auth_clear(&c.auth);
    return status;
}

/* pub_zk.c -- the publisher's ZooKeeper agent: session, registration, watches, positions.
 *
 * Runs on its own thread with the synchronous client API, so that a slow or
 * absent ZooKeeper never stalls delivery: the loop only exchanges snapshots
 * with it under z->mu. Layout and fencing rules: docs/ZOOKEEPER.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "protocol/zk_bootstrap.h"
#include "protocol/zk_client.h"
#include "protocol/zk_layout.h"
#include "publisher/pub.h"

#include "publisher/pub_health.h"
#include "publisher/pub_lease.h"
#include "publisher/pub_zk_int.h"

/* ---- helpers --------------------------------------------------------------------- */

static void zk_set_fatal(pub_zk *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void zk_set_fatal(pub_zk *z, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&z->mu);
    vsnprintf(z->fatal, sizeof z->fatal, fmt, ap);
    z->has_fatal = true;
    pthread_mutex_unlock(&z->mu);
    va_end(ap);
    pub_wake(z->pub);
}

static zk_pos *pos_entry(pub_zk *z, const char *app)
{
    for (int i = 0; i < z->npos; i++)
        if (strcmp(z->pos[i].app, app) == 0)
            return &z->pos[i];
    if (z->npos == z->cappos) {
        int cap = z->cappos ? z->cappos * 2 : 16;
        zk_pos *p = realloc(z->pos, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        z->pos = p;
        z->cappos = cap;
    }
    zk_pos *e = &z->pos[z->npos];
    memset(e, 0, sizeof *e);
    e->app = strdup(app);
    if (!e->app)
        return NULL;
    e->version = -2;
    z->npos++;
    return e;
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pub_zk *z = ctx;
    (void)zh;
    pthread_mutex_lock(&z->mu);
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_EXPIRED_SESSION_STATE)
            z->expired = true;
        if (state == ZOO_CONNECTED_STATE)
            z->dirty = true;   /* watches may have been missed while away */
        z->other_event = true;
    } else {
        z->dirty = true;
        /* The lease deleted, the candidates changed, or anything else: what a
         * quick takeover may rely on (pub_zk_lease_step). */
        if (type == ZOO_DELETED_EVENT && path && strcmp(path, pub_lease_path(z->lease)) == 0)
            z->vacated = true;
        else if (path && strcmp(path, pub_lease_cands_path(z->lease)) == 0)
            z->cands_event = true;
        else
            z->other_event = true;
    }
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
}

/* ---- authentication and ACLs (docs/ZOOKEEPER.md, "Access control") ------------------- */

/* Completion thread: the server's answer to our credential, or the loss
 * of the connection before it (ZCONNECTIONLOSS, ZCLOSING: the client calls
 * an auth completion once, and sends the credential again first thing on
 * every reconnect, ahead of any queued request). Only ZAUTHFAILED is a
 * refusal. */
static void auth_done(int rc, const void *data)
{
    pub_zk *z = (pub_zk *)data;
    if (rc == ZAUTHFAILED) {
        zk_set_fatal(z, "ZooKeeper %s refused the authentication of user %s: %s",
                     z->pub->cfg.zk_connect, z->auth.user, zerror(rc));
        return;
    }
    pthread_mutex_lock(&z->mu);
    z->auth_answered = true;
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
}

/* After zookeeper_init: a new handle has no credential yet. */
static void zk_auth_reset(pub_zk *z)
{
    pthread_mutex_lock(&z->mu);
    z->auth_answered = !zku_auth_on(&z->auth);
    pthread_mutex_unlock(&z->mu);
    z->auth_added = !zku_auth_on(&z->auth);
}

/* Queues our credential on the handle, once. The client refuses it
 * (ZINVALIDSTATE) while its state is 0, which it is between two connection
 * attempts: then it is tried again on the next turn of the loop. Nothing is
 * requested before it is queued (zk_main's "up"). */
static void zk_authenticate(pub_zk *z)
{
    if (z->auth_added || !z->zh)
        return;
    int rc = zku_auth_add(z->zh, &z->auth, auth_done, z);
    if (rc == ZOK)
        z->auth_added = true;
    else if (rc != ZINVALIDSTATE)
        zk_set_fatal(z, "ZooKeeper %s: cannot send the credential of user %s: %s",
                     z->pub->cfg.zk_connect, z->auth.user, zerror(rc));
}

/* Counts one write to ZooKeeper (publisher.zk_writes, the status file). */
static void zk_count_write(pub_zk *z)
{
    atomic_fetch_add_explicit(&z->pub->zk_writes, 1, memory_order_relaxed);
}

/* Creates path (a node of the layout) with data and the ACL of its kind. */
static int zk_create(pub_zk *z, const char *path, const char *data, int mode)
{
    zk_count_write(z);
    return zku_create(z->zh, z->pub->cfg.zk_root, path, data, mode, &z->ids);
}

/* The fatal sentence for NOAUTH on path while registering. */
static void zk_noauth_fatal(pub_zk *z, const char *what)
{
    const pub_config *cfg = &z->pub->cfg;
    if (zku_auth_on(&z->auth))
        zk_set_fatal(z, "ZooKeeper %s refused %s to user %s (NOAUTH): the password in %s is "
                     "wrong, or the layout under %s was not set up for this identity "
                     "(wormhole-ctl init, docs/ZOOKEEPER.md \"Access control\")",
                     cfg->zk_connect, what, z->auth.user, cfg->zk_secret_file, cfg->zk_root);
    else
        zk_set_fatal(z, "ZooKeeper %s refused %s (NOAUTH): the nodes under %s carry ACLs; set "
                     "zookeeper.user and zookeeper.secret_file (docs/ZOOKEEPER.md)",
                     cfg->zk_connect, what, cfg->zk_root);
}

/* ---- position nodes: wh_pos <-> the node's data (protocol/zk_layout.h) ---------------- */

/* The path of app's position node for our shard; ZBADARGUMENTS when it
 * does not fit (an app name that long is ignored, see app_fits). */
static int pos_path(pub_zk *z, const char *app, char *buf, size_t len)
{
    return zku_path_position(buf, len, z->pub->cfg.zk_root, app, z->pub->cfg.shard) == WH_OK
               ? ZOK : ZBADARGUMENTS;
}

/* True if every path of app fits a buffer; apps that do not are skipped. */
static bool app_fits(pub_zk *z, const char *app)
{
    char path[ZKU_PATH_MAX];
    return pos_path(z, app, path, sizeof path) == ZOK;
}

/* The data of a position node holding p with epoch (malloc'd), or NULL; with
 * start, marked as a start not yet delivered; else with event_ms, the log's
 * event time at p (0 unknown: left out). */
static char *pos_to_node(pub_zk *z, const wh_pos *p, bool start, uint64_t epoch,
                         int64_t event_ms)
{
    char phys[ZKU_POS_TEXT_MAX], logi[ZKU_POS_TEXT_MAX], err[256], *data;
    wh_pos_format_physical(p, phys, sizeof phys);
    wh_pos_format_logical(p, logi, sizeof logi);
    if ((start ? zku_position_start_to_json : zku_position_to_json)(phys, logi, z->pub->copy_id,
                                                                    epoch, z->id, &data, err,
                                                                    sizeof err) != WH_OK ||
        (!start && zku_position_add_event_ms(&data, event_ms, err, sizeof err) != WH_OK)) {
        wh_warn(WH_AREA_ZK, "%s", err);
        return NULL;
    }
    return data;
}

/* Parses a position node's data into out (unset when the node holds
 * neither part), whether it is a start (NULL: not asked), its epoch and its
 * event time (NULL: not asked; 0 unknown), keeping of the position what this copy may
 * use (wh_mapper_localize: another copy's physical part is dropped).
 * Returns 0, WH_ERR_PARSE, or WH_ERR_INVALID for another copy's position
 * without a logical part (errbuf says why; *epoch is set for both). */
static int pos_from_node(pub_zk *z, const char *data, size_t len, wh_pos *out, bool *start,
                         uint64_t *epoch, int64_t *event_ms, char *errbuf, size_t errlen)
{
    zku_position zp;
    wh_pos stored;
    memset(out, 0, sizeof *out);
    *epoch = 0;
    int rc = zku_position_from_json(data, len, &zp, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    *epoch = zp.epoch;
    if (start)
        *start = zp.start;
    if (event_ms)
        *event_ms = zp.event_ms;
    if (!zp.physical[0] && !zp.logical[0])
        return WH_OK;
    rc = wh_pos_parse(&stored, zp.physical[0] ? zp.physical : NULL,
                      zp.logical[0] ? zp.logical : NULL, errbuf, errlen);
    if (rc == WH_OK)
        rc = wh_mapper_localize(&stored, zp.copy, z->pub->copy_id, out, errbuf, errlen);
    if (rc == WH_OK && stored.has_log_name && !out->has_log_name)
        wh_debug(WH_AREA_ZK, "position %s of copy \"%s\": seeking by its logical part %s",
                 zp.physical, zp.copy, zp.logical);
    return rc;
}

/* The sentence for a position node larger than any the publisher writes
 * (another writer's): read cut short, it would be reported as garbage. */
static const char *pos_too_large(const struct Stat *st, char *buf, size_t len)
{
    snprintf(buf, len, "its data has %d bytes, more than the limit of %d of a position node "
             "(docs/ZOOKEEPER.md)", (int)st->dataLength, ZKU_POSITION_MAX - 1);
    return buf;
}

/* Creates parent (an app's positions/ or failures/ node) if it is missing,
 * but only while the app's own node exists: a publisher never brings back an
 * app that an operator removed (wormhole-ctl remove) while one of its
 * positions or failures was still pending here. Returns ZOK (parent exists
 * now) or ZNONODE (the app is gone), or another ZooKeeper code. */
static int app_child_parent(pub_zk *z, const char *app, const char *parent)
{
    char apath[ZKU_PATH_MAX];
    if (zku_path_app(apath, sizeof apath, z->pub->cfg.zk_root, app) != WH_OK)
        return ZBADARGUMENTS;
    int rc = zoo_exists(z->zh, apath, 0, NULL);
    if (rc != ZOK)
        return rc;
    rc = zoo_exists(z->zh, parent, 0, NULL);
    if (rc == ZNONODE)
        rc = zk_create(z, parent, NULL, 0);
    return rc == ZNODEEXISTS ? ZOK : rc;
}

/* ---- registration -------------------------------------------------------------------- */

/* Writes epoch into app's position node before the epoch node moves (see
 * bump_epoch): the same position, or a placeholder without one where the app
 * has none yet, conditional on the version read, retried when the old
 * publisher wrote in between. Records the claimed position as known. Returns
 * ZOK, ZBADVERSION when a newer claim than epoch is there (start over), or
 * the ZooKeeper error. */
static int claim_position(pub_zk *z, const char *app, uint64_t epoch)
{
    char path[ZKU_PATH_MAX], parent[ZKU_PATH_MAX], buf[ZKU_POSITION_MAX], err[512];
    if (pos_path(z, app, path, sizeof path) != ZOK ||
        zku_path_positions(parent, sizeof parent, z->pub->cfg.zk_root, app) != WH_OK)
        return ZBADARGUMENTS;
    for (int attempt = 0; attempt < 50; attempt++) {
        struct Stat st;
        int len = sizeof buf - 1, rc;
        wh_pos pos;
        bool start = false;   /* a start stays one: it was not delivered */
        uint64_t pe = 0;
        int64_t event_ms = 0;   /* the claim keeps the node's event time */
        memset(&pos, 0, sizeof pos);
        rc = zoo_get(z->zh, path, 0, buf, &len, &st);
        if (rc == ZNONODE) {
            st.version = -1;
        } else if (rc != ZOK) {
            return rc;
        } else if (st.dataLength > len) {
            zk_set_fatal(z, "ZooKeeper node %s: %s", path, pos_too_large(&st, err, sizeof err));
            return ZOK;
        } else if (len > 0 && pos_from_node(z, buf, (size_t)len, &pos, &start, &pe, &event_ms,
                                            err, sizeof err) != WH_OK) {
            zk_set_fatal(z, "ZooKeeper node %s: %s", path, err);
            return ZOK;
        }
        if (pe >= epoch)
            return ZBADVERSION;
        char *data = pos_to_node(z, &pos, start, epoch, event_ms);
        if (!data)
            return ZSYSTEMERROR;
        int version = 0;
        if (st.version == -1) {
            rc = app_child_parent(z, app, parent);
            if (rc == ZOK)
                rc = zk_create(z, path, data, 0);
        } else {
            struct Stat nst;
            zk_count_write(z);
            rc = zoo_set2(z->zh, path, data, (int)strlen(data), st.version, &nst);
            if (rc == ZOK)
                version = nst.version;
        }
        free(data);
        if (rc == ZNONODE && st.version == -1)
            return ZOK; /* the app was removed since it was listed: nothing to claim */
        if (rc == ZBADVERSION || rc == ZNODEEXISTS)
            continue;   /* the old publisher wrote meanwhile: claim its newer position */
        if (rc != ZOK)
            return rc;
        pthread_mutex_lock(&z->mu);
        zk_pos *e = pos_entry(z, app);
        if (e) {
            e->pos = pos;
            e->event_ms = event_ms;
            e->start = start;
            e->known = true;
            e->version = version;
            e->written_gen = e->gen;
        }
        pthread_mutex_unlock(&z->mu);
        return ZOK;
    }
    return ZSYSTEMERROR;
}

/* Takes the shard with a new epoch, above the epoch node's value and above
 * any epoch in the shard's position nodes (a claim of a takeover that did
 * not finish). The new epoch goes first into every position node of the shard
 * (claim_position) and only then into the epoch node, by compare-and-set; a
 * concurrent takeover makes us start over. Claiming the positions first
 * fences the old publisher before the epoch moves: its next position write
 * fails on the node's version, it re-reads the node and finds a newer epoch
 * (read_position), so none of its writes lands once the epoch has moved, and
 * we start from its last recorded positions. */
static int bump_epoch(pub_zk *z)
{
    const char *path = z->epoch_path;
    char buf[ZKU_EPOCH_MAX];
    for (int attempt = 0; attempt < 100; attempt++) {
        struct Stat st;
        int len = sizeof buf - 1;
        uint64_t e = 0;
        int rc = zoo_get(z->zh, path, 0, buf, &len, &st);
        if (rc == ZNONODE)
            st.version = -1;
        else if (rc != ZOK)
            return rc;
        else
            e = zku_epoch_parse(buf, len < 0 ? 0 : (size_t)len);
        uint64_t target = e + 1;
        struct String_vector apps = { 0, NULL };
        rc = zoo_get_children(z->zh, z->apps_path, 0, &apps);
        if (rc == ZNONODE)
            rc = ZOK;      /* no app yet: nothing to claim */
        if (rc != ZOK)
            return rc;
        /* Above any epoch a position node carries. */
        for (int a = 0; a < apps.count; a++) {
            char ppath[ZKU_PATH_MAX], pbuf[ZKU_POSITION_MAX], err[512];
            int plen = sizeof pbuf - 1;
            wh_pos pos;
            uint64_t pe = 0;
            if (pos_path(z, apps.data[a], ppath, sizeof ppath) != ZOK)
                continue;   /* never assigned either (read_assignment) */
            int r = zoo_get(z->zh, ppath, 0, pbuf, &plen, NULL);
            /* Its epoch counts even when its position is not ours to use. */
            if (r == ZOK && plen > 0 &&
                (pos_from_node(z, pbuf, (size_t)plen, &pos, NULL, &pe, NULL, err, sizeof err),
                 pe >= target))
                target = pe + 1;
            else if (r != ZOK && r != ZNONODE)
                rc = r;
        }
        for (int a = 0; a < apps.count && rc == ZOK && !z->has_fatal; a++)
            if (app_fits(z, apps.data[a]))
                rc = claim_position(z, apps.data[a], target);
        deallocate_String_vector(&apps);
        if (z->has_fatal)
            return ZOK;
        if (rc == ZBADVERSION)
            continue;      /* a newer claim appeared: another publisher is taking over */
        if (rc != ZOK)
            return rc;
        zku_epoch_format(buf, sizeof buf, target);
        if (st.version == -1)
            rc = zk_create(z, path, buf, 0);
        else {
            zk_count_write(z);
            rc = zoo_set(z->zh, path, buf, (int)strlen(buf), st.version);
        }
        if (rc == ZOK) {
            z->epoch = target;
            return ZOK;
        }
        if (rc != ZBADVERSION && rc != ZNODEEXISTS)
            return rc;
    }
    return ZSYSTEMERROR;
}

/* Reads the current epoch; returns ZOK and *e. With watch, leaves a watch
 * on the node (the watcher marks us dirty). */
static int read_epoch(pub_zk *z, uint64_t *e, bool watch)
{
    char buf[ZKU_EPOCH_MAX];
    struct Stat st;
    int len = sizeof buf - 1;
    int rc = watch ? zoo_wget(z->zh, z->epoch_path, watcher, z, buf, &len, &st)
                   : zoo_get(z->zh, z->epoch_path, 0, buf, &len, NULL);
    if (rc != ZOK)
        return rc;
    *e = zku_epoch_parse(buf, len < 0 ? 0 : (size_t)len);
    return ZOK;
}

/* Fences us if the shard's epoch is no longer ours (a newer publisher took
 * the shard); watch re-arms the watch on the epoch node, so that a takeover
 * is noticed at once and not only at our next position write. Returns the
 * ZooKeeper error of the read, or ZOK (then check z->has_fatal). */
static int check_epoch(pub_zk *z, bool watch, const char *when)
{
    uint64_t e;
    int rc = read_epoch(z, &e, watch);
    if (rc == ZOK && e != z->epoch)
        zk_set_fatal(z, "fenced: the epoch of shard %s is now %" PRIu64 " (ours is %" PRIu64
                     "): another publisher took over the shard (noticed %s)",
                     z->pub->cfg.shard, e, z->epoch, when);
    return rc;
}

/* Our publisher node's data with epoch (malloc'd), or NULL (logged). */
static char *registration_data(pub_zk *z, uint64_t epoch)
{
    char host[128] = "", err[256], *data;
    gethostname(host, sizeof host - 1);
    if (zku_publisher_to_json(epoch, host, (long)getpid(), &data, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_ZK, "%s", err);
        return NULL;
    }
    return data;
}

static int create_registration(pub_zk *z)
{
    char *data = registration_data(z, z->epoch);
    if (!data)
        return ZSYSTEMERROR;
    int rc = zk_create(z, z->reg_path, data, ZOO_EPHEMERAL);
    if (rc == ZNODEEXISTS) {
        /* Our own node from an earlier session (or process) with this id. */
        zoo_delete(z->zh, z->reg_path, -1);
        rc = zk_create(z, z->reg_path, data, ZOO_EPHEMERAL);
    }
    free(data);
    return rc;
}

/* ---- positions -------------------------------------------------------------------------- */

/* Reads app's stored position into pos and whether it is a start (outside
 * z->mu). */
static int read_position(pub_zk *z, const char *app, wh_pos *pos, bool *start, int *version)
{
    char path[ZKU_PATH_MAX], buf[ZKU_POSITION_MAX], err[512];
    struct Stat st;
    int len = sizeof buf - 1;
    memset(pos, 0, sizeof *pos);
    *start = false;
    if (pos_path(z, app, path, sizeof path) != ZOK)
        return ZBADARGUMENTS;
    int rc = zoo_get(z->zh, path, 0, buf, &len, &st);
    if (rc == ZNONODE) {
        *version = -1;
        return ZOK;
    }
    if (rc != ZOK)
        return rc;
    if (st.dataLength > len) {
        zk_set_fatal(z, "ZooKeeper node %s: %s", path, pos_too_large(&st, err, sizeof err));
        return ZOK;
    }
    uint64_t epoch = 0;
    if (len > 0 && pos_from_node(z, buf, (size_t)len, pos, start, &epoch, NULL, err, sizeof err) !=
        WH_OK) {
        zk_set_fatal(z, "ZooKeeper node %s: %s", path, err);
        return ZOK;
    }
    if (epoch > z->epoch) {
        zk_set_fatal(z, "fenced: %s was written with epoch %" PRIu64 ", newer than ours (%"
                     PRIu64 "): another publisher owns shard %s", path, epoch, z->epoch,
                     z->pub->cfg.shard);
        return ZOK;
    }
    *version = st.version;
    return ZOK;
}

/* Writes every changed position; returns the number still pending. */
static int flush_positions(pub_zk *z)
{
    int pending = 0;
    for (int i = 0;; i++) {
        pthread_mutex_lock(&z->mu);
        if (i >= z->npos) {
            pthread_mutex_unlock(&z->mu);
            break;
        }
        zk_pos *e = &z->pos[i];
        if (z->has_fatal) {   /* fenced: write nothing more */
            pthread_mutex_unlock(&z->mu);
            break;
        }
        if (e->gen == e->written_gen || !e->pos.set) {
            pthread_mutex_unlock(&z->mu);
            continue;
        }
        char app[ZKU_PATH_MAX];   /* fits: app_fits held when the entry was made */
        snprintf(app, sizeof app, "%s", e->app);
        wh_pos pos = e->pos;
        bool start = e->start;
        int64_t event_ms = e->event_ms;
        uint64_t gen = e->gen;
        int version = e->version;
        pthread_mutex_unlock(&z->mu);

        char path[ZKU_PATH_MAX], parent[ZKU_PATH_MAX];
        char *data = pos_to_node(z, &pos, start, z->epoch, event_ms);
        if (!data || pos_path(z, app, path, sizeof path) != ZOK ||
            zku_path_positions(parent, sizeof parent, z->pub->cfg.zk_root, app) != WH_OK) {
            free(data);
            pending++;
            continue;
        }
        int rc;
        struct Stat st;
        bool cur_start;
        if (version == -2) {
            wh_pos cur;
            rc = read_position(z, app, &cur, &cur_start, &version);
            if (rc != ZOK || z->has_fatal)
                goto done;
        }
        if (version == -1) {
            rc = app_child_parent(z, app, parent);
            if (rc == ZNONODE) {
                /* The app was removed: its position is not written (and the
                 * entry counts as done, so it is not retried). */
                wh_info(WH_AREA_ZK, "app %s was removed from ZooKeeper: its position for shard "
                        "%s is dropped", app, z->pub->cfg.shard);
                rc = ZOK;
                goto done;
            }
            if (rc == ZOK)
                rc = zk_create(z, path, data, 0);
            if (rc == ZOK)
                version = 0;
            else if (rc == ZNODEEXISTS)
                version = -2;
        } else {
            zk_count_write(z);
            rc = zoo_set2(z->zh, path, data, (int)strlen(data), version, &st);
            if (rc == ZOK) {
                version = st.version;
            } else if (rc == ZBADVERSION || rc == ZNONODE) {
                /* Someone else wrote: find out whether we are fenced (a newer
                 * publisher claims the node before it takes the epoch). */
                wh_pos cur;
                int v2;
                if (read_position(z, app, &cur, &cur_start, &v2) == ZOK && !z->has_fatal)
                    version = v2;
                else
                    version = -2;
            }
        }
done:
        free(data);
        pthread_mutex_lock(&z->mu);
        e = &z->pos[i];
        e->version = version;
        if (rc == ZOK)
            e->written_gen = gen;
        if (e->gen != e->written_gen)
            pending++;
        pthread_mutex_unlock(&z->mu);
        if (rc != ZOK && rc != ZBADVERSION)
            wh_debug(WH_AREA_ZK, "writing %s: %s", path, zerror(rc));
        else if (rc == ZOK)
            wh_debug(WH_AREA_ZK, "wrote %s", path);
    }
    return pending;
}

/* ---- failed flows (docs/RUNBOOK.md "A flow failed") ---------------------------------------- */

/* Writes the failure nodes not written yet and watches the failed flows'
 * position nodes. A node left by an earlier run for the same position keeps
 * its "since". */
static void write_failures(pub_zk *z)
{
    const pub_config *cfg = &z->pub->cfg;
    for (int i = 0;; i++) {
        pthread_mutex_lock(&z->mu);
        if (i >= z->npos || z->has_fatal) {
            pthread_mutex_unlock(&z->mu);
            break;
        }
        zk_pos *e = &z->pos[i];
        if (!e->failed && e->failure_delete) {
            char app[ZKU_PATH_MAX], path[ZKU_PATH_MAX];
            snprintf(app, sizeof app, "%s", e->app);
            pthread_mutex_unlock(&z->mu);
            int rc = zku_path_failure(path, sizeof path, cfg->zk_root, app, cfg->shard) == WH_OK
                         ? zoo_delete(z->zh, path, -1) : ZOK;
            if (rc == ZOK || rc == ZNONODE) {
                pthread_mutex_lock(&z->mu);
                if (!z->pos[i].failed)
                    z->pos[i].failure_delete = false;
                pthread_mutex_unlock(&z->mu);
            }
            continue;
        }
        if (!e->failed || e->failure_written || !e->failure) {
            pthread_mutex_unlock(&z->mu);
            continue;
        }
        char app[ZKU_PATH_MAX];
        snprintf(app, sizeof app, "%s", e->app);
        zku_failure f = *e->failure;
        pthread_mutex_unlock(&z->mu);

        char path[ZKU_PATH_MAX], parent[ZKU_PATH_MAX], ppath[ZKU_PATH_MAX], buf[ZKU_FAILURE_MAX];
        char err[512], *data = NULL;
        if (zku_path_failure(path, sizeof path, cfg->zk_root, app, cfg->shard) != WH_OK ||
            zku_path_failures(parent, sizeof parent, cfg->zk_root, app) != WH_OK ||
            pos_path(z, app, ppath, sizeof ppath) != ZOK)
            continue;
        struct Stat st;
        int len = sizeof buf - 1;
        zku_failure old;
        if (zoo_get(z->zh, path, 0, buf, &len, &st) == ZOK && len > 0 &&
            st.dataLength <= len &&
            zku_failure_from_json(buf, (size_t)len, &old, err, sizeof err) == WH_OK &&
            strcmp(old.physical, f.physical) == 0 && strcmp(old.logical, f.logical) == 0 &&
            old.since_ms > 0)
            f.since_ms = old.since_ms;
        if (zku_failure_to_json(&f, &data, err, sizeof err) != WH_OK) {
            wh_warn(WH_AREA_ZK, "failure node %s: %s", path, err);
            continue;
        }
        int rc = app_child_parent(z, app, parent);
        if (rc == ZOK)
            rc = zk_create(z, path, data, 0);
        if (rc == ZNODEEXISTS) {
            zk_count_write(z);
            rc = zoo_set(z->zh, path, data, (int)strlen(data), -1);
        }
        free(data);
        if (rc == ZOK)
            rc = zoo_wexists(z->zh, ppath, watcher, z, &st);
        if (rc == ZOK || rc == ZNONODE) {
            /* A reset that landed before the watch was set fires nothing:
             * compare once now (check_reset, through a re-read). */
            pthread_mutex_lock(&z->mu);
            z->pos[i].failure_written = true;
            z->dirty = true;
            pthread_mutex_unlock(&z->mu);
        } else {
            wh_debug(WH_AREA_ZK, "writing %s: %s", path, zerror(rc));
        }
    }
}

/* ---- bootstrap nodes (protocol/zk_bootstrap.h, docs/BOOTSTRAP.md) ---------------------------- */

/* Reads a node's data into a malloc'd string (NULL when it does not exist,
 * is empty or too large: the last is logged); watched with watch. */
static char *read_small_node(pub_zk *z, const char *path, bool watch)
{
    char *buf = malloc(ZKU_BOOT_MAX);
    struct Stat st;
    int len = ZKU_BOOT_MAX - 1;
    if (!buf)
        return NULL;
    int rc = watch ? zoo_wget(z->zh, path, watcher, z, buf, &len, &st)
                   : zoo_get(z->zh, path, 0, buf, &len, &st);
    if (rc == ZNONODE && watch)   /* a watch for its creation */
        zoo_wexists(z->zh, path, watcher, z, &st);
    if (rc == ZOK && st.dataLength > len)
        wh_warn(WH_AREA_ZK, "ZooKeeper node %s has %d bytes, more than the limit of %d; "
                "ignored", path, (int)st.dataLength, ZKU_BOOT_MAX - 1);
    if (rc != ZOK || len <= 0 || st.dataLength > len) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* app's bootstrap request (watched: a new one re-reads the assignment) and
 * this shard's progress on it, the newest acknowledged one we know first. */
static void read_boot(pub_zk *z, const char *app, char **request, char **progress)
{
    const pub_config *cfg = &z->pub->cfg;
    char path[ZKU_PATH_MAX];
    *request = *progress = NULL;
    if (zku_path_bootstrap(path, sizeof path, cfg->zk_root, app) != WH_OK)
        return;
    *request = read_small_node(z, path, true);
    if (!*request)
        return;
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    if (e && e->boot)
        *progress = strdup(e->boot);
    pthread_mutex_unlock(&z->mu);
    if (!*progress && zku_path_boot_progress(path, sizeof path, cfg->zk_root, app,
                                             cfg->shard) == WH_OK)
        *progress = read_small_node(z, path, false);
}

void pub_zk_refresh_boot(pub_zk *z, pub_assign *a)
{
    if (!a->boot_request)
        return;
    free(a->boot_request);
    free(a->boot_progress);
    read_boot(z, a->app, &a->boot_request, &a->boot_progress);
}

/* Writes the bootstrap progress that changed (create or overwrite: only the
 * shard's publisher writes it, and a stale copy costs one chunk read again). */
static void flush_boot(pub_zk *z)
{
    const pub_config *cfg = &z->pub->cfg;
    for (int i = 0;; i++) {
        pthread_mutex_lock(&z->mu);
        if (i >= z->npos || z->has_fatal) {
            pthread_mutex_unlock(&z->mu);
            break;
        }
        zk_pos *e = &z->pos[i];
        if (!e->boot || e->boot_gen == e->boot_written_gen) {
            pthread_mutex_unlock(&z->mu);
            continue;
        }
        char *data = strdup(e->boot), app[ZKU_PATH_MAX], path[ZKU_PATH_MAX];
        uint64_t gen = e->boot_gen;
        snprintf(app, sizeof app, "%s", e->app);
        path[0] = '\0';
        pthread_mutex_unlock(&z->mu);
        int rc = ZBADARGUMENTS;
        if (data && zku_path_boot_progress(path, sizeof path, cfg->zk_root, app,
                                           cfg->shard) == WH_OK) {
            zk_count_write(z);
            rc = zoo_set(z->zh, path, data, (int)strlen(data), -1);
            if (rc == ZNONODE)
                rc = zk_create(z, path, data, 0);
            if (rc == ZNONODE)   /* the request was deleted: nothing to record */
                rc = ZOK;
        }
        free(data);
        pthread_mutex_lock(&z->mu);
        int was = z->pos[i].boot_failed_rc;
        z->pos[i].boot_failed_rc = rc == ZOK ? 0 : rc;
        if (rc == ZOK)
            z->pos[i].boot_written_gen = gen;
        pthread_mutex_unlock(&z->mu);   /* else the next flush tries again (the chunk waits) */
        /* The bootstrap waits while its progress cannot be written: say so once. */
        if (rc != ZOK && rc != was)
            wh_warn(WH_AREA_ZK, "app %s: writing its bootstrap progress to %s: %s; the "
                    "bootstrap waits and the write is retried", app, path, zerror(rc));
        else if (rc == ZOK && was != 0)
            wh_info(WH_AREA_ZK, "app %s: its bootstrap progress is written again", app);
        if (rc == ZOK) {
            atomic_store(&z->boot_news, true);
            pub_wake(z->pub);
        }
    }
}

uint64_t pub_zk_note_boot(pub_zk *z, const char *app, char *progress_json)
{
    uint64_t ticket = 0;
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    if (e) {
        free(e->boot);
        e->boot = progress_json;
        ticket = ++e->boot_gen;
        progress_json = NULL;
        z->boot_urgent = true;
        pthread_cond_signal(&z->cond);
    }
    pthread_mutex_unlock(&z->mu);
    free(progress_json);
    return ticket;
}

uint64_t pub_zk_boot_written(pub_zk *z, const char *app)
{
    uint64_t n = 0;
    pthread_mutex_lock(&z->mu);
    for (int i = 0; i < z->npos; i++)
        if (strcmp(z->pos[i].app, app) == 0)
            n = z->pos[i].boot_written_gen;
    pthread_mutex_unlock(&z->mu);
    return n;
}

bool pub_zk_take_boot_written(pub_zk *z)
{
    return atomic_exchange(&z->boot_news, false);
}

/* A failed flow of app: re-reads its position node (and watches it again);
 * when it no longer holds the position the flow failed at, an operator
 * reset it: the flow is revived from there (reset_gen) and its failure node
 * is deleted. */
static int check_reset(pub_zk *z, const char *app)
{
    const pub_config *cfg = &z->pub->cfg;
    char ppath[ZKU_PATH_MAX], fpath[ZKU_PATH_MAX];
    struct Stat st;
    wh_pos p;
    bool start;
    int version;
    if (pos_path(z, app, ppath, sizeof ppath) != ZOK ||
        zku_path_failure(fpath, sizeof fpath, cfg->zk_root, app, cfg->shard) != WH_OK)
        return ZBADARGUMENTS;
    int rc = read_position(z, app, &p, &start, &version);
    if (rc != ZOK || z->has_fatal)
        return rc;
    rc = zoo_wexists(z->zh, ppath, watcher, z, &st);
    if (rc != ZOK && rc != ZNONODE)
        return rc;
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    bool reset = e && e->failed && e->failure_written &&
                 (!wh_pos_equal(&e->pos, &p) || e->start != start);
    if (reset) {
        e->pos = p;
        e->start = start;
        e->known = true;
        e->version = version;
        e->failed = false;
        e->reset_gen++;
        free(e->failure);
        e->failure = NULL;
    }
    pthread_mutex_unlock(&z->mu);
    if (reset) {
        char at[800] = "the oldest position";
        if (p.set)
            wh_pos_format_physical(&p, at, sizeof at);
        wh_info(WH_AREA_ZK, "app %s: position of shard %s reset to %s; the failed flow starts "
                "again", app, cfg->shard, at);
        zoo_delete(z->zh, fpath, -1);
    }
    return ZOK;
}

/* ---- apps and instances --------------------------------------------------------------------- */

typedef struct inst {
    char *name, *endpoint, *filter_json;
    int64_t czxid;           /* the node's creation: a new one when the instance registers anew */
} inst;

/* With authentication on, the ids that app's instances folder (path)
 * grants, in *ids: *ok is false (logged) when its ACL is not the one of
 * the table (wormhole-ctl add-app), e.g. open from before authentication:
 * then anyone could have registered an instance and none of the app's is
 * trusted. Returns ZOK (ZNONODE: *ok false) or the ZooKeeper error. */
static int instances_acl(pub_zk *z, const char *app, const char *path, zku_acl_ids *ids,
                         bool *ok)
{
    struct ACL_vector acl = { 0, NULL };
    struct Stat st;
    *ok = false;
    int rc = zoo_get_acl(z->zh, path, &acl, &st);
    if (rc != ZOK)
        return rc == ZNONODE ? ZOK : rc;
    *ok = zku_acl_match(ZKU_NODE_INSTANCES, &acl, ids);
    deallocate_ACL_vector(&acl);
    if (!*ok)
        wh_warn(WH_AREA_ZK, "ignoring app %s: the ACL of %s is not the one of its app's "
                "identity (anyone may have registered its instances); set it up with "
                "wormhole-ctl add-app (docs/ZOOKEEPER.md \"Access control\")", app, path);
    return ZOK;
}

/* With authentication on: true if the instance node at path (whose data
 * was read with stat st) carries the ACL libwormhole gives it under the
 * app's identity, the one its folder names (folder): a node planted by
 * anyone else (with another ACL) is never assigned. Logs why not. *rc is
 * the ZooKeeper error of the read (ZNONODE: the node left). */
static bool instance_authorised(pub_zk *z, const char *path, const struct Stat *st,
                                const zku_acl_ids *folder, int *rc)
{
    struct ACL_vector acl = { 0, NULL };
    struct Stat ast;
    zku_acl_ids ids;
    *rc = zoo_get_acl(z->zh, path, &acl, &ast);
    if (*rc != ZOK)
        return false;
    bool ok = zku_acl_match(ZKU_NODE_INSTANCE, &acl, &ids) &&
              strcmp(ids.app, folder->app) == 0 && strcmp(ids.publisher, folder->publisher) == 0;
    deallocate_ACL_vector(&acl);
    if (ast.czxid != st->czxid) {
        *rc = ZNONODE;   /* replaced between the two reads: the children watch fires */
        return false;
    }
    if (!ok)
        wh_warn(WH_AREA_ZK, "ignoring instance %s: its ACL is not the one its app's identity "
                "gives it (docs/ZOOKEEPER.md \"Access control\"): not registered by the app",
                path);
    return ok;
}

/* Reads the instance node name of app. Fills *out when the instance is
 * live, takes our shard and (folder: authentication on) carries its app's
 * ACL (out->name stays NULL otherwise: it left, or its node is not an
 * instance we can use, which is logged). Returns ZOK or the ZooKeeper
 * error. */
static int read_instance(pub_zk *z, const char *app, const char *name,
                         const zku_acl_ids *folder, inst *out)
{
    const pub_config *cfg = &z->pub->cfg;
    char path[ZKU_PATH_MAX], err[512];
    struct Stat st;
    int len = ZKU_INSTANCE_MAX - 1;
    memset(out, 0, sizeof *out);
    if (zku_path_instance(path, sizeof path, cfg->zk_root, app, name) != WH_OK) {
        wh_warn(WH_AREA_ZK, "ignoring instance %s of app %s: its path is longer than %d bytes",
                name, app, ZKU_PATH_MAX - 1);
        return ZOK;
    }
    char *buf = malloc(ZKU_INSTANCE_MAX);   /* too large for a stack */
    if (!buf)
        return ZSYSTEMERROR;
    int rc = zoo_get(z->zh, path, 0, buf, &len, &st);
    if (rc != ZOK) {
        free(buf);
        return rc == ZNONODE ? ZOK : rc;   /* ZNONODE: left meanwhile; the children watch fires */
    }
    if (folder && !instance_authorised(z, path, &st, folder, &rc)) {
        free(buf);
        return rc == ZOK || rc == ZNONODE ? ZOK : rc;
    }
    if (st.dataLength > len) {
        /* libwormhole never writes one (it refuses to start): another writer. */
        wh_warn(WH_AREA_ZK, "ignoring instance %s: its data has %d bytes, more than the limit "
                "of %d (docs/ZOOKEEPER.md)", path, (int)st.dataLength, ZKU_INSTANCE_MAX - 1);
        free(buf);
        return ZOK;
    }
    zku_instance in;
    rc = zku_instance_from_json(buf, len < 0 ? 0 : (size_t)len, &in, err, sizeof err);
    free(buf);
    if (rc == WH_OK && zku_instance_takes_shard(&in, cfg->shard)) {
        out->name = strdup(name);
        out->endpoint = in.endpoint;
        out->filter_json = in.filter_json;
        out->czxid = st.czxid;
        in.endpoint = in.filter_json = NULL;
        if (!out->name)
            rc = WH_ERR_NOMEM;
    } else if (rc == WH_ERR_PARSE) {
        wh_warn(WH_AREA_ZK, "ignoring instance %s: %s", path, err);
        rc = WH_OK;
    }
    zku_instance_free(&in);
    if (rc == WH_OK)
        return ZOK;
    free(out->name);
    free(out->endpoint);
    free(out->filter_json);
    memset(out, 0, sizeof *out);
    return ZSYSTEMERROR;   /* out of memory */
}

/* Reads app's app node (docs/ZOOKEEPER.md), watching it: a change re-reads
 * the assignment. *filter_json gets the app's filter (malloc'd; NULL for
 * every update) and *recorded whether the node records one (false for an
 * app node made before apps kept their filter there: the chosen instance's
 * filter serves then); *st the app's settings (the defaults when the node
 * is empty, missing or invalid: the last is logged). Returns ZOK or the
 * ZooKeeper error (ZSYSTEMERROR on out of memory). */
static int read_app_node(pub_zk *z, const char *app, char **filter_json, bool *recorded,
                         zku_app_settings *st)
{
    const pub_config *cfg = &z->pub->cfg;
    char path[ZKU_PATH_MAX], err[512];
    char *buf = malloc(ZKU_APP_MAX);
    struct Stat stat;
    int len = ZKU_APP_MAX - 1;
    *filter_json = NULL;
    *recorded = false;
    memset(st, 0, sizeof *st);
    if (!buf)
        return ZSYSTEMERROR;
    if (zku_path_app(path, sizeof path, cfg->zk_root, app) != WH_OK) {
        free(buf);
        return ZOK;
    }
    int rc = zoo_wget(z->zh, path, watcher, z, buf, &len, &stat);
    if (rc == ZNONODE)
        rc = ZOK;
    if (rc != ZOK || len <= 0) {
        free(buf);
        return rc;
    }
    if (stat.dataLength > len) {
        /* Another writer's (ours never write one): read cut short, it would be garbage. */
        wh_warn(WH_AREA_ZK, "ZooKeeper node %s has %d bytes, more than the limit of %d of an "
                "app node (docs/ZOOKEEPER.md); using the default settings, and the filter of "
                "the instance chosen for shard %s", path, (int)stat.dataLength, ZKU_APP_MAX - 1,
                cfg->shard);
        free(buf);
        return ZOK;
    }
    if (zku_app_settings_from_json(buf, (size_t)len, st, err, sizeof err) != WH_OK)
        wh_warn(WH_AREA_ZK, "ZooKeeper node %s: %s; using the default settings", path, err);
    zku_app rec;
    int prc = zku_app_from_json(buf, (size_t)len, &rec, err, sizeof err);
    free(buf);
    if (prc == WH_ERR_NOMEM) {
        zku_app_free(&rec);
        return ZSYSTEMERROR;
    }
    if (prc != WH_OK)
        wh_warn(WH_AREA_ZK, "app %s: ignoring the filter in its app node %s: %s; the filter of "
                "the instance chosen for shard %s serves", app, path, err, cfg->shard);
    *recorded = rec.recorded;
    *filter_json = rec.filter_json;
    rec.filter_json = NULL;
    zku_app_free(&rec);
    return ZOK;
}

/* Reads the assignment from ZooKeeper into *out, *n (malloc'd), setting
 * watches. standby: for a takeover prepared while standby (pub_takeover.c):
 * the positions are left out (the takeover's claims give them) and nothing
 * of ours is read or changed but the entries' existence. */
static int build_assignment(pub_zk *z, bool standby, pub_assign **out, int *n)
{
    const pub_config *cfg = &z->pub->cfg;
    char path[ZKU_PATH_MAX];
    struct String_vector apps = { 0, NULL };
    pub_assign *as = NULL;
    int nas = 0, rc;
    *out = NULL;
    *n = 0;
    rc = zoo_wget_children(z->zh, z->apps_path, watcher, z, &apps);
    if (rc != ZOK)
        return rc;
    as = calloc((size_t)apps.count + 1, sizeof *as);
    if (!as) {
        deallocate_String_vector(&apps);
        return ZSYSTEMERROR;
    }
    for (int a = 0; a < apps.count && rc == ZOK; a++) {
        const char *app = apps.data[a];
        struct String_vector names = { 0, NULL };
        if (!app_fits(z, app) ||
            zku_path_instances(path, sizeof path, cfg->zk_root, app) != WH_OK) {
            wh_warn(WH_AREA_ZK, "ignoring app %s: its paths are longer than %d bytes", app,
                    ZKU_PATH_MAX - 1);
            continue;
        }
        rc = zoo_wget_children(z->zh, path, watcher, z, &names);
        if (rc == ZNOAUTH) {
            wh_warn(WH_AREA_ZK, "ignoring app %s: user %s may not list %s (NOAUTH)", app,
                    z->auth.user[0] ? z->auth.user : "(none)", path);
            rc = ZOK;
            continue;
        }
        zku_acl_ids folder;
        bool folder_ok = true;
        if (rc == ZOK && z->ids.enabled)
            rc = instances_acl(z, app, path, &folder, &folder_ok);
        if (rc == ZOK && !folder_ok) {
            deallocate_String_vector(&names);
            continue;
        }
        if (rc == ZNONODE) {
            /* The app folder exists but no instance ever registered: watch for it. */
            struct Stat st;
            rc = zoo_wexists(z->zh, path, watcher, z, &st);
            if (rc == ZNONODE)
                rc = ZOK;
            continue;
        }
        if (rc != ZOK)
            break;
        inst *live = calloc((size_t)names.count + 1, sizeof *live);
        const char **live_names = calloc((size_t)names.count + 1, sizeof *live_names);
        int nlive = 0;
        for (int i = 0; live && live_names && i < names.count; i++) {
            rc = read_instance(z, app, names.data[i], z->ids.enabled ? &folder : NULL,
                               &live[nlive]);
            if (rc != ZOK)
                break;
            if (!live[nlive].name)
                continue;
            live_names[nlive] = live[nlive].name;
            nlive++;
        }
        if (rc == ZOK && nlive > 0) {
            int pick = zku_rendezvous_pick(live_names, nlive, cfg->shard);
            pub_assign *x = &as[nas];
            x->app = strdup(app);
            x->instance = live[pick].name;
            x->endpoint = live[pick].endpoint;
            x->filter_json = live[pick].filter_json;
            x->instance_czxid = live[pick].czxid;
            live[pick].name = live[pick].endpoint = live[pick].filter_json = NULL;
            /* The app's filter, the one every instance runs; an app node
             * without a record leaves the instance's. */
            char *app_filter;
            bool recorded;
            zku_app_settings settings;
            int r = read_app_node(z, app, &app_filter, &recorded, &settings);
            x->on_purged_oldest = settings.on_purged_oldest;
            if (r != ZOK)
                rc = r;
            if (recorded) {
                free(x->filter_json);
                x->filter_json = app_filter;
            } else {
                free(app_filter);
            }
            /* Start position: the newest we know, else what ZooKeeper has. */
            pthread_mutex_lock(&z->mu);
            zk_pos *e = pos_entry(z, app);
            bool known = !standby && e && e->known, failed = !standby && e && e->failed;
            if (known) {
                x->pos = e->pos;
                x->pos_start = e->start;
            }
            pthread_mutex_unlock(&z->mu);
            if (failed && rc == ZOK) {
                r = check_reset(z, app);
                if (r != ZOK)
                    rc = r;
                pthread_mutex_lock(&z->mu);
                e = pos_entry(z, app);
                x->pos = e->pos;
                x->pos_start = e->start;
                pthread_mutex_unlock(&z->mu);
            }
            if (!standby && !known && e && rc == ZOK) {
                wh_pos p;
                bool start;
                int version;
                r = read_position(z, app, &p, &start, &version);
                if (r != ZOK) {
                    rc = r;
                } else {
                    pthread_mutex_lock(&z->mu);
                    e = pos_entry(z, app);
                    if (!e->known) {
                        e->pos = p;
                        e->start = start;
                        e->known = true;
                        e->version = version;
                    }
                    x->pos = e->pos;
                    x->pos_start = e->start;
                    pthread_mutex_unlock(&z->mu);
                }
            }
            pthread_mutex_lock(&z->mu);
            e = pos_entry(z, app);
            x->reset_gen = e ? e->reset_gen : 0;
            pthread_mutex_unlock(&z->mu);
            read_boot(z, app, &x->boot_request, &x->boot_progress);
            nas++;
        }
        for (int i = 0; live && i < nlive; i++) {
            free(live[i].name);
            free(live[i].endpoint);
            free(live[i].filter_json);
        }
        free(live);
        free(live_names);
        deallocate_String_vector(&names);
    }
    deallocate_String_vector(&apps);
    if (rc != ZOK) {
        pub_assign_free(as, nas);
        return rc;
    }
    *out = as;
    *n = nas;
    return ZOK;
}

/* Hands the loop the assignment as, n (taken). */
static void publish_assignment(pub_zk *z, pub_assign *as, int n)
{
    pthread_mutex_lock(&z->mu);
    pub_assign_free(z->assign, z->nassign);
    z->assign = as;
    z->nassign = n;
    z->gen++;
    pthread_mutex_unlock(&z->mu);
    pub_wake(z->pub);
}

/* Rebuilds the assignment from ZooKeeper, setting watches. */
static int read_assignment(pub_zk *z)
{
    pub_assign *as;
    int n;
    atomic_store(&z->reading, true);
    int rc = build_assignment(z, false, &as, &n);
    if (rc == ZOK)
        publish_assignment(z, as, n);
    atomic_store(&z->reading, false);
    return rc;
}

bool pub_zk_assign_settling(pub_zk *z)
{
    pthread_mutex_lock(&z->mu);
    bool dirty = z->dirty;
    pthread_mutex_unlock(&z->mu);
    return dirty || atomic_load(&z->reading);
}

/* ---- the thread ------------------------------------------------------------------------------ */

static void *zk_main(void *arg)
{
    pub_zk *z = arg;
    const pub_config *cfg = &z->pub->cfg;
    bool need_register = true;
    int64_t last_flush = wh_mono_ms(), down_since = wh_mono_ms(), last_warn = 0;
    int backoff = 200;

    pthread_mutex_lock(&z->mu);
    while (!z->stop) {
        bool expired = z->expired, dirty = z->dirty, urgent = z->urgent;
        bool boot_urgent = z->boot_urgent;
        z->expired = false;
        pthread_mutex_unlock(&z->mu);

        if (expired && atomic_load(&z->active)) {
            /* The lease went with the session: the loop stops delivering first. */
            atomic_store(&z->lease_lost, true);
            pub_wake(z->pub);
        }
        if (expired) {
            wh_warn(WH_AREA_ZK, "ZooKeeper %s: session expired; reconnecting and "
                    "registering as a candidate again", cfg->zk_connect);
            zookeeper_close(z->zh);
            zku_quiet();
            z->zh = zookeeper_init(cfg->zk_connect, watcher, (int)cfg->zk_session_ms, NULL, z, 0);
            zk_auth_reset(z);
            need_register = true;
            atomic_store(&z->registered, false);
            down_since = wh_mono_ms();
        }
        int state = z->zh ? zoo_state(z->zh) : 0;
        if (state == ZOO_AUTH_FAILED_STATE) {
            zk_set_fatal(z, "ZooKeeper %s refused the authentication of user %s",
                         cfg->zk_connect, z->auth.user);
            pthread_mutex_lock(&z->mu);
            break;
        }
        zk_authenticate(z);
        pthread_mutex_lock(&z->mu);
        bool authed = z->auth_added && z->auth_answered;
        pthread_mutex_unlock(&z->mu);
        /* Up once connected and, with an identity, authenticated: nothing is
         * created before the server knows who we are (or it would get an ACL
         * we cannot use). */
        bool up = state == ZOO_CONNECTED_STATE && authed;
        if (up != z->connected) {
            if (up)
                wh_info(WH_AREA_ZK, "ZooKeeper %s: connected", cfg->zk_connect);
            else
                wh_warn(WH_AREA_ZK, "ZooKeeper %s: connection lost; %s", cfg->zk_connect,
                        atomic_load(&z->active)
                            ? "delivery goes on until the fencing bound (docs/FAILOVER.md)"
                            : "standby");
            z->connected = up;
            if (!up)
                down_since = wh_mono_ms();
        }
        if (!up && wh_mono_ms() - down_since > 5000 && wh_mono_ms() - last_warn > 10000) {
            wh_warn(WH_AREA_ZK, "ZooKeeper %s unreachable for %lld s (session %s); retrying",
                    cfg->zk_connect, (long long)((wh_mono_ms() - down_since) / 1000),
                    zku_state_name(z->zh ? zoo_state(z->zh) : 0));
            last_warn = wh_mono_ms();
        }
        bool active = atomic_load(&z->active);
        if (active && atomic_load(&z->fenced))
            pub_zk_resolve_fence(z, up);
        /* Lost while the loop still delivers: nothing else until it has stopped. */
        bool hold = atomic_load(&z->active) &&
                    (atomic_load(&z->fenced) || atomic_load(&z->lease_lost));
        if (up && !hold)
            pub_zk_lease_ping(z);
        if (up && need_register) {
            int rc = pub_zk_register_candidate(z);
            if (rc == ZOK) {
                need_register = false;
                dirty = true;
                backoff = 200;
            } else if (rc == ZNOAUTH) {
                zk_noauth_fatal(z, "registering the publisher");
            } else {
                wh_warn(WH_AREA_ZK, "registering as a candidate in ZooKeeper: %s; retrying",
                        zerror(rc));
            }
        }
        if (up && !need_register && !hold && atomic_load(&z->handover) == 2)
            pub_zk_finish_handover(z);
        if (up && !need_register && !hold &&
            (dirty || wh_mono_ms() - z->last_step >= 500 || atomic_load(&z->move_asked))) {
            pthread_mutex_lock(&z->mu);
            z->dirty = false;
            pthread_mutex_unlock(&z->mu);
            int rc = pub_zk_lease_step(z, dirty);
            bool serve = atomic_load(&z->active) && atomic_load(&z->handover) == 0;
            /* The epoch first: a watch on it is among those that make us dirty. */
            if (rc == ZOK && serve && dirty && !z->has_fatal)
                rc = check_epoch(z, true, "by its watch");
            if (rc == ZOK && serve && dirty && !z->has_fatal)
                rc = read_assignment(z);
            if (rc == ZNOAUTH) {
                zk_noauth_fatal(z, "reading the shard's candidates and subscriber apps");
            } else if (rc != ZOK) {
                wh_warn(WH_AREA_ZK, "reading the shard's candidates and subscriber apps: %s; "
                        "retrying", zerror(rc));
                pthread_mutex_lock(&z->mu);
                z->dirty = true;
                pthread_mutex_unlock(&z->mu);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
            }
        }
        bool can_write = up && !need_register && !hold && atomic_load(&z->active);
        if (can_write && (urgent || wh_mono_ms() - last_flush >= atomic_load(&z->pub->flush_ms))) {
            pthread_mutex_lock(&z->mu);
            z->urgent = false;
            z->boot_urgent = false;
            pthread_mutex_unlock(&z->mu);
            flush_positions(z);
            flush_boot(z);
            write_failures(z);
            last_flush = wh_mono_ms();
        } else if (can_write && boot_urgent) {
            /* A bootstrap's next chunk waits for this progress only: the
             * positions keep their interval. */
            pthread_mutex_lock(&z->mu);
            z->boot_urgent = false;
            pthread_mutex_unlock(&z->mu);
            flush_boot(z);
        }

        pthread_mutex_lock(&z->mu);
        if (z->stop || z->has_fatal)
            break;
        if (!z->expired && !((z->dirty || z->urgent || (z->boot_urgent && can_write)) &&
                             up && !need_register)) {
            int64_t wait = (need_register || !up) ? backoff : atomic_load(&z->pub->flush_ms);
            if (wait > 200 && (!up || need_register))
                wait = 200;
            if (wait > 100)
                wait = 100;   /* pings, hand-overs and the grace of a vacant lease */
            struct timespec ts = wh_cond_deadline(wait);
            pthread_cond_timedwait(&z->cond, &z->mu, &ts);
        } else if (z->dirty && up && !need_register) {
            /* A failing re-read backs off. */
            struct timespec ts = wh_cond_deadline(50);
            pthread_cond_timedwait(&z->cond, &z->mu, &ts);
        }
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* ---- what pub_zk_role.c uses (pub_zk_int.h) ----------------------------------------------- */

void pub_zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    watcher(zh, type, state, path, ctx);
}

int pub_zk_bump_epoch(pub_zk *z)
{
    return bump_epoch(z);
}

int pub_zk_create_registration(pub_zk *z)
{
    return create_registration(z);
}

int pub_zk_flush_positions(pub_zk *z)
{
    return flush_positions(z);
}

int pub_zk_read_assignment(pub_zk *z)
{
    return read_assignment(z);
}

/* ---- what pub_takeover.c uses (pub_zk_int.h) ---------------------------------------------- */

int pub_zk_build_assignment(pub_zk *z, pub_assign **out, int *n)
{
    return build_assignment(z, true, out, n);
}

void pub_zk_publish_assignment(pub_zk *z, pub_assign *as, int n)
{
    publish_assignment(z, as, n);
}

int pub_zk_pos_path(pub_zk *z, const char *app, char *buf, size_t len)
{
    return app_fits(z, app) ? pos_path(z, app, buf, len) : ZBADARGUMENTS;
}

int pub_zk_pos_from_node(pub_zk *z, const char *data, size_t len, wh_pos *out, bool *start,
                         uint64_t *epoch, int64_t *event_ms, char *errbuf, size_t errlen)
{
    return pos_from_node(z, data, len, out, start, epoch, event_ms, errbuf, errlen);
}

char *pub_zk_pos_to_node(pub_zk *z, const wh_pos *p, bool start, uint64_t epoch,
                         int64_t event_ms)
{
    return pos_to_node(z, p, start, epoch, event_ms);
}

char *pub_zk_registration_data(pub_zk *z, uint64_t epoch)
{
    return registration_data(z, epoch);
}

void pub_zk_note_claim(pub_zk *z, const char *app, const wh_pos *pos, bool start, int version)
{
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    if (e) {
        e->pos = *pos;
        e->start = start;
        e->known = true;
        e->version = version;
        e->written_gen = e->gen;
    }
    pthread_mutex_unlock(&z->mu);
}

/* ---- API ---------------------------------------------------------------------------------------- */

int pub_zk_new(publisher *p, pub_zk **out, char *errbuf, size_t errlen)
{
    pub_zk *z = calloc(1, sizeof *z);
    if (!z)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    z->pub = p;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cond, NULL);
    z->dirty = true;
    if (p->cfg.id && strlen(p->cfg.id) > ZKU_ID_MAX) {
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->cond);
        free(z);
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "id '%s' is longer than %d characters",
                         p->cfg.id, ZKU_ID_MAX);
    }
    if (p->cfg.id && *p->cfg.id) {
        snprintf(z->id, sizeof z->id, "%s", p->cfg.id);
    } else {
        char host[128] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(z->id, sizeof z->id, "%s-%d", host, (int)getpid());
    }
    if (zku_path_publisher(z->reg_path, sizeof z->reg_path, p->cfg.zk_root, p->cfg.shard,
                           z->id) != WH_OK ||
        zku_path_publishers(z->publishers_path, sizeof z->publishers_path, p->cfg.zk_root,
                            p->cfg.shard) != WH_OK ||
        zku_path_epoch(z->epoch_path, sizeof z->epoch_path, p->cfg.zk_root, p->cfg.shard) !=
            WH_OK ||
        zku_path_apps(z->apps_path, sizeof z->apps_path, p->cfg.zk_root) != WH_OK) {
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->cond);
        free(z);
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "zookeeper.root '%s', shard '%s' and id '%s' make ZooKeeper paths "
                         "longer than %d bytes", p->cfg.zk_root, p->cfg.shard, p->cfg.id,
                         ZKU_PATH_MAX - 1);
    }
    int rc = zku_auth_load(&z->auth, p->cfg.zk_user, p->cfg.zk_secret_file, errbuf, errlen);
    if (rc != WH_OK) {
        wh_preferr(errbuf, errlen, rc, "%s: zookeeper.user", p->config_path);
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->cond);
        free(z);
        return rc;
    }
    rc = pub_lease_new(&p->cfg, z->id, &z->ids, &z->lease, errbuf, errlen);
    if (rc == WH_OK && !(z->takeover = pub_takeover_new())) {
        pub_lease_free(z->lease);
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    if (rc != WH_OK) {
        zku_auth_clear(&z->auth);
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->cond);
        free(z);
        return rc;
    }
    zku_auth_ids(&z->auth, true, &z->ids);
    if (zku_auth_on(&z->auth))
        wh_info(WH_AREA_ZK, "ZooKeeper identity %s (digest); nodes get the ACLs of "
                "docs/ZOOKEEPER.md", z->auth.user);
    else
        wh_warn(WH_AREA_ZK, "ZooKeeper is unauthenticated (zookeeper.user is not set): every "
                "node this publisher creates is open to anyone who reaches %s "
                "(docs/SECURITY.md)", p->cfg.zk_connect);
    zku_quiet();
    z->zh = zookeeper_init(p->cfg.zk_connect, watcher, (int)p->cfg.zk_session_ms, NULL, z, 0);
    if (!z->zh) {
        int e = errno;
        pub_takeover_free(z->takeover);
        pub_lease_free(z->lease);
        zku_auth_clear(&z->auth);
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->cond);
        free(z);
        return wh_seterr(errbuf, errlen, WH_ERR_ZK,
                         "zookeeper.connect '%s': cannot create a client: %s", p->cfg.zk_connect,
                         strerror(e));
    }
    zk_auth_reset(z);
    *out = z;
    return WH_OK;
}

int pub_zk_start(pub_zk *z, char *errbuf, size_t errlen)
{
    int rc = pub_health_start(z->pub, pub_zk_health_changed, z, &z->health, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    if (pthread_create(&z->thread, NULL, zk_main, z) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot start the ZooKeeper thread");
    z->started = true;
    return WH_OK;
}

void pub_assign_free(pub_assign *a, int n)
{
    for (int i = 0; a && i < n; i++) {
        free(a[i].app);
        free(a[i].instance);
        free(a[i].endpoint);
        free(a[i].filter_json);
        free(a[i].boot_request);
        free(a[i].boot_progress);
    }
    free(a);
}

bool pub_zk_take_assignment(pub_zk *z, uint64_t *gen, pub_assign **out, int *n)
{
    bool fresh = false;
    pthread_mutex_lock(&z->mu);
    if (z->gen > *gen) {
        *gen = z->gen;
        pub_assign *copy = calloc((size_t)z->nassign + 1, sizeof *copy);
        if (copy) {
            for (int i = 0; i < z->nassign; i++) {
                copy[i].app = strdup(z->assign[i].app);
                copy[i].instance = strdup(z->assign[i].instance);
                copy[i].endpoint = strdup(z->assign[i].endpoint);
                copy[i].filter_json = z->assign[i].filter_json ? strdup(z->assign[i].filter_json)
                                                               : NULL;
                copy[i].pos = z->assign[i].pos;
                copy[i].instance_czxid = z->assign[i].instance_czxid;
                copy[i].pos_start = z->assign[i].pos_start;
                copy[i].reset_gen = z->assign[i].reset_gen;
                copy[i].on_purged_oldest = z->assign[i].on_purged_oldest;
                const char *breq = z->assign[i].boot_request;
                const char *bprog = z->assign[i].boot_progress;
                /* Prefer the newest acknowledged position over the snapshot's. */
                for (int k = 0; k < z->npos; k++) {
                    if (strcmp(z->pos[k].app, copy[i].app) == 0 && z->pos[k].known) {
                        copy[i].pos = z->pos[k].pos;
                        copy[i].pos_start = z->pos[k].start;
                    }
                    if (strcmp(z->pos[k].app, copy[i].app) == 0 && z->pos[k].boot)
                        bprog = z->pos[k].boot;
                }
                copy[i].boot_request = breq ? strdup(breq) : NULL;
                copy[i].boot_progress = breq && bprog ? strdup(bprog) : NULL;
            }
            *out = copy;
            *n = z->nassign;
            fresh = true;
        } else {
            *gen = 0;
        }
    }
    pthread_mutex_unlock(&z->mu);
    return fresh;
}

void pub_zk_note_acked(pub_zk *z, const char *app, const wh_pos *pos, int64_t event_s)
{
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    if (e && (!wh_pos_equal(&e->pos, pos) || e->start)) {
        e->pos = *pos;
        e->event_ms = event_s > 0 ? event_s * 1000 : 0;
        e->start = false;
        e->known = true;
        e->gen++;
    }
    if (e && !e->acked && !e->failed) {
        /* A flow that acknowledges is not failed: a failure node an earlier
         * run left (a flow refused, too large or misfit there, retried by
         * this run) goes, once per run. */
        e->acked = true;
        e->failure_delete = true;
    }
    pthread_mutex_unlock(&z->mu);
}

uint64_t pub_zk_note_start(pub_zk *z, const char *app, const wh_pos *pos)
{
    uint64_t gen = 0;
    if (!z)
        return 1;   /* no agent (unit tests): nowhere to record it */
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    if (e) {
        /* gen 0 means out of memory to the caller: an entry never changed
         * (gen 0, as a claim leaves it) is written once more. */
        if (!e->start || !wh_pos_equal(&e->pos, pos) || e->gen == 0) {
            e->pos = *pos;
            e->event_ms = 0;   /* not delivered: no acknowledged event */
            e->start = true;
            e->known = true;
            e->gen++;
        }
        gen = e->gen;
        z->urgent = true;
        pthread_cond_signal(&z->cond);
    }
    pthread_mutex_unlock(&z->mu);
    return gen;
}

bool pub_zk_written(pub_zk *z, const char *app, uint64_t gen)
{
    bool written = false;
    if (!z)
        return true;
    pthread_mutex_lock(&z->mu);
    for (int i = 0; i < z->npos && !written; i++)
        written = strcmp(z->pos[i].app, app) == 0 && z->pos[i].written_gen >= gen;
    pthread_mutex_unlock(&z->mu);
    return written;
}

void pub_zk_note_failed(pub_zk *z, const char *app, int rc, const wh_pos *pos,
                        const char *why, int64_t since_ms)
{
    if (!z)
        return;   /* no agent (unit tests) */
    zku_failure *f = calloc(1, sizeof *f);
    if (!f)
        return;
    snprintf(f->code, sizeof f->code, "%s", zku_failure_code(rc));
    snprintf(f->reason, sizeof f->reason, "%s", why);
    if (pos->set) {
        wh_pos_format_physical(pos, f->physical, sizeof f->physical);
        if (pos->has_logical)
            wh_pos_format_logical(pos, f->logical, sizeof f->logical);
    }
    snprintf(f->publisher, sizeof f->publisher, "%s", z->id);
    f->since_ms = since_ms;
    pthread_mutex_lock(&z->mu);
    f->epoch = z->epoch;
    zk_pos *e = pos_entry(z, app);
    if (e) {
        free(e->failure);
        e->failure = f;
        e->failed = true;
        e->failure_written = false;
        e->failure_delete = false;
        f = NULL;
    }
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
    free(f);
}

void pub_zk_note_revived(pub_zk *z, const char *app)
{
    if (!z)
        return;
    pthread_mutex_lock(&z->mu);
    zk_pos *e = pos_entry(z, app);
    if (e && e->failed) {
        e->failed = false;
        e->failure_written = false;
        e->failure_delete = true;
        free(e->failure);
        e->failure = NULL;
        pthread_cond_signal(&z->cond);
    }
    pthread_mutex_unlock(&z->mu);
}

const char *pub_zk_fatal(pub_zk *z)
{
    pthread_mutex_lock(&z->mu);
    const char *f = z->has_fatal ? z->fatal : NULL;
    pthread_mutex_unlock(&z->mu);
    return f;
}

uint64_t pub_zk_epoch(pub_zk *z)
{
    return z->epoch;
}

bool pub_zk_connected(pub_zk *z)
{
    return z->connected;
}

const zku_acl_ids *pub_zk_acl_ids(const pub_zk *z)
{
    return &z->ids;
}

void pub_zk_free(pub_zk *z)
{
    if (!z)
        return;
    if (z->started) {
        pthread_mutex_lock(&z->mu);
        z->stop = true;
        pthread_cond_signal(&z->cond);
        pthread_mutex_unlock(&z->mu);
        pthread_join(z->thread, NULL);
    }
    pub_health_stop(z->health);
    /* Final positions: try for a few seconds if ZooKeeper is reachable. */
    if (z->zh && z->epoch && !z->has_fatal && atomic_load(&z->active) &&
        !atomic_load(&z->fenced) && !atomic_load(&z->lease_lost)) {
        int64_t deadline = wh_mono_ms() + 3000;
        while (wh_mono_ms() < deadline) {
            if (zoo_state(z->zh) == ZOO_CONNECTED_STATE && flush_positions(z) == 0) {
                flush_boot(z);
                break;
            }
            struct timespec ts = { 0, 50 * 1000000 };
            nanosleep(&ts, NULL);
        }
        if (zoo_state(z->zh) == ZOO_CONNECTED_STATE)
            zoo_delete(z->zh, z->reg_path, -1);
    }
    if (z->zh)
        zookeeper_close(z->zh);   /* our candidate node and the lease go with the session */
    pub_takeover_free(z->takeover);
    pub_lease_free(z->lease);
    pub_assign_free(z->assign, z->nassign);
    for (int i = 0; i < z->npos; i++) {
        free(z->pos[i].app);
        free(z->pos[i].failure);
        free(z->pos[i].boot);
    }
    free(z->pos);
    zku_auth_clear(&z->auth);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->cond);
    free(z);
}

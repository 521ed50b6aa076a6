/* sub_zk.c -- libwormhole's ZooKeeper side: session, the app's filter and the ephemeral instance node (see sub_int.h).
 *
 * Registration (docs/ZOOKEEPER.md, "One filter per app"): the app node
 * apps/APP holds the filter every instance of the app runs. An instance
 * creates it with its own filter if it does not exist, reads it, and then
 * creates its ephemeral node apps/APP/instances/INSTANCE in one multi-op
 * together with a conditional rewrite of the app node (same data, or its
 * own filter when it may replace the app's): the version check makes
 * every registration serialize with every filter change, so two instances
 * with different filters can never both register, whatever the timing.
 * A different filter is refused unless the app has no other live instance
 * (then this instance's filter becomes the app's) or replace_filter is
 * set.
 *
 * With ZooKeeper authentication (docs/ZOOKEEPER.md, "Access control") an
 * operator has created the app's nodes (wormhole-ctl add-app) and the
 * instance creates none of them: it first reads the ACL of the app's
 * instances folder (acl_done), whose ids its node's ACL names, then reads
 * the app node and registers as above, the multi's create carrying the
 * instance's ACL from the table (protocol/zk_acl.h); the app node's ACL
 * gives the app write, so the multi may record the filter. A refusal that
 * retrying cannot cure, before the first registration, fails the start
 * (note_refused). Every step is asynchronous; completions and the session
 * watcher run on the client's threads and only post ZKF_* flags (and what
 * they read) under s->mu and wake the loop, which acts on them in
 * sub_zk_handle_events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "filters/filter.h"
#include "subscriber/sub_int.h"

/* Any thread: records a ZooKeeper event for the loop. */
static void post_zk(wh_subscriber *s, unsigned flag, int rc)
{
    pthread_mutex_lock(&s->mu);
    s->zk_flags |= flag;
    if (flag & (ZKF_REG_FAILED | ZKF_AUTH_FAILED))
        s->zk_reg_rc = rc;
    pthread_mutex_unlock(&s->mu);
    sub_wake(s);
}

static void zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    wh_subscriber *s = ctx;
    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    if (state == ZOO_CONNECTED_STATE)
        post_zk(s, ZKF_CONNECTED, 0);
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        post_zk(s, ZKF_EXPIRED, 0);
    else
        sub_wake(s);
}

/* Completion thread: the server's answer to the app's credential. Other
 * codes than ZAUTHFAILED are a connection lost before the answer: the
 * client sends the credential again first thing when it reconnects. */
static void auth_done(int rc, const void *data)
{
    if (rc == ZAUTHFAILED)
        post_zk((wh_subscriber *)data, ZKF_AUTH_FAILED, rc);
}

/* Completion thread: the ACL of the app's instances folder (authentication
 * on), whose ids the instance node takes. A folder whose ACL is not the
 * table's (protocol/zk_acl.h) is refused as ZINVALIDACL. */
static void acl_done(int rc, struct ACL_vector *acl, struct Stat *stat, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    zku_acl_ids ids;
    (void)stat;
    if (rc == ZOK && !zku_acl_match(ZKU_NODE_INSTANCES, acl, &ids))
        rc = ZINVALIDACL;
    if (rc != ZOK) {
        post_zk(s, ZKF_REG_FAILED, rc);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->zk_reg_ids = ids;
    pthread_mutex_unlock(&s->mu);
    post_zk(s, ZKF_ACL_OK, 0);
}

/* Completion thread: the create of the app's bootstrap request node. */
static void boot_done(int rc, const char *value, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    (void)value;
    pthread_mutex_lock(&s->mu);
    s->boot_rc = rc;
    pthread_mutex_unlock(&s->mu);
    post_zk(s, ZKF_BOOT_DONE, rc);
}

static void parent_done(int rc, const char *value, const void *data)
{
    (void)rc;
    (void)value;
    (void)data;
}

/* The app node's data (after the create that makes it if missing). */
static void app_read_done(int rc, const char *value, int len, const struct Stat *st,
                          const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    char *copy = NULL;
    if (rc == ZOK && len > 0 && (copy = malloc((size_t)len + 1))) {
        memcpy(copy, value, (size_t)len);
        copy[len] = '\0';
    } else if (rc == ZOK && len > 0) {
        rc = ZSYSTEMERROR;
    }
    pthread_mutex_lock(&s->mu);
    free(s->app_read);
    s->app_read = copy;
    s->app_read_len = rc == ZOK && len > 0 ? len : 0;
    s->app_read_version = rc == ZOK ? st->version : -1;
    s->app_read_rc = rc;
    s->zk_flags |= ZKF_APP_READ;
    pthread_mutex_unlock(&s->mu);
    sub_wake(s);
}

/* The app's live instances: how many besides this one. */
static void app_kids_done(int rc, const struct String_vector *names, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    pthread_mutex_lock(&s->mu);
    s->app_kids_rc = rc;
    s->app_others = 0;
    s->app_other[0] = '\0';
    for (int i = 0; rc == ZOK && names && i < names->count; i++)
        if (strcmp(names->data[i], s->instance) != 0) {
            if (!s->app_others++)
                snprintf(s->app_other, sizeof s->app_other, "%s", names->data[i]);
        }
    s->zk_flags |= ZKF_APP_KIDS;
    pthread_mutex_unlock(&s->mu);
    sub_wake(s);
}

/* The multi [set app node, create instance node]. */
static void reg_multi_done(int rc, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    if (rc == ZOK)
        post_zk(s, ZKF_REG_OK, 0);
    else if (s->reg_results[0].err == ZBADVERSION || s->reg_results[0].err == ZNONODE)
        post_zk(s, ZKF_REG_RACE, 0);
    else if (s->reg_results[1].err == ZNODEEXISTS)
        post_zk(s, ZKF_REG_EXISTS, 0);
    else
        post_zk(s, ZKF_REG_FAILED, rc);
}

static void delete_done(int rc, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    if (rc == ZOK || rc == ZNONODE)
        post_zk(s, ZKF_DELETED, 0);
    else
        post_zk(s, ZKF_REG_FAILED, rc);
}

int sub_zk_prepare(wh_subscriber *s, char *errbuf, size_t errlen)
{
    if (zku_path_instance(s->node_path, sizeof s->node_path, s->zk_root, s->app, s->instance))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: the instance node's path under zk_root '%s' is longer "
                         "than %d bytes", s->zk_root, ZKU_PATH_MAX - 1);
    if (zku_path_app(s->app_path, sizeof s->app_path, s->zk_root, s->app) ||
        zku_path_instances(s->instances_path, sizeof s->instances_path, s->zk_root, s->app))
        return WH_ERR_LIMIT;   /* shorter than node_path, which fits */
    int rc = zku_instance_to_json(s->endpoint, s->filter_json, (const char *const *)s->shards,
                                  (long)getpid(), &s->node_data, errbuf, errlen);
    if (rc == WH_ERR_LIMIT) {
        /* Refused here, at start, rather than registered and then ignored
         * by every publisher that cannot read it. */
        char why[256];
        snprintf(why, sizeof why, "%s", errbuf);
        return wh_seterr(errbuf, errlen, rc,
                         "subscriber: cannot register instance %s of app %s: %s (ZooKeeper "
                         "node limit, docs/ZOOKEEPER.md); its filter takes %zu bytes as JSON",
                         s->instance, s->app, why, s->filter_json ? strlen(s->filter_json) : 0);
    }
    if (rc == WH_OK)
        rc = zku_app_with_filter("", 0, s->filter_json, s->instance, &s->app_data, errbuf,
                                 errlen);
    if (rc)
        wh_preferr(errbuf, errlen, rc, "subscriber");
    return rc;
}

int sub_zk_open(wh_subscriber *s)
{
    zku_quiet();
    s->zh = zookeeper_init(s->zk_connect, zk_watcher, s->session_ms, NULL, s, 0);
    if (!s->zh)
        return WH_ERR_ZK;
    s->registered_session = 0;
    s->reg_inflight = false;
    s->zk_auth_added = !zku_auth_on(&s->auth);
    return WH_OK;
}

/* Queues the app's credential on the handle, once; nothing is registered
 * before. The client refuses it (ZINVALIDSTATE) while its state is 0,
 * which it is between two connection attempts: then it is tried again on
 * the loop's next turn. */
static void zk_authenticate(wh_subscriber *s)
{
    if (s->zk_auth_added || !s->zh)
        return;
    int rc = zku_auth_add(s->zh, &s->auth, auth_done, s);
    if (rc == ZOK)
        s->zk_auth_added = true;
    else if (rc != ZINVALIDSTATE)
        wh_warn(WH_AREA_ZK, "ZooKeeper %s: cannot send the credential of user %s: %s",
                s->zk_connect, s->auth.user, zerror(rc));
}

/* With authentication on: the first step of registering, reading the ACL
 * of the app's instances folder (acl_done, then zk_read_app); the operator
 * created the app's nodes (wormhole-ctl add-app), the instance creates none. */
static void zk_register_auth(wh_subscriber *s)
{
    int rc = zoo_aget_acl(s->zh, s->instances_path, acl_done, s);
    if (rc != ZOK) {
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
        return;
    }
    s->reg_inflight = true;
}

/* Reads the app node (app_read_done, then app_checked). */
static void zk_read_app(wh_subscriber *s)
{
    int rc = zoo_aget(s->zh, s->app_path, 0, app_read_done, s);
    if (rc != ZOK) {
        s->reg_inflight = false;
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
        return;
    }
    s->reg_inflight = true;
}

/* Starts a registration: the creates for the node's parents (the app node
 * with this instance's app record, kept if it exists), the app's positions
 * folder, then the read of the app node. ZooKeeper runs one session's
 * requests in order, so the read sees the app node; its completion goes on
 * in app_checked. With authentication on: zk_register_auth instead. */
static void zk_register(wh_subscriber *s)
{
    if (zku_auth_on(&s->auth)) {
        zk_register_auth(s);
        return;
    }
    char buf[ZKU_PATH_MAX];
    size_t n = strlen(s->node_path);
    memcpy(buf, s->node_path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        bool app = strcmp(buf, s->app_path) == 0;
        zoo_acreate(s->zh, buf, app ? s->app_data : NULL, app ? (int)strlen(s->app_data) : -1,
                    &ZOO_OPEN_ACL_UNSAFE, 0, parent_done, s);
        buf[i] = '/';
    }
    /* The app's positions folder, where publishers record acknowledged
     * positions (its path is no longer than node_path's, checked at start). */
    if (zku_path_positions(buf, sizeof buf, s->zk_root, s->app) == WH_OK)
        zoo_acreate(s->zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, parent_done, s);
    zk_read_app(s);
}

/* The registration proper: rewrites the app node (its data as read, with
 * this instance's filter; other fields kept) if its version is still
 * version, and creates our ephemeral node, atomically. The node's ACL is
 * open without authentication, else the table's for an instance of the
 * ids the instances folder named (s->reg_acl, kept with the ops). */
static void zk_register_multi(wh_subscriber *s, const char *read, int len, int version)
{
    char err[512], *data = NULL;
    const struct ACL_vector *acl = &ZOO_OPEN_ACL_UNSAFE;
    if (zku_auth_on(&s->auth)) {
        pthread_mutex_lock(&s->mu);
        zku_acl_ids ids = s->zk_reg_ids;
        pthread_mutex_unlock(&s->mu);
        if (zku_acl_for(ZKU_NODE_INSTANCE, &ids, &s->reg_acl, err, sizeof err) != WH_OK) {
            s->reg_inflight = false;
            sub_fatal(s, WH_ERR_CONFIG, "subscriber: instance node %s: %s", s->node_path, err);
            return;
        }
        acl = zku_acl_vector(&s->reg_acl);
    }
    if (zku_app_with_filter(read ? read : "", read ? (size_t)len : 0, s->filter_json,
                            s->instance, &data, err, sizeof err) != WH_OK) {
        s->reg_inflight = false;
        sub_fatal(s, WH_ERR_CONFIG, "subscriber: app node %s: %s", s->app_path, err);
        return;
    }
    free(s->reg_app_data);
    s->reg_app_data = data;   /* the set op points to it: kept until the next registration */
    zoo_set_op_init(&s->reg_ops[0], s->app_path, data, (int)strlen(data), version,
                    &s->reg_stat);
    zoo_create_op_init(&s->reg_ops[1], s->node_path, s->node_data, (int)strlen(s->node_data),
                       acl, ZOO_EPHEMERAL, s->reg_created,
                       sizeof s->reg_created);
    memset(s->reg_results, 0, sizeof s->reg_results);
    int rc = zoo_amulti(s->zh, 2, s->reg_ops, s->reg_results, reg_multi_done, s);
    if (rc != ZOK) {
        s->reg_inflight = false;
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
    }
}

/* A filter in canonical JSON (NULL: every update) as text for messages. */
static void filter_text(const char *json, char *buf, size_t len)
{
    wh_filter *f = NULL;
    wh_buf b = WH_BUF_INIT;
    char err[256];
    if (!json) {
        snprintf(buf, len, "(none: every update)");
        return;
    }
    if (wh_filter_parse_json(json, strlen(json), &f, err, sizeof err) == WH_OK &&
        wh_filter_to_text(f, &b) == WH_OK && wh_buf_ok(&b))
        snprintf(buf, len, "'%.*s'", (int)b.len, b.data);
    else
        snprintf(buf, len, "%s", json);
    wh_buf_free(&b);
    wh_filter_free(f);
}

/* The message of a refused registration. */
static void refuse_filter(wh_subscriber *s, const zku_app *app, int others, const char *other)
{
    char theirs[600], ours[600];
    filter_text(app->filter_json, theirs, sizeof theirs);
    filter_text(s->filter_json, ours, sizeof ours);
    sub_fatal(s, WH_ERR_CONFIG, "app %s is registered with filter %s%s%s%s; this instance (%s) "
              "has %s, and %d other instance%s of the app run%s (%s%s): all instances of an app "
              "run one filter. Start it with the app's filter, stop the others first, or "
              "replace the app's filter on purpose with replace_filter (docs/ZOOKEEPER.md, "
              "\"One filter per app\")", s->app, theirs,
              app->set_by && app->set_by[0] ? " (set by instance " : "",
              app->set_by && app->set_by[0] ? app->set_by : "",
              app->set_by && app->set_by[0] ? ")" : "", s->instance, ours, others,
              others == 1 ? "" : "s", others == 1 ? "s" : "", other,
              others > 1 ? ", ..." : "");
}

/* Before the first registration, a refusal that retrying will not cure
 * becomes the start's error (wait_registered in sub.c); later it is only
 * logged and retried. */
static void note_refused(wh_subscriber *s, const char *what, int rc)
{
    const char *user = s->auth.user[0] ? s->auth.user : "(none)";
    if (rc == ZNONODE)
        snprintf(s->zk_fatal, sizeof s->zk_fatal, "ZooKeeper %s: app %s is not set up: %s does "
                 "not exist (an operator creates it with wormhole-ctl add-app, "
                 "docs/ZOOKEEPER.md)", s->zk_connect, s->app, s->instances_path);
    else if (rc == ZINVALIDACL)
        snprintf(s->zk_fatal, sizeof s->zk_fatal, "ZooKeeper %s: the ACL of %s is not the one "
                 "of app %s's identity (set it with wormhole-ctl add-app, docs/ZOOKEEPER.md)",
                 s->zk_connect, s->instances_path, s->app);
    else if (!zku_auth_on(&s->auth))
        snprintf(s->zk_fatal, sizeof s->zk_fatal, "ZooKeeper %s refused %s instance %s of app "
                 "%s (%s): the app's nodes carry ACLs; give the app's identity (zk_user and "
                 "zk_secret_file, docs/ZOOKEEPER.md \"Access control\")", s->zk_connect, what,
                 s->instance, s->app, zerror(rc));
    else
        snprintf(s->zk_fatal, sizeof s->zk_fatal, "ZooKeeper %s refused %s instance %s of app "
                 "%s to user %s (%s): a wrong password in the secret file, or not the identity "
                 "the app was set up for (wormhole-ctl add-app, docs/ZOOKEEPER.md)",
                 s->zk_connect, what, s->instance, s->app, user, zerror(rc));
    if (s->registered_session)
        s->zk_fatal[0] = '\0';
    else
        wh_error(WH_AREA_ZK, "%s", s->zk_fatal);
}

/* The app node's data arrived: register if this instance's filter is the
 * app's (or there is none yet), else find out whether it may replace it. */
static void app_checked(wh_subscriber *s, bool kids_known)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->app_read_rc, version = s->app_read_version, others = s->app_others;
    int kids_rc = s->app_kids_rc, len = s->app_read_len;
    char *read = s->app_read ? strdup(s->app_read) : NULL;
    char other[ZKU_NAME_MAX + 1];
    snprintf(other, sizeof other, "%s", s->app_other);
    pthread_mutex_unlock(&s->mu);
    zku_app app;
    char err[512];
    memset(&app, 0, sizeof app);
    if (rc == ZOK && len > 0 && !read)
        rc = ZSYSTEMERROR;   /* out of memory: try again */
    int prc = rc == ZOK ? zku_app_from_json(read ? read : "", read ? (size_t)len : 0, &app, err,
                                            sizeof err) : WH_OK;
    if (rc != ZOK || (kids_known && kids_rc != ZOK)) {
        s->reg_inflight = false;
        if ((rc != ZOK ? rc : kids_rc) == ZNOAUTH)
            note_refused(s, "reading the app node for", ZNOAUTH);
        wh_warn(WH_AREA_ZK, "registering %s: reading %s failed: %s; retrying", s->node_path,
                rc != ZOK ? s->app_path : s->instances_path, zerror(rc != ZOK ? rc : kids_rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
    } else if (prc != WH_OK && !s->replace_filter) {
        s->reg_inflight = false;
        sub_fatal(s, WH_ERR_CONFIG, "app node %s: %s; fix or delete it, or start this instance "
                  "with replace_filter to overwrite it", s->app_path, err);
    } else {
        bool same = prc == WH_OK && (!app.recorded || zku_app_same_filter(app.filter_json,
                                                                            s->filter_json));
        if (same || s->replace_filter || (kids_known && others == 0)) {
            if (!same) {
                char theirs[600], ours[600];
                filter_text(prc == WH_OK ? app.filter_json : NULL, theirs, sizeof theirs);
                filter_text(s->filter_json, ours, sizeof ours);
                wh_warn(WH_AREA_ZK, "app %s: replacing its filter %s with this instance's %s "
                        "(%s)", s->app, prc == WH_OK ? theirs : "(unreadable)", ours,
                        s->replace_filter ? "replace_filter is set" : "no other instance runs");
            }
            /* An unreadable node is replaced whole (replace_filter). */
            zk_register_multi(s, prc == WH_OK ? read : NULL, len, version);
        } else if (!kids_known) {
            /* Another filter: may this instance replace it? Only if nobody else runs it. */
            int zrc = zoo_aget_children(s->zh, s->instances_path, 0, app_kids_done, s);
            if (zrc != ZOK) {
                s->reg_inflight = false;
                wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(zrc));
                s->reg_retry_at = wh_mono_ms() + 1000;
            }
        } else {
            s->reg_inflight = false;
            refuse_filter(s, &app, others, other);
        }
    }
    zku_app_free(&app);
    free(read);
}

/* Logs a change of the session's state. */
static void note_state(wh_subscriber *s)
{
    int state = s->zh ? zoo_state(s->zh) : 0;
    if (state == s->last_zk_state)
        return;
    if (state == ZOO_CONNECTED_STATE)
        wh_info(WH_AREA_ZK, "ZooKeeper %s: connected", s->zk_connect);
    else if (s->last_zk_state == ZOO_CONNECTED_STATE)
        wh_warn(WH_AREA_ZK, "ZooKeeper %s: connection lost (%s); delivery goes on, "
                "reconnecting", s->zk_connect, zku_state_name(state));
    s->last_zk_state = state;
}

/* The bootstrap option (wh_sub_options.bootstrap_tables), once registered:
 * creates the app's request node, the node wormhole-ctl bootstrap writes
 * (zku_boot_node_make), if the app has none. Only a create: an existing
 * request (running, finished, or asked by an operator) is left alone, so an
 * instance that restarts never restarts a bootstrap. */
static void zk_ask_bootstrap(wh_subscriber *s)
{
    char err[512];
    if (!s->nboot_tables || s->boot_asked || s->boot_inflight)
        return;
    pthread_mutex_lock(&s->mu);
    zku_acl_ids ids = s->zk_reg_ids;
    pthread_mutex_unlock(&s->mu);
    if (!zku_auth_on(&s->auth))
        ids.enabled = false;
    zku_boot_node_free(&s->boot_node);
    int rc = zku_boot_node_make(s->zk_root, s->app, NULL, (const char *const *)s->boot_tables,
                                s->nboot_tables, &ids, &s->boot_node, err, sizeof err);
    if (rc != WH_OK) {
        s->boot_asked = true;
        wh_warn(WH_AREA_ZK, "app %s: cannot ask for a bootstrap: %s", s->app, err);
        return;
    }
    rc = zoo_acreate(s->zh, s->boot_node.path, s->boot_node.data,
                     (int)strlen(s->boot_node.data), zku_acl_vector(&s->boot_node.acl), 0,
                     boot_done, s);
    s->boot_inflight = rc == ZOK;
    if (rc != ZOK)
        wh_warn(WH_AREA_ZK, "app %s: asking for a bootstrap: %s; trying again at the next "
                "registration", s->app, zerror(rc));
}

static void boot_answered(wh_subscriber *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->boot_rc;
    pthread_mutex_unlock(&s->mu);
    s->boot_inflight = false;
    if (rc == ZOK) {
        s->boot_asked = true;
        wh_info(WH_AREA_ZK, "app %s: bootstrap requested: %s", s->app, s->boot_node.data);
    } else if (rc == ZNODEEXISTS) {
        s->boot_asked = true;
        wh_info(WH_AREA_ZK, "app %s has a bootstrap request already (%s): not asked again; "
                "wormhole-ctl bootstrap asks for a new one", s->app, s->boot_node.path);
    } else if (rc == ZNOAUTH || rc == ZINVALIDACL) {
        s->boot_asked = true;
        wh_warn(WH_AREA_ZK, "app %s: ZooKeeper refuses this instance the bootstrap request %s "
                "(%s): with access control an operator asks for it (wormhole-ctl bootstrap)",
                s->app, s->boot_node.path, zerror(rc));
    } else {
        wh_warn(WH_AREA_ZK, "app %s: asking for a bootstrap: %s; trying again at the next "
                "registration", s->app, zerror(rc));
    }
}

void sub_zk_handle_events(wh_subscriber *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned f = s->zk_flags;
    int reg_rc = s->zk_reg_rc;
    s->zk_flags = 0;
    pthread_mutex_unlock(&s->mu);

    note_state(s);
    if (f & ZKF_EXPIRED) {
        wh_warn(WH_AREA_ZK, "ZooKeeper %s: session expired; re-registering %s", s->zk_connect,
                s->node_path);
        zookeeper_close(s->zh);
        s->zh = NULL;
        if (sub_zk_open(s) != WH_OK)
            wh_warn(WH_AREA_ZK, "ZooKeeper %s: cannot create a client: %s", s->zk_connect,
                    strerror(errno));
        return;
    }
    if (!s->zh)
        return;
    zk_authenticate(s);
    if (f & ZKF_REG_OK) {
        s->reg_inflight = false;
        s->registered_session = zoo_client_id(s->zh)->client_id;
        wh_info(WH_AREA_ZK, "registered %s (endpoint %s)", s->node_path, s->endpoint);
        zk_ask_bootstrap(s);
    }
    if (f & ZKF_BOOT_DONE)
        boot_answered(s);
    if (f & ZKF_REG_EXISTS) {
        /* Left over from an earlier session of the same instance name. */
        wh_info(WH_AREA_ZK, "%s exists from an earlier session; replacing it", s->node_path);
        zoo_adelete(s->zh, s->node_path, -1, delete_done, s);
    }
    if (f & ZKF_APP_READ)
        app_checked(s, false);
    if (f & ZKF_APP_KIDS)
        app_checked(s, true);
    if (f & ZKF_REG_RACE) {
        /* The app node changed since we read it: read it again. */
        wh_debug(WH_AREA_ZK, "%s changed during registration; reading it again", s->app_path);
        zk_register(s);
    }
    if (f & ZKF_DELETED)
        zk_register(s);
    if (f & ZKF_ACL_OK)
        zk_read_app(s);
    if (f & ZKF_AUTH_FAILED)
        note_refused(s, "the authentication of", reg_rc);
    if (f & ZKF_REG_FAILED) {
        s->reg_inflight = false;
        if (reg_rc == ZNOAUTH ||
            (zku_auth_on(&s->auth) && (reg_rc == ZNONODE || reg_rc == ZINVALIDACL)))
            note_refused(s, "registering", reg_rc);
        wh_warn(WH_AREA_ZK, "registering %s failed: %s; retrying", s->node_path,
                zerror(reg_rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
    }
    if (zoo_state(s->zh) == ZOO_CONNECTED_STATE && !s->reg_inflight && !s->has_fatal &&
        s->zk_auth_added &&
        s->registered_session != zoo_client_id(s->zh)->client_id &&
        wh_mono_ms() >= s->reg_retry_at &&
        !(f & (ZKF_REG_EXISTS | ZKF_DELETED | ZKF_REG_RACE)))
        zk_register(s);
}

void sub_zk_unregister(wh_subscriber *s)
{
    if (s->zh && s->registered_session && zoo_state(s->zh) == ZOO_CONNECTED_STATE &&
        zoo_client_id(s->zh)->client_id == s->registered_session) {
        zoo_delete(s->zh, s->node_path, -1);
        s->registered_session = 0;
    }
}

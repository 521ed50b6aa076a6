/* sub_zk.c -- libwormhole's ZooKeeper side: session and ephemeral instance node (see sub_int.h).
 *
 * The node (protocol/zk_layout.h: apps/APP/instances/INSTANCE) is created
 * asynchronously; completions and the session watcher run on the client's
 * threads and only post ZKF_* flags under s->mu and wake the loop, which
 * acts on them in sub_zk_handle_events. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
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

static void reg_done(int rc, const char *value, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    (void)value;
    if (rc == ZOK)
        post_zk(s, ZKF_REG_OK, 0);
    else if (rc == ZNODEEXISTS)
        post_zk(s, ZKF_REG_EXISTS, 0);
    else
        post_zk(s, ZKF_REG_FAILED, rc);
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

static void parent_done(int rc, const char *value, const void *data)
{
    (void)rc;
    (void)value;
    (void)data;
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
 * of the app's instances folder (acl_done); the operator created the folder
 * (wormhole-ctl add-app), the subscriber creates no folder. */
static void zk_register_auth(wh_subscriber *s)
{
    char path[ZKU_PATH_MAX];
    int rc = zku_path_instances(path, sizeof path, s->zk_root, s->app) == WH_OK
                 ? zoo_aget_acl(s->zh, path, acl_done, s) : ZBADARGUMENTS;
    if (rc != ZOK) {
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
        return;
    }
    s->reg_inflight = true;
}

/* With authentication on, once the folder's ACL is known: creates the
 * instance node with the ACL of its kind for those ids. */
static void zk_create_instance(wh_subscriber *s)
{
    zku_acl_ids ids;
    zku_acl acl;
    char err[256];
    pthread_mutex_lock(&s->mu);
    ids = s->zk_reg_ids;
    pthread_mutex_unlock(&s->mu);
    int rc = zku_acl_for(ZKU_NODE_INSTANCE, &ids, &acl, err, sizeof err) == WH_OK
                 ? zoo_acreate(s->zh, s->node_path, s->node_data, (int)strlen(s->node_data),
                               zku_acl_vector(&acl), ZOO_EPHEMERAL, reg_done, s)
                 : ZBADARGUMENTS;
    if (rc != ZOK) {
        s->reg_inflight = false;
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
    }
}

/* Issues the creates for the node's parents, the app's positions folder and
 * the ephemeral node itself; ZooKeeper runs one session's requests in order,
 * so one completion (the node's) tells the outcome. */
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
        zoo_acreate(s->zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, parent_done, s);
        buf[i] = '/';
    }
    /* The app's positions folder, where publishers record acknowledged
     * positions (its path is no longer than node_path's, checked at start). */
    if (zku_path_positions(buf, sizeof buf, s->zk_root, s->app) == WH_OK)
        zoo_acreate(s->zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, parent_done, s);
    int rc = zoo_acreate(s->zh, s->node_path, s->node_data, (int)strlen(s->node_data),
                         &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, reg_done, s);
    if (rc != ZOK) {
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
        return;
    }
    s->reg_inflight = true;
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

/* Before the first registration, a refusal that retrying will not cure
 * becomes the start's error (wait_registered in sub.c); later it is only
 * logged and retried. */
static void note_refused(wh_subscriber *s, const char *what, int rc)
{
    char path[ZKU_PATH_MAX] = "";
    zku_path_instances(path, sizeof path, s->zk_root, s->app);
    const char *user = s->auth.user[0] ? s->auth.user : "(none)";
    if (rc == ZNONODE)
        snprintf(s->zk_fatal, sizeof s->zk_fatal, "ZooKeeper %s: app %s is not set up: %s does "
                 "not exist (an operator creates it with wormhole-ctl add-app, "
                 "docs/ZOOKEEPER.md)", s->zk_connect, s->app, path);
    else if (rc == ZINVALIDACL)
        snprintf(s->zk_fatal, sizeof s->zk_fatal, "ZooKeeper %s: the ACL of %s is not the one "
                 "of app %s's identity (set it with wormhole-ctl add-app, docs/ZOOKEEPER.md)",
                 s->zk_connect, path, s->app);
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
    }
    if (f & ZKF_REG_EXISTS) {
        /* Left over from an earlier session of the same instance name. */
        wh_info(WH_AREA_ZK, "%s exists from an earlier session; replacing it", s->node_path);
        zoo_adelete(s->zh, s->node_path, -1, delete_done, s);
    }
    if (f & ZKF_DELETED)
        zk_register(s);
    if (f & ZKF_ACL_OK)
        zk_create_instance(s);
    if (f & ZKF_AUTH_FAILED)
        note_refused(s, "the authentication of", reg_rc);
    if (f & ZKF_REG_FAILED) {
        s->reg_inflight = false;
        if (reg_rc == ZNOAUTH || reg_rc == ZNONODE || reg_rc == ZINVALIDACL)
            note_refused(s, "registering", reg_rc);
        wh_warn(WH_AREA_ZK, "registering %s failed: %s; retrying", s->node_path,
                zerror(reg_rc));
        s->reg_retry_at = wh_mono_ms() + 1000;
    }
    if (zoo_state(s->zh) == ZOO_CONNECTED_STATE && !s->reg_inflight && s->zk_auth_added &&
        s->registered_session != zoo_client_id(s->zh)->client_id &&
        wh_mono_ms() >= s->reg_retry_at && !(f & (ZKF_REG_EXISTS | ZKF_DELETED)))
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

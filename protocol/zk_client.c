/* zk_client.c -- helpers around the ZooKeeper C client (see zk_client.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/file.h"
#include "core/log.h"
#include "protocol/zk_client.h"

const char *zku_state_name(int state)
{
    if (state == ZOO_CONNECTED_STATE) return "connected";
    if (state == ZOO_CONNECTING_STATE) return "connecting";
    if (state == ZOO_ASSOCIATING_STATE) return "associating";
    if (state == ZOO_EXPIRED_SESSION_STATE) return "session expired";
    if (state == ZOO_AUTH_FAILED_STATE) return "authentication failed";
    if (state == 0) return "not connected";
    return "unknown";
}

void zku_quiet(void)
{
    if (WH_LOG_ENABLED(WH_LOG_DEBUG, WH_AREA_ZK))
        zoo_set_debug_level(ZOO_LOG_LEVEL_INFO);
    else
        zoo_set_debug_level((ZooLogLevel)0);
}

int zku_create(zhandle_t *zh, const char *root, const char *path, const char *data, int mode,
               const zku_acl_ids *ids)
{
    zku_acl acl;
    char err[256];
    if (zku_acl_for_path(root, path, ids, &acl, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_ZK, "creating %s: %s", path, err);
        return ZBADARGUMENTS;
    }
    return zoo_create(zh, path, data, data ? (int)strlen(data) : -1, zku_acl_vector(&acl), mode,
                      NULL, 0);
}

int zku_create_parents(zhandle_t *zh, const char *root, const char *path, bool include_last,
                       const zku_acl_ids *ids)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n >= sizeof buf || path[0] != '/')
        return ZBADARGUMENTS;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i] == '\0' && !include_last)
            break;
        char save = buf[i];
        buf[i] = '\0';
        int rc = zoo_exists(zh, buf, 0, NULL);
        if (rc == ZNONODE)
            rc = zku_create(zh, root, buf, NULL, 0, ids);
        buf[i] = save;
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
    }
    return ZOK;
}

/* ---- authentication ---------------------------------------------------------------------- */

int zku_auth_load(zku_auth *a, const char *user, const char *secret_file, char *errbuf,
                  size_t errlen)
{
    memset(a, 0, sizeof *a);
    bool has_user = user && *user, has_file = secret_file && *secret_file;
    if (!has_user && !has_file)
        return WH_OK;
    if (!has_user || !has_file)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "ZooKeeper authentication needs both a "
                         "user and a secret file (got only the %s)", has_user ? "user" : "file");
    if (!zku_valid_user(user))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "ZooKeeper user '%s' is not valid: 1..%d "
                         "printable characters without ':' or blanks", user, ZKU_USER_MAX);
    char *password = NULL;
    int rc = wh_file_read_secret(secret_file, &password, errbuf, errlen);
    if (rc != WH_OK) {
        wh_preferr(errbuf, errlen, rc, "ZooKeeper user %s", user);
        return rc;
    }
    size_t un = strlen(user), pn = strlen(password);
    a->credential = malloc(un + 1 + pn + 1);
    if (a->credential) {
        memcpy(a->credential, user, un);
        a->credential[un] = ':';
        memcpy(a->credential + un + 1, password, pn + 1);
        rc = zku_digest_id(user, password, a->id, sizeof a->id);
    }
    wh_secret_wipe(password, pn);
    free(password);
    if (!a->credential || rc != WH_OK) {
        zku_auth_clear(a);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "ZooKeeper user %s: out of memory", user);
    }
    snprintf(a->user, sizeof a->user, "%s", user);
    return WH_OK;
}

bool zku_auth_on(const zku_auth *a)
{
    return a && a->credential != NULL;
}

void zku_auth_clear(zku_auth *a)
{
    if (!a)
        return;
    if (a->credential) {
        wh_secret_wipe(a->credential, strlen(a->credential));
        free(a->credential);
    }
    memset(a, 0, sizeof *a);
}

int zku_auth_add(zhandle_t *zh, const zku_auth *a, void_completion_t done, const void *data)
{
    if (!zku_auth_on(a))
        return ZBADARGUMENTS;
    return zoo_add_auth(zh, "digest", a->credential, (int)strlen(a->credential), done, data);
}

typedef struct auth_wait {
    pthread_mutex_t mu;
    pthread_cond_t  cond;
    bool            done;
    int             rc;
} auth_wait;

static void auth_wait_done(int rc, const void *data)
{
    auth_wait *w = (auth_wait *)data;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

int zku_auth_add_wait(zhandle_t *zh, const zku_auth *a, int64_t timeout_ms)
{
    /* The completion may run after a timeout: the wait state outlives this
     * call then (it is leaked once, for a process that is about to fail). */
    auth_wait *w = calloc(1, sizeof *w);
    if (!w)
        return ZSYSTEMERROR;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    int rc = zku_auth_add(zh, a, auth_wait_done, w);
    if (rc != ZOK) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cond);
        free(w);
        return rc;
    }
    struct timespec deadline = wh_cond_deadline(timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done && pthread_cond_timedwait(&w->cond, &w->mu, &deadline) != ETIMEDOUT) {
    }
    bool done = w->done;
    rc = done ? w->rc : ZOPERATIONTIMEOUT;
    pthread_mutex_unlock(&w->mu);
    if (done) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cond);
        free(w);
    }
    return rc;
}

void zku_auth_ids(const zku_auth *a, bool publisher, zku_acl_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    ids->enabled = zku_auth_on(a);
    if (ids->enabled)
        snprintf(publisher ? ids->publisher : ids->app, ZKU_DIGEST_ID_MAX, "%s", a->id);
}

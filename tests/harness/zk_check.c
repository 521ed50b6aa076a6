/* zk_check.c -- writes or reads back a znode through the ZooKeeper C client, for the harness tests.
 *
 * Usage:
 *   zk_check CONNECT write PATH VALUE   create PATH (and its parents) or set it to VALUE,
 *                                       then read it back and compare
 *   zk_check CONNECT read PATH VALUE    read PATH and compare it with VALUE
 *   zk_check CONNECT absent PATH        check that PATH does not exist
 *   zk_check [--auth USER:FILE] CONNECT try OP PATH [VALUE]
 *                                       one request, its outcome printed on stdout as
 *                                       the code's name (ZOK, ZNOAUTH, ZNONODE, ...):
 *                                       OP create (persistent, open ACL), set, get,
 *                                       children, delete, or acl (then each ACL entry
 *                                       "scheme:id perms" on a line after the code)
 *
 * --auth authenticates first with the digest scheme as USER, the password
 * read from FILE (the tests of docs/ZOOKEEPER.md "Access control").
 *
 * CONNECT is a ZooKeeper connect string ("127.0.0.1:2181,127.0.0.1:2182").
 * Exit status 0 when the check holds, 1 when it does not, 2 on usage or
 * connection errors; every failure prints one line saying what and why.
 * WH_TIMEOUT_SCALE stretches the connection deadline (sanitized builds). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef THREADED
#define THREADED /* zookeeper_mt: the synchronous API is declared only with THREADED */
#endif
#include <zookeeper/zookeeper.h>

#include "core/clock.h"

#define ZKC_MAX_VALUE 4096

struct zkc_conn {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int state; /* last session state seen by the watcher */
};

static void zkc_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct zkc_conn *c = ctx;
    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&c->mu);
    c->state = state;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static double zkc_scale(void)
{
    const char *s = getenv("WH_TIMEOUT_SCALE");
    double v = s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}

/* Connect and wait until the session is established; returns NULL (after
 * printing why) on failure.  The caller closes the handle. */
static zhandle_t *zkc_connect(const char *hosts, struct zkc_conn *c)
{
    zhandle_t *zh = zookeeper_init(hosts, zkc_watcher, 10000, NULL, c, 0);
    if (zh == NULL) {
        fprintf(stderr, "zk_check: zookeeper_init(%s) failed: %s\n", hosts, strerror(errno));
        return NULL;
    }
    struct timespec deadline = wh_cond_deadline((int64_t)(30000 * zkc_scale()));
    pthread_mutex_lock(&c->mu);
    while (c->state != ZOO_CONNECTED_STATE) {
        if (c->state == ZOO_EXPIRED_SESSION_STATE || c->state == ZOO_AUTH_FAILED_STATE)
            break;
        if (pthread_cond_timedwait(&c->cond, &c->mu, &deadline) == ETIMEDOUT)
            break;
    }
    int state = c->state;
    pthread_mutex_unlock(&c->mu);
    if (state != ZOO_CONNECTED_STATE) {
        fprintf(stderr, "zk_check: no ZooKeeper session with %s (state %d)\n", hosts, state);
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

/* Create every missing ancestor of path (like mkdir -p, without path itself). */
static int zkc_create_parents(zhandle_t *zh, const char *path)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return ZBADARGUMENTS;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int rc = zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        *p = '/';
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
    }
    return ZOK;
}

static int zkc_write(zhandle_t *zh, const char *path, const char *value)
{
    int len = (int)strlen(value);
    int rc = zkc_create_parents(zh, path);
    if (rc == ZOK)
        rc = zoo_create(zh, path, value, len, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc == ZNODEEXISTS)
        rc = zoo_set(zh, path, value, len, -1);
    if (rc != ZOK) {
        fprintf(stderr, "zk_check: writing %s failed: %s\n", path, zerror(rc));
        return 1;
    }
    return 0;
}

static int zkc_read(zhandle_t *zh, const char *path, const char *want)
{
    char got[ZKC_MAX_VALUE + 1];
    int len = ZKC_MAX_VALUE;
    struct Stat st;
    int rc = zoo_get(zh, path, 0, got, &len, &st);
    if (rc != ZOK) {
        fprintf(stderr, "zk_check: reading %s failed: %s\n", path, zerror(rc));
        return 1;
    }
    if (len < 0)
        len = 0;
    got[len] = '\0';
    if ((size_t)len != strlen(want) || memcmp(got, want, (size_t)len) != 0) {
        fprintf(stderr, "zk_check: %s holds \"%s\", expected \"%s\"\n", path, got, want);
        return 1;
    }
    printf("zk_check: %s = \"%s\" (version %d)\n", path, got, st.version);
    return 0;
}

static int zkc_absent(zhandle_t *zh, const char *path)
{
    struct Stat st;
    int rc = zoo_exists(zh, path, 0, &st);
    if (rc == ZNONODE)
        return 0;
    fprintf(stderr, "zk_check: %s: expected no such znode, got %s\n", path,
            rc == ZOK ? "an existing znode" : zerror(rc));
    return 1;
}

static const char *zkc_code(int rc)
{
    static char other[32];
    static const struct { int rc; const char *name; } names[] = {
        { ZOK, "ZOK" }, { ZNOAUTH, "ZNOAUTH" }, { ZNONODE, "ZNONODE" },
        { ZNODEEXISTS, "ZNODEEXISTS" }, { ZINVALIDACL, "ZINVALIDACL" },
        { ZBADVERSION, "ZBADVERSION" }, { ZNOTEMPTY, "ZNOTEMPTY" }, { ZAUTHFAILED, "ZAUTHFAILED" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].rc == rc)
            return names[i].name;
    snprintf(other, sizeof other, "Z%d", rc);
    return other;
}

/* Authenticates as "USER:FILE" (the password is FILE's first line). */
static int zkc_auth(zhandle_t *zh, const char *spec)
{
    char cred[512];
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec) {
        fprintf(stderr, "zk_check: --auth wants USER:FILE, got \"%s\"\n", spec);
        return 2;
    }
    FILE *f = fopen(colon + 1, "r");
    size_t un = (size_t)(colon - spec);
    if (!f || un + 2 >= sizeof cred) {
        fprintf(stderr, "zk_check: --auth: cannot read %s\n", colon + 1);
        if (f)
            fclose(f);
        return 2;
    }
    memcpy(cred, spec, un + 1);
    if (!fgets(cred + un + 1, (int)(sizeof cred - un - 1), f))
        cred[un + 1] = '\0';
    fclose(f);
    cred[strcspn(cred, "\r\n")] = '\0';
    int rc = zoo_add_auth(zh, "digest", cred, (int)strlen(cred), NULL, NULL);
    memset(cred, 0, sizeof cred);
    /* The answer comes before any later request's (one session, in order). */
    if (rc != ZOK) {
        fprintf(stderr, "zk_check: zoo_add_auth: %s\n", zerror(rc));
        return 2;
    }
    return 0;
}

static int zkc_try(zhandle_t *zh, const char *op, const char *path, const char *value)
{
    char buf[ZKC_MAX_VALUE + 1];
    int len = ZKC_MAX_VALUE, rc;
    struct String_vector v = { 0, NULL };
    struct ACL_vector acl = { 0, NULL };
    struct Stat st;
    if (strcmp(op, "create") == 0)
        rc = zoo_create(zh, path, value, value ? (int)strlen(value) : -1, &ZOO_OPEN_ACL_UNSAFE, 0,
                        NULL, 0);
    else if (strcmp(op, "set") == 0)
        rc = zoo_set(zh, path, value ? value : "", value ? (int)strlen(value) : 0, -1);
    else if (strcmp(op, "get") == 0)
        rc = zoo_get(zh, path, 0, buf, &len, &st);
    else if (strcmp(op, "children") == 0)
        rc = zoo_get_children(zh, path, 0, &v);
    else if (strcmp(op, "delete") == 0)
        rc = zoo_delete(zh, path, -1);
    else if (strcmp(op, "acl") == 0)
        rc = zoo_get_acl(zh, path, &acl, &st);
    else {
        fprintf(stderr, "zk_check: unknown try operation \"%s\"\n", op);
        return 2;
    }
    printf("%s\n", zkc_code(rc));
    for (int i = 0; rc == ZOK && i < acl.count; i++)
        printf("%s:%s %d\n", acl.data[i].id.scheme, acl.data[i].id.id, acl.data[i].perms);
    if (rc == ZOK && strcmp(op, "acl") == 0)
        deallocate_ACL_vector(&acl);
    if (rc == ZOK && strcmp(op, "children") == 0)
        deallocate_String_vector(&v);
    return 0;
}

int main(int argc, char **argv)
{
    const char *auth = NULL;
    if (argc > 2 && strcmp(argv[1], "--auth") == 0) {
        auth = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc >= 5 && strcmp(argv[2], "try") == 0) {
        zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
        struct zkc_conn c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        zhandle_t *zh = zkc_connect(argv[1], &c);
        if (zh == NULL)
            return 2;
        int rc = auth ? zkc_auth(zh, auth) : 0;
        if (rc == 0)
            rc = zkc_try(zh, argv[3], argv[4], argc > 5 ? argv[5] : NULL);
        zookeeper_close(zh);
        return rc;
    }
    if (argc < 4 || (strcmp(argv[2], "absent") != 0 && argc != 5)) {
        fprintf(stderr, "usage: zk_check CONNECT write|read PATH VALUE | zk_check CONNECT absent PATH\n");
        return 2;
    }
    if (strlen(argv[3]) < 2 || argv[3][0] != '/') {
        fprintf(stderr, "zk_check: PATH must be absolute, got \"%s\"\n", argv[3]);
        return 2;
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    struct zkc_conn c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    zhandle_t *zh = zkc_connect(argv[1], &c);
    if (zh == NULL)
        return 2;
    int rc;
    if (strcmp(argv[2], "write") == 0) {
        rc = zkc_write(zh, argv[3], argv[4]);
        if (rc == 0)
            rc = zkc_read(zh, argv[3], argv[4]);
    } else if (strcmp(argv[2], "read") == 0) {
        rc = zkc_read(zh, argv[3], argv[4]);
    } else if (strcmp(argv[2], "absent") == 0) {
        rc = zkc_absent(zh, argv[3]);
    } else {
        fprintf(stderr, "zk_check: unknown action \"%s\"\n", argv[2]);
        rc = 2;
    }
    zookeeper_close(zh);
    return rc;
}

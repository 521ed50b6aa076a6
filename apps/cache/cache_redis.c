/* cache_redis.c -- the Redis backend: one pipeline per round (hiredis redisAppendCommandArgv), every reply checked.
 *
 * Consecutive deletes become one multi-key DEL (up to REDIS_DEL_KEYS keys),
 * sets are SET key value [EX ttl], in the order of the ops. flush writes the
 * whole pipeline; confirm reads one reply per command: an error reply (OOM
 * under maxmemory noeviction, READONLY on a replica, NOAUTH) fails the
 * round. A DEL's integer reply counts the keys that existed (hits); a
 * missing key is done all the same. On_ddl flush runs in order inside the
 * round: the replies so far are read, then SCAN MATCH each of the rule's
 * key patterns and DEL what it finds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "apps/cache/cache.h"
#include "core/errbuf.h"

#define REDIS_DEL_KEYS 1024

typedef struct redis_backend {
    cache_backend base;
    redisContext *rc;
    const char   *argv[REDIS_DEL_KEYS + 1];
    size_t        argl[REDIS_DEL_KEYS + 1];
    uint32_t      ndel;          /* keys waiting in argv[1..] for one DEL */
    uint32_t      pending;       /* commands sent whose replies are not read yet */
    cache_counts  round;
} redis_backend;

static int r_fail(redis_backend *b, const char *what, const char *why, char *errbuf,
                  size_t errlen)
{
    return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: %s: %s", b->base.desc, what,
                     why ? why : (b->rc && b->rc->errstr[0] ? b->rc->errstr : "no connection"));
}

static void r_reset(cache_backend *base)
{
    redis_backend *b = (redis_backend *)base;
    if (b->rc)
        redisFree(b->rc);
    b->rc = NULL;
    b->ndel = 0;
    b->pending = 0;
    memset(&b->round, 0, sizeof b->round);
}

/* A synchronous command on a fresh connection (AUTH, SELECT). */
static int r_simple(redis_backend *b, int argc, const char **argv, char *errbuf, size_t errlen)
{
    redisReply *r = redisCommandArgv(b->rc, argc, argv, NULL);
    if (!r)
        return r_fail(b, argv[0], NULL, errbuf, errlen);
    int rc = WH_OK;
    if (r->type == REDIS_REPLY_ERROR)
        rc = r_fail(b, argv[0], r->str, errbuf, errlen);
    freeReplyObject(r);
    return rc;
}

static int r_begin(cache_backend *base, char *errbuf, size_t errlen)
{
    redis_backend *b = (redis_backend *)base;
    const cache_cfg *cfg = base->cfg;
    memset(&b->round, 0, sizeof b->round);
    b->ndel = 0;
    b->pending = 0;
    if (b->rc)
        return WH_OK;
    char host[256];
    int port;
    if (cache_split_hostport(cfg->servers[0], host, sizeof host, &port))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: bad server '%s'", base->desc,
                         cfg->servers[0]);
    struct timeval tv = { (time_t)(cfg->timeout_ms / 1000), (suseconds_t)(cfg->timeout_ms % 1000) * 1000 };
    b->rc = redisConnectWithTimeout(host, port, tv);
    if (!b->rc)
        return WH_ERR_NOMEM;
    int rc = WH_OK;
    if (b->rc->err) {
        rc = r_fail(b, "connecting", NULL, errbuf, errlen);
        goto err;
    }
    if (redisSetTimeout(b->rc, tv) != REDIS_OK) {
        rc = r_fail(b, "setting the timeout", NULL, errbuf, errlen);
        goto err;
    }
    if (cfg->password) {
        const char *argv[] = { "AUTH", cfg->password };
        if ((rc = r_simple(b, 2, argv, errbuf, errlen)))
            goto err;
    }
    if (cfg->db) {
        char db[24];
        snprintf(db, sizeof db, "%lld", (long long)cfg->db);
        const char *argv[] = { "SELECT", db };
        if ((rc = r_simple(b, 2, argv, errbuf, errlen)))
            goto err;
    }
    return WH_OK;
err:
    r_reset(base);
    return rc;
}

static int r_append(redis_backend *b, int argc, const char **argv, const size_t *argl,
                    char *errbuf, size_t errlen)
{
    if (redisAppendCommandArgv(b->rc, argc, argv, argl) != REDIS_OK)
        return r_fail(b, "queueing a command", NULL, errbuf, errlen);
    b->pending++;
    return WH_OK;
}

static int r_emit_del(redis_backend *b, char *errbuf, size_t errlen)
{
    if (b->ndel == 0)
        return WH_OK;
    b->argv[0] = "DEL";
    b->argl[0] = 3;
    int rc = r_append(b, (int)b->ndel + 1, b->argv, b->argl, errbuf, errlen);
    b->round.deletes += b->ndel;
    b->ndel = 0;
    return rc;
}

/* Reads the reply of every command sent so far. */
static int r_drain(redis_backend *b, char *errbuf, size_t errlen)
{
    while (b->pending) {
        redisReply *r = NULL;
        if (redisGetReply(b->rc, (void **)&r) != REDIS_OK || !r)
            return r_fail(b, "reading a reply", NULL, errbuf, errlen);
        b->pending--;
        int rc = WH_OK;
        if (r->type == REDIS_REPLY_ERROR)
            rc = r_fail(b, "the server refused a command", r->str, errbuf, errlen);
        else if (r->type == REDIS_REPLY_INTEGER)
            b->round.hits += (uint64_t)r->integer;
        freeReplyObject(r);
        if (rc)
            return rc;
    }
    return WH_OK;
}

/* SCAN MATCH pattern, DEL what matches; synchronous, in order with the round. */
static int r_flush_pattern(redis_backend *b, const char *pattern, char *errbuf, size_t errlen)
{
    char cursor[32] = "0";
    do {
        const char *argv[] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
        redisReply *r = redisCommandArgv(b->rc, 6, argv, NULL);
        if (!r)
            return r_fail(b, "SCAN", NULL, errbuf, errlen);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            int rc = r_fail(b, "SCAN", r->type == REDIS_REPLY_ERROR ? r->str
                                                                    : "unexpected reply",
                            errbuf, errlen);
            freeReplyObject(r);
            return rc;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        int rc = WH_OK;
        for (size_t i = 0; i < keys->elements && rc == WH_OK; i++) {
            b->argv[b->ndel + 1] = keys->element[i]->str;
            b->argl[b->ndel + 1] = keys->element[i]->len;
            if (++b->ndel == REDIS_DEL_KEYS)
                rc = r_emit_del(b, errbuf, errlen);
        }
        if (rc == WH_OK)
            rc = r_emit_del(b, errbuf, errlen);
        if (rc == WH_OK)
            rc = r_drain(b, errbuf, errlen);    /* before the reply's strings go */
        freeReplyObject(r);
        if (rc)
            return rc;
    } while (strcmp(cursor, "0") != 0);
    return WH_OK;
}

static int r_add(cache_backend *base, const cache_op *op, const char *data, char *errbuf,
                 size_t errlen)
{
    redis_backend *b = (redis_backend *)base;
    int rc;
    switch (op->kind) {
    case OP_DELETE:
        b->argv[b->ndel + 1] = data + op->key_off;
        b->argl[b->ndel + 1] = op->key_len;
        if (++b->ndel == REDIS_DEL_KEYS)
            return r_emit_del(b, errbuf, errlen);
        return WH_OK;
    case OP_SET: {
        if ((rc = r_emit_del(b, errbuf, errlen)))
            return rc;
        char ttl[24];
        int tn = snprintf(ttl, sizeof ttl, "%u", op->ttl);
        const char *argv[] = { "SET", data + op->key_off, data + op->val_off, "EX", ttl };
        size_t argl[] = { 3, op->key_len, op->val_len, 2, (size_t)tn };
        b->round.sets++;
        return r_append(b, op->ttl ? 5 : 3, argv, argl, errbuf, errlen);
    }
    case OP_FLUSH:
        if ((rc = r_emit_del(b, errbuf, errlen)) || (rc = r_drain(b, errbuf, errlen)))
            return rc;
        for (uint32_t off = 0; off < op->val_len;) {
            const char *pat = data + op->val_off + off;
            if ((rc = r_flush_pattern(b, pat, errbuf, errlen)))
                return rc;
            off += (uint32_t)strlen(pat) + 1;
        }
        b->round.flushes++;
        return WH_OK;
    default:
        return WH_ERR_INVALID;
    }
}

static int r_flush(cache_backend *base, char *errbuf, size_t errlen)
{
    redis_backend *b = (redis_backend *)base;
    int rc = r_emit_del(b, errbuf, errlen);
    if (rc)
        return rc;
    int done = 0;
    while (!done)
        if (redisBufferWrite(b->rc, &done) != REDIS_OK)
            return r_fail(b, "sending the pipeline", NULL, errbuf, errlen);
    return WH_OK;
}

static int r_confirm(cache_backend *base, cache_counts *counts, char *errbuf, size_t errlen)
{
    redis_backend *b = (redis_backend *)base;
    int rc = r_drain(b, errbuf, errlen);
    if (rc)
        return rc;
    counts->deletes += b->round.deletes;
    counts->sets += b->round.sets;
    counts->flushes += b->round.flushes;
    counts->hits += b->round.hits;
    memset(&b->round, 0, sizeof b->round);
    return WH_OK;
}

static void r_free(cache_backend *base)
{
    r_reset(base);
    free(base);
}

static const cache_backend_ops redis_ops = {
    r_begin, r_add, r_flush, r_confirm, r_reset, r_free,
};

int cache_redis_new(const cache_cfg *cfg, cache_backend **out)
{
    redis_backend *b = calloc(1, sizeof *b);
    if (!b)
        return WH_ERR_NOMEM;
    b->base.ops = &redis_ops;
    b->base.cfg = cfg;
    snprintf(b->base.desc, sizeof b->base.desc, "redis %s/%lld", cfg->servers[0],
             (long long)cfg->db);
    *out = &b->base;
    return WH_OK;
}

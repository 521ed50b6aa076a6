/* cache_memcached.c -- the memcached backend: noreply ops, buffered, confirmed by one barrier get per server.
 *
 * libmemcached sends deletes and sets with "noreply" into its write buffer
 * (MEMCACHED_BEHAVIOR_BUFFER_REQUESTS + MEMCACHED_BEHAVIOR_NOREPLY), so a
 * round of thousands of ops costs no round trip per op. A round ends with a
 * multi-get of one barrier key per server (memcached_mget): memcached
 * executes a connection's commands in order, so the END of that get proves
 * the server processed every op sent before it on the connection. A noreply
 * delete of a missing key is processed like a hit (nothing to answer); a
 * noreply command that fails (out of memory storing an item, a bad command)
 * makes memcached send an error line even so, which arrives in place of the
 * barrier's reply and fails the round. Any failure drops the connection
 * (the whole memcached_st is rebuilt), so no half-read reply is ever
 * mistaken for the next round's.
 *
 * Keys are mapped to servers by libmemcached (ketama or modula, as the
 * config says): the same mapping the application's libmemcached-based
 * clients use with the same server list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>

#include "apps/cache/cache.h"
#include "core/errbuf.h"

#define MC_BARRIER_PREFIX "wormhole-cache:barrier:"

typedef struct mc_backend {
    cache_backend       base;
    memcached_st       *mc;
    memcached_result_st result;
    bool                result_init;
    char              **bkeys;      /* one barrier key per server */
    size_t             *blens;
    uint32_t            nbkeys;
    cache_counts        round;      /* counted during the round, reported at confirm */
} mc_backend;

static int mc_fail(mc_backend *b, memcached_return_t rc, const char *what, char *errbuf,
                   size_t errlen)
{
    const char *detail = b->mc ? memcached_last_error_message(b->mc) : NULL;
    return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: %s: %s%s%s", b->base.desc, what,
                     b->mc ? memcached_strerror(b->mc, rc) : "no connection",
                     detail ? ": " : "", detail ? detail : "");
}

static void mc_reset(cache_backend *base)
{
    mc_backend *b = (mc_backend *)base;
    if (b->result_init)
        memcached_result_free(&b->result);
    b->result_init = false;
    if (b->mc)
        memcached_free(b->mc);
    b->mc = NULL;
    memset(&b->round, 0, sizeof b->round);
}

/* Builds the memcached_st: servers, distribution, timeouts, noreply
 * buffering, and a barrier key for each server. No I/O yet. */
static int mc_setup(mc_backend *b, char *errbuf, size_t errlen)
{
    const cache_cfg *cfg = b->base.cfg;
    memcached_return_t rc;
    b->mc = memcached_create(NULL);
    if (!b->mc)
        return WH_ERR_NOMEM;
    for (uint32_t i = 0; i < cfg->nservers; i++) {
        char host[256];
        int port;
        if (cache_split_hostport(cfg->servers[i], host, sizeof host, &port))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: bad server '%s'", b->base.desc,
                             cfg->servers[i]);
        rc = memcached_server_add(b->mc, host, (in_port_t)port);
        if (rc != MEMCACHED_SUCCESS)
            return mc_fail(b, rc, "adding a server", errbuf, errlen);
    }
    if (cfg->ketama &&
        (rc = memcached_behavior_set(b->mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1)) !=
            MEMCACHED_SUCCESS)
        return mc_fail(b, rc, "setting ketama distribution", errbuf, errlen);
    uint64_t tmo = (uint64_t)cfg->timeout_ms;
    struct { memcached_behavior_t k; uint64_t v; } behaviors[] = {
        { MEMCACHED_BEHAVIOR_NOREPLY, 1 },
        { MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1 },
        { MEMCACHED_BEHAVIOR_TCP_NODELAY, 1 },
        { MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, tmo },
        { MEMCACHED_BEHAVIOR_POLL_TIMEOUT, tmo },
        { MEMCACHED_BEHAVIOR_SND_TIMEOUT, tmo * 1000 },
        { MEMCACHED_BEHAVIOR_RCV_TIMEOUT, tmo * 1000 },
    };
    for (size_t i = 0; i < sizeof behaviors / sizeof behaviors[0]; i++)
        if ((rc = memcached_behavior_set(b->mc, behaviors[i].k, behaviors[i].v)) !=
            MEMCACHED_SUCCESS)
            return mc_fail(b, rc, "setting a behavior", errbuf, errlen);
    if (!memcached_result_create(b->mc, &b->result))
        return WH_ERR_NOMEM;
    b->result_init = true;
    /* A barrier key that maps to each server (the mapping depends only on
     * the server list and the distribution, so once is enough). */
    if (b->nbkeys == 0) {
        uint32_t found = 0;
        for (uint32_t i = 0; found < cfg->nservers && i < 1000000; i++) {
            char key[64];
            int n = snprintf(key, sizeof key, MC_BARRIER_PREFIX "%u", i);
            uint32_t s = memcached_generate_hash(b->mc, key, (size_t)n);
            if (s < cfg->nservers && !b->bkeys[s]) {
                if (!(b->bkeys[s] = strdup(key)))
                    return WH_ERR_NOMEM;
                b->blens[s] = (size_t)n;
                found++;
            }
        }
        if (found < cfg->nservers)
            return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "%s: no barrier key maps to some "
                             "server", b->base.desc);
        b->nbkeys = found;
    }
    return WH_OK;
}

static int mc_begin(cache_backend *base, char *errbuf, size_t errlen)
{
    mc_backend *b = (mc_backend *)base;
    memset(&b->round, 0, sizeof b->round);
    if (!b->mc) {
        int rc = mc_setup(b, errbuf, errlen);
        if (rc) {
            mc_reset(base);
            return rc;
        }
    }
    return WH_OK;
}

static int mc_add(cache_backend *base, const cache_op *op, const char *data, char *errbuf,
                  size_t errlen)
{
    mc_backend *b = (mc_backend *)base;
    memcached_return_t rc;
    const char *key = data + op->key_off;
    size_t klen = op->key_len;
    switch (op->kind) {
    case OP_FLUSH:
        rc = memcached_flush(b->mc, 0);
        if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED)
            return mc_fail(b, rc, "flush_all", errbuf, errlen);
        b->round.flushes++;
        return WH_OK;
    case OP_SET:
        if (!cache_mc_key_ok(key, klen)) {
            b->round.unstorable++;    /* no client can have stored it: nothing to replace */
            return WH_OK;
        }
        if ((int64_t)klen + op->val_len + 64 <= base->cfg->max_item_bytes) {
            rc = memcached_set(b->mc, key, klen, data + op->val_off, op->val_len,
                               (time_t)op->ttl, 0);
            if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED)
                return mc_fail(b, rc, "set", errbuf, errlen);
            b->round.sets++;
            return WH_OK;
        }
        /* Too large for the servers: the old value must still go. */
        b->round.unstorable++;
        break;
    case OP_DELETE:
        if (!cache_mc_key_ok(key, klen)) {
            b->round.unstorable++;
            return WH_OK;
        }
        break;
    default:
        return WH_ERR_INVALID;
    }
    rc = memcached_delete(b->mc, key, klen, 0);
    if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED)
        return mc_fail(b, rc, "delete", errbuf, errlen);
    b->round.deletes++;
    return WH_OK;
}

static int mc_flush(cache_backend *base, char *errbuf, size_t errlen)
{
    mc_backend *b = (mc_backend *)base;
    /* The barrier gets follow the buffered ops on each server's connection;
     * mget sends everything. */
    memcached_return_t rc = memcached_mget(b->mc, (const char *const *)b->bkeys, b->blens,
                                           b->nbkeys);
    if (rc != MEMCACHED_SUCCESS)
        return mc_fail(b, rc, "sending the barrier", errbuf, errlen);
    return WH_OK;
}

static int mc_confirm(cache_backend *base, cache_counts *counts, char *errbuf, size_t errlen)
{
    mc_backend *b = (mc_backend *)base;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    while (memcached_fetch_result(b->mc, &b->result, &rc) != NULL)
        ;   /* the barrier key exists: someone stored it; its value does not matter */
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND)
        return mc_fail(b, rc, "confirming the round (barrier get)", errbuf, errlen);
    counts->deletes += b->round.deletes;
    counts->sets += b->round.sets;
    counts->flushes += b->round.flushes;
    counts->unstorable += b->round.unstorable;
    memset(&b->round, 0, sizeof b->round);
    return WH_OK;
}

static void mc_free(cache_backend *base)
{
    mc_backend *b = (mc_backend *)base;
    mc_reset(base);
    if (b->bkeys)
        for (uint32_t i = 0; i < base->cfg->nservers; i++)
            free(b->bkeys[i]);
    free(b->bkeys);
    free(b->blens);
    free(b);
}

static const cache_backend_ops mc_ops = {
    mc_begin, mc_add, mc_flush, mc_confirm, mc_reset, mc_free,
};

int cache_memcached_new(const cache_cfg *cfg, cache_backend **out)
{
    mc_backend *b = calloc(1, sizeof *b);
    if (!b)
        return WH_ERR_NOMEM;
    b->base.ops = &mc_ops;
    b->base.cfg = cfg;
    size_t n = (size_t)snprintf(b->base.desc, sizeof b->base.desc, "memcached");
    for (uint32_t i = 0; i < cfg->nservers && n < sizeof b->base.desc; i++)
        n += (size_t)snprintf(b->base.desc + n, sizeof b->base.desc - n, "%c%s",
                              i ? ',' : ' ', cfg->servers[i]);
    b->bkeys = calloc(cfg->nservers, sizeof *b->bkeys);
    b->blens = calloc(cfg->nservers, sizeof *b->blens);
    if (!b->bkeys || !b->blens) {
        mc_free(&b->base);
        return WH_ERR_NOMEM;
    }
    *out = &b->base;
    return WH_OK;
}

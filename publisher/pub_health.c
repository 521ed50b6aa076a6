/* pub_health.c -- the health-check thread: asks the mapper whether this copy of the shard can serve it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "publisher/pub_health.h"

struct pub_health {
    publisher *pub;
    void (*changed)(void *ctx);
    void *ctx;
    wh_mapper *m;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    bool checked, ok;     /* under mu */
    char why[512];        /* under mu */
};

/* Whether two reasons say the same thing apart from their figures ("lags 107 s"
 * and "lags 108 s"): a growing lag is not a new reason to log or to rewrite the
 * candidate node for. */
static bool same_reason(const char *a, const char *b)
{
    for (;;) {
        bool da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
        if (da && db) {
            while (*a >= '0' && *a <= '9')
                a++;
            while (*b >= '0' && *b <= '9')
                b++;
            continue;
        }
        if (*a != *b)
            return false;
        if (!*a)
            return true;
        a++;
        b++;
    }
}

static void *health_main(void *arg)
{
    pub_health *h = arg;
    const pub_config *cfg = &h->pub->cfg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        pthread_mutex_unlock(&h->mu);
        char why[512] = "";
        int rc = wh_mapper_health(h->m, (int)cfg->health_max_lag_s, why, sizeof why);
        if (rc != WH_OK && !why[0])
            snprintf(why, sizeof why, "the mapper's health check failed (%s)", wh_err_name(rc));
        pthread_mutex_lock(&h->mu);
        bool change = !h->checked || h->ok != (rc == WH_OK) ||
                      (rc != WH_OK && !same_reason(h->why, why));
        if (change && rc != WH_OK)
            wh_warn(WH_AREA_PUBLISHER, "shard %s: this copy cannot serve it: %s", cfg->shard,
                    why);
        else if (change && h->checked)
            wh_info(WH_AREA_PUBLISHER, "shard %s: this copy is healthy again", cfg->shard);
        h->checked = true;
        h->ok = rc == WH_OK;
        snprintf(h->why, sizeof h->why, "%s", why);
        if (change) {
            pthread_mutex_unlock(&h->mu);
            h->changed(h->ctx);
            pthread_mutex_lock(&h->mu);
        }
        if (h->stop)
            break;
        struct timespec ts = wh_cond_deadline(cfg->health_interval_ms);
        pthread_cond_timedwait(&h->cond, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int pub_health_start(publisher *p, void (*changed)(void *ctx), void *ctx, pub_health **out,
                     char *errbuf, size_t errlen)
{
    pub_health *h = calloc(1, sizeof *h);
    if (!h)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    h->pub = p;
    h->changed = changed;
    h->ctx = ctx;
    int rc = wh_mapper_create(p->cfg.mapper_name, p->cfg.mapper_options, p->cfg.shard, false,
                              &h->m, errbuf, errlen);
    if (rc != WH_OK) {
        free(h);
        return rc;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cond, NULL);
    if (pthread_create(&h->thread, NULL, health_main, h) != 0) {
        wh_mapper_destroy(h->m);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cond);
        free(h);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot start the health-check thread");
    }
    *out = h;
    return WH_OK;
}

bool pub_health_ok(pub_health *h, char *why, size_t len)
{
    pthread_mutex_lock(&h->mu);
    bool ok = h->checked && h->ok;
    snprintf(why, len, "%s", h->checked ? h->why : "its first health check has not ended yet");
    pthread_mutex_unlock(&h->mu);
    return ok;
}

bool pub_health_checked(pub_health *h)
{
    pthread_mutex_lock(&h->mu);
    bool checked = h->checked;
    pthread_mutex_unlock(&h->mu);
    return checked;
}

void pub_health_stop(pub_health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    wh_mapper_destroy(h->m);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cond);
    free(h);
}

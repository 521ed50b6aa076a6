/* pub_caravan.c -- a caravan: one mapper reader feeding a group of flows at the same position.
 *
 * The thread reads a batch, and for each member flow applies its filter and
 * encodes the matching updates into the flow's output buffer, then advances
 * the flow's processed position over the whole batch (filtered-out updates
 * included). A member whose window stays full for caravan_wait_ms leaves
 * the caravan at a batch boundary; the loop gives it a reader of its own from
 * its processed position, so a slow subscriber never holds back the others.
 * Flows whose resume position equals a caravan's current position join it
 * (pub_caravan_add), and two caravans that stand at the same position merge
 * (pub_caravan_merge): that is how a flow that split off comes back once it
 * has caught up, at the latest at the head of the log where both wait. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "publisher/pub.h"

/* ---- flow output (flow mu held) ------------------------------------------------------------- */

bool pub_flow_send_locked(pub_flow *f)
{
    if (f->fd < 0 || f->io_errno)
        return false;
    while (f->out_off < f->out.len) {
        ssize_t n = send(f->fd, f->out.data + f->out_off, f->out.len - f->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            f->out_off += (size_t)n;
            f->last_send = pub_now_ms();
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        f->io_errno = n < 0 ? errno : EPIPE;
        return false;
    }
    if (f->out_off == f->out.len) {
        wh_buf_reset(&f->out);
        f->out_off = 0;
    } else if (f->out_off > (1u << 20) && f->out_off > f->out.len / 2) {
        memmove(f->out.data, f->out.data + f->out_off, f->out.len - f->out_off);
        f->out.len -= f->out_off;
        f->out_off = 0;
    }
    return true;
}

void pub_flow_mark_locked(pub_flow *f)
{
    if (!f->processed.set || wh_pos_equal(&f->processed, &f->marked))
        return;
    if (f->nmarkers == f->capmarkers) {
        uint32_t cap = f->capmarkers ? f->capmarkers * 2 : 16;
        pub_marker *m = malloc(cap * sizeof *m);
        if (!m)
            return;   /* try again at the next batch */
        for (uint32_t i = 0; i < f->nmarkers; i++)
            m[i] = f->markers[(f->headmarker + i) % f->capmarkers];
        free(f->markers);
        f->markers = m;
        f->capmarkers = cap;
        f->headmarker = 0;
    }
    wh_position view;
    size_t before = f->out.len;
    uint64_t seq = ++f->next_mseq;
    if (wire_put_datamarker(&f->out, seq, wh_pos_to_view(&f->processed, &view)) != WH_OK) {
        f->out.len = before;
        f->next_mseq--;
        return;
    }
    f->bytes_total += f->out.len - before;
    pub_marker *m = &f->markers[(f->headmarker + f->nmarkers) % f->capmarkers];
    m->seq = seq;
    m->bytes_end = f->bytes_total;
    m->pos = f->processed;
    f->nmarkers++;
    f->marked = f->processed;
    f->since_marker = 0;
    f->bytes_at_marker = f->bytes_total;
    f->last_marker_ms = pub_now_ms();
}

/* Encodes ups[0..n) for f (flow mu held). Returns 0 or a fatal error. */
static int deliver(pub_caravan *c, pub_flow *f, const wh_update *ups, int n, char *err,
                   size_t errlen)
{
    publisher *p = c->pub;
    size_t frame_target = (size_t)p->cfg.frame_bytes;
    bool open = false;
    uint32_t sent = 0;
    for (int i = 0; i < n; i++) {
        if (f->filter && !wh_filter_match(f->filter, &ups[i]))
            continue;
        if (!open) {
            wire_enc_begin(&f->enc, &f->out, p->cfg.shard);
            open = true;
        }
        if (wire_enc_add(&f->enc, &ups[i]) != WH_OK)
            return wh_seterr(err, errlen, WH_ERR_NOMEM, "out of memory encoding for app %s",
                             f->app);
        sent++;
        if (f->out.len - f->enc.frame_start >= frame_target) {
            size_t start = f->enc.frame_start;
            int rc = wire_enc_end(&f->enc);
            if (rc != WH_OK)
                return wh_seterr(err, errlen, rc, "app %s: update at %s:%llu/%u does not fit "
                                 "in one frame (%s)", f->app,
                                 ups[i].pos.log_name ? ups[i].pos.log_name : "",
                                 (unsigned long long)ups[i].pos.offset, ups[i].pos.index,
                                 wh_err_str(rc));
            f->bytes_total += f->out.len - start;
            f->n_frames++;
            open = false;
        }
    }
    if (open) {
        size_t start = f->enc.frame_start;
        int rc = wire_enc_end(&f->enc);
        if (rc != WH_OK)
            return wh_seterr(err, errlen, rc, "app %s: a batch does not fit in one frame (%s)",
                             f->app, wh_err_str(rc));
        f->bytes_total += f->out.len - start;
        f->n_frames++;
    }
    f->n_sent += sent;
    f->n_filtered += (uint64_t)n - sent;
    if (!wh_pos_from_view(&f->processed, &ups[n - 1].pos))
        return wh_seterr(err, errlen, WH_ERR_LIMIT, "position of an update is too long");
    f->since_marker += (uint64_t)n;
    if (f->since_marker >= (uint64_t)atomic_load(&p->marker_updates) ||
        f->bytes_total - f->bytes_at_marker >= (uint64_t)atomic_load(&p->window_bytes) / 4)
        pub_flow_mark_locked(f);
    pub_flow_send_locked(f);
    return WH_OK;
}

static bool window_full(publisher *p, pub_flow *f)
{
    return f->bytes_total - f->bytes_acked >= (uint64_t)atomic_load(&p->window_bytes);
}

/* Drops member k (caravan mu held); the loop gives it a reader of its own. */
static void evict(pub_caravan *c, uint32_t k, const char *why)
{
    pub_flow *f = c->members[k];
    wh_info(WH_AREA_CARAVAN, "app %s leaves caravan %llu: %s", f->app,
            (unsigned long long)c->id, why);
    c->members[k] = c->members[--c->nmembers];
    pub_wake(c->pub);
}

static void *caravan_main(void *arg)
{
    pub_caravan *c = arg;
    publisher *p = c->pub;
    wh_mapper *m = NULL;
    char err[1024] = "";
    int rc = pub_mapper_create(p->cfg.mapper_name, p->cfg.mapper_options, p->cfg.shard, true, &m,
                              err, sizeof err);
    if (rc == WH_OK) {
        if (c->start.set && !c->start.has_log_name && c->start.has_logical)
            rc = m->ops->seek_logical(m, &c->start, false, err, sizeof err);
        else if (c->start.set)
            rc = m->ops->seek_physical(m, &c->start, false, err, sizeof err);
        else
            rc = m->ops->seek_physical(m, NULL, true, err, sizeof err);
    }
    while (rc == WH_OK && !atomic_load(&c->stop)) {
        const wh_update *ups;
        int n = m->ops->next_batch(m, &ups, (int)atomic_load(&p->batch_size), 100, err,
                                   sizeof err);
        atomic_store(&c->beat_ms, pub_now_ms());
        if (n == WH_ERR_AGAIN || n == WH_ERR_EOF) {
            pthread_mutex_lock(&c->mu);
            c->at_head = true;
            pthread_mutex_unlock(&c->mu);
        }
        if (n == WH_ERR_AGAIN)
            continue;
        if (n == WH_ERR_EOF) {
            struct timespec ts = { 0, 20 * 1000000 };
            nanosleep(&ts, NULL);
            continue;
        }
        if (n < 0) {
            rc = n;
            break;
        }
        pthread_mutex_lock(&c->mu);
        /* Members whose window is full get caravan_wait_ms to drain, then leave. */
        int64_t deadline = pub_now_ms() + atomic_load(&p->caravan_wait_ms);
        for (;;) {
            bool any_full = false;
            for (uint32_t k = 0; k < c->nmembers; k++) {
                pub_flow *f = c->members[k];
                pthread_mutex_lock(&f->mu);
                any_full |= window_full(p, f);
                pthread_mutex_unlock(&f->mu);
            }
            if (!any_full || pub_now_ms() >= deadline || atomic_load(&c->stop))
                break;
            pub_cond_wait_ms(&c->cond, &c->mu, 10);
        }
        for (uint32_t k = 0; k < c->nmembers;) {
            pub_flow *f = c->members[k];
            pthread_mutex_lock(&f->mu);
            bool full = window_full(p, f);
            pthread_mutex_unlock(&f->mu);
            if (full && c->nmembers > 1) {
                evict(c, k, "its subscriber is slower than the others (window full)");
                continue;
            }
            k++;
        }
        /* A lone member with a full window simply waits: it is the slow one. */
        while (c->nmembers == 1 && !atomic_load(&c->stop)) {
            pub_flow *f = c->members[0];
            pthread_mutex_lock(&f->mu);
            bool full = window_full(p, f) && !f->io_errno;
            pthread_mutex_unlock(&f->mu);
            if (!full)
                break;
            pub_cond_wait_ms(&c->cond, &c->mu, 50);
        }
        for (uint32_t k = 0; k < c->nmembers && rc == WH_OK; k++) {
            pub_flow *f = c->members[k];
            pthread_mutex_lock(&f->mu);
            if (!f->io_errno)
                rc = deliver(c, f, ups, n, err, sizeof err);
            pthread_mutex_unlock(&f->mu);
        }
        wh_pos_from_view(&c->last, &ups[n - 1].pos);
        c->reading = true;
        c->at_head = false;
        c->last_ts = ups[n - 1].ts;
        pthread_mutex_unlock(&c->mu);
    }
    if (rc != WH_OK && !atomic_load(&c->stop)) {
        char where[800] = "the oldest position";
        if (c->last.set)
            wh_pos_format_physical(&c->last, where, sizeof where);
        else if (c->start.set)
            wh_pos_format_physical(&c->start, where, sizeof where);
        snprintf(c->err, sizeof c->err, "mapper %s (reading shard %s after %s): %s",
                 p->cfg.mapper_name, p->cfg.shard, where, err[0] ? err : wh_err_str(rc));
        atomic_store(&c->dead, true);
        pub_wake(p);
    }
    wh_mapper_destroy(m);
    return NULL;
}

pub_caravan *pub_caravan_new(publisher *p, const wh_pos *start)
{
    pub_caravan *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pub = p;
    c->start = *start;
    c->last = *start;
    c->id = ++p->next_caravan_id;
    atomic_store(&c->beat_ms, pub_now_ms());
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

int pub_caravan_run(pub_caravan *c)
{
    return pthread_create(&c->thread, NULL, caravan_main, c) == 0 ? WH_OK : WH_ERR_IO;
}

bool pub_caravan_add(pub_caravan *c, pub_flow *f)
{
    bool ok = false;
    pthread_mutex_lock(&c->mu);
    /* Joins only at the caravan's current position (a batch boundary). */
    if (!atomic_load(&c->dead) && wh_pos_equal(&c->last, &f->resume)) {
        if (c->nmembers == c->capmembers) {
            uint32_t cap = c->capmembers ? c->capmembers * 2 : 8;
            pub_flow **mm = realloc(c->members, cap * sizeof *mm);
            if (!mm)
                goto out;
            c->members = mm;
            c->capmembers = cap;
        }
        pthread_mutex_lock(&f->mu);
        f->processed = f->resume;
        f->marked = f->resume;
        pthread_mutex_unlock(&f->mu);
        c->members[c->nmembers++] = f;
        f->caravan = c;
        ok = true;
    }
out:
    pthread_mutex_unlock(&c->mu);
    return ok;
}

uint32_t pub_caravan_merge(pub_caravan *into, pub_caravan *from)
{
    assert(into != from);
    /* Two caravan locks at once, taken only if free: a caravan busy
     * delivering a batch is not waited for (the loop thread must not
     * stall), the next tick tries again. */
    uint32_t moved = 0;
    if (pthread_mutex_trylock(&into->mu) != 0)
        return 0;
    if (pthread_mutex_trylock(&from->mu) != 0) {
        pthread_mutex_unlock(&into->mu);
        return 0;
    }
    /* Both threads are outside their delivery (we hold their locks), so
     * each member of either has been handed exactly the updates up to its
     * caravan's last position: when those are equal, into's next batch is
     * what from's members need next. */
    if (atomic_load(&into->dead) || atomic_load(&from->dead) || !into->reading ||
        !from->reading || from->nmembers == 0 || into->nmembers == 0 ||
        !wh_pos_equal(&into->last, &from->last))
        goto out;
    /* A member still far behind on acknowledgements would only be evicted
     * again: merge once the windows are at most half full. */
    uint64_t half = (uint64_t)atomic_load(&into->pub->window_bytes) / 2;
    for (uint32_t k = 0; k < from->nmembers; k++) {
        pub_flow *f = from->members[k];
        pthread_mutex_lock(&f->mu);
        bool behind = f->bytes_total - f->bytes_acked > half;
        pthread_mutex_unlock(&f->mu);
        if (behind)
            goto out;
    }
    uint32_t need = into->nmembers + from->nmembers;
    if (need > into->capmembers) {
        pub_flow **mm = realloc(into->members, need * sizeof *mm);
        if (!mm)
            goto out;   /* try again at the next tick */
        into->members = mm;
        into->capmembers = need;
    }
    for (uint32_t k = 0; k < from->nmembers; k++) {
        pub_flow *f = from->members[k];
        into->members[into->nmembers++] = f;
        f->caravan = into;
        moved++;
    }
    from->nmembers = 0;
    pthread_cond_broadcast(&from->cond);   /* a lone member's wait ends: nothing to wait for */
out:
    pthread_mutex_unlock(&from->mu);
    pthread_mutex_unlock(&into->mu);
    return moved;
}

void pub_caravan_remove(pub_caravan *c, pub_flow *f)
{
    pthread_mutex_lock(&c->mu);
    for (uint32_t k = 0; k < c->nmembers; k++)
        if (c->members[k] == f) {
            c->members[k] = c->members[--c->nmembers];
            break;
        }
    pthread_mutex_unlock(&c->mu);
    if (f->caravan == c)
        f->caravan = NULL;
}

void pub_caravan_free(pub_caravan *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, true);
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c->members);
    free(c);
}

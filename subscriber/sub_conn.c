/* sub_conn.c -- libwormhole's publisher connections: accept, frames in, acks out (see sub_int.h).
 *
 * Everything here runs on the loop thread. Bytes move through each
 * connection's wire_inbuf and wire_outbuf (protocol/wire_conn.h); this file
 * holds the subscriber's side of the push protocol (docs/PROTOCOL.md). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/clock.h"
#include "core/log.h"
#include "subscriber/sub_int.h"

static void conn_notice(wh_subscriber *s, sub_conn *c, bool held)
{
    if (s->on_notice && c->shard)
        s->on_notice(s->opaque, c->shard, held);
}

void sub_conn_close(wh_subscriber *s, sub_conn *c, const char *why)
{
    if (why) {
        wh_warn(WH_AREA_SUBSCRIBER, "dropping publisher connection from %s%s%s%s: %s",
                c->peer, c->shard ? " (shard " : "", c->shard ? c->shard : "",
                c->shard ? ")" : "", why);
        s->stats.dropped++;
    } else {
        wh_info(WH_AREA_SUBSCRIBER, "publisher connection from %s closed", c->peer);
    }
    if (c->streaming)
        conn_notice(s, c, false);
    for (sub_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    wire_inbuf_free(&c->in);
    wire_outbuf_free(&c->out);
    free(c->markers);
    free(c->shard);
    free(c);
}

bool sub_conn_flush(wh_subscriber *s, sub_conn *c)
{
    size_t sent;
    int rc = wire_outbuf_flush(&c->out, c->fd, &sent);
    if (sent > 0)
        c->last_send = wh_mono_ms();
    if (rc != WH_OK)
        return false;
    bool want = wire_outbuf_pending(&c->out) > 0;
    if (want != c->want_out) {
        struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return wire_outbuf_pending(&c->out) <= SUB_OUT_LIMIT;
}

static void conn_send_ack(wh_subscriber *s, sub_conn *c, uint64_t mseq)
{
    wire_put_ack(&c->out.buf, mseq);
    s->stats.acks++;
}

/* Manual mode: acknowledges the newest marker the app's ack covers. */
static void conn_try_ack(wh_subscriber *s, sub_conn *c)
{
    uint32_t k = 0;
    while (k < c->nmarkers && c->markers[k].upto <= c->app_acked)
        k++;
    if (k == 0)
        return;
    conn_send_ack(s, c, c->markers[k - 1].mseq);
    memmove(c->markers, c->markers + k, (c->nmarkers - k) * sizeof *c->markers);
    c->nmarkers -= k;
}

static bool shard_taken(const wh_subscriber *s, const char *shard, size_t len)
{
    if (!s->shards)
        return true;
    for (char **p = s->shards; *p; p++)
        if (strlen(*p) == len && memcmp(*p, shard, len) == 0)
            return true;
    return false;
}

/* ---- frames: each handler returns NULL to go on, or why the connection must close ------ */

/* Refuses the peer: queues an ERROR frame with why, flushes it, returns why. */
static const char *conn_refuse(wh_subscriber *s, sub_conn *c, int code, const char *why)
{
    wire_put_error(&c->out.buf, code, why);
    sub_conn_flush(s, c);
    return why;
}

static const char *conn_updates(wh_subscriber *s, sub_conn *c, const uint8_t *pl, size_t plen,
                                char *why, size_t whylen)
{
    if (!c->streaming)
        return "UPDATES before HELLO";
    wire_batch b;
    wh_arena_reset(&s->arena);
    int rc = wire_batch_decode(pl, plen, &s->arena, &b, why, whylen);
    if (rc)
        return rc == WH_ERR_NOMEM ? "out of memory decoding a batch" : why;
    if (strcmp(b.shard, c->shard) != 0) {
        snprintf(why, whylen, "UPDATES for shard '%s' on the connection of shard '%s'",
                 b.shard, c->shard);
        return why;
    }
    c->seq += b.count;
    s->stats.updates += b.count;
    s->stats.batches++;
    /* The callbacks, and what happens when they fail (sub_deliver.c). */
    bool refused;
    return sub_deliver(s, c, b.updates, b.count, &refused, why, whylen);
}

static const char *conn_hello(wh_subscriber *s, sub_conn *c, const wire_msg *m, char *why,
                              size_t whylen)
{
    if (c->streaming)
        return "second HELLO on one connection";
    if (m->version != WIRE_VERSION) {
        snprintf(why, whylen, "unsupported protocol version %llu (this library speaks %d)",
                 (unsigned long long)m->version, WIRE_VERSION);
        return conn_refuse(s, c, WH_ERR_UNSUPPORTED, why);
    }
    if (m->app_len != strlen(s->app) || memcmp(m->app, s->app, m->app_len) != 0) {
        snprintf(why, whylen, "HELLO for app '%.*s', but this instance is of app '%s'",
                 (int)m->app_len, m->app, s->app);
        return conn_refuse(s, c, WH_ERR_INVALID, why);
    }
    if (!shard_taken(s, m->shard, m->shard_len)) {
        snprintf(why, whylen, "HELLO for shard '%.*s', which this instance does not take",
                 (int)m->shard_len, m->shard);
        return conn_refuse(s, c, WH_ERR_INVALID, why);
    }
    c->shard = strndup(m->shard, m->shard_len);
    if (!c->shard)
        return "out of memory";
    /* Two heartbeats must fit in our timeout, or every connection of this
     * publisher would time out between two of them and flap. */
    uint64_t hb = m->heartbeat_ms ? m->heartbeat_ms : 1000;
    if (hb > (uint64_t)s->hb_timeout_ms / 2) {
        snprintf(why, whylen, "publisher %.*s sends heartbeats every %llu ms, but this instance "
                 "drops a publisher silent for heartbeat_timeout_ms %d ms: at least two "
                 "heartbeats must fit in it (raise the instance's heartbeat_timeout_ms or lower "
                 "the publisher's delivery.heartbeat_interval_ms)", (int)m->publisher_len,
                 m->publisher ? m->publisher : "", (unsigned long long)hb,
                 s->hb_timeout_ms);
        wh_sub_error e = { WH_ERR_CONFIG, why, c->shard, NULL, 0, 0 };
        sub_report(s, &e);
        return conn_refuse(s, c, WH_ERR_REFUSED, why);
    }
    /* A newer connection for the same shard replaces an older one whose
     * publisher has restarted or moved, unless it comes from a publisher
     * with an older epoch than the one delivering now: that one lost the
     * shard (its lease) without noticing yet, e.g. cut off from
     * ZooKeeper, and would otherwise take the shard back and forth with
     * the new one until it notices (docs/PROTOCOL.md, HELLO). */
    for (sub_conn *o = s->conns; o; o = o->next)
        if (o != c && o->streaming && strcmp(o->shard, c->shard) == 0) {
            if (m->epoch < o->epoch) {
                snprintf(why, whylen, "stale publisher %.*s: epoch %llu, but a publisher "
                         "with epoch %llu delivers shard %s", (int)m->publisher_len,
                         m->publisher ? m->publisher : "", (unsigned long long)m->epoch,
                         (unsigned long long)o->epoch, c->shard);
                return conn_refuse(s, c, WH_ERR_FENCED, why);
            }
            sub_conn_close(s, o, "replaced by a newer connection for the same shard");
            break;
        }
    c->epoch = m->epoch;
    c->hb_ms = m->heartbeat_ms ? (int64_t)m->heartbeat_ms : 1000;
    c->streaming = true;
    wh_info(WH_AREA_SUBSCRIBER, "publisher %.*s (epoch %llu) at %s delivers shard %s",
            (int)m->publisher_len, m->publisher ? m->publisher : "", (unsigned long long)m->epoch,
            c->peer, c->shard);
    wire_put_hello_ok(&c->out.buf, s->instance);
    conn_notice(s, c, true);
    return NULL;
}

static const char *conn_marker(wh_subscriber *s, sub_conn *c, const wire_msg *m)
{
    if (!c->streaming)
        return "DATAMARKER before HELLO";
    if (!s->manual_ack) {
        conn_send_ack(s, c, m->seq);
        return NULL;
    }
    if (c->nmarkers >= SUB_MAX_MARKERS)
        return "too many unacknowledged datamarkers (the application does not ack)";
    if (c->nmarkers == c->capmarkers) {
        uint32_t cap = c->capmarkers ? c->capmarkers * 2 : 16;
        sub_marker *mk = realloc(c->markers, cap * sizeof *mk);
        if (!mk)
            return "out of memory";
        c->markers = mk;
        c->capmarkers = cap;
    }
    c->markers[c->nmarkers++] = (sub_marker){ m->seq, c->seq };
    conn_try_ack(s, c);
    return NULL;
}

/* Handles one frame. */
static const char *conn_frame(wh_subscriber *s, sub_conn *c, int type, const uint8_t *pl,
                              size_t plen, char *why, size_t whylen)
{
    wire_msg m;
    if (type == WIRE_UPDATES)
        return conn_updates(s, c, pl, plen, why, whylen);
    if (wire_msg_decode(type, pl, plen, &m, why, whylen) != WH_OK)
        return why;
    switch (type) {
    case WIRE_HELLO:
        return conn_hello(s, c, &m, why, whylen);
    case WIRE_DATAMARKER:
        return conn_marker(s, c, &m);
    case WIRE_HEARTBEAT:
        return NULL;
    case WIRE_SHARD_NOTICE:
        if (!m.held && c->streaming) {
            conn_notice(s, c, false);
            c->streaming = false;   /* released: the publisher closes next */
        }
        return NULL;
    case WIRE_ERROR: {
        snprintf(why, whylen, "publisher reports %s: %.*s", wh_err_name((int)m.code),
                 (int)m.message_len, m.message ? m.message : "");
        wh_sub_error e = { (int)m.code, why, c->shard, NULL, 0, 0 };
        sub_report(s, &e);
        return why;
    }
    default:
        snprintf(why, whylen, "unexpected %s frame", wire_type_name(type));
        return why;
    }
}

/* ---- reading -------------------------------------------------------------------------------- */

void sub_conn_readable(wh_subscriber *s, sub_conn *c)
{
    char why[512];
    const char *err = NULL;
    size_t budget = 4 * SUB_READ_CHUNK;   /* then let the other connections have a turn */
    for (;;) {
        size_t got;
        int rc = wire_inbuf_fill(&c->in, c->fd, SUB_READ_CHUNK, &got, c->peer, why, sizeof why);
        if (rc == WH_ERR_AGAIN)
            break;
        if (rc == WH_ERR_CLOSED && !c->streaming) {
            sub_conn_close(s, c, NULL);
            return;
        }
        if (rc != WH_OK) {
            err = rc == WH_ERR_CLOSED ? "publisher closed the connection" : why;
            break;
        }
        s->stats.bytes += got;
        c->last_recv = wh_mono_ms();
        for (;;) {
            int type;
            const uint8_t *pl;
            size_t plen;
            rc = wire_inbuf_next(&c->in, &type, &pl, &plen, why, sizeof why);
            if (rc == WH_ERR_AGAIN)
                break;
            if (rc != WH_OK) {
                err = why;
                break;
            }
            err = conn_frame(s, c, type, pl, plen, why, sizeof why);
            if (err || atomic_load(&s->stop))
                break;
        }
        if (err || got >= budget || atomic_load(&s->stop))
            break;
        budget -= got;
    }
    if (!err && !sub_conn_flush(s, c))
        err = "send failed or the publisher does not read";
    if (err)
        sub_conn_close(s, c, err);
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void peer_name(const struct sockaddr_storage *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    snprintf(buf, len, "%s:%d", host, port);
}

void sub_accept_all(wh_subscriber *s)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                wh_warn(WH_AREA_SUBSCRIBER, "accept on %s: %s", s->endpoint, strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sub_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        peer_name(&sa, c->peer, sizeof c->peer);
        wire_inbuf_init(&c->in, s->max_frame, 0);
        c->flow = ++s->next_flow;
        c->last_recv = c->last_send = wh_mono_ms();
        c->hb_ms = 1000;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        s->conns = c;
        s->stats.connections++;
        wh_debug(WH_AREA_SUBSCRIBER, "publisher connected from %s", c->peer);
    }
}

/* ---- acks and timers ------------------------------------------------------------------------ */

void sub_handle_acks(wh_subscriber *s)
{
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < s->nacks; i++)
        for (sub_conn *c = s->conns; c; c = c->next)
            if (c->flow == s->acks[i].flow) {
                if (s->acks[i].seq > c->app_acked)
                    c->app_acked = s->acks[i].seq;
                conn_try_ack(s, c);
            }
    s->nacks = 0;
    pthread_mutex_unlock(&s->mu);
}

void sub_timers(wh_subscriber *s)
{
    int64_t now = wh_mono_ms();
    sub_conn *next;
    for (sub_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (now - c->last_recv > s->hb_timeout_ms) {
            char why[128];
            snprintf(why, sizeof why, "publisher silent for %lld ms (heartbeat timeout)",
                     (long long)(now - c->last_recv));
            sub_conn_close(s, c, why);
            continue;
        }
        if (c->streaming && now - c->last_send >= c->hb_ms)
            wire_put_heartbeat(&c->out.buf, (uint64_t)wh_wall_ms());
        if (wire_outbuf_pending(&c->out) > 0 && !sub_conn_flush(s, c))
            sub_conn_close(s, c, "send failed or the publisher does not read");
    }
}

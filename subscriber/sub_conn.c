/* sub_conn.c -- libwormhole's publisher connections: accept, frames in, acks out (see sub_int.h).
 *
 * Everything here runs on the loop thread. Bytes move through each
 * connection's wire_inbuf and wire_outbuf (protocol/wire_conn.h); this file
 * holds the subscriber's side of the push protocol (docs/PROTOCOL.md). */
#include <assert.h>
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

/* Unlinks, closes and frees c; notices its release if it was streaming. */
static void conn_free(wh_subscriber *s, sub_conn *c)
{
    if (c->streaming)
        conn_notice(s, c, false);
    if (!c->greeted) {
        assert(s->npending > 0);
        s->npending--;
    }
    for (sub_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    wire_tls_free(c->tls);
    close(c->fd);
    wire_inbuf_free(&c->in);
    wire_outbuf_free(&c->out);
    wire_asm_reset(&c->parts);
    free(c->markers);
    free(c->shard);
    free(c);
}

void sub_conn_close(wh_subscriber *s, sub_conn *c, const char *why)
{
    if (why) {
        wh_warn(WH_AREA_SUBSCRIBER, "dropping publisher connection from %s%s%s%s: %s",
                c->peer, c->shard ? " (shard " : "", c->shard ? c->shard : "",
                c->shard ? ")" : "", why);
        s->stats.dropped++;
    } else if (c->greeted) {
        wh_info(WH_AREA_SUBSCRIBER, "publisher connection from %s closed", c->peer);
    } else {
        wh_debug(WH_AREA_SUBSCRIBER, "connection from %s closed before its HELLO", c->peer);
    }
    conn_free(s, c);
}

/* Why a pending connection is dropped by a limit (sub_int.h), or refused
 * by TLS (its handshake failed, or plaintext from a non-loopback address). */
enum { DROP_DEADLINE, DROP_BYTES, DROP_CROWD, DROP_TLS };

/* TLS refusals logged one by one in a burst before they are only counted:
 * an operator must see who was refused and why, a flood must not fill the
 * log. */
#define SUB_TLS_LOGGED 16

/* Drops a pending connection that hit a limit. Whatever connects can make
 * these happen by the thousand, so only the first of a burst is logged
 * (with the reason); the others are counted, and sub_timers sums the burst
 * up once it is over. */
static void conn_drop_pending(wh_subscriber *s, sub_conn *c, int kind, const char *why)
{
    assert(!c->greeted);
    if (kind == DROP_TLS && s->burst.tls < SUB_TLS_LOGGED)
        wh_warn(WH_AREA_SUBSCRIBER, "refusing publisher connection from %s: %s%s", c->peer, why,
                s->burst.tls + 1 == SUB_TLS_LOGGED ? "; further refusals in this burst are "
                "counted and summed up when it is over" : "");
    else if (s->burst.total == 0)
        wh_warn(WH_AREA_SUBSCRIBER, "dropping connection from %s before its HELLO: %s; "
                "further such drops are counted and summed up when the burst is over",
                c->peer, why);
    s->burst.total++;
    s->burst.deadline += kind == DROP_DEADLINE;
    s->burst.bytes += kind == DROP_BYTES;
    s->burst.crowd += kind == DROP_CROWD;
    s->burst.tls += kind == DROP_TLS;
    s->burst.last_ms = wh_mono_ms();
    s->stats.dropped++;
    conn_free(s, c);
}

/* Sets the epoll events of c: reading always, writing when want_out. */
static void conn_events(wh_subscriber *s, sub_conn *c, bool want_out)
{
    if (want_out == c->want_out)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

bool sub_conn_flush(wh_subscriber *s, sub_conn *c)
{
    size_t sent;
    if (c->handshaking)
        return true;   /* nothing is queued before the handshake is done */
    int rc = wire_outbuf_flush_tls(&c->out, c->fd, c->tls, &sent);
    if (sent > 0)
        c->last_send = wh_mono_ms();
    if (rc != WH_OK)
        return false;
    conn_events(s, c, wire_outbuf_pending(&c->out) > 0);
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

/* Refuses the peer: queues an ERROR frame with why, flushes it, returns why.
 * The connection then lingers rather than closing (conn_linger). */
static const char *conn_refuse(wh_subscriber *s, sub_conn *c, int code, const char *why)
{
    wire_put_error(&c->out.buf, code, why);
    sub_conn_flush(s, c);
    c->refusing = true;
    return why;
}

/* After an ERROR, closes gracefully: a socket closed with unread bytes in
 * it resets the connection, and the peer may then lose the ERROR frame it
 * has not read yet (a publisher that is sending a large update would see
 * only "connection reset" and try again). So: log why, release the shard,
 * send FIN after the ERROR, and read and discard what the peer still sends
 * until it closes or SUB_LINGER_MS pass (sub_timers). */
static void conn_linger(wh_subscriber *s, sub_conn *c, const char *why)
{
    wh_warn(WH_AREA_SUBSCRIBER, "dropping publisher connection from %s%s%s%s: %s",
            c->peer, c->shard ? " (shard " : "", c->shard ? c->shard : "",
            c->shard ? ")" : "", why);
    s->stats.dropped++;
    if (c->streaming) {
        conn_notice(s, c, false);
        c->streaming = false;
    }
    sub_conn_flush(s, c);
    shutdown(c->fd, SHUT_WR);
    wire_inbuf_free(&c->in);
    wire_asm_reset(&c->parts);
    c->linger_until = wh_mono_ms() + SUB_LINGER_MS;
}

/* A lingering connection is readable: discards what came; closes at EOF. */
static void conn_discard(wh_subscriber *s, sub_conn *c)
{
    char sink[16384];
    for (int i = 0; i < 64; i++) {   /* then let the other connections have a turn */
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        wh_debug(WH_AREA_SUBSCRIBER, "refused connection from %s closed", c->peer);
        conn_free(s, c);
        return;
    }
}

/* Handles an UPDATES payload: of one frame, or reassembled from the
 * UPDATES_PART frames of one update (split). */
static const char *conn_updates(wh_subscriber *s, sub_conn *c, const uint8_t *pl, size_t plen,
                                bool split, char *why, size_t whylen)
{
    if (!c->streaming)
        return "UPDATES before HELLO";
    wire_batch b;
    wh_arena_reset(&s->arena);
    int rc = wire_batch_decode(pl, plen, &s->arena, &b, why, whylen);
    if (rc)
        return rc == WH_ERR_NOMEM ? "out of memory decoding a batch" : why;
    if (split && b.count != 1) {
        snprintf(why, whylen, "UPDATES_PART frames carried %u updates (they carry exactly one)",
                 b.count);
        return why;
    }
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
    if (c->greeted)
        return "second HELLO on one connection";
    if (m->version != WIRE_VERSION) {
        snprintf(why, whylen, "unsupported protocol version %llu (this library speaks %d)",
                 (unsigned long long)m->version, WIRE_VERSION);
        return conn_refuse(s, c, WH_ERR_UNSUPPORTED, why);
    }
    if (c->tls) {
        /* First of all, the certificate must be named for the shard the
         * HELLO claims (docs/SECURITY.md): a publisher of another shard, or
         * any other holder of a certificate from the CA, delivers nothing
         * and learns nothing more about this instance. */
        char reason[400], shard[ZKU_NAME_MAX + 1];
        if (m->shard_len > ZKU_NAME_MAX)
            return conn_refuse(s, c, WH_ERR_INVALID, "HELLO with a shard name over 128 bytes");
        snprintf(shard, sizeof shard, "%.*s", (int)m->shard_len, m->shard ? m->shard : "");
        if (!wire_tls_authorised(c->tls, s->tls_pub_names, shard, reason, sizeof reason)) {
            snprintf(why, whylen, "publisher %.*s is not authorised for shard %s: %s",
                     (int)m->publisher_len, m->publisher ? m->publisher : "", shard, reason);
            return conn_refuse(s, c, WH_ERR_PROTOCOL, why);
        }
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
    c->greeted = true;
    s->npending--;
    wire_inbuf_limit(&c->in, s->max_frame, 0);   /* no longer the limits of a stranger */
    wh_info(WH_AREA_SUBSCRIBER, "publisher %.*s (epoch %llu) at %s delivers shard %s%s%s%s",
            (int)m->publisher_len, m->publisher ? m->publisher : "", (unsigned long long)m->epoch,
            c->peer, c->shard, c->tls ? " over TLS (certificate " : " in plaintext",
            c->tls ? wire_tls_peer_subject(c->tls) : "", c->tls ? ")" : "");
    wire_put_hello_ok(&c->out.buf, s->instance, s->max_frame, s->max_update);
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
    const uint8_t *whole;
    size_t wlen;
    if (type == WIRE_UPDATES_PART && !c->streaming)
        return "UPDATES_PART before HELLO";
    /* Parts of an update go to the reassembler, which also refuses any
     * other frame while an update is incomplete. */
    int rc = wire_asm_frame(&c->parts, type, pl, plen, &whole, &wlen, why, whylen);
    if (rc == WH_ERR_AGAIN)
        return NULL;
    if (rc == WH_ERR_LIMIT) {
        /* Larger than this instance takes: the publisher stops this flow
         * (docs/PROTOCOL.md, UPDATES_PART); the others go on. */
        wh_error(WH_AREA_SUBSCRIBER, "refusing shard %s from %s: %s", c->shard, c->peer, why);
        return conn_refuse(s, c, WH_ERR_LIMIT, why);
    }
    if (rc != WH_OK)
        return rc == WH_ERR_NOMEM ? "out of memory reassembling an update" : why;
    if (whole) {
        const char *err = conn_updates(s, c, whole, wlen, true, why, whylen);
        wire_asm_reset(&c->parts);   /* the update's memory goes back now */
        return err;
    }
    if (type == WIRE_UPDATES)
        return conn_updates(s, c, pl, plen, false, why, whylen);
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

/* Steps c's TLS handshake; false if c was dropped or must wait. */
static bool conn_handshake(wh_subscriber *s, sub_conn *c)
{
    char why[800];
    bool want_write;
    int rc = wire_tls_handshake(c->tls, &want_write, why, sizeof why);
    if (rc == WH_ERR_AGAIN) {
        conn_events(s, c, want_write);
        return false;
    }
    if (rc != WH_OK) {
        conn_drop_pending(s, c, DROP_TLS, why);
        return false;
    }
    c->handshaking = false;
    conn_events(s, c, false);
    wh_debug(WH_AREA_SUBSCRIBER, "TLS with %s: certificate %s", c->peer,
             wire_tls_peer_subject(c->tls));
    return true;
}

void sub_conn_readable(wh_subscriber *s, sub_conn *c)
{
    char why[1024];
    const char *err = NULL;
    if (c->linger_until) {
        conn_discard(s, c);
        return;
    }
    if (c->handshaking && !conn_handshake(s, c))
        return;
    size_t budget = 4 * SUB_READ_CHUNK;   /* then let the other connections have a turn */
    for (;;) {
        size_t got;
        int rc = wire_inbuf_fill_tls(&c->in, c->fd, c->tls, SUB_READ_CHUNK, &got, c->peer, why,
                                     sizeof why);
        if (rc == WH_ERR_AGAIN)
            break;
        if (rc == WH_ERR_CLOSED && !c->streaming) {
            if (c->tls && !c->greeted && wire_inbuf_pending(&c->in) == 0)
                /* The publisher checks our certificate before its HELLO. */
                wh_info(WH_AREA_SUBSCRIBER, "publisher at %s (certificate %s) closed the "
                        "connection after the TLS handshake without a HELLO: it may refuse "
                        "this instance's certificate for app %s (see the publisher's log)",
                        c->peer, wire_tls_peer_subject(c->tls), s->app);
            sub_conn_close(s, c, NULL);
            return;
        }
        if (rc == WH_ERR_LIMIT && !c->greeted) {
            conn_drop_pending(s, c, DROP_BYTES, why);
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
            if (rc == WH_ERR_LIMIT && !c->greeted) {
                conn_drop_pending(s, c, DROP_BYTES, why);
                return;
            }
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
    if (err && c->refusing)
        conn_linger(s, c, err);
    else if (err)
        sub_conn_close(s, c, err);
    else
        wire_inbuf_trim(&c->in);   /* memory a large frame needed goes back */
}

bool sub_conn_drain_tls(wh_subscriber *s)
{
    /* Each connection gets one turn per round; the list may change under a
     * turn (a HELLO replaces an older connection), so scan from the head. */
    uint64_t gen = ++s->drain_gen;
    bool more = false;
    for (;;) {
        sub_conn *c = s->conns;
        while (c && (c->drain_gen == gen || !c->tls || c->handshaking || c->linger_until ||
                     !wire_tls_pending(c->tls)))
            c = c->next;
        if (!c)
            break;
        c->drain_gen = gen;
        sub_conn_readable(s, c);
    }
    for (sub_conn *c = s->conns; c && !more; c = c->next)
        more = c->tls && !c->handshaking && !c->linger_until && wire_tls_pending(c->tls);
    return more;
}

/* ---- accepting ------------------------------------------------------------------------------ */

static bool sa_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* The certificate files changed (a renewal): new connections get the new
 * ones; a failed reload keeps the old certificate. */
static void refresh_tls(wh_subscriber *s)
{
    char err[600];
    int rc = wire_tls_ctx_refresh(s->tls, err, sizeof err);
    if (rc == 1)
        wh_info(WH_AREA_SUBSCRIBER, "TLS: certificate files changed: reloaded; now %s",
                wire_tls_ctx_subject(s->tls));
    else if (rc < 0)
        wh_warn(WH_AREA_SUBSCRIBER, "TLS: certificate files changed but cannot be loaded, "
                "keeping the previous ones: %s", err);
}

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

/* Too many connections wait for their HELLO: the oldest goes. A publisher
 * says HELLO right after it connects, so the oldest is the likeliest to
 * be one that never will; accepted flows are never touched. */
static void drop_oldest_pending(wh_subscriber *s)
{
    sub_conn *oldest = NULL;
    for (sub_conn *c = s->conns; c; c = c->next)   /* newest first */
        if (!c->greeted)
            oldest = c;
    assert(oldest);
    char why[128];
    snprintf(why, sizeof why, "more than %d connections are waiting for their HELLO",
             s->max_pending);
    conn_drop_pending(s, oldest, DROP_CROWD, why);
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
        if (s->tls) {
            refresh_tls(s);
            if (wire_tls_new(s->tls, fd, &c->tls) != WH_OK) {
                close(fd);
                free(c);
                continue;
            }
            c->handshaking = true;
        }
        /* Until its HELLO, a connection is a stranger: a HELLO is small. */
        wire_inbuf_init(&c->in, WIRE_HELLO_MAX - WIRE_OVERHEAD, WIRE_HELLO_MAX);
        wire_asm_init(&c->parts, s->max_update);
        c->flow = ++s->next_flow;
        c->accepted_ms = c->last_recv = c->last_send = wh_mono_ms();
        c->hb_ms = 1000;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        s->conns = c;
        s->npending++;
        s->stats.connections++;
        wh_debug(WH_AREA_SUBSCRIBER, "publisher connected from %s", c->peer);
        if (!s->tls && !sa_loopback(&sa)) {
            conn_drop_pending(s, c, DROP_TLS, "plaintext is accepted from loopback addresses "
                              "only (configure TLS: docs/SECURITY.md)");
            continue;
        }
        if (s->npending > s->max_pending)
            drop_oldest_pending(s);
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
    if (s->burst.total && now - s->burst.last_ms >= SUB_BURST_QUIET_MS) {
        if (s->burst.total > 1)
            wh_warn(WH_AREA_SUBSCRIBER, "dropped %llu connections before their HELLO in the last "
                "burst: %llu said no HELLO within %d ms, %llu sent more than the %u bytes "
                "allowed before one, %llu were the oldest of more than %d waiting, %llu were "
                "refused by TLS", (unsigned long long)s->burst.total,
                (unsigned long long)s->burst.deadline, s->hello_ms,
                (unsigned long long)s->burst.bytes, WIRE_HELLO_MAX,
                (unsigned long long)s->burst.crowd, s->max_pending,
                (unsigned long long)s->burst.tls);
        memset(&s->burst, 0, sizeof s->burst);
    }
    for (sub_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->linger_until) {
            if (now >= c->linger_until) {
                wh_debug(WH_AREA_SUBSCRIBER, "refused connection from %s: closing after "
                         "%d ms", c->peer, SUB_LINGER_MS);
                conn_free(s, c);
            }
            continue;
        }
        if (!c->greeted && now - c->accepted_ms > s->hello_ms) {
            char why[128];
            snprintf(why, sizeof why, "no %s within %d ms",
                     c->handshaking ? "TLS handshake" : "HELLO", s->hello_ms);
            conn_drop_pending(s, c, DROP_DEADLINE, why);
            continue;
        }
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

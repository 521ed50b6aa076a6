/* pub_flow.c -- a flow's state machine, socket, output buffers and datamarker ring (see pub_flow.h).
 *
 * Output goes through two buffers: a caravan appends to out under f->mu,
 * the loop swaps out with its own send buffer when that one is drained and
 * writes it without holding the lock, so encoding and sending overlap. The
 * datamarker ring holds the markers queued and not acknowledged, oldest at
 * headmarker; an ACK pops the markers up to and including its sequence. */
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "publisher/pub_bootstrap.h"
#include "publisher/pub_flow.h"

/* Bytes read from a subscriber at a time. */
#define FLOW_READ_CHUNK 16384

/* Output queued for the loop beyond which a caravan waits for the loop to
 * take it (pub_flow_backlogged_locked), so that a loop short of CPU does not
 * make every flow buffer its whole window: about what a socket buffer holds. */
#define FLOW_BACKLOG_BYTES (256u << 10)

static int flow_fail(pub_flow *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int flow_fail(pub_flow *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
    return PUB_FLOW_FAILED;
}

/* The ring's bounds and order: count within capacity, head inside it, and
 * the newest marker is the last one numbered. */
static void ring_check(const pub_flow *f)
{
    assert(f->nmarkers <= f->capmarkers);
    assert(f->capmarkers == 0 ? f->headmarker == 0 : f->headmarker < f->capmarkers);
    assert(f->nmarkers == 0 ||
           f->markers[(f->headmarker + f->nmarkers - 1) % f->capmarkers].seq == f->next_mseq);
    (void)f;
}

/* ---- life ------------------------------------------------------------------------------- */

void pub_flow_free(pub_flow *f)
{
    if (!f)
        return;
    assert(!f->caravan);
    pub_boot_free(f->boot);
    if (f->fd >= 0) {
        epoll_ctl(f->pub->epfd, EPOLL_CTL_DEL, f->fd, NULL);
        close(f->fd);
    }
    wire_tls_free(f->tls);
    wh_filter_free(f->filter);
    pub_schema_seen_free(&f->schemas);
    wire_enc_free(&f->enc);
    wire_inbuf_free(&f->in);
    wh_buf_free(&f->out);
    wh_buf_free(&f->sending);
    free(f->markers);
    free(f->app);
    free(f->instance);
    free(f->endpoint);
    free(f->filter_json);
    pub_mutex_destroy(&f->mu);
    free(f);
}

pub_flow *pub_flow_new(publisher *p, const pub_assign *a)
{
    pub_flow *f = calloc(1, sizeof *f);
    char err[512];
    if (!f)
        return NULL;
    pub_mutex_init(&f->mu);
    wire_enc_init(&f->enc);
    /* Subscribers send only small control frames: the buffer holds one. */
    wire_inbuf_init(&f->in, WIRE_CONTROL_MAX - WIRE_OVERHEAD, WIRE_CONTROL_MAX);
    atomic_init(&f->out_ready, false);
    f->pub = p;
    f->instance_czxid = a->instance_czxid;
    f->fd = -1;
    f->app = strdup(a->app);
    f->instance = strdup(a->instance);
    f->endpoint = strdup(a->endpoint);
    f->filter_json = a->filter_json ? strdup(a->filter_json) : NULL;
    if (!f->app || !f->instance || !f->endpoint || (a->filter_json && !f->filter_json)) {
        pub_flow_free(f);
        return NULL;
    }
    if (f->filter_json &&
        wh_filter_parse_json(f->filter_json, strlen(f->filter_json), &f->filter, err,
                             sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "app %s: its filter (instance %s) is one this publisher "
                "cannot parse (%s); the app gets nothing from shard %s until that is fixed",
                a->app, a->instance, err, p->cfg.shard);
        pub_flow_free(f);
        return NULL;
    }
    f->acked = a->pos;
    f->acked_start = a->pos_start;
    f->reset_gen = a->reset_gen;
    f->on_purged_oldest = a->on_purged_oldest;
    f->resume = a->pos;
    f->resume_start = a->pos_start;
    f->processed = a->pos;
    f->processed_start = a->pos_start;
    f->marked = a->pos;
    f->state = FLOW_BACKOFF;
    f->backoff_until = 0;
    f->backoff_ms = p->cfg.backoff_min_ms;
    f->boot = pub_boot_new(f, a->boot_request, a->boot_progress);
    return f;
}

void pub_flow_reset(pub_flow *f, const char *why, bool retry_soon)
{
    publisher *p = f->pub;
    assert(!f->caravan);   /* no caravan thread may touch f any more */
    if (why) {
        f->reconnects++;
        snprintf(f->last_error, sizeof f->last_error, "%s", why);
    }
    if (why)
        wh_warn(WH_AREA_PUBLISHER, "app %s: subscriber instance %s at %s: %s; retrying in "
                "%lld ms from %s", f->app, f->instance, f->endpoint, why,
                (long long)(retry_soon ? 0 : f->backoff_ms),
                f->acked_start ? "its recorded start" : f->acked.set ? "the acknowledged position"
                                                                     : "the oldest position");
    if (f->fd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, f->fd, NULL);
        close(f->fd);
        f->fd = -1;
    }
    wire_tls_free(f->tls);
    f->tls = NULL;
    f->handshaking = false;
    pub_mutex_lock(&f->mu);
    wh_buf_free(&f->out);   /* memory a large update took goes back */
    atomic_store(&f->out_ready, false);
    f->stop_pending = 0;
    f->peer_frame_max = 0;
    f->peer_parts = false;
    f->bytes_total = f->bytes_acked = f->bytes_at_marker = 0;
    f->nmarkers = f->headmarker = 0;
    f->processed = f->acked;
    f->processed_ts = f->acked_ts;
    f->processed_start = f->acked_start;
    f->marked = f->acked;
    f->sent_acked = f->n_sent;   /* what was sent and not acknowledged is sent again */
    f->since_marker = 0;
    f->needs_start = false;
    f->resume = f->acked;
    f->resume_start = f->acked_start;
    f->boot_emitted = f->boot_marked = f->boot_acked;
    if (f->boot)
        pub_boot_reset_locked(f->boot);
    pub_mutex_unlock(&f->mu);
    wh_buf_free(&f->sending);
    f->sent_off = 0;
    wire_inbuf_free(&f->in);
    f->state = FLOW_BACKOFF;
    f->state_since = wh_mono_ms();
    if (retry_soon) {
        f->backoff_until = wh_mono_ms();
    } else {
        f->backoff_until = wh_mono_ms() + f->backoff_ms;
        f->backoff_ms = f->backoff_ms * 2 > p->cfg.backoff_max_ms ? p->cfg.backoff_max_ms
                                                                  : f->backoff_ms * 2;
    }
}

int pub_flow_stop_pending(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    int rc = f->stop_pending;
    if (rc)
        snprintf(f->why, sizeof f->why, "%s", f->stop_why);
    pub_mutex_unlock(&f->mu);
    return rc;
}

void pub_flow_fail_for_good(pub_flow *f, int rc, const wh_pos *pos, const char *why)
{
    char at[800] = "the oldest position", reason[sizeof f->failed_why];
    wh_pos where = *pos;   /* pos and why may point into f, which the reset changes */
    snprintf(reason, sizeof reason, "%s", why);
    assert(!f->caravan);
    if (where.set)
        wh_pos_format_physical(&where, at, sizeof at);
    if (rc == WH_ERR_CONFIG && f->state == FLOW_STREAMING && f->fd >= 0) {
        /* The app's filter: tell its instance why it gets nothing. */
        pub_mutex_lock(&f->mu);
        wire_put_error(&f->out, WH_ERR_CONFIG, reason);
        pub_mutex_unlock(&f->mu);
    }
    if (f->state == FLOW_STREAMING)
        pub_flow_release(f);
    pub_flow_reset(f, NULL, true);
    f->state = FLOW_FAILED;
    f->failed_rc = rc;
    f->failed_pos = where;
    f->failed_since_ms = wh_wall_ms();
    snprintf(f->failed_why, sizeof f->failed_why, "%s", reason);
    pub_zk_note_failed(f->pub->zk, f->app, rc, &where, reason, f->failed_since_ms);
    if (pub_flow_failed_retryable(f))
        wh_error(WH_AREA_PUBLISHER, "app %s: flow of shard %s to instance %s at %s FAILED at %s: "
                 "%s; other apps go on; this one stays stopped until its instance registers "
                 "again, its app's filter changes, the publisher gets SIGHUP, or its position is "
                 "reset (wormhole-ctl reset %s %s)", f->app, f->pub->cfg.shard, f->instance,
                 f->endpoint, at, reason, f->app, f->pub->cfg.shard);
    else
        wh_error(WH_AREA_PUBLISHER, "app %s: flow of shard %s FAILED at %s: %s; other apps go "
                 "on; this one stays stopped until its position is reset (wormhole-ctl reset "
                 "%s %s)", f->app, f->pub->cfg.shard, at, reason, f->app, f->pub->cfg.shard);
}

/* ---- output (loop thread) ------------------------------------------------------------ */

int pub_flow_send(pub_flow *f)
{
    int r = 0;
    if (f->fd < 0 || f->handshaking || f->state == FLOW_CONNECTING)
        return 0;
    for (;;) {
        if (f->sent_off == f->sending.len) {
            /* Drained: take what the caravan queued meanwhile (memory a
             * large update took goes back). */
            if (f->sending.cap > WIRE_OUTBUF_KEEP)
                wh_buf_free(&f->sending);
            else
                wh_buf_reset(&f->sending);
            f->sent_off = 0;
            pub_mutex_lock(&f->mu);
            if (pub_flow_backlogged_locked(f))
                r |= PUB_FLOW_TOOK;
            wh_buf t = f->out;
            f->out = f->sending;
            f->sending = t;
            atomic_store(&f->out_ready, false);
            pub_mutex_unlock(&f->mu);
            if (f->sending.len == 0)
                return r;
        }
        /* Over TLS, a send that would block is repeated with the same
         * bytes: sending is only replaced once it is drained. */
        ssize_t n = wire_tls_send(f->fd, f->tls, f->sending.data + f->sent_off,
                                  f->sending.len - f->sent_off);
        if (n > 0) {
            f->sent_off += (size_t)n;
            f->last_send = wh_mono_ms();
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return r;   /* EPOLLOUT brings the loop back */
        return r | flow_fail(f, "send: %s", f->tls && n < 0 && errno == EPROTO
                                                ? wire_tls_error(f->tls)
                                                : strerror(n < 0 ? errno : EPIPE));
    }
}

void pub_flow_release(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    wire_put_shard_notice(&f->out, f->pub->cfg.shard, false);
    pub_mutex_unlock(&f->mu);
    pub_flow_send(f);   /* best effort: the connection closes next */
}

bool pub_flow_failed_retryable(const pub_flow *f)
{
    return f->state == FLOW_FAILED && (f->failed_rc == WH_ERR_REFUSED ||
                                       f->failed_rc == WH_ERR_LIMIT ||
                                       f->failed_rc == WH_ERR_CONFIG);
}

void pub_flow_retry(pub_flow *f)
{
    if (!pub_flow_failed_retryable(f))
        return;
    wh_info(WH_AREA_PUBLISHER, "app %s: retrying the failed flow of shard %s to instance %s",
            f->app, f->pub->cfg.shard, f->instance);
    pub_zk_note_revived(f->pub->zk, f->app);
    f->state = FLOW_BACKOFF;
    f->state_since = wh_mono_ms();
    f->backoff_until = wh_mono_ms();
    f->backoff_ms = f->pub->cfg.backoff_min_ms;
    f->failed_rc = 0;
    f->failed_why[0] = '\0';
}

uint32_t pub_flow_unacked_markers(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    uint32_t n = f->nmarkers;
    pub_mutex_unlock(&f->mu);
    return n;
}

/* ---- connecting --------------------------------------------------------------------------- */

/* Splits HOST:PORT ([V6]:PORT too); false if it is not one. */
static bool split_endpoint(const char *ep, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(ep, ':');
    if (!colon || colon == ep || strlen(colon + 1) >= portlen ||
        (size_t)(colon - ep) >= hostlen)
        return false;
    const char *h = ep;
    size_t hn = (size_t)(colon - ep);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return true;
}

static bool sa_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* Starts a non-blocking connect to the instance. */
static int flow_connect(pub_flow *f)
{
    char host[256], port[16];
    if (!split_endpoint(f->endpoint, host, sizeof host, port, sizeof port))
        return flow_fail(f, "endpoint is not HOST:PORT");
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV }, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0)
        return flow_fail(f, "cannot resolve: %s", gai_strerror(gai));
    if (!f->pub->tls && !sa_loopback(ai->ai_addr)) {
        freeaddrinfo(ai);
        f->backoff_ms = f->pub->cfg.backoff_max_ms;   /* it will not change by itself */
        return flow_fail(f, "refusing to deliver in plaintext to a non-loopback address: "
                         "configure tls (docs/SECURITY.md)");
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return flow_fail(f, "%s", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return flow_fail(f, "connect: %s", strerror(e));
    }
    f->fd = fd;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = f };
    epoll_ctl(f->pub->epfd, EPOLL_CTL_ADD, fd, &ev);
    f->state = FLOW_CONNECTING;
    f->state_since = wh_mono_ms();
    f->last_recv = wh_mono_ms();
    wh_debug(WH_AREA_PUBLISHER, "app %s: connecting to %s", f->app, f->endpoint);
    return 0;
}

static int flow_hello(pub_flow *f, const pub_hello *hello)
{
    publisher *p = f->pub;
    wh_position view;
    assert(hello && hello->publisher);
    pub_mutex_lock(&f->mu);
    /* An acknowledged position only: a recorded start was not delivered. */
    wire_put_hello(&f->out, f->app, p->cfg.shard, hello->publisher, hello->epoch,
                   f->acked_start ? NULL : wh_pos_to_view(&f->acked, &view),
                   (uint64_t)p->cfg.heartbeat_ms);
    pub_mutex_unlock(&f->mu);
    f->state = FLOW_HELLO;
    f->state_since = wh_mono_ms();
    return pub_flow_send(f);
}

/* ---- receiving --------------------------------------------------------------------------- */

/* Handles an ACK: pops the markers up to seq. */
static int flow_ack(pub_flow *f, uint64_t seq)
{
    bool found = false;
    pub_mutex_lock(&f->mu);
    ring_check(f);
    while (f->nmarkers > 0) {
        pub_marker *m = &f->markers[f->headmarker];
        if (m->seq > seq)
            break;
        if (m->seq == seq) {
            found = true;
            f->acked = m->pos;
            f->acked_start = false;
            f->boot_acked = m->boot;
            if (m->ts > 0)
                f->acked_ts = m->ts;
            f->delivered_bytes += m->bytes_end - f->bytes_acked;
            f->delivered_updates += m->sent_end - f->sent_acked;
            f->sent_acked = m->sent_end;
            f->bytes_acked = m->bytes_end;
        }
        f->headmarker = (f->headmarker + 1) % f->capmarkers;
        f->nmarkers--;
    }
    ring_check(f);
    assert(f->bytes_acked <= f->bytes_total);
    pub_mutex_unlock(&f->mu);
    if (!found)
        return flow_fail(f, "ACK for a datamarker that was not sent or was already "
                         "acknowledged");
    f->backoff_ms = f->pub->cfg.backoff_min_ms;
    return PUB_FLOW_ACKED;
}

/* Handles one decoded frame from the subscriber. */
static int flow_message(pub_flow *f, int type, const wire_msg *m)
{
    switch (type) {
    case WIRE_HELLO_OK:
        if (f->state != FLOW_HELLO)
            return flow_fail(f, "unexpected HELLO_OK");
        f->state = FLOW_STREAMING;
        f->state_since = wh_mono_ms();
        /* Its limits, for the caravan's encoder (before the flow joins one). */
        pub_mutex_lock(&f->mu);
        f->resume = f->acked;
        f->resume_start = f->acked_start;
        f->peer_frame_max = (uint32_t)(m->max_frame ? m->max_frame : WIRE_FRAME_MAX);
        f->peer_parts = m->max_update != 0;
        pub_mutex_unlock(&f->mu);
        wh_info(WH_AREA_PUBLISHER, "app %s: delivering shard %s to instance %s at %s from %s",
                f->app, f->pub->cfg.shard, f->instance, f->endpoint,
                f->resume_start ? "its recorded start (nothing acknowledged yet)"
                : f->resume.set ? "the acknowledged position"
                                : "the oldest position (its start is recorded before the "
                                  "first update)");
        return 0;
    case WIRE_ACK:
        if (f->state != FLOW_STREAMING)
            return flow_fail(f, "ACK before the handshake");
        return flow_ack(f, m->seq);
    case WIRE_HEARTBEAT:
        return 0;
    case WIRE_ERROR:
        if (m->code == WH_ERR_LIMIT && f->state == FLOW_STREAMING) {
            /* An update larger than it takes (docs/PROTOCOL.md, UPDATES_PART):
             * sending it again would be refused again. */
            flow_fail(f, "the subscriber refuses an update: %.*s", (int)m->message_len,
                      m->message ? m->message : "");
            f->stop_rc = WH_ERR_LIMIT;
            return PUB_FLOW_FAILED | PUB_FLOW_STOPPED;
        }
        if (m->code == WH_ERR_REFUSED) {
            /* Refused until something changes (the subscriber gave up on an
             * update, or our settings do not fit it): no retry. */
            flow_fail(f, "subscriber refused the flow: %.*s", (int)m->message_len,
                      m->message ? m->message : "");
            f->stop_rc = WH_ERR_REFUSED;
            return PUB_FLOW_FAILED | PUB_FLOW_STOPPED;
        }
        return flow_fail(f, "subscriber refused: %.*s", (int)m->message_len,
                         m->message ? m->message : "");
    default:
        return flow_fail(f, "unexpected %s frame from the subscriber", wire_type_name(type));
    }
}

/* Reads what the socket has (edge-triggered: until it would block) and
 * handles every complete frame. The receive buffer holds at most one
 * control frame (WIRE_CONTROL_MAX): a subscriber that sends more without
 * completing one is dropped, naming the cause. */
static int flow_read(pub_flow *f)
{
    char why[600];
    int r = 0;
    for (;;) {
        size_t got;
        int rc = wire_inbuf_fill_tls(&f->in, f->fd, f->tls, FLOW_READ_CHUNK, &got, f->endpoint,
                                     why, sizeof why);
        if (rc == WH_ERR_AGAIN)
            break;
        if (rc == WH_ERR_CLOSED)
            return r | flow_fail(f, "the subscriber closed the connection");
        if (rc != WH_OK)
            return r | flow_fail(f, "%s", why);
        f->last_recv = wh_mono_ms();
        for (;;) {
            int type;
            const uint8_t *pl;
            size_t plen;
            rc = wire_inbuf_next(&f->in, &type, &pl, &plen, why, sizeof why);
            if (rc == WH_ERR_AGAIN)
                break;
            wire_msg m;
            if (rc != WH_OK || wire_msg_decode(type, pl, plen, &m, why, sizeof why) != WH_OK)
                return r | flow_fail(f, "garbage from the subscriber: %s", why);
            r |= flow_message(f, type, &m);
            if (r & (PUB_FLOW_FAILED | PUB_FLOW_STOPPED))
                return r;
        }
    }
    wire_inbuf_trim(&f->in);
    return r;
}

/* Steps the TLS handshake of a connected flow, then checks that the
 * instance's certificate is authorised for the app (docs/SECURITY.md)
 * before the HELLO: an instance that is not gets nothing of the app. A
 * refusal for trust reasons will not change at the next attempt, so the
 * flow waits the longest retry delay (delivery.retry_max_ms) before it. */
static int flow_handshake(pub_flow *f, const pub_hello *hello)
{
    char why[800];
    bool want_write;
    int rc = wire_tls_handshake(f->tls, &want_write, why, sizeof why);
    if (rc == WH_ERR_AGAIN)
        return 0;   /* edge-triggered: the next event brings us back */
    if (rc != WH_OK) {
        f->backoff_ms = f->pub->cfg.backoff_max_ms;
        return flow_fail(f, "%s", why);
    }
    f->handshaking = false;
    if (!wire_tls_authorised(f->tls, f->pub->cfg.tls_subscriber_names, f->app, why,
                             sizeof why)) {
        f->backoff_ms = f->pub->cfg.backoff_max_ms;
        return flow_fail(f, "instance refused: not authorised for app %s: %s", f->app, why);
    }
    wh_debug(WH_AREA_PUBLISHER, "app %s: TLS with %s: certificate %s", f->app, f->endpoint,
             wire_tls_peer_subject(f->tls));
    return flow_hello(f, hello);
}

int pub_flow_event(pub_flow *f, uint32_t events, const pub_hello *hello)
{
    int r = 0;
    assert(f->fd >= 0);
    if (f->state == FLOW_CONNECTING && !f->handshaking &&
        (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err)
            return flow_fail(f, "connect: %s", strerror(err));
        if (!f->pub->tls) {
            r |= flow_hello(f, hello);
        } else if (wire_tls_new(f->pub->tls, f->fd, &f->tls) != WH_OK) {
            return flow_fail(f, "out of memory starting TLS");
        } else {
            f->handshaking = true;
        }
    }
    if (f->state == FLOW_CONNECTING && f->handshaking) {
        r |= flow_handshake(f, hello);
        if (f->state == FLOW_CONNECTING || (r & PUB_FLOW_FAILED))
            return r;
    }
    if (!(r & PUB_FLOW_FAILED) && (events & EPOLLOUT))
        r |= pub_flow_send(f);
    if (!(r & PUB_FLOW_FAILED) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        r |= flow_read(f);
    return r;
}

/* ---- timers ------------------------------------------------------------------------------ */

int pub_flow_tick(pub_flow *f, int64_t now)
{
    publisher *p = f->pub;
    switch (f->state) {
    case FLOW_BACKOFF:
        return now >= f->backoff_until ? flow_connect(f) : 0;
    case FLOW_CONNECTING:
    case FLOW_HELLO:
        if (now - f->state_since > p->cfg.connect_timeout_ms)
            return flow_fail(f, "no %s within %lld ms",
                             f->state == FLOW_HELLO ? "handshake answer"
                             : f->handshaking ? "TLS handshake" : "connection",
                             (long long)p->cfg.connect_timeout_ms);
        return 0;
    case FLOW_FAILED:
        return 0;
    case FLOW_STREAMING:
        break;
    }
    if (now - f->last_recv > p->cfg.heartbeat_timeout_ms)
        return flow_fail(f, "silent for %lld ms (stalled or gone)",
                         (long long)(now - f->last_recv));
    pub_mutex_lock(&f->mu);
    if (now - f->last_marker_ms >= atomic_load(&p->marker_ms))
        pub_flow_mark_locked(f);
    if (now - f->last_send >= p->cfg.heartbeat_ms && f->out.len == 0 &&
        f->sent_off == f->sending.len)
        wire_put_heartbeat(&f->out, (uint64_t)wh_wall_ms());
    pub_mutex_unlock(&f->mu);
    return pub_flow_send(f);
}

/* ---- the caravan's side (f->mu held) ---------------------------------------------------- */

void pub_flow_rewind_locked(pub_flow *f, const wh_pos *pos, bool start)
{
    assert(pub_mutex_held(&f->mu));
    assert(!start || pos->set);
    f->processed = *pos;
    f->processed_ts = 0;
    f->processed_start = start;
    f->marked = *pos;
    f->needs_start = !pos->set;
}

void pub_flow_mark_locked(pub_flow *f)
{
    assert(pub_mutex_held(&f->mu));
    ring_check(f);
    if (!f->processed.set ||
        (wh_pos_equal(&f->processed, &f->marked) && f->boot_emitted == f->boot_marked))
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
    uint64_t seq = f->next_mseq + 1;
    if (wire_put_datamarker(&f->out, seq, wh_pos_to_view(&f->processed, &view)) != WH_OK) {
        f->out.len = before;
        return;
    }
    f->next_mseq = seq;
    f->bytes_total += f->out.len - before;
    pub_marker *m = &f->markers[(f->headmarker + f->nmarkers) % f->capmarkers];
    m->seq = seq;
    m->bytes_end = f->bytes_total;
    m->pos = f->processed;
    m->boot = f->boot_emitted;
    m->sent_end = f->n_sent;
    m->ts = f->processed_ts;
    f->nmarkers++;
    f->marked = f->processed;
    f->boot_marked = f->boot_emitted;
    f->since_marker = 0;
    f->bytes_at_marker = f->bytes_total;
    f->last_marker_ms = wh_mono_ms();
    ring_check(f);
}

/* Whether f's filter fits the schema of u's table, checking it the first
 * time f meets the schema; on a misfit asks for f to stop (stop_pending).
 * Returns 0 or WH_ERR_NOMEM. */
static int schema_fits(pub_flow *f, pub_schemas *names, const wh_update *u, bool *fits)
{
    *fits = true;
    if (pub_schema_seen_has(&f->schemas, u))
        return WH_OK;
    int rc = pub_schema_check(names, f->filter, f->app, f->pub->cfg.shard, u, f->stop_why,
                              sizeof f->stop_why);
    if (rc == WH_ERR_CONFIG) {
        *fits = false;
        f->stop_pending = WH_ERR_CONFIG;
        return WH_OK;
    }
    if (rc != WH_OK || !pub_schema_seen_add(&f->schemas, u))
        return WH_ERR_NOMEM;
    return WH_OK;
}

/* Whether f takes ups[i]: 1 yes, 0 filtered out, -1 its filter does not fit
 * the update's table (stop_pending is set: f stops just before it), -2 out
 * of memory checking that. */
static int flow_takes(pub_flow *f, pub_schemas *names, const wh_update *u)
{
    if (!f->filter)
        return 1;
    if (names && (u->has_before || u->has_after)) {
        bool fits;
        if (schema_fits(f, names, u, &fits) != WH_OK)
            return -2;
        if (!fits)
            return -1;
    }
    return wh_filter_match(f->filter, u) ? 1 : 0;
}

/* How flow_filter_encode and flow_shared_encode went. */
typedef struct flow_enc_result {
    int      rc;          /* 0 or the encoder's error (WH_ERR_LIMIT: at update at) */
    int      at;          /* with rc: the update it failed on */
    bool     check_oom;   /* out of memory checking the filter (rc is WH_ERR_NOMEM) */
    uint32_t sent;        /* updates queued */
} flow_enc_result;

/* Filters ups[0..*n) and encodes those f takes into f->out in one pass
 * (the unshared form); *n becomes the index of an update whose table f's
 * filter does not fit. */
static void flow_filter_encode(pub_flow *f, pub_schemas *names, const wh_update *ups, int *n,
                               const uint64_t *sel, flow_enc_result *r)
{
    bool open = false;
    int i;
    for (i = 0; i < *n; i++) {
        int takes = sel ? (int)(sel[i >> 6] >> (i & 63) & 1) : flow_takes(f, names, &ups[i]);
        if (takes == -2) {
            r->rc = WH_ERR_NOMEM;
            r->check_oom = true;
            break;
        }
        if (takes == -1) {
            *n = i;
            break;
        }
        if (!takes)
            continue;
        if (!open) {
            wire_enc_begin(&f->enc, &f->out, f->pub->cfg.shard);
            open = true;
        }
        if ((r->rc = wire_enc_add(&f->enc, &ups[i])) != WH_OK)
            break;
        r->sent++;
    }
    r->at = i;
    if (open) {
        int erc = wire_enc_end(&f->enc);
        if (r->rc == WH_OK)
            r->rc = erc;
    }
}

/* Filters ups[0..*n) for f and queues the frames of those it takes through
 * the caravan's shared encodings (pub_shared_enc.h): copied when a member
 * before f had the same selection and limits, else encoded by f and offered
 * to the members after it. */
static void flow_shared_encode(pub_flow *f, pub_schemas *names, const wh_update *ups, int *n,
                               pub_shared_enc *shared, flow_enc_result *r)
{
    uint64_t *sel = pub_shared_enc_selection(shared, *n);
    uint32_t picked = 0;
    if (!sel) {
        flow_filter_encode(f, names, ups, n, NULL, r);
        return;
    }
    for (int i = 0; i < *n; i++) {
        int takes = flow_takes(f, names, &ups[i]);
        if (takes == -2) {
            r->rc = WH_ERR_NOMEM;
            r->check_oom = true;
            return;
        }
        if (takes == -1) {
            *n = i;
            break;
        }
        if (takes) {
            sel[i >> 6] |= 1ull << (i & 63);
            picked++;
        }
    }
    bool all = picked == (uint32_t)*n;
    const pub_shared_entry *e = pub_shared_enc_find(shared, *n, all, sel, picked,
                                                    f->enc.frame_max, f->enc.parts);
    if (e) {
        wh_buf_append(&f->out, e->bytes.data, e->bytes.len);
        if (!wh_buf_ok(&f->out)) {
            r->rc = WH_ERR_NOMEM;
            r->at = 0;
            return;
        }
        f->enc.frames += e->frames;
        f->enc.splits += e->splits;
        r->sent = e->sent;
        return;
    }
    size_t before = f->out.len;
    uint64_t frames = f->enc.frames, splits = f->enc.splits;
    flow_filter_encode(f, names, ups, n, sel, r);
    if (r->rc == WH_OK)
        pub_shared_enc_put(shared, *n, all, sel, picked, f->enc.frame_max, f->enc.parts,
                           f->out.data + before, f->out.len - before, f->enc.frames - frames,
                           f->enc.splits - splits);
}

int pub_flow_encode_locked(pub_flow *f, pub_schemas *names, const wh_update *ups, int n,
                           bool *ready, char *err, size_t errlen)
{
    return pub_flow_encode_shared_locked(f, names, ups, n, NULL, ready, err, errlen);
}

int pub_flow_encode_shared_locked(pub_flow *f, pub_schemas *names, const wh_update *ups, int n,
                                  pub_shared_enc *shared, bool *ready, char *err, size_t errlen)
{
    publisher *p = f->pub;
    bool was_empty = f->out.len == 0;
    size_t before = f->out.len;
    uint64_t frames = f->enc.frames;
    flow_enc_result r = { 0 };
    assert(pub_mutex_held(&f->mu));
    assert(n > 0);
    assert(!f->needs_start);   /* the caravan records the start first */
    assert(!shared || (shared->ups == ups && shared->nups >= n));
    if (f->stop_pending)
        return WH_OK;   /* the caravan drops it next */
    /* Frames within the smaller of our target and the subscriber's limit;
     * the encoder starts a new frame when the next update does not fit and
     * splits one that does not fit alone (if the subscriber takes parts). */
    wire_msg peer = { .max_frame = f->peer_frame_max, .max_update = f->peer_parts };
    wire_enc_peer(&f->enc, (uint32_t)p->cfg.frame_bytes, &peer);
    if (shared)
        flow_shared_encode(f, names, ups, &n, shared, &r);
    else
        flow_filter_encode(f, names, ups, &n, NULL, &r);
    if (r.check_oom)
        return wh_seterr(err, errlen, WH_ERR_NOMEM, "out of memory checking the filter "
                         "of app %s", f->app);
    int rc = r.rc, i = r.at;
    uint32_t sent = r.sent;
    f->bytes_total += f->out.len - before;
    f->n_frames += f->enc.frames - frames;
    f->n_sent += sent;
    if (rc == WH_ERR_LIMIT) {
        /* Larger than a frame, and the subscriber takes no parts (an older
         * libwormhole): it cannot get this update. What came before it in
         * the batch is queued; the processed position stays before it. */
        char pos[WIRE_POS_TEXT_MAX];
        wh_position_physical(&ups[i].pos, pos, sizeof pos);
        snprintf(f->stop_why, sizeof f->stop_why, "the update at %.300s does not fit in a frame of "
                 "%u bytes and the subscriber takes no UPDATES_PART (an older libwormhole: "
                 "upgrade it)", pos, f->enc.frame_max);
        f->stop_pending = WH_ERR_LIMIT;
        if (i > 0 && !wh_pos_from_view(&f->processed, &ups[i - 1].pos))
            return wh_seterr(err, errlen, WH_ERR_LIMIT, "position of an update is too long");
        f->processed_start = f->processed_start && i == 0;
        goto out;
    }
    if (rc != WH_OK)
        return wh_seterr(err, errlen, rc, "app %s: encoding updates failed (%s)", f->app,
                         wh_err_str(rc));
    f->n_filtered += (uint64_t)n - sent;
    if (n == 0)
        return WH_OK;   /* rejected at the batch's first update */
    if (!wh_pos_from_view(&f->processed, &ups[n - 1].pos))
        return wh_seterr(err, errlen, WH_ERR_LIMIT, "position of an update is too long");
    f->processed_start = false;
    if (ups[n - 1].ts > 0)
        f->processed_ts = ups[n - 1].ts;
    f->since_marker += (uint64_t)n;
    if (f->since_marker >= (uint64_t)atomic_load(&p->marker_updates) ||
        f->bytes_total - f->bytes_at_marker >= (uint64_t)atomic_load(&p->window_bytes) / 4)
        pub_flow_mark_locked(f);
out:
    if (was_empty && f->out.len > 0) {
        atomic_store(&f->out_ready, true);
        *ready = true;
    }
    return WH_OK;
}

uint64_t pub_flow_unacked_bytes_locked(pub_flow *f)
{
    assert(pub_mutex_held(&f->mu));
    assert(f->bytes_acked <= f->bytes_total);
    return f->bytes_total - f->bytes_acked;
}

bool pub_flow_window_full_locked(pub_flow *f)
{
    return pub_flow_unacked_bytes_locked(f) >= (uint64_t)atomic_load(&f->pub->window_bytes);
}

bool pub_flow_backlogged_locked(pub_flow *f)
{
    assert(pub_mutex_held(&f->mu));
    return atomic_load(&f->out_ready) && f->out.len >= FLOW_BACKLOG_BYTES;
}

/* main.c -- wormhole-publisher: push one shard's updates to every subscriber app that wants them.
 *
 * The loop thread below owns the flows (one per subscriber app that has a
 * live instance taking this shard): it connects to the chosen instance,
 * handshakes, reads acknowledgements and heartbeats, and places each
 * streaming flow in a caravan (pub_caravan.c) that reads the log for it.
 * The ZooKeeper agent (pub_zk.c) tells it the assignment and records
 * acknowledged positions. Exit status: 0 after SIGTERM/SIGINT, 1 on an
 * unrecoverable error (one ERROR line names it), 2 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "protocol/status_file.h"
#include "protocol/zk_layout.h"
#include "publisher/pub.h"

static publisher *the_pub;

int64_t pub_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pub_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);   /* the clock pthread_cond_timedwait uses */
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(cond, mu, &ts);
}

void pub_wake(publisher *p)
{
    uint64_t one = 1;
    ssize_t r = write(p->efd, &one, sizeof one);
    (void)r;
}

void pub_fatal(publisher *p, const char *fmt, ...)
{
    if (atomic_load(&p->has_fatal))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fatal, sizeof p->fatal, fmt, ap);
    va_end(ap);
    atomic_store(&p->has_fatal, true);
    pub_wake(p);
}

static void on_signal(int sig)
{
    if (!the_pub)
        return;
    if (sig == SIGHUP)
        atomic_store(&the_pub->sig_hup, 1);
    else
        atomic_store(&the_pub->sig_term, 1);
    pub_wake(the_pub);
}

static int apply_logging(const pub_config *cfg, char *errbuf, size_t errlen)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    int level = -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(cfg->log_level, levels[i]) == 0)
            level = i;
    if (level < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "key 'log.level': '%s' is not error, warn, info or debug",
                         cfg->log_level);
    wh_log_set_level((wh_log_level)level);
    if (wh_log_set_debug(cfg->log_debug) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "key 'log.debug': unknown area in '%s'",
                         cfg->log_debug);
    return WH_OK;
}

static void apply_live(publisher *p)
{
    atomic_store(&p->window_bytes, p->cfg.window_bytes);
    atomic_store(&p->marker_updates, p->cfg.marker_updates);
    atomic_store(&p->marker_ms, p->cfg.marker_ms);
    atomic_store(&p->batch_size, p->cfg.batch_size);
    atomic_store(&p->caravan_wait_ms, p->cfg.caravan_wait_ms);
}

/* ---- flows ------------------------------------------------------------------------------------ */

static void flow_free(pub_flow *f)
{
    if (!f)
        return;
    wh_filter_free(f->filter);
    wire_enc_free(&f->enc);
    wh_buf_free(&f->in);
    wh_buf_free(&f->out);
    free(f->markers);
    free(f->app);
    free(f->instance);
    free(f->endpoint);
    free(f->filter_json);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static pub_flow *flow_new(publisher *p, const pub_assign *a)
{
    pub_flow *f = calloc(1, sizeof *f);
    char err[512];
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    wire_enc_init(&f->enc);
    f->pub = p;
    f->fd = -1;
    f->app = strdup(a->app);
    f->instance = strdup(a->instance);
    f->endpoint = strdup(a->endpoint);
    f->filter_json = a->filter_json ? strdup(a->filter_json) : NULL;
    if (!f->app || !f->instance || !f->endpoint || (a->filter_json && !f->filter_json)) {
        flow_free(f);
        return NULL;
    }
    if (f->filter_json &&
        wh_filter_parse_json(f->filter_json, strlen(f->filter_json), &f->filter, err,
                             sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "app %s: instance %s has a filter this publisher cannot "
                "parse (%s); the app gets nothing from shard %s until that is fixed", a->app,
                a->instance, err, p->cfg.shard);
        flow_free(f);
        return NULL;
    }
    f->acked = a->pos;
    f->resume = a->pos;
    f->processed = a->pos;
    f->marked = a->pos;
    f->state = FLOW_BACKOFF;
    f->backoff_until = 0;
    f->backoff_ms = p->cfg.backoff_min_ms;
    return f;
}

static void caravan_detach(publisher *p, pub_flow *f)
{
    pub_caravan *c = f->caravan;
    if (!c)
        return;
    pub_caravan_remove(c, f);
    f->caravan = NULL;
    (void)p;
}

/* Merges caravans that have read up to the same position, so that flows
 * which split off share one reader again once they have caught up (loop
 * thread; the emptied caravans are reaped afterwards). */
static void merge_caravans(publisher *p)
{
    for (pub_caravan *a = p->caravans; a; a = a->next)
        for (pub_caravan *b = a->next; b; b = b->next) {
            /* the older caravan stays: its members are the majority as a rule */
            pub_caravan *into = a->id < b->id ? a : b, *from = into == a ? b : a;
            uint32_t n = pub_caravan_merge(into, from);
            if (n)
                wh_info(WH_AREA_CARAVAN, "caravan %llu merges into caravan %llu (%u flow%s): "
                        "both read up to the same position",
                        (unsigned long long)from->id, (unsigned long long)into->id, n,
                        n == 1 ? "" : "s");
        }
}

/* Frees caravans that have no member left (loop thread). */
static void reap_caravans(publisher *p)
{
    for (pub_caravan **pp = &p->caravans; *pp;) {
        pub_caravan *c = *pp;
        pthread_mutex_lock(&c->mu);
        uint32_t n = c->nmembers;
        pthread_mutex_unlock(&c->mu);
        if (n == 0) {
            *pp = c->next;
            wh_debug(WH_AREA_CARAVAN, "caravan %llu ends", (unsigned long long)c->id);
            pub_caravan_free(c);
        } else {
            pp = &c->next;
        }
    }
}

/* Closes f's connection and prepares a retry from its acknowledged position. */
static void flow_reset(publisher *p, pub_flow *f, const char *why, bool retry_soon)
{
    if (why)
        wh_warn(WH_AREA_PUBLISHER, "app %s: subscriber instance %s at %s: %s; retrying in "
                "%lld ms from %s", f->app, f->instance, f->endpoint, why,
                (long long)(retry_soon ? 0 : f->backoff_ms),
                f->acked.set ? "the acknowledged position" : "the oldest position");
    caravan_detach(p, f);
    reap_caravans(p);
    pthread_mutex_lock(&f->mu);
    if (f->fd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, f->fd, NULL);
        close(f->fd);
        f->fd = -1;
    }
    wh_buf_reset(&f->out);
    f->out_off = 0;
    f->io_errno = 0;
    f->bytes_total = f->bytes_acked = f->bytes_at_marker = 0;
    f->nmarkers = f->headmarker = 0;
    f->processed = f->acked;
    f->marked = f->acked;
    f->since_marker = 0;
    pthread_mutex_unlock(&f->mu);
    wh_buf_reset(&f->in);
    f->in_off = 0;
    f->resume = f->acked;
    f->state = FLOW_BACKOFF;
    f->state_since = pub_now_ms();
    if (retry_soon) {
        f->backoff_until = pub_now_ms();
    } else {
        f->backoff_until = pub_now_ms() + f->backoff_ms;
        f->backoff_ms = f->backoff_ms * 2 > p->cfg.backoff_max_ms ? p->cfg.backoff_max_ms
                                                                  : f->backoff_ms * 2;
    }
}

static void flow_connect(publisher *p, pub_flow *f)
{
    char host[256], port[16];
    const char *ep = f->endpoint, *colon = strrchr(ep, ':');
    if (!colon || colon == ep || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - ep) >= sizeof host) {
        flow_reset(p, f, "endpoint is not HOST:PORT", false);
        return;
    }
    const char *h = ep;
    size_t hn = (size_t)(colon - ep);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV }, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve: %s", gai_strerror(gai));
        flow_reset(p, f, why, false);
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        flow_reset(p, f, strerror(errno), false);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS) {
        char why[300];
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        close(fd);
        flow_reset(p, f, why, false);
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->fd = fd;
    pthread_mutex_unlock(&f->mu);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = f };
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
    f->state = FLOW_CONNECTING;
    f->state_since = pub_now_ms();
    f->last_recv = pub_now_ms();
    wh_debug(WH_AREA_PUBLISHER, "app %s: connecting to %s", f->app, f->endpoint);
}

static void flow_send_hello(publisher *p, pub_flow *f)
{
    wh_position view;
    pthread_mutex_lock(&f->mu);
    wire_put_hello(&f->out, f->app, p->cfg.shard, pub_zk_fatal(p->zk) ? "" : p->cfg.id,
                   pub_zk_epoch(p->zk), wh_pos_to_view(&f->acked, &view),
                   (uint64_t)p->cfg.heartbeat_ms);
    pub_flow_send_locked(f);
    pthread_mutex_unlock(&f->mu);
    f->state = FLOW_HELLO;
    f->state_since = pub_now_ms();
}

/* Handles an ACK: pops markers up to seq. Returns NULL or a protocol error. */
static const char *flow_ack(publisher *p, pub_flow *f, uint64_t seq)
{
    bool found = false;
    wh_pos acked;
    pthread_mutex_lock(&f->mu);
    while (f->nmarkers > 0) {
        pub_marker *m = &f->markers[f->headmarker];
        if (m->seq > seq)
            break;
        if (m->seq == seq) {
            found = true;
            f->acked = m->pos;
            f->bytes_acked = m->bytes_end;
        }
        f->headmarker = (f->headmarker + 1) % f->capmarkers;
        f->nmarkers--;
    }
    acked = f->acked;
    pthread_mutex_unlock(&f->mu);
    if (!found)
        return "ACK for a datamarker that was not sent or was already acknowledged";
    f->backoff_ms = p->cfg.backoff_min_ms;
    if (f->caravan) {
        pthread_mutex_lock(&f->caravan->mu);
        pthread_cond_broadcast(&f->caravan->cond);
        pthread_mutex_unlock(&f->caravan->mu);
    }
    pub_zk_note_acked(p->zk, f->app, &acked);
    return NULL;
}

static void flow_readable(publisher *p, pub_flow *f)
{
    char why[600];
    for (;;) {
        if (!wh_buf_reserve(&f->in, 65536)) {
            flow_reset(p, f, "out of memory", false);
            return;
        }
        ssize_t n = recv(f->fd, f->in.data + f->in.len, f->in.cap - f->in.len - 1, 0);
        if (n == 0) {
            flow_reset(p, f, "the subscriber closed the connection", false);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            snprintf(why, sizeof why, "receive: %s", strerror(errno));
            flow_reset(p, f, why, false);
            return;
        }
        f->in.len += (size_t)n;
        f->last_recv = pub_now_ms();
        for (;;) {
            int type;
            const uint8_t *pl;
            size_t plen, used;
            /* Subscribers send only small control frames. */
            int rc = wire_frame_parse((uint8_t *)f->in.data + f->in_off, f->in.len - f->in_off,
                                      65536, &type, &pl, &plen, &used, why, sizeof why);
            if (rc == WH_ERR_AGAIN)
                break;
            if (rc != WH_OK) {
                char msg[700];
                snprintf(msg, sizeof msg, "garbage from the subscriber: %s", why);
                flow_reset(p, f, msg, false);
                return;
            }
            f->in_off += used;
            wire_msg m;
            if (wire_msg_decode(type, pl, plen, &m, why, sizeof why) != WH_OK) {
                char msg[700];
                snprintf(msg, sizeof msg, "garbage from the subscriber: %s", why);
                flow_reset(p, f, msg, false);
                return;
            }
            const char *err = NULL;
            switch (type) {
            case WIRE_HELLO_OK:
                if (f->state != FLOW_HELLO) {
                    err = "unexpected HELLO_OK";
                    break;
                }
                f->state = FLOW_STREAMING;
                f->state_since = pub_now_ms();
                f->resume = f->acked;
                wh_info(WH_AREA_PUBLISHER, "app %s: delivering shard %s to instance %s at %s "
                        "from %s", f->app, p->cfg.shard, f->instance, f->endpoint,
                        f->acked.set ? "the acknowledged position" : "the oldest position");
                break;
            case WIRE_ACK:
                if (f->state != FLOW_STREAMING)
                    err = "ACK before the handshake";
                else
                    err = flow_ack(p, f, m.seq);
                break;
            case WIRE_HEARTBEAT:
                break;
            case WIRE_ERROR:
                snprintf(why, sizeof why, "subscriber refused: %.*s", (int)m.message_len,
                         m.message ? m.message : "");
                err = why;
                break;
            default:
                snprintf(why, sizeof why, "unexpected %s frame from the subscriber",
                         wire_type_name(type));
                err = why;
                break;
            }
            if (err) {
                flow_reset(p, f, err, false);
                return;
            }
        }
        if (f->in_off == f->in.len) {
            wh_buf_reset(&f->in);
            f->in_off = 0;
        }
    }
}

static void flow_event(publisher *p, pub_flow *f, uint32_t events)
{
    if (f->state == FLOW_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            char why[300];
            snprintf(why, sizeof why, "connect: %s", strerror(err));
            flow_reset(p, f, why, false);
            return;
        }
        flow_send_hello(p, f);
    }
    if (f->fd >= 0 && (events & EPOLLOUT)) {
        pthread_mutex_lock(&f->mu);
        pub_flow_send_locked(f);
        pthread_mutex_unlock(&f->mu);
    }
    if (f->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        flow_readable(p, f);
}

/* Finds or creates a caravan for a streaming flow without one. */
static void flow_place(publisher *p, pub_flow *f)
{
    for (pub_caravan *c = p->caravans; c; c = c->next)
        if (pub_caravan_add(c, f)) {
            wh_debug(WH_AREA_CARAVAN, "app %s joins caravan %llu", f->app,
                     (unsigned long long)c->id);
            return;
        }
    pub_caravan *c = pub_caravan_new(p, &f->resume);
    if (!c || !pub_caravan_add(c, f) || pub_caravan_run(c) != WH_OK) {
        if (c)
            pub_caravan_remove(c, f);
        free(c);   /* never started: nothing to join */
        pub_fatal(p, "cannot start a reader thread for app %s", f->app);
        return;
    }
    c->next = p->caravans;
    p->caravans = c;
    wh_debug(WH_AREA_CARAVAN, "app %s starts caravan %llu", f->app, (unsigned long long)c->id);
}

static bool caravan_has(pub_caravan *c, pub_flow *f)
{
    bool has = false;
    pthread_mutex_lock(&c->mu);
    for (uint32_t k = 0; k < c->nmembers; k++)
        has |= c->members[k] == f;
    pthread_mutex_unlock(&c->mu);
    return has;
}

static void flow_tick(publisher *p, pub_flow *f, int64_t now)
{
    char why[300];
    switch (f->state) {
    case FLOW_BACKOFF:
        if (now >= f->backoff_until)
            flow_connect(p, f);
        return;
    case FLOW_CONNECTING:
    case FLOW_HELLO:
        if (now - f->state_since > p->cfg.connect_timeout_ms) {
            snprintf(why, sizeof why, "no %s within %lld ms",
                     f->state == FLOW_CONNECTING ? "connection" : "handshake answer",
                     (long long)p->cfg.connect_timeout_ms);
            flow_reset(p, f, why, false);
        }
        return;
    case FLOW_STREAMING:
        break;
    }
    if (now - f->last_recv > p->cfg.heartbeat_timeout_ms) {
        snprintf(why, sizeof why, "silent for %lld ms (stalled or gone)",
                 (long long)(now - f->last_recv));
        flow_reset(p, f, why, false);
        return;
    }
    pthread_mutex_lock(&f->mu);
    int io = f->io_errno;
    if (!io) {
        if (now - f->last_marker_ms >= atomic_load(&p->marker_ms))
            pub_flow_mark_locked(f);
        if (now - f->last_send >= p->cfg.heartbeat_ms && f->out.len == f->out_off)
            wire_put_heartbeat(&f->out, (uint64_t)time(NULL) * 1000);
        pub_flow_send_locked(f);
        io = f->io_errno;
    }
    pthread_mutex_unlock(&f->mu);
    if (io) {
        snprintf(why, sizeof why, "send: %s", strerror(io));
        flow_reset(p, f, why, false);
        return;
    }
    if (f->caravan && !caravan_has(f->caravan, f)) {
        /* Left its caravan (too slow): continue from what it already has. */
        pthread_mutex_lock(&f->mu);
        f->resume = f->processed;
        pthread_mutex_unlock(&f->mu);
        f->caravan = NULL;
        reap_caravans(p);
    }
    if (!f->caravan)
        flow_place(p, f);
}

/* Applies a new assignment from ZooKeeper. */
static void apply_assignment(publisher *p, pub_assign *as, int n)
{
    for (pub_flow *f = p->flows; f; f = f->next)
        f->doomed = true;
    for (int i = 0; i < n; i++) {
        pub_flow *f = p->flows;
        while (f && strcmp(f->app, as[i].app) != 0)
            f = f->next;
        if (f && strcmp(f->instance, as[i].instance) == 0 &&
            strcmp(f->endpoint, as[i].endpoint) == 0 &&
            ((!f->filter_json && !as[i].filter_json) ||
             (f->filter_json && as[i].filter_json &&
              strcmp(f->filter_json, as[i].filter_json) == 0))) {
            f->doomed = false;
            continue;
        }
        if (f) {
            wh_info(WH_AREA_PUBLISHER, "app %s: shard %s moves from instance %s to %s",
                    as[i].app, p->cfg.shard, f->instance, as[i].instance);
            as[i].pos = f->acked;   /* newest we know */
        }
        pub_flow *nf = flow_new(p, &as[i]);
        if (nf) {
            nf->next = p->flows;
            p->flows = nf;
        }
    }
    for (pub_flow **pp = &p->flows; *pp;) {
        pub_flow *f = *pp;
        if (!f->doomed) {
            pp = &f->next;
            continue;
        }
        *pp = f->next;
        if (f->state == FLOW_STREAMING) {
            pthread_mutex_lock(&f->mu);
            wire_put_shard_notice(&f->out, p->cfg.shard, false);
            pub_flow_send_locked(f);
            pthread_mutex_unlock(&f->mu);
        }
        wh_info(WH_AREA_PUBLISHER, "app %s: stops delivering shard %s to instance %s", f->app,
                p->cfg.shard, f->instance);
        flow_reset(p, f, NULL, true);
        flow_free(f);
    }
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void reload(publisher *p)
{
    char err[1024];
    pub_config next;
    memset(&next, 0, sizeof next);
    if (wh_config_load_file(p->config_path, pub_config_fields, &next, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: keeping the running configuration: %s", err);
        return;
    }
    if (strcmp(next.shard, p->cfg.shard) || strcmp(next.mapper_name, p->cfg.mapper_name) ||
        !json_equal(next.mapper_options, p->cfg.mapper_options) ||
        strcmp(next.zk_connect, p->cfg.zk_connect) || strcmp(next.zk_root, p->cfg.zk_root) ||
        strcmp(next.id, p->id_configured ? p->id_configured : ""))
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: shard, id, mapper and zookeeper settings change "
                "only with a restart; applying the delivery and log settings");
    if (apply_logging(&next, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: %s", err);
        wh_config_free(pub_config_fields, &next);
        apply_logging(&p->cfg, err, sizeof err);
        return;
    }
    p->cfg.batch_size = next.batch_size;
    p->cfg.window_bytes = next.window_bytes;
    p->cfg.marker_updates = next.marker_updates;
    p->cfg.marker_ms = next.marker_ms;
    p->cfg.caravan_wait_ms = next.caravan_wait_ms;
    p->cfg.heartbeat_ms = next.heartbeat_ms;
    p->cfg.heartbeat_timeout_ms = next.heartbeat_timeout_ms;
    p->cfg.connect_timeout_ms = next.connect_timeout_ms;
    p->cfg.backoff_min_ms = next.backoff_min_ms;
    p->cfg.backoff_max_ms = next.backoff_max_ms;
    p->cfg.flush_ms = next.flush_ms;
    char *t;
    t = p->cfg.log_level; p->cfg.log_level = next.log_level; next.log_level = t;
    t = p->cfg.log_debug; p->cfg.log_debug = next.log_debug; next.log_debug = t;
    wh_config_free(pub_config_fields, &next);
    apply_live(p);
    wh_info(WH_AREA_PUBLISHER, "SIGHUP: configuration reloaded from %s", p->config_path);
}

/* The settings table as the Markdown table of docs/CONFIG.md (kept in step by
 * the unit test config_doc). */
static void print_markdown(FILE *out)
{
    static const char *const types[] = { "string", "integer", "boolean", "number", "json" };
    fprintf(out, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (const wh_cfg_field *f = pub_config_fields; f->key; f++) {
        fprintf(out, "| `%s` | %s | %s%s%s | ", f->key, types[f->type], f->def ? "`" : "",
                f->def ? f->def : "required", f->def ? "`" : "");
        if (f->min <= f->max && f->type == WH_CFG_INT)
            fprintf(out, "%lld..%lld", (long long)f->min, (long long)f->max);
        fprintf(out, " | %s |\n", f->desc);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: wormhole-publisher --config FILE [--debug AREAS]\n"
        "       wormhole-publisher --check-config FILE\n"
        "       wormhole-publisher --help-config | --config-markdown\n"
        "\n"
        "Reads one datastore shard's log through a positions mapper and pushes each\n"
        "subscriber app's matching updates to one of its live instances, recording\n"
        "acknowledged positions in ZooKeeper (docs/PROTOCOL.md, docs/ZOOKEEPER.md).\n"
        "SIGTERM/SIGINT stop cleanly; SIGHUP reloads the delivery and log settings.\n"
        "--check-config validates FILE, the mapper's options included, prints OK and\n"
        "exits 0 (1 with the reason on stderr) without opening the log or connecting.\n");
}

/* Waits up to ms for outstanding datamarkers to be acknowledged (clean stop). */
static void drain(publisher *p, int ms)
{
    int64_t deadline = pub_now_ms() + ms;
    for (pub_flow *f = p->flows; f; f = f->next)
        if (f->state == FLOW_STREAMING) {
            caravan_detach(p, f);
            pthread_mutex_lock(&f->mu);
            pub_flow_mark_locked(f);
            pub_flow_send_locked(f);
            pthread_mutex_unlock(&f->mu);
        }
    reap_caravans(p);
    while (pub_now_ms() < deadline) {
        bool pending = false;
        for (pub_flow *f = p->flows; f; f = f->next)
            pending |= f->state == FLOW_STREAMING && f->nmarkers > 0;
        if (!pending)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(p->epfd, evs, 64, 20);
        for (int i = 0; i < n; i++)
            if (evs[i].data.ptr != &p->efd)
                flow_event(p, evs[i].data.ptr, evs[i].events);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "debug", required_argument, NULL, 'd' },
        { "help-config", no_argument, NULL, 'H' },
        { "config-markdown", no_argument, NULL, 'M' },
        { "check-config", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static publisher pub;
    publisher *p = &pub;
    const char *debug = NULL;
    char err[1024];
    int c, status = 1;
    status_report *rep = NULL;
    bool check_only = false;

    wh_log_set_ident("wormhole-publisher");
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': p->config_path = optarg; break;
        case 'C': p->config_path = optarg; check_only = true; break;
        case 'd': debug = optarg; break;
        case 'H':
            wh_config_print_help(stdout, pub_config_fields);
            return 0;
        case 'M':
            print_markdown(stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!p->config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    p->epfd = p->efd = -1;
    if (wh_config_load_file(p->config_path, pub_config_fields, &p->cfg, err, sizeof err)) {
        wh_error(WH_AREA_PUBLISHER, "%s", err);
        return 1;
    }
    if (apply_logging(&p->cfg, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_PUBLISHER, "%s: %s", p->config_path, err);
        goto out;
    }
    if (debug && wh_log_set_debug(debug) != WH_OK) {
        wh_error(WH_AREA_PUBLISHER, "--debug: unknown area in '%s'", debug);
        goto out;
    }
    if (!zku_valid_name(p->cfg.shard)) {
        wh_error(WH_AREA_PUBLISHER, "%s: key 'shard': '%s' is not a valid name (1..128 of "
                 "A-Z a-z 0-9 . _ - :)", p->config_path, p->cfg.shard);
        goto out;
    }
    if (p->cfg.zk_root[0] != '/' || strlen(p->cfg.zk_root) > 512) {
        wh_error(WH_AREA_PUBLISHER, "%s: key 'zookeeper.root': '%s' is not an absolute path",
                 p->config_path, p->cfg.zk_root);
        goto out;
    }
    if (check_only) {
        if (pub_mapper_check(p->cfg.mapper_name, p->cfg.mapper_options, err, sizeof err)) {
            wh_error(WH_AREA_PUBLISHER, "%s: mapper: %s", p->config_path, err);
            goto out;
        }
        printf("OK   %s\n", p->config_path);
        status = 0;
        goto out;
    }
    p->id_configured = strdup(p->cfg.id);
    if (!p->cfg.id[0]) {
        char host[128] = "host", id[200];
        gethostname(host, sizeof host - 1);
        snprintf(id, sizeof id, "%s-%d", host, (int)getpid());
        free(p->cfg.id);
        p->cfg.id = strdup(id);
    }
    apply_live(p);
    if (status_report_from_env(&rep, err, sizeof err) != WH_OK)
        wh_warn(WH_AREA_PUBLISHER, "status file: %s", err);
    status_report_write(rep, "starting", NULL, -1, NULL, err, sizeof err);

    /* Check the mapper's options now, so a bad config fails at start. */
    {
        wh_mapper *m = NULL;
        if (pub_mapper_create(p->cfg.mapper_name, p->cfg.mapper_options, p->cfg.shard, true, &m,
                              err, sizeof err) != WH_OK) {
            wh_error(WH_AREA_PUBLISHER, "%s: mapper: %s", p->config_path, err);
            status_report_exiting(rep, err);
            goto out;
        }
        wh_mapper_destroy(m);
    }

    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->efd < 0 || p->epfd < 0) {
        wh_error(WH_AREA_PUBLISHER, "epoll/eventfd: %s", strerror(errno));
        goto out;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->efd };
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev);
    the_pub = p;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pub_zk_new(p, &p->zk, err, sizeof err) != WH_OK ||
        pub_zk_start(p->zk, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_PUBLISHER, "%s", err);
        status_report_exiting(rep, err);
        goto out;
    }
    wh_info(WH_AREA_PUBLISHER, "publisher %s for shard %s (mapper %s, ZooKeeper %s%s)",
            p->cfg.id, p->cfg.shard, p->cfg.mapper_name, p->cfg.zk_connect, p->cfg.zk_root);

    int64_t last_tick = 0, last_report = 0;
    bool running_reported = false;
    while (!atomic_load(&p->sig_term)) {
        struct epoll_event evs[64];
        int n = epoll_wait(p->epfd, evs, 64, 20);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &p->efd) {
                uint64_t v;
                ssize_t r = read(p->efd, &v, sizeof v);
                (void)r;
                continue;
            }
            pub_flow *f = evs[i].data.ptr;
            /* The flow may have been reset by an earlier event this round;
             * a reset flow has fd -1 and is not in epoll any more. */
            bool live = false;
            for (pub_flow *x = p->flows; x; x = x->next)
                live |= x == f;
            if (live && f->fd >= 0)
                flow_event(p, f, evs[i].events);
        }
        if (atomic_exchange(&p->sig_hup, 0))
            reload(p);
        const char *zf = pub_zk_fatal(p->zk);
        if (zf)
            pub_fatal(p, "%s", zf);
        for (pub_caravan *cv = p->caravans; cv; cv = cv->next)
            if (atomic_load(&cv->dead))
                pub_fatal(p, "%s", cv->err);
        if (atomic_load(&p->has_fatal))
            break;
        pub_assign *as;
        int nas;
        if (pub_zk_take_assignment(p->zk, &p->assign_gen, &as, &nas)) {
            apply_assignment(p, as, nas);
            pub_assign_free(as, nas);
        }
        int64_t now = pub_now_ms();
        if (now - last_tick >= 20) {
            for (pub_flow *f = p->flows; f; f = f->next)
                flow_tick(p, f, now);
            merge_caravans(p);
            reap_caravans(p);
            last_tick = now;
        }
        /* Report at every interval, and at once when the state changes to
         * running, so a rolling restart need not wait a whole interval. */
        if (now - last_report >= status_report_interval_ms(rep) ||
            (!running_reported && pub_zk_epoch(p->zk) != 0)) {
            char pos[800] = "";
            /* A heartbeat vouches for the readers too: a caravan stuck in its
             * mapper for 30 s stops them, so the monitor restarts us. */
            bool stuck = false;
            for (pub_caravan *cv = p->caravans; cv; cv = cv->next)
                if (now - atomic_load(&cv->beat_ms) > 30000) {
                    if (!stuck)
                        wh_warn(WH_AREA_PUBLISHER, "reader of caravan %llu has not come back "
                                "from the mapper for %lld s", (unsigned long long)cv->id,
                                (long long)((now - atomic_load(&cv->beat_ms)) / 1000));
                    stuck = true;
                }
            /* Lag: how far the slowest reader is behind the head of the log,
             * by the log's own event times (whole seconds in a binlog);
             * unknown without readers or when the log has no times. */
            int64_t lag = p->caravans ? 0 : -1, wall = (int64_t)time(NULL) * 1000;
            for (pub_caravan *cv = p->caravans; cv && !stuck; cv = cv->next) {
                pthread_mutex_lock(&cv->mu);
                if (cv->last.set)
                    wh_pos_format_physical(&cv->last, pos, sizeof pos);
                if (!cv->at_head && lag >= 0) {
                    if (!cv->reading || cv->last_ts <= 0)
                        lag = -1;
                    else if (wall - cv->last_ts * 1000 > lag)
                        lag = wall - cv->last_ts * 1000;
                }
                pthread_mutex_unlock(&cv->mu);
            }
            bool up = pub_zk_epoch(p->zk) != 0;
            if (up)
                running_reported = true;
            if (!stuck)
                status_report_write(rep, running_reported ? "running" : "starting",
                                    pos[0] ? pos : NULL, stuck ? -1 : lag, NULL, err, sizeof err);
            last_report = now;
        }
    }

    if (atomic_load(&p->has_fatal)) {
        wh_error(WH_AREA_PUBLISHER, "%s", p->fatal);
        status_report_exiting(rep, p->fatal);
        status = 1;
    } else {
        wh_info(WH_AREA_PUBLISHER, "stopping: recording final positions");
        status_report_write(rep, "stopping", NULL, -1, NULL, err, sizeof err);
        drain(p, 1000);
        status = 0;
    }
    while (p->flows) {
        pub_flow *f = p->flows;
        p->flows = f->next;
        if (f->state == FLOW_STREAMING && status == 0) {
            pthread_mutex_lock(&f->mu);
            wire_put_shard_notice(&f->out, p->cfg.shard, false);
            pub_flow_send_locked(f);
            pthread_mutex_unlock(&f->mu);
        }
        flow_reset(p, f, NULL, true);
        flow_free(f);
    }
    reap_caravans(p);
    if (status != 0) {
        /* Crash-only: do not write positions on the way out of a failure. */
    }
    pub_zk_free(p->zk);
out:
    the_pub = NULL;
    if (p->epfd >= 0) close(p->epfd);
    if (p->efd >= 0) close(p->efd);
    status_report_free(rep);
    wh_config_free(pub_config_fields, &p->cfg);
    free(p->id_configured);
    return status;
}

/* sub.c -- libwormhole's subscriber: ZooKeeper registration, publisher connections, callbacks.
 *
 * One loop thread owns everything below except the fields under mu (the
 * manual-ack queue and the ZooKeeper event flags, written by other threads).
 * ZooKeeper calls from the loop are asynchronous, so an outage never blocks
 * delivery; the watcher and completions only set flags and wake the loop. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "filters/filter.h"
#include "subscriber/wire.h"
#include "subscriber/zkutil.h"
#include "wormhole/subscriber.h"

#define SUB_READ_CHUNK   (256u << 10)
#define SUB_OUT_LIMIT    (1u << 20)     /* unsent control bytes before we give up on a peer */
#define SUB_MAX_MARKERS  65536

/* ZooKeeper events posted to the loop. */
#define ZKF_CONNECTED  0x01
#define ZKF_EXPIRED    0x02
#define ZKF_REG_OK     0x04
#define ZKF_REG_EXISTS 0x08
#define ZKF_REG_FAILED 0x10
#define ZKF_DELETED    0x20

typedef struct sub_marker {
    uint64_t mseq;      /* datamarker sequence number */
    uint64_t upto;      /* updates received before it */
} sub_marker;

typedef struct sub_conn {
    struct sub_conn *next;
    int       fd;
    char      peer[64];
    uint64_t  flow;
    bool      streaming;
    char     *shard;
    wh_buf    in;
    size_t    in_off;
    wh_buf    out;
    size_t    out_off;
    uint64_t  seq;           /* updates received */
    uint64_t  epoch;         /* the publisher's epoch, from its HELLO */
    uint64_t  app_acked;     /* manual mode: app's cumulative ack */
    sub_marker *markers;
    uint32_t  nmarkers, capmarkers;
    int64_t   last_recv, last_send, hb_ms;
    bool      want_out;
} sub_conn;

struct wh_subscriber {
    /* options (owned copies) */
    char *zk_connect, *zk_root, *app, *instance, *listen_host, *advertise_host;
    char **shards;          /* NULL = all */
    int   session_ms, zk_wait_ms, hb_timeout_ms;
    bool  manual_ack;
    uint32_t max_frame;
    wh_sub_batch_cb  on_batch;
    wh_sub_update_cb on_update;
    wh_sub_notice_cb on_notice;
    void *opaque;

    char *filter_json;      /* canonical JSON, or NULL for everything */
    char  endpoint[300];
    char  node_path[1024];
    char *node_data;

    int lfd, efd, epfd;
    zhandle_t *zh;
    int64_t registered_session;     /* session id the node was created in, 0 = none */
    bool reg_inflight;
    int64_t reg_retry_at;
    int  last_zk_state;

    pthread_mutex_t mu;     /* guards zk_flags, acks */
    unsigned zk_flags;
    int      zk_reg_rc;
    struct { uint64_t flow, seq; } *acks;
    uint32_t nacks, capacks;

    atomic_bool stop;
    sub_conn *conns;
    uint64_t next_flow;
    wh_arena arena;
    wh_sub_stats stats;

    pthread_t thread;
    bool thread_started;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(wh_subscriber *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->efd, &one, sizeof one);
    (void)r;
}

static void post_zk(wh_subscriber *s, unsigned flag, int rc)
{
    pthread_mutex_lock(&s->mu);
    s->zk_flags |= flag;
    if (flag & (ZKF_REG_FAILED))
        s->zk_reg_rc = rc;
    pthread_mutex_unlock(&s->mu);
    wake(s);
}

void wh_sub_options_init(wh_sub_options *o)
{
    memset(o, 0, sizeof *o);
    o->zk_root = "/wormhole";
    o->zk_session_timeout_ms = 10000;
    o->zk_wait_ms = 15000;
    o->listen_host = "127.0.0.1";
    o->heartbeat_timeout_ms = 10000;
    o->max_frame_bytes = WIRE_FRAME_MAX;
}

/* ---- ZooKeeper ----------------------------------------------------------------- */

static void zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    wh_subscriber *s = ctx;
    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    if (state == ZOO_CONNECTED_STATE)
        post_zk(s, ZKF_CONNECTED, 0);
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        post_zk(s, ZKF_EXPIRED, 0);
    else
        wake(s);
}

static void reg_done(int rc, const char *value, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    (void)value;
    if (rc == ZOK)
        post_zk(s, ZKF_REG_OK, 0);
    else if (rc == ZNODEEXISTS)
        post_zk(s, ZKF_REG_EXISTS, 0);
    else
        post_zk(s, ZKF_REG_FAILED, rc);
}

static void parent_done(int rc, const char *value, const void *data)
{
    (void)rc;
    (void)value;
    (void)data;
}

static void delete_done(int rc, const void *data)
{
    wh_subscriber *s = (wh_subscriber *)data;
    if (rc == ZOK || rc == ZNONODE)
        post_zk(s, ZKF_DELETED, 0);
    else
        post_zk(s, ZKF_REG_FAILED, rc);
}

static int zk_open(wh_subscriber *s)
{
    zku_quiet();
    s->zh = zookeeper_init(s->zk_connect, zk_watcher, s->session_ms, NULL, s, 0);
    if (!s->zh)
        return WH_ERR_ZK;
    s->registered_session = 0;
    s->reg_inflight = false;
    return WH_OK;
}

/* Issues the creates for the node's parents and the ephemeral node itself;
 * ZooKeeper runs one session's requests in order, so one completion (the
 * node's) tells the outcome. */
static void zk_register(wh_subscriber *s)
{
    char buf[1024];
    size_t n = strlen(s->node_path);
    memcpy(buf, s->node_path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        zoo_acreate(s->zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, parent_done, s);
        buf[i] = '/';
    }
    /* The app's positions folder, where publishers record acknowledged positions. */
    snprintf(buf, sizeof buf, "%s/apps/%s/positions", s->zk_root, s->app);
    zoo_acreate(s->zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, parent_done, s);
    int rc = zoo_acreate(s->zh, s->node_path, s->node_data, (int)strlen(s->node_data),
                         &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, reg_done, s);
    if (rc != ZOK) {
        wh_warn(WH_AREA_ZK, "registering %s: %s; retrying", s->node_path, zerror(rc));
        s->reg_retry_at = now_ms() + 1000;
        return;
    }
    s->reg_inflight = true;
}

static void zk_handle_events(wh_subscriber *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned f = s->zk_flags;
    int reg_rc = s->zk_reg_rc;
    s->zk_flags = 0;
    pthread_mutex_unlock(&s->mu);

    int state = s->zh ? zoo_state(s->zh) : 0;
    if (state != s->last_zk_state) {
        if (state == ZOO_CONNECTED_STATE)
            wh_info(WH_AREA_ZK, "ZooKeeper %s: connected", s->zk_connect);
        else if (s->last_zk_state == ZOO_CONNECTED_STATE)
            wh_warn(WH_AREA_ZK, "ZooKeeper %s: connection lost (%s); delivery goes on, "
                    "reconnecting", s->zk_connect, zku_state_name(state));
        s->last_zk_state = state;
    }
    if (f & ZKF_EXPIRED) {
        wh_warn(WH_AREA_ZK, "ZooKeeper %s: session expired; re-registering %s", s->zk_connect,
                s->node_path);
        zookeeper_close(s->zh);
        s->zh = NULL;
        if (zk_open(s) != WH_OK)
            wh_warn(WH_AREA_ZK, "ZooKeeper %s: cannot create a client: %s", s->zk_connect,
                    strerror(errno));
        return;
    }
    if (!s->zh)
        return;
    if (f & ZKF_REG_OK) {
        s->reg_inflight = false;
        s->registered_session = zoo_client_id(s->zh)->client_id;
        wh_info(WH_AREA_ZK, "registered %s (endpoint %s)", s->node_path, s->endpoint);
    }
    if (f & ZKF_REG_EXISTS) {
        /* Left over from an earlier session of the same instance name. */
        wh_info(WH_AREA_ZK, "%s exists from an earlier session; replacing it", s->node_path);
        zoo_adelete(s->zh, s->node_path, -1, delete_done, s);
    }
    if (f & ZKF_DELETED)
        zk_register(s);
    if (f & ZKF_REG_FAILED) {
        s->reg_inflight = false;
        wh_warn(WH_AREA_ZK, "registering %s failed: %s; retrying", s->node_path,
                zerror(reg_rc));
        s->reg_retry_at = now_ms() + 1000;
    }
    if (zoo_state(s->zh) == ZOO_CONNECTED_STATE && !s->reg_inflight &&
        s->registered_session != zoo_client_id(s->zh)->client_id && now_ms() >= s->reg_retry_at &&
        !(f & (ZKF_REG_EXISTS | ZKF_DELETED)))
        zk_register(s);
}

/* ---- connections -------------------------------------------------------------------- */

static void conn_notice(wh_subscriber *s, sub_conn *c, bool held)
{
    if (s->on_notice && c->shard)
        s->on_notice(s->opaque, c->shard, held);
}

static void conn_close(wh_subscriber *s, sub_conn *c, const char *why)
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
    wh_buf_free(&c->in);
    wh_buf_free(&c->out);
    free(c->markers);
    free(c->shard);
    free(c);
}

/* Writes what is pending; returns false if the peer is gone. */
static bool conn_flush(wh_subscriber *s, sub_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->last_send = now_ms();
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return false;
    }
    if (c->out_off == c->out.len) {
        wh_buf_reset(&c->out);
        c->out_off = 0;
    }
    bool want = c->out.len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return c->out.len - c->out_off <= SUB_OUT_LIMIT;
}

static void conn_send_ack(wh_subscriber *s, sub_conn *c, uint64_t mseq)
{
    wire_put_ack(&c->out, mseq);
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

/* Handles one frame; returns NULL to go on, or why the connection must close. */
static const char *conn_frame(wh_subscriber *s, sub_conn *c, int type, const uint8_t *pl,
                              size_t plen, char *why, size_t whylen)
{
    wire_msg m;
    if (type == WIRE_UPDATES) {
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
        wh_sub_delivery d = { c->shard, c->flow, c->seq };
        int cb = 0;
        if (s->on_batch) {
            cb = b.count ? s->on_batch(s->opaque, b.updates, b.count, &d) : 0;
        } else {
            for (uint32_t i = 0; i < b.count && cb == 0; i++) {
                d.seq = c->seq - b.count + i + 1;
                cb = s->on_update(s->opaque, &b.updates[i], &d);
            }
        }
        if (cb != 0) {
            snprintf(why, whylen, "the application's callback returned %d; the batch will be "
                     "delivered again", cb);
            return why;
        }
        return NULL;
    }
    if (wire_msg_decode(type, pl, plen, &m, why, whylen) != WH_OK)
        return why;
    switch (type) {
    case WIRE_HELLO: {
        if (c->streaming)
            return "second HELLO on one connection";
        if (m.version != WIRE_VERSION) {
            snprintf(why, whylen, "unsupported protocol version %llu (this library speaks %d)",
                     (unsigned long long)m.version, WIRE_VERSION);
            wire_put_error(&c->out, WH_ERR_UNSUPPORTED, why);
            conn_flush(s, c);
            return why;
        }
        if (m.app_len != strlen(s->app) || memcmp(m.app, s->app, m.app_len) != 0) {
            snprintf(why, whylen, "HELLO for app '%.*s', but this instance is of app '%s'",
                     (int)m.app_len, m.app, s->app);
            wire_put_error(&c->out, WH_ERR_INVALID, why);
            conn_flush(s, c);
            return why;
        }
        if (!shard_taken(s, m.shard, m.shard_len)) {
            snprintf(why, whylen, "HELLO for shard '%.*s', which this instance does not take",
                     (int)m.shard_len, m.shard);
            wire_put_error(&c->out, WH_ERR_INVALID, why);
            conn_flush(s, c);
            return why;
        }
        c->shard = strndup(m.shard, m.shard_len);
        if (!c->shard)
            return "out of memory";
        /* A newer connection for the same shard replaces an older one whose
         * publisher has restarted or moved, unless it comes from a publisher
         * with an older epoch than the one delivering now: that one lost the
         * shard (its lease) without noticing yet, e.g. cut off from
         * ZooKeeper, and would otherwise take the shard back and forth with
         * the new one until it notices (docs/PROTOCOL.md, HELLO). */
        for (sub_conn *o = s->conns; o; o = o->next)
            if (o != c && o->streaming && strcmp(o->shard, c->shard) == 0) {
                if (m.epoch < o->epoch) {
                    snprintf(why, whylen, "stale publisher %.*s: epoch %llu, but a publisher "
                             "with epoch %llu delivers shard %s", (int)m.publisher_len,
                             m.publisher ? m.publisher : "", (unsigned long long)m.epoch,
                             (unsigned long long)o->epoch, c->shard);
                    wire_put_error(&c->out, WH_ERR_FENCED, why);
                    conn_flush(s, c);
                    return why;
                }
                conn_close(s, o, "replaced by a newer connection for the same shard");
                break;
            }
        c->epoch = m.epoch;
        c->hb_ms = m.heartbeat_ms ? (int64_t)m.heartbeat_ms : 1000;
        c->streaming = true;
        wh_info(WH_AREA_SUBSCRIBER, "publisher %.*s (epoch %llu) at %s delivers shard %s",
                (int)m.publisher_len, m.publisher ? m.publisher : "", (unsigned long long)m.epoch,
                c->peer, c->shard);
        wire_put_hello_ok(&c->out, s->instance);
        conn_notice(s, c, true);
        return NULL;
    }
    case WIRE_DATAMARKER:
        if (!c->streaming)
            return "DATAMARKER before HELLO";
        if (!s->manual_ack) {
            conn_send_ack(s, c, m.seq);
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
        c->markers[c->nmarkers++] = (sub_marker){ m.seq, c->seq };
        conn_try_ack(s, c);
        return NULL;
    case WIRE_HEARTBEAT:
        return NULL;
    case WIRE_SHARD_NOTICE:
        if (!m.held && c->streaming) {
            conn_notice(s, c, false);
            c->streaming = false;   /* released: the publisher closes next */
        }
        return NULL;
    case WIRE_ERROR:
        snprintf(why, whylen, "publisher reports %s: %.*s", wh_err_name((int)m.code),
                 (int)m.message_len, m.message ? m.message : "");
        return why;
    default:
        snprintf(why, whylen, "unexpected %s frame", wire_type_name(type));
        return why;
    }
}

static void conn_readable(wh_subscriber *s, sub_conn *c)
{
    char why[512];
    const char *err = NULL;
    size_t budget = 4 * SUB_READ_CHUNK;
    for (;;) {
        if (!wh_buf_reserve(&c->in, SUB_READ_CHUNK)) {
            err = "out of memory";
            break;
        }
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n == 0) {
            err = c->streaming ? "publisher closed the connection" : NULL;
            if (!err) {
                conn_close(s, c, NULL);
                return;
            }
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                snprintf(why, sizeof why, "receive failed: %s", strerror(errno));
                err = why;
            }
            break;
        }
        c->in.len += (size_t)n;
        s->stats.bytes += (size_t)n;
        c->last_recv = now_ms();
        /* Parse complete frames. */
        for (;;) {
            int type;
            const uint8_t *pl;
            size_t plen, used;
            int rc = wire_frame_parse((uint8_t *)c->in.data + c->in_off, c->in.len - c->in_off,
                                      s->max_frame, &type, &pl, &plen, &used, why, sizeof why);
            if (rc == WH_ERR_AGAIN)
                break;
            if (rc != WH_OK) {
                err = why;
                break;
            }
            c->in_off += used;
            err = conn_frame(s, c, type, pl, plen, why, sizeof why);
            if (err || atomic_load(&s->stop))
                break;
        }
        if (err)
            break;
        if (c->in_off == c->in.len) {
            wh_buf_reset(&c->in);
            c->in_off = 0;
        } else if (c->in_off > 0) {
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        /* Make room for a large frame in one go. */
        if (c->in.len >= 4) {
            uint32_t flen = (uint32_t)((uint8_t)c->in.data[0] << 24 |
                                       (uint8_t)c->in.data[1] << 16 |
                                       (uint8_t)c->in.data[2] << 8 | (uint8_t)c->in.data[3]);
            if (flen <= s->max_frame && !wh_buf_reserve(&c->in, (size_t)flen + 8)) {
                err = "out of memory";
                break;
            }
        }
        if ((size_t)n >= budget || atomic_load(&s->stop))
            break;
        budget -= (size_t)n;
    }
    if (!err && !conn_flush(s, c))
        err = "send failed or the publisher does not read";
    if (err)
        conn_close(s, c, err);
}

static void accept_all(wh_subscriber *s)
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
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (sa.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        c->flow = ++s->next_flow;
        c->last_recv = c->last_send = now_ms();
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

static void handle_acks(wh_subscriber *s)
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

static void timers(wh_subscriber *s)
{
    int64_t now = now_ms();
    sub_conn *next;
    for (sub_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (now - c->last_recv > s->hb_timeout_ms) {
            char why[128];
            snprintf(why, sizeof why, "publisher silent for %lld ms (heartbeat timeout)",
                     (long long)(now - c->last_recv));
            conn_close(s, c, why);
            continue;
        }
        if (c->streaming && now - c->last_send >= c->hb_ms)
            wire_put_heartbeat(&c->out, (uint64_t)time(NULL) * 1000);
        if (c->out.len > c->out_off && !conn_flush(s, c))
            conn_close(s, c, "send failed or the publisher does not read");
    }
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static char *dup_or(const char *s, const char *def)
{
    return strdup(s ? s : def);
}

int wh_subscriber_new(const wh_sub_options *o, wh_subscriber **out, char *errbuf,
                      size_t errlen)
{
    int rc = WH_ERR_NOMEM;
    *out = NULL;
    if (!o || !o->zk_connect || !*o->zk_connect)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: zk_connect is required");
    if (!zku_valid_name(o->app))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: app name '%s' is invalid (1..128 of A-Z a-z 0-9 . _ - :)",
                         o->app ? o->app : "");
    if (!o->on_batch && !o->on_update)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: one of on_batch and on_update is required");
    if (o->instance && !zku_valid_name(o->instance))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: instance name '%s' is invalid", o->instance);
    if (o->listen_port < 0 || o->listen_port > 65535)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: listen_port %d is invalid",
                         o->listen_port);
    wh_subscriber *s = calloc(1, sizeof *s);
    if (!s)
        return WH_ERR_NOMEM;
    s->lfd = s->efd = s->epfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->zk_connect = strdup(o->zk_connect);
    s->zk_root = dup_or(o->zk_root, "/wormhole");
    s->app = strdup(o->app);
    s->listen_host = dup_or(o->listen_host, "127.0.0.1");
    s->session_ms = o->zk_session_timeout_ms > 0 ? o->zk_session_timeout_ms : 10000;
    s->zk_wait_ms = o->zk_wait_ms > 0 ? o->zk_wait_ms : 15000;
    s->hb_timeout_ms = o->heartbeat_timeout_ms > 0 ? o->heartbeat_timeout_ms : 10000;
    s->max_frame = o->max_frame_bytes ? o->max_frame_bytes : WIRE_FRAME_MAX;
    s->manual_ack = o->manual_ack;
    s->on_batch = o->on_batch;
    s->on_update = o->on_update;
    s->on_notice = o->on_shard_notice;
    s->opaque = o->opaque;
    if (!s->zk_connect || !s->zk_root || !s->app || !s->listen_host)
        goto err;
    if (s->zk_root[0] != '/' || strlen(s->zk_root) > 512) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "subscriber: zk_root '%s' is not an absolute path", s->zk_root);
        goto err;
    }
    if (o->shards) {
        size_t n = 0;
        while (o->shards[n])
            n++;
        s->shards = calloc(n + 1, sizeof *s->shards);
        if (!s->shards)
            goto err;
        for (size_t i = 0; i < n; i++) {
            if (!zku_valid_name(o->shards[i])) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                               "subscriber: shard name '%s' is invalid", o->shards[i]);
                goto err;
            }
            if (!(s->shards[i] = strdup(o->shards[i])))
                goto err;
        }
    }
    if (o->filter && *o->filter) {
        wh_filter *f = NULL;
        wh_buf j = WH_BUF_INIT;
        rc = wh_filter_parse_text(o->filter, strlen(o->filter), &f, errbuf, errlen);
        if (rc) {
            wh_preferr(errbuf, errlen, rc, "subscriber: filter");
            goto err;
        }
        rc = wh_filter_to_json(f, &j);
        wh_filter_free(f);
        if (rc || !wh_buf_ok(&j)) {
            wh_buf_free(&j);
            rc = WH_ERR_NOMEM;
            goto err;
        }
        s->filter_json = j.data;   /* NUL-terminated by wh_buf */
    }

    /* Listen. */
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->listen_port);
    int gai = getaddrinfo(s->listen_host, port, &hints, &ai);
    if (gai != 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NET, "subscriber: listen address %s: %s",
                       s->listen_host, gai_strerror(gai));
        goto err;
    }
    s->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->lfd >= 0)
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->lfd < 0 || bind(s->lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s->lfd, 128) != 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NET, "subscriber: cannot listen on %s:%d: %s",
                       s->listen_host, o->listen_port, strerror(errno));
        freeaddrinfo(ai);
        goto err;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(s->lfd, (struct sockaddr *)&sa, &sl);
    int bound = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    char hostname[256];
    const char *adv = o->advertise_host;
    if (!adv) {
        adv = s->listen_host;
        if (strcmp(adv, "0.0.0.0") == 0 || strcmp(adv, "::") == 0) {
            if (gethostname(hostname, sizeof hostname) != 0)
                snprintf(hostname, sizeof hostname, "localhost");
            hostname[sizeof hostname - 1] = '\0';
            adv = hostname;
        }
    }
    s->advertise_host = strdup(adv);
    if (!s->advertise_host)
        goto err;
    snprintf(s->endpoint, sizeof s->endpoint, strchr(adv, ':') ? "[%s]:%d" : "%s:%d", adv,
             bound);
    s->instance = dup_or(o->instance, s->endpoint);
    if (!s->instance)
        goto err;
    snprintf(s->node_path, sizeof s->node_path, "%s/apps/%s/instances/%s", s->zk_root, s->app,
             s->instance);

    /* The instance node's data (docs/ZOOKEEPER.md). */
    json_t *d = json_object();
    json_object_set_new(d, "endpoint", json_string(s->endpoint));
    json_object_set_new(d, "protocol", json_integer(WIRE_VERSION));
    json_t *fj = s->filter_json ? json_loads(s->filter_json, JSON_DECODE_ANY, NULL) : json_null();
    json_object_set_new(d, "filter", fj ? fj : json_null());
    if (s->shards) {
        json_t *a = json_array();
        for (char **p = s->shards; *p; p++)
            json_array_append_new(a, json_string(*p));
        json_object_set_new(d, "shards", a);
    } else {
        json_object_set_new(d, "shards", json_string("all"));
    }
    json_object_set_new(d, "pid", json_integer(getpid()));
    s->node_data = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    if (!s->node_data)
        goto err;

    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->efd < 0 || s->epfd < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "subscriber: %s", strerror(errno));
        goto err;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->lfd };
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
    ev.data.ptr = &s->efd;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev);
    if (zk_open(s) != WH_OK) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_ZK,
                       "subscriber: cannot create a ZooKeeper client for '%s': %s",
                       s->zk_connect, strerror(errno));
        goto err;
    }
    *out = s;
    return WH_OK;
err:
    if (rc == WH_ERR_NOMEM)
        wh_seterr(errbuf, errlen, rc, "subscriber: out of memory");
    wh_subscriber_free(s);
    return rc;
}

static void loop_once(wh_subscriber *s, int timeout_ms)
{
    struct epoll_event evs[64];
    int n = epoll_wait(s->epfd, evs, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
        void *p = evs[i].data.ptr;
        if (p == &s->lfd) {
            accept_all(s);
        } else if (p == &s->efd) {
            uint64_t v;
            ssize_t r = read(s->efd, &v, sizeof v);
            (void)r;
        } else {
            sub_conn *c = p;
            /* c may have been closed by an earlier event of this round
             * (replaced by a newer connection); look it up. */
            sub_conn *x = s->conns;
            while (x && x != c)
                x = x->next;
            if (!x)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_readable(s, c);
            else if ((evs[i].events & EPOLLOUT) && !conn_flush(s, c))
                conn_close(s, c, "send failed");
        }
        if (atomic_load(&s->stop))
            break;
    }
    zk_handle_events(s);
    handle_acks(s);
}

/* Waits for the first registration. */
static int wait_registered(wh_subscriber *s, char *errbuf, size_t errlen)
{
    int64_t deadline = now_ms() + s->zk_wait_ms;
    while (!atomic_load(&s->stop)) {
        zk_handle_events(s);
        if (s->registered_session)
            return WH_OK;
        if (now_ms() >= deadline)
            return wh_seterr(errbuf, errlen, WH_ERR_ZK,
                             "ZooKeeper %s: could not register %s within %d ms (session %s)",
                             s->zk_connect, s->node_path, s->zk_wait_ms,
                             zku_state_name(s->zh ? zoo_state(s->zh) : 0));
        loop_once(s, 50);
    }
    return WH_OK;
}

static void shutdown_all(wh_subscriber *s)
{
    while (s->conns) {
        sub_conn *c = s->conns;
        conn_flush(s, c);
        conn_close(s, c, NULL);
    }
    if (s->zh && s->registered_session && zoo_state(s->zh) == ZOO_CONNECTED_STATE &&
        zoo_client_id(s->zh)->client_id == s->registered_session) {
        zoo_delete(s->zh, s->node_path, -1);
        s->registered_session = 0;
    }
}

int wh_subscriber_run(wh_subscriber *s, char *errbuf, size_t errlen)
{
    if (!s)
        return WH_ERR_INVALID;
    int rc = wait_registered(s, errbuf, errlen);
    if (rc)
        return rc;
    int64_t last_timers = now_ms();
    while (!atomic_load(&s->stop)) {
        loop_once(s, 100);
        if (now_ms() - last_timers >= 100) {
            timers(s);
            last_timers = now_ms();
        }
    }
    shutdown_all(s);
    return WH_OK;
}

static void *thread_main(void *arg)
{
    wh_subscriber *s = arg;
    char err[512];
    int rc = wh_subscriber_run(s, err, sizeof err);
    if (rc)
        wh_error(WH_AREA_SUBSCRIBER, "subscriber loop failed: %s", err);
    return NULL;
}

int wh_subscriber_start(wh_subscriber *s, char *errbuf, size_t errlen)
{
    if (!s || s->thread_started)
        return WH_ERR_INVALID;
    int rc = wait_registered(s, errbuf, errlen);
    if (rc)
        return rc;
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "subscriber: cannot start its thread: %s",
                         strerror(errno));
    s->thread_started = true;
    return WH_OK;
}

void wh_subscriber_stop(wh_subscriber *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    uint64_t one = 1;
    ssize_t r = write(s->efd, &one, sizeof one);
    (void)r;
}

int wh_subscriber_ack(wh_subscriber *s, const wh_sub_delivery *d)
{
    if (!s || !d)
        return WH_ERR_INVALID;
    if (!s->manual_ack)
        return WH_ERR_INVALID;
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < s->nacks; i++)
        if (s->acks[i].flow == d->flow) {
            if (d->seq > s->acks[i].seq)
                s->acks[i].seq = d->seq;
            pthread_mutex_unlock(&s->mu);
            wake(s);
            return WH_OK;
        }
    if (s->nacks == s->capacks) {
        uint32_t cap = s->capacks ? s->capacks * 2 : 16;
        void *p = realloc(s->acks, cap * sizeof *s->acks);
        if (!p) {
            pthread_mutex_unlock(&s->mu);
            return WH_ERR_NOMEM;
        }
        s->acks = p;
        s->capacks = cap;
    }
    s->acks[s->nacks].flow = d->flow;
    s->acks[s->nacks].seq = d->seq;
    s->nacks++;
    pthread_mutex_unlock(&s->mu);
    wake(s);
    return WH_OK;
}

const char *wh_subscriber_endpoint(const wh_subscriber *s) { return s->endpoint; }
const char *wh_subscriber_instance(const wh_subscriber *s) { return s->instance; }

void wh_subscriber_stats(const wh_subscriber *s, wh_sub_stats *out)
{
    *out = s->stats;
}

void wh_subscriber_free(wh_subscriber *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        wh_subscriber_stop(s);
        pthread_join(s->thread, NULL);
    } else {
        shutdown_all(s);
    }
    if (s->zh)
        zookeeper_close(s->zh);
    if (s->lfd >= 0) close(s->lfd);
    if (s->efd >= 0) close(s->efd);
    if (s->epfd >= 0) close(s->epfd);
    if (s->shards) {
        for (char **p = s->shards; *p; p++)
            free(*p);
        free(s->shards);
    }
    free(s->zk_connect);
    free(s->zk_root);
    free(s->app);
    free(s->instance);
    free(s->listen_host);
    free(s->advertise_host);
    free(s->filter_json);
    free(s->node_data);
    free(s->acks);
    wh_arena_free(&s->arena);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

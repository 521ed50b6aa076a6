/* sub.c -- libwormhole's public API (include/wormhole/subscriber.h): options, listening, the loop.
 *
 * The ZooKeeper registration lives in sub_zk.c, the publisher connections in
 * sub_conn.c; sub_int.h says which thread owns what. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "filters/filter.h"
#include "subscriber/sub_int.h"

void sub_wake(wh_subscriber *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->efd, &one, sizeof one);
    (void)r;
}

void wh_sub_options_init(wh_sub_options *o)
{
    memset(o, 0, sizeof *o);
    o->zk_root = ZKU_DEFAULT_ROOT;
    o->zk_session_timeout_ms = 10000;
    o->zk_wait_ms = 15000;
    o->listen_host = "127.0.0.1";
    o->heartbeat_timeout_ms = 10000;
    o->max_frame_bytes = WIRE_FRAME_MAX;
    o->max_update_bytes = WIRE_UPDATE_MAX;
    o->hello_timeout_ms = SUB_HELLO_TIMEOUT_MS;
    o->max_pending_connections = SUB_MAX_PENDING;
    o->max_attempts = 10;
    o->give_up = WH_SUB_GIVE_UP_STOP;
}

/* ---- failures --------------------------------------------------------------------------- */

void sub_report(wh_subscriber *s, const wh_sub_error *e)
{
    if (s->on_error)
        s->on_error(s->opaque, e);
}

void sub_fatal(wh_subscriber *s, int rc, const char *fmt, ...)
{
    if (s->has_fatal)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fatal, sizeof s->fatal, fmt, ap);
    va_end(ap);
    s->has_fatal = true;
    s->fatal_rc = rc;
    wh_error(WH_AREA_SUBSCRIBER, "%s", s->fatal);
    wh_sub_error e = { rc, s->fatal, NULL, NULL, 0, 0 };
    sub_report(s, &e);
    sub_wake(s);
}

void wh_subscriber_callback_error(wh_subscriber *s, const char *reason)
{
    if (!s || !s->in_callback || !reason)
        return;
    snprintf(s->cb_reason, sizeof s->cb_reason, "%s", reason);
}

/* ---- construction --------------------------------------------------------------------- */

static char *dup_or(const char *s, const char *def)
{
    return strdup(s ? s : def);
}

/* Checks what the options must hold before anything is allocated. */
static int check_options(const wh_sub_options *o, char *errbuf, size_t errlen)
{
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
    if (o->heartbeat_timeout_ms < 0 || o->zk_session_timeout_ms < 0 || o->zk_wait_ms < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: %s %d is negative (0 means "
                         "the default)", o->heartbeat_timeout_ms < 0 ? "heartbeat_timeout_ms"
                         : o->zk_session_timeout_ms < 0 ? "zk_session_timeout_ms" : "zk_wait_ms",
                         o->heartbeat_timeout_ms < 0 ? o->heartbeat_timeout_ms
                         : o->zk_session_timeout_ms < 0 ? o->zk_session_timeout_ms
                                                        : o->zk_wait_ms);
    /* Options that only mean something together. */
    if (o->give_up != WH_SUB_GIVE_UP_STOP && o->give_up != WH_SUB_GIVE_UP_DEAD_LETTER)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: give_up %d is neither "
                         "WH_SUB_GIVE_UP_STOP nor WH_SUB_GIVE_UP_DEAD_LETTER", (int)o->give_up);
    if (o->give_up == WH_SUB_GIVE_UP_DEAD_LETTER && (!o->dead_letter_path || !*o->dead_letter_path))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: give_up is "
                         "WH_SUB_GIVE_UP_DEAD_LETTER, but dead_letter_path names no file to "
                         "write the updates given up on to");
    if (o->give_up == WH_SUB_GIVE_UP_STOP && o->dead_letter_path)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: dead_letter_path is set "
                         "(%s), but give_up is WH_SUB_GIVE_UP_STOP, which writes nothing there "
                         "(set give_up to WH_SUB_GIVE_UP_DEAD_LETTER)", o->dead_letter_path);
    if (o->max_attempts > 1000000)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: max_attempts %u is more "
                         "than 1000000", o->max_attempts);
    if (o->max_frame_bytes && (o->max_frame_bytes < WIRE_FRAME_MIN ||
                               o->max_frame_bytes > WIRE_FRAME_MAX))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: max_frame_bytes %u is outside %u..%u", o->max_frame_bytes,
                         WIRE_FRAME_MIN, WIRE_FRAME_MAX);
    if (o->max_update_bytes && o->max_update_bytes < WIRE_FRAME_MIN)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: max_update_bytes %llu is less than %u",
                         (unsigned long long)o->max_update_bytes, WIRE_FRAME_MIN);
    wire_tls_mode mode;
    if (!wire_tls_parse_mode(o->tls_mode, &mode))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: tls_mode '%s' is not auto, on or off", o->tls_mode);
    if (o->hello_timeout_ms < 0 || o->max_pending_connections < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: hello_timeout_ms and max_pending_connections must not "
                         "be negative");
    return WH_OK;
}

/* The bootstrap option: copies the tables and checks their names with the
 * request's codec (protocol/zk_bootstrap.h). */
static int copy_boot_tables(wh_subscriber *s, const wh_sub_options *o, char *errbuf,
                            size_t errlen)
{
    uint32_t n = 0;
    while (o->bootstrap_tables && o->bootstrap_tables[n])
        n++;
    if (n == 0)
        return WH_OK;
    char *check = NULL;
    int rc = zku_boot_request_to_json("check", o->bootstrap_tables, n, &check, errbuf, errlen);
    free(check);
    if (rc != WH_OK)
        return wh_preferr(errbuf, errlen, WH_ERR_CONFIG, "subscriber: bootstrap_tables");
    if (!(s->boot_tables = calloc(n + 1, sizeof *s->boot_tables)))
        return WH_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++)
        if (!(s->boot_tables[i] = strdup(o->bootstrap_tables[i])))
            return WH_ERR_NOMEM;
    s->nboot_tables = n;
    return WH_OK;
}

/* Copies the options into s. */
static int copy_options(wh_subscriber *s, const wh_sub_options *o, char *errbuf, size_t errlen)
{
    s->zk_connect = strdup(o->zk_connect);
    s->zk_root = dup_or(o->zk_root, ZKU_DEFAULT_ROOT);
    s->app = strdup(o->app);
    s->listen_host = dup_or(o->listen_host, "127.0.0.1");
    s->session_ms = o->zk_session_timeout_ms > 0 ? o->zk_session_timeout_ms : 10000;
    s->zk_wait_ms = o->zk_wait_ms > 0 ? o->zk_wait_ms : 15000;
    s->hb_timeout_ms = o->heartbeat_timeout_ms > 0 ? o->heartbeat_timeout_ms : 10000;
    s->max_update = o->max_update_bytes ? o->max_update_bytes : WIRE_UPDATE_MAX;
    s->max_frame = o->max_frame_bytes ? o->max_frame_bytes : WIRE_FRAME_MAX;
    if (s->max_frame > s->max_update)
        s->max_frame = (uint32_t)s->max_update;   /* a frame holding one update is an update */
    s->hello_ms = o->hello_timeout_ms > 0 ? o->hello_timeout_ms : SUB_HELLO_TIMEOUT_MS;
    s->max_pending = o->max_pending_connections > 0 ? o->max_pending_connections
                                                    : SUB_MAX_PENDING;
    s->manual_ack = o->manual_ack;
    s->on_batch = o->on_batch;
    s->on_update = o->on_update;
    s->on_notice = o->on_shard_notice;
    s->on_error = o->on_error;
    s->opaque = o->opaque;
    s->max_attempts = o->max_attempts ? o->max_attempts : 10;
    s->give_up = o->give_up;
    s->replace_filter = o->replace_filter;
    if (o->dead_letter_path && !(s->dead_letter_path = strdup(o->dead_letter_path)))
        return WH_ERR_NOMEM;
    int rc = zku_auth_load(&s->auth, o->zk_user, o->zk_secret_file, errbuf, errlen);
    if (rc != WH_OK) {
        wh_preferr(errbuf, errlen, rc, "subscriber");
        return rc;
    }
    if (!zku_auth_on(&s->auth))
        wh_warn(WH_AREA_ZK, "ZooKeeper is unauthenticated (no zk_user): instance node of app "
                "%s is created open to anyone who reaches %s (docs/SECURITY.md)", s->app,
                s->zk_connect ? s->zk_connect : "ZooKeeper");
    if (!s->zk_connect || !s->zk_root || !s->app || !s->listen_host)
        return WH_ERR_NOMEM;
    if (!zku_valid_root(s->zk_root))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "subscriber: zk_root '%s' is not an absolute path", s->zk_root);
    if ((rc = copy_boot_tables(s, o, errbuf, errlen)) != WH_OK)
        return rc;
    if (!o->shards)
        return WH_OK;
    size_t n = 0;
    while (o->shards[n])
        n++;
    s->shards = calloc(n + 1, sizeof *s->shards);
    if (!s->shards)
        return WH_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!zku_valid_name(o->shards[i]))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "subscriber: shard name '%s' is invalid", o->shards[i]);
        if (!(s->shards[i] = strdup(o->shards[i])))
            return WH_ERR_NOMEM;
    }
    return WH_OK;
}

/* Parses the filter text into its canonical JSON (s->filter_json). */
static int parse_filter(wh_subscriber *s, const char *text, char *errbuf, size_t errlen)
{
    wh_filter *f = NULL;
    wh_buf j = WH_BUF_INIT;
    int rc = wh_filter_parse_text(text, strlen(text), &f, errbuf, errlen);
    if (rc)
        return wh_preferr(errbuf, errlen, rc, "subscriber: filter");
    rc = wh_filter_to_json(f, &j);
    wh_filter_free(f);
    if (rc || !wh_buf_ok(&j)) {
        wh_buf_free(&j);
        return WH_ERR_NOMEM;
    }
    s->filter_json = j.data;   /* NUL-terminated by wh_buf */
    return WH_OK;
}

/* The TLS context (docs/SECURITY.md): on with the files, or plaintext. */
static int setup_tls(wh_subscriber *s, const wh_sub_options *o, char *errbuf, size_t errlen)
{
    wire_tls_mode mode;
    wire_tls_parse_mode(o->tls_mode, &mode);   /* checked by check_options */
    bool files = (o->tls_ca_file && *o->tls_ca_file) || (o->tls_cert_file && *o->tls_cert_file) ||
                 (o->tls_key_file && *o->tls_key_file);
    s->tls_pub_names = strdup(o->tls_publisher_names && *o->tls_publisher_names
                                  ? o->tls_publisher_names : WIRE_TLS_PUBLISHER_NAMES);
    if (!s->tls_pub_names)
        return WH_ERR_NOMEM;
    if (mode == WIRE_TLS_OFF || (mode == WIRE_TLS_AUTO && !files)) {
        if (!wire_tls_is_loopback(s->listen_host))
            wh_warn(WH_AREA_SUBSCRIBER, "TLS is %s: plaintext on %s, so only "
                    "publishers on this host (loopback addresses) are accepted",
                    mode == WIRE_TLS_OFF ? "off" : "not configured", s->listen_host);
        return WH_OK;
    }
    wire_tls_files f = { o->tls_ca_file, o->tls_cert_file, o->tls_key_file };
    int rc = wire_tls_ctx_new(&f, true, &s->tls, errbuf, errlen);
    if (rc)
        return wh_preferr(errbuf, errlen, rc, "subscriber");
    wh_info(WH_AREA_SUBSCRIBER, "TLS: certificate %s; publishers must present a certificate "
            "from %s named %s", wire_tls_ctx_subject(s->tls), o->tls_ca_file, s->tls_pub_names);
    return WH_OK;
}

/* Binds and listens; sets s->lfd and the endpoint publishers connect to. */
static int listen_on(wh_subscriber *s, int port, const char *advertise, char *errbuf,
                     size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
    char pbuf[16];
    snprintf(pbuf, sizeof pbuf, "%d", port);
    int gai = getaddrinfo(s->listen_host, pbuf, &hints, &ai);
    if (gai != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_NET, "subscriber: listen address %s: %s",
                         s->listen_host, gai_strerror(gai));
    s->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->lfd >= 0)
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->lfd < 0 || bind(s->lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s->lfd, 128) != 0) {
        int e = errno;
        freeaddrinfo(ai);
        return wh_seterr(errbuf, errlen, WH_ERR_NET, "subscriber: cannot listen on %s:%d: %s",
                         s->listen_host, port, strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(s->lfd, (struct sockaddr *)&sa, &sl);
    int bound = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    char hostname[256];
    const char *adv = advertise;
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
        return WH_ERR_NOMEM;
    snprintf(s->endpoint, sizeof s->endpoint, strchr(adv, ':') ? "[%s]:%d" : "%s:%d", adv,
             bound);
    return WH_OK;
}

/* The eventfd, the epoll set and the ZooKeeper client. */
static int open_loop(wh_subscriber *s, char *errbuf, size_t errlen)
{
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->efd < 0 || s->epfd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "subscriber: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->lfd };
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
    ev.data.ptr = &s->efd;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev);
    if (sub_zk_open(s) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_ZK,
                         "subscriber: cannot create a ZooKeeper client for '%s': %s",
                         s->zk_connect, strerror(errno));
    return WH_OK;
}

int wh_subscriber_new(const wh_sub_options *o, wh_subscriber **out, char *errbuf,
                      size_t errlen)
{
    *out = NULL;
    int rc = check_options(o, errbuf, errlen);
    if (rc)
        return rc;
    wh_subscriber *s = calloc(1, sizeof *s);
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "subscriber: out of memory");
    s->lfd = s->efd = s->epfd = s->dead_fd = -1;
    s->app_others = -1;
    pthread_mutex_init(&s->mu, NULL);
    if ((rc = copy_options(s, o, errbuf, errlen)) || (rc = sub_deliver_open(s, errbuf, errlen)))
        goto err;
    if (o->filter && *o->filter && (rc = parse_filter(s, o->filter, errbuf, errlen)))
        goto err;
    if ((rc = setup_tls(s, o, errbuf, errlen)))
        goto err;
    if ((rc = listen_on(s, o->listen_port, o->advertise_host, errbuf, errlen)))
        goto err;
    s->instance = dup_or(o->instance, s->endpoint);
    if (!s->instance) {
        rc = WH_ERR_NOMEM;
        goto err;
    }
    /* The instance node's path and data (protocol/zk_layout.h). */
    if ((rc = sub_zk_prepare(s, errbuf, errlen)) || (rc = open_loop(s, errbuf, errlen)))
        goto err;
    *out = s;
    return WH_OK;
err:
    if (rc == WH_ERR_NOMEM)
        wh_seterr(errbuf, errlen, rc, "subscriber: out of memory");
    wh_subscriber_free(s);
    return rc;
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void loop_once(wh_subscriber *s, int timeout_ms)
{
    struct epoll_event evs[64];
    /* TLS may hold bytes the sockets no longer signal: then do not sleep. */
    bool backlog = s->tls && sub_conn_drain_tls(s);
    int n = epoll_wait(s->epfd, evs, 64, backlog ? 0 : timeout_ms);
    for (int i = 0; i < n; i++) {
        void *p = evs[i].data.ptr;
        if (p == &s->lfd) {
            sub_accept_all(s);
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
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->handshaking)
                sub_conn_readable(s, c);
            else if ((evs[i].events & EPOLLOUT) && !sub_conn_flush(s, c))
                sub_conn_close(s, c, "send failed");
        }
        if (atomic_load(&s->stop))
            break;
    }
    sub_zk_handle_events(s);
    sub_handle_acks(s);
}

/* Waits for the first registration. */
static int wait_registered(wh_subscriber *s, char *errbuf, size_t errlen)
{
    int64_t deadline = wh_mono_ms() + s->zk_wait_ms;
    while (!atomic_load(&s->stop)) {
        sub_zk_handle_events(s);
        if (s->has_fatal)
            return wh_seterr(errbuf, errlen, s->fatal_rc, "%s", s->fatal);
        if (s->registered_session)
            return WH_OK;
        if (s->zk_fatal[0])
            return wh_seterr(errbuf, errlen, WH_ERR_ZK, "%s", s->zk_fatal);
        if (wh_mono_ms() >= deadline)
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
        sub_conn_flush(s, c);
        sub_conn_close(s, c, NULL);
    }
    sub_zk_unregister(s);
}

int wh_subscriber_run(wh_subscriber *s, char *errbuf, size_t errlen)
{
    if (!s)
        return WH_ERR_INVALID;
    int rc = wait_registered(s, errbuf, errlen);
    if (rc)
        return rc;
    int64_t last_timers = wh_mono_ms();
    while (!atomic_load(&s->stop) && !s->has_fatal) {
        loop_once(s, 100);
        if (wh_mono_ms() - last_timers >= 100) {
            sub_timers(s);
            last_timers = wh_mono_ms();
        }
    }
    shutdown_all(s);
    if (s->has_fatal)
        return wh_seterr(errbuf, errlen, s->fatal_rc, "%s", s->fatal);
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

/* ---- any thread ---------------------------------------------------------------------------- */

void wh_subscriber_stop(wh_subscriber *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    sub_wake(s);   /* write(2) on the eventfd: async-signal-safe */
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
            sub_wake(s);
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
    sub_wake(s);
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
    free(s->app_data);
    free(s->reg_app_data);
    free(s->app_read);
    free(s->dead_letter_path);
    for (uint32_t i = 0; s->boot_tables && i < s->nboot_tables; i++)
        free(s->boot_tables[i]);
    free(s->boot_tables);
    zku_boot_node_free(&s->boot_node);
    sub_deliver_free(s);
    wire_tls_ctx_free(s->tls);
    free(s->tls_pub_names);
    free(s->acks);
    zku_auth_clear(&s->auth);
    wh_arena_free(&s->arena);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

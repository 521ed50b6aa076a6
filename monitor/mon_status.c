/* mon_status.c -- status document, control socket and its client (see mon_status.h). */
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "monitor/mon_monitor.h"
#include "monitor/mon_rundir.h"
#include "monitor/mon_status.h"
#include "monitor/mon_supervise.h"

#define A WH_AREA_MONITOR
#define CLIENT_MAX      32
#define CLIENT_TIMEOUT  5000
/* At most one log line per this many ms about refused control-socket peers. */
#define REFUSAL_LOG_MS  10000
#define REQUEST_MAX     256

struct mon_client {
    mon_kind    kind;            /* MON_K_CLIENT */
    int         fd;
    char        in[REQUEST_MAX];
    size_t      inlen;
    char       *out;
    size_t      outlen, outoff;
    int64_t     deadline;
    mon_client *next;
};

/* ---- the document -------------------------------------------------------- */

static json_t *int_or_null(bool have, int64_t v)
{
    return have ? json_integer((json_int_t)v) : json_null();
}

/* A publisher's role and epoch from its report (docs/FAILOVER.md): null
 * for a process that does not report them. */
static void role_fields(json_t *o, const json_t *report)
{
    json_t *role = report ? json_object_get(report, "role") : NULL;
    json_t *epoch = report ? json_object_get(report, "epoch") : NULL;
    json_object_set_new(o, "role", json_is_string(role) ? json_incref(role) : json_null());
    json_object_set_new(o, "epoch", json_is_integer(epoch) ? json_incref(epoch) : json_null());
}

/* The publisher's flows from its report (docs/MONITOR.md "Metrics"), each
 * as the report has it plus "shard": an empty array for a process that
 * does not report them. */
static void flow_fields(json_t *o, const json_t *report)
{
    json_t *flows = json_array();
    const char *shard = json_string_value(json_object_get(report, "shard"));
    size_t i;
    const json_t *fl;
    json_array_foreach(report ? json_object_get(report, "flows") : NULL, i, fl) {
        json_t *c = json_copy((json_t *)fl);
        if (c && shard)
            json_object_set_new(c, "shard", json_string(shard));
        if (c)
            json_array_append_new(flows, c);
    }
    json_object_set_new(o, "flows", flows ? flows : json_null());
}

static json_t *instance_json(const mon_instance *in, int64_t now)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    bool live = in->pid > 0;
    const mon_health *h = &in->health;
    int64_t lag = mon_health_lag(h);
    const char *pos = mon_health_str(h, "position");
    json_object_set_new(o, "name", json_string(in->name));
    json_object_set_new(o, "state", json_string(mon_state_name(in)));
    json_object_set_new(o, "enabled", in->spec ? json_boolean(in->spec->enabled) : json_null());
    json_object_set_new(o, "pid", int_or_null(live, in->pid));
    json_object_set_new(o, "adopted", json_boolean(live && in->adopted));
    json_object_set_new(o, "healthy", json_boolean(mon_inst_healthy(in, now)));
    json_object_set_new(o, "started_at_ms", int_or_null(live, in->started_ms));
    json_object_set_new(o, "uptime_ms", int_or_null(live, now - in->started_mono));
    json_object_set_new(o, "restarts", json_integer((json_int_t)in->restarts));
    json_object_set_new(o, "failures", json_integer(in->rs.failures));
    bool waiting = in->state == MON_BACKOFF || in->state == MON_FAILED;
    json_object_set_new(o, "next_start_in_ms",
                        int_or_null(waiting, in->restart_at > now ? in->restart_at - now : 0));
    json_object_set_new(o, "heartbeat_age_ms", int_or_null(live && h->seen, now - h->last_mono));
    json_object_set_new(o, "position", live && pos ? json_string(pos) : json_null());
    json_object_set_new(o, "lag_ms", int_or_null(live && lag >= 0, lag));
    role_fields(o, live ? h->report : NULL);
    flow_fields(o, live ? h->report : NULL);
    json_object_set_new(o, "report", live && h->report ? json_incref(h->report) : json_null());
    json_object_set_new(o, "stop_reason",
                        in->state == MON_STOPPING ? json_string(in->stop_reason) : json_null());
    json_object_set_new(o, "restart", in->spec ? json_string(mon_restart_name(in->spec->policy.restart))
                                               : json_null());
    json_object_set_new(o, "last_exit", in->nexits ? mon_exit_to_json(&in->exits[0]) : json_null());
    json_t *exits = json_array();
    for (unsigned i = 0; exits && i < in->nexits; i++)
        json_array_append_new(exits, mon_exit_to_json(&in->exits[i]));
    json_object_set_new(o, "exits", exits ? exits : json_null());
    json_object_set_new(o, "config_file", json_string(in->config_path));
    json_object_set_new(o, "config_error", in->config_error ? json_string(in->config_error)
                                                            : json_null());
    json_object_set_new(o, "run_dir", json_string(in->dir));
    return o;
}

static int by_name(const void *a, const void *b)
{
    const mon_instance *x = *(mon_instance *const *)a, *y = *(mon_instance *const *)b;
    return strcmp(x->name, y->name);
}

json_t *mon_status_json(mon_monitor *m)
{
    int64_t now = wh_mono_ms();
    json_t *doc = json_object(), *mon = json_object(), *list = json_array(),
           *roll = json_object();
    if (!doc || !mon || !list || !roll)
        goto err;
    json_object_set_new(mon, "pid", json_integer(getpid()));
    json_object_set_new(mon, "config_dir", json_string(m->config_dir));
    json_object_set_new(mon, "run_dir", json_string(m->run_dir));
    json_object_set_new(mon, "started_at_ms", json_integer(m->started_ms));
    json_object_set_new(mon, "uptime_ms", json_integer(now - m->started_mono));
    json_object_set_new(mon, "shutting_down", json_boolean(m->shutting_down));
    json_object_set_new(roll, "active", json_boolean(m->roll.active));
    json_object_set_new(roll, "generation", json_integer((json_int_t)m->roll.generation));
    json_object_set_new(roll, "current",
                        m->roll.active && m->roll.i < m->roll.n ? json_string(m->roll.names[m->roll.i])
                                                                : json_null());
    json_object_set_new(roll, "done", json_integer((json_int_t)m->roll.i));
    json_object_set_new(roll, "total", json_integer((json_int_t)m->roll.n));
    json_object_set_new(roll, "result", m->roll.result[0] ? json_string(m->roll.result)
                                                          : json_null());
    json_object_set_new(mon, "rolling_restart", roll);
    roll = NULL;
    mon_instance **sorted = malloc((m->ninst ? m->ninst : 1) * sizeof *sorted);
    if (!sorted)
        goto err;
    memcpy(sorted, m->inst, m->ninst * sizeof *sorted);
    qsort(sorted, m->ninst, sizeof *sorted, by_name);
    for (size_t i = 0; i < m->ninst; i++)
        if (!sorted[i]->forget)
            json_array_append_new(list, instance_json(sorted[i], now));
    free(sorted);
    json_object_set_new(doc, "monitor", mon);
    json_object_set_new(doc, "instances", list);
    return doc;
err:
    json_decref(doc);
    json_decref(mon);
    json_decref(list);
    json_decref(roll);
    return NULL;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *mon_status_offline(const char *run_dir, char *errbuf, size_t errlen)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/instances", run_dir);
    DIR *d = opendir(path);
    if (!d && errno == ENOENT)
        return json_pack("{s:n, s:[]}", "monitor", "instances");
    if (!d) {
        wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    json_t *list = json_array();
    int64_t wall = wh_wall_ms();
    for (size_t i = 0; i < n; i++) {
        mon_record r;
        snprintf(path, sizeof path, "%s/instances/%s/supervise.json", run_dir, names[i]);
        if (mon_record_load(path, &r, err, sizeof err) != WH_OK)
            continue;
        bool alive = mon_record_alive(&r);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(names[i]));
        json_object_set_new(o, "state", json_string(alive ? "unsupervised" : "stopped"));
        json_object_set_new(o, "pid", int_or_null(alive, r.pid));
        json_object_set_new(o, "started_at_ms", int_or_null(alive, r.started_ms));
        json_object_set_new(o, "uptime_ms", int_or_null(alive, wall - r.started_ms));
        json_object_set_new(o, "restarts", json_integer((json_int_t)r.restarts));
        json_t *report = NULL;
        if (alive) {
            mon_health h;
            mon_health_init(&h);
            snprintf(path, sizeof path, "%s/instances/%s/status.json", run_dir, names[i]);
            if (mon_health_poll(&h, path, r.pid, 0, err, sizeof err) == 1)
                report = json_incref(h.report);
            mon_health_free(&h);
        }
        json_t *pos = report ? json_object_get(report, "position") : NULL;
        json_t *lag = report ? json_object_get(report, "lag_ms") : NULL;
        json_object_set_new(o, "position", json_is_string(pos) ? json_incref(pos) : json_null());
        json_object_set_new(o, "lag_ms", json_is_integer(lag) ? json_incref(lag) : json_null());
        role_fields(o, report);
        json_object_set_new(o, "report", report ? report : json_null());
        json_object_set_new(o, "last_exit", r.nexits ? mon_exit_to_json(&r.exits[0]) : json_null());
        json_array_append_new(list, o);
        mon_record_clear(&r);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return json_pack("{s:n, s:o}", "monitor", "instances", list);
}

/* ---- printing ------------------------------------------------------------ */

static void duration(char *buf, size_t n, int64_t ms)
{
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, n, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

/* The bootstraps an instance's report shows ("bootstraps", protocol/status_file.h),
 * one line each under the instance. */
static void print_bootstraps(FILE *out, const json_t *report)
{
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(report, "bootstraps"), i, b) {
        const char *table = json_string_value(json_object_get(b, "table"));
        long long est = (long long)json_integer_value(json_object_get(b, "estimate"));
        const json_t *eta = json_object_get(b, "eta_s");
        char etabuf[32] = "-";
        if (json_is_integer(eta))
            duration(etabuf, sizeof etabuf, json_integer_value(eta) * 1000);
        fprintf(out, "    bootstrap %s %s: %s %lld of ~%lld rows (table %lld of %lld), "
                "%lld rows in all (%lld acknowledged), %.0f rows/s, ETA %s\n",
                json_string_value(json_object_get(b, "app")),
                json_string_value(json_object_get(b, "id")), table ? table : "(all sent)",
                (long long)json_integer_value(json_object_get(b, "table_rows")), est,
                (long long)json_integer_value(json_object_get(b, "table_index")) + 1,
                (long long)json_integer_value(json_object_get(b, "tables")),
                (long long)json_integer_value(json_object_get(b, "rows")),
                (long long)json_integer_value(json_object_get(b, "rows_acked")),
                json_number_value(json_object_get(b, "rows_per_sec")), etabuf);
    }
}

/* The flows of every instance, one row each: shard, app, publisher,
 * state, lag, delivered updates and the last error (a failure's reason, or
 * the last reconnect's). */
static void print_flows(FILE *out, const json_t *status)
{
    size_t i, j;
    const json_t *in, *fl;
    bool header = false;
    json_array_foreach(json_object_get(status, "instances"), i, in) {
        json_array_foreach(json_object_get(in, "flows"), j, fl) {
            if (!header)
                fprintf(out, "\n%-16s %-20s %-20s %-10s %-8s %-12s %s\n", "SHARD", "APP",
                        "PUBLISHER", "STATE", "LAG", "DELIVERED", "LAST ERROR");
            header = true;
            char lag[32], error[256];
            const json_t *v = json_object_get(fl, "lag_s");
            snprintf(lag, sizeof lag, json_is_integer(v) ? "%llds" : "-",
                     (long long)json_integer_value(v));
            const json_t *fail = json_object_get(fl, "failure");
            const char *last = json_string_value(json_object_get(fl, "last_error"));
            if (json_is_object(fail))
                snprintf(error, sizeof error, "%s: %s",
                         json_string_value(json_object_get(fail, "code")),
                         json_string_value(json_object_get(fail, "reason")));
            else
                snprintf(error, sizeof error, "%s", last ? last : "-");
            const char *shard = json_string_value(json_object_get(fl, "shard"));
            fprintf(out, "%-16s %-20s %-20s %-10s %-8s %-12lld %s\n", shard ? shard : "-",
                    json_string_value(json_object_get(fl, "app")),
                    json_string_value(json_object_get(in, "name")),
                    json_string_value(json_object_get(fl, "state")), lag,
                    (long long)json_integer_value(json_object_get(fl, "delivered_updates")),
                    error);
        }
    }
}

void mon_status_print(FILE *out, const json_t *status)
{
    const json_t *mon = json_object_get(status, "monitor");
    char buf[64], pid[16], lag[32], exitbuf[640], epoch[24];
    if (json_is_object(mon)) {
        duration(buf, sizeof buf, json_integer_value(json_object_get(mon, "uptime_ms")));
        fprintf(out, "monitor pid %lld, up %s, config %s, run %s%s\n",
                (long long)json_integer_value(json_object_get(mon, "pid")), buf,
                json_string_value(json_object_get(mon, "config_dir")),
                json_string_value(json_object_get(mon, "run_dir")),
                json_is_true(json_object_get(mon, "shutting_down")) ? " (shutting down)" : "");
        const json_t *roll = json_object_get(mon, "rolling_restart");
        if (json_is_true(json_object_get(roll, "active")))
            fprintf(out, "rolling restart in progress: %lld of %lld done, now %s\n",
                    (long long)json_integer_value(json_object_get(roll, "done")),
                    (long long)json_integer_value(json_object_get(roll, "total")),
                    json_string_value(json_object_get(roll, "current")));
    } else {
        fprintf(out, "no monitor is running; showing the records of the run directory\n");
    }
    fprintf(out, "%-20s %-12s %-8s %-9s %-8s %-8s %-6s %-28s %-8s %s\n", "NAME", "STATE", "PID",
            "UPTIME", "RESTARTS", "ROLE", "EPOCH", "POSITION", "LAG", "LAST EXIT");
    size_t i;
    const json_t *in;
    json_array_foreach(json_object_get(status, "instances"), i, in) {
        const json_t *v = json_object_get(in, "pid");
        snprintf(pid, sizeof pid, json_is_integer(v) ? "%lld" : "-",
                 (long long)json_integer_value(v));
        v = json_object_get(in, "uptime_ms");
        if (json_is_integer(v))
            duration(buf, sizeof buf, json_integer_value(v));
        else
            snprintf(buf, sizeof buf, "-");
        v = json_object_get(in, "lag_ms");
        snprintf(lag, sizeof lag, json_is_integer(v) ? "%lldms" : "-",
                 (long long)json_integer_value(v));
        const char *pos = json_string_value(json_object_get(in, "position"));
        const char *role = json_string_value(json_object_get(in, "role"));
        v = json_object_get(in, "epoch");
        snprintf(epoch, sizeof epoch, json_is_integer(v) ? "%lld" : "-",
                 (long long)json_integer_value(v));
        const json_t *e = json_object_get(in, "last_exit");
        if (json_is_object(e)) {
            const char *line = json_string_value(json_object_get(e, "error_line"));
            snprintf(exitbuf, sizeof exitbuf, "%s%s%s",
                     json_string_value(json_object_get(e, "reason")), line ? ": " : "",
                     line ? line : "");
        } else {
            snprintf(exitbuf, sizeof exitbuf, "-");
        }
        fprintf(out, "%-20s %-12s %-8s %-9s %-8lld %-8s %-6s %-28s %-8s %s\n",
                json_string_value(json_object_get(in, "name")),
                json_string_value(json_object_get(in, "state")), pid, buf,
                (long long)json_integer_value(json_object_get(in, "restarts")),
                role ? role : "-", epoch, pos ? pos : "-", lag, exitbuf);
        const char *cerr = json_string_value(json_object_get(in, "config_error"));
        if (cerr)
            fprintf(out, "    config error: %s\n", cerr);
        print_bootstraps(out, json_object_get(in, "report"));
    }
    print_flows(out, status);
}

/* ---- server ---------------------------------------------------------------- */

static int socket_path(const char *run_dir, struct sockaddr_un *sa, char *errbuf, size_t errlen)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if ((size_t)snprintf(sa->sun_path, sizeof sa->sun_path, "%s/monitor.sock", run_dir) >=
        sizeof sa->sun_path)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "run directory %s: socket path longer than %zu bytes", run_dir,
                         sizeof sa->sun_path - 1);
    return WH_OK;
}

int mon_status_listen(mon_monitor *m, char *errbuf, size_t errlen)
{
    struct sockaddr_un sa;
    int rc = socket_path(m->run_dir, &sa, errbuf, errlen);
    if (rc)
        return rc;
    unlink(sa.sun_path);              /* we hold the run directory's lock: it is stale */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* bind() gives the socket the umask's mode: set the real one before
     * listen(), while every connect() is still refused. */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (m->has_group && chown(sa.sun_path, (uid_t)-1, m->control_gid) < 0) ||
        chmod(sa.sun_path, m->has_group ? 0660 : 0600) < 0 || listen(fd, 16) < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "control socket %s: %s", sa.sun_path,
                       strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    m->listener.kind = MON_K_LISTEN;
    m->listener.fd = fd;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->listener };
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        m->listener.fd = -1;
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "epoll: %s", strerror(errno));
    }
    return WH_OK;
}

static void client_close(mon_monitor *m, mon_client *c)
{
    for (mon_client **p = &m->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    m->nclients--;
    close(c->fd);
    free(c->out);
    free(c);
}

void mon_status_accept(mon_monitor *m)
{
    for (;;) {
        int fd = accept4(m->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (m->nclients >= CLIENT_MAX) {
            close(fd);
            continue;
        }
        struct ucred cr = { .pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1 };
        socklen_t crlen = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
            !mon_peer_allowed(cr.uid, cr.gid, geteuid(), m->has_group, m->control_gid)) {
            static const char refusal[] =
                "{\"ok\":false,\"error\":\"permission denied: this user may not use the "
                "monitor's control socket\"}\n";
            /* A local user can connect in a loop: one line per REFUSAL_LOG_MS,
             * with the count of the refusals not logged since the last one. */
            int64_t now = wh_mono_ms();
            if (m->refused_logged_ms && now - m->refused_logged_ms < REFUSAL_LOG_MS) {
                m->refused_unlogged++;
            } else {
                wh_warn(A, "control socket: refused a connection from uid %d pid %d (allowed: "
                        "root, uid %d%s); %llu more refused since the last such line",
                        (int)cr.uid, (int)cr.pid, (int)geteuid(),
                        m->has_group ? " and the control group" : "",
                        (unsigned long long)m->refused_unlogged);
                m->refused_logged_ms = now;
                m->refused_unlogged = 0;
            }
            if (send(fd, refusal, sizeof refusal - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                wh_debug(A, "control socket: refusal not sent: %s", strerror(errno));
            close(fd);
            continue;
        }
        mon_client *c = calloc(1, sizeof *c);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (!c || epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->kind = MON_K_CLIENT;
        c->fd = fd;
        c->deadline = wh_mono_ms() + CLIENT_TIMEOUT;
        c->next = m->clients;
        m->clients = c;
        m->nclients++;
    }
}

static void client_respond(mon_monitor *m, mon_client *c)
{
    c->in[c->inlen] = '\0';
    c->in[strcspn(c->in, "\r\n")] = '\0';
    json_t *reply = mon_monitor_command(m, c->in);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    if (asprintf(&c->out, "%s\n", text ? text : "{\"ok\":false,\"error\":\"out of memory\"}") < 0)
        c->out = NULL;
    free(text);
    if (!c->out) {
        client_close(m, c);
        return;
    }
    c->outlen = strlen(c->out);
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

void mon_status_client_event(mon_monitor *m, mon_client *c, uint32_t events)
{
    if (!c->out) {
        ssize_t r = recv(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r < 0 || (r == 0 && c->inlen == 0)) {
            client_close(m, c);
            return;
        }
        if (r > 0)
            c->inlen += (size_t)r;
        if (r == 0 || memchr(c->in, '\n', c->inlen) || c->inlen == sizeof c->in - 1)
            client_respond(m, c);
        return;
    }
    (void)events;
    while (c->outoff < c->outlen) {
        ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (w <= 0)
            break;
        c->outoff += (size_t)w;
    }
    client_close(m, c);
}

void mon_status_expire(mon_monitor *m, int64_t now)
{
    mon_client *c = m->clients;
    while (c) {
        mon_client *next = c->next;
        if (now >= c->deadline)
            client_close(m, c);
        c = next;
    }
}

int64_t mon_status_deadline(const mon_monitor *m)
{
    int64_t next = INT64_MAX;
    for (const mon_client *c = m->clients; c; c = c->next)
        if (c->deadline < next)
            next = c->deadline;
    return next;
}

void mon_status_close(mon_monitor *m)
{
    while (m->clients)
        client_close(m, m->clients);
    if (m->listener.fd >= 0) {
        struct sockaddr_un sa;
        close(m->listener.fd);
        m->listener.fd = -1;
        if (socket_path(m->run_dir, &sa, NULL, 0) == WH_OK)
            unlink(sa.sun_path);
    }
}

/* ---- client ---------------------------------------------------------------- */

int mon_ctl_request(const char *run_dir, const char *cmd, json_t **reply, char *errbuf,
                    size_t errlen)
{
    struct sockaddr_un sa;
    *reply = NULL;
    int rc = socket_path(run_dir, &sa, errbuf, errlen);
    if (rc)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "no monitor is running on run directory %s", run_dir);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot connect to %s: %s", sa.sun_path,
                         strerror(e));
    }
    char line[REQUEST_MAX];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    if (n <= 0 || (size_t)n >= sizeof line || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot send to %s", sa.sun_path);
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int64_t deadline = wh_mono_ms() + 10000;
    while (buf) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - wh_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!buf)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    json_error_t jerr;
    *reply = json_loadb(buf, len, 0, &jerr);
    free(buf);
    if (!*reply)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "%s: bad reply: %s", sa.sun_path,
                         jerr.text);
    return WH_OK;
}

/* mon_monitor.c -- the monitor's single-threaded event loop (see mon_monitor.h).
 *
 * One epoll set holds: a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR2,
 * SIGQUIT), one inotify descriptor (the config directory and every instance
 * run directory), the control socket and its clients, and the pidfds of
 * adopted publishers. Timers are the epoll timeout, computed from the
 * nearest instance deadline; the loop also wakes once a second for the
 * polling fallbacks, and never spins. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "core/buf.h"
#include "monitor/mon_http.h"
#include "monitor/mon_metrics.h"
#include "monitor/mon_monitor.h"
#include "monitor/mon_rundir.h"
#include "monitor/mon_spawn.h"
#include "monitor/mon_status.h"
#include "monitor/mon_supervise.h"

#define A WH_AREA_MONITOR
#define TICK_MS            1000
#define DEBOUNCE_MS        100    /* inotify bursts are handled with one scan */
#define REMOVE_GRACE_MS    500    /* a file must stay missing this long (editors rename) */
#define PERSIST_EVERY_MS   1000
#define METRICS_EVERY_MS   250    /* the /metrics text is rendered at most this often */
#define SHUTDOWN_EXTRA_MS  5000   /* after the longest stop timeout */

static mon_instance *find(mon_monitor *m, const char *name)
{
    for (size_t i = 0; i < m->ninst; i++)
        if (!m->inst[i]->forget && strcmp(m->inst[i]->name, name) == 0)
            return m->inst[i];
    return NULL;
}

/* ---- systemd notification (no libsystemd needed) ------------------------ */

static void sd_notify_msg(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    close(fd);
}

/* ---- the config directory ------------------------------------------------ */

static void watch_config_dir(mon_monitor *m)
{
    if (m->config_wd >= 0 || m->ino.fd < 0)
        return;
    m->config_wd = inotify_add_watch(m->ino.fd, m->config_dir,
                                     IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (m->config_wd < 0)
        wh_warn(A, "cannot watch config directory %s (%s); rescanning every %lld ms",
                m->config_dir, strerror(errno), (long long)m->rescan_ms);
}

/* Reports a file name that cannot be an instance file, once. */
static void bad_name(mon_monitor *m, const char *name)
{
    if (json_object_get(m->bad_names, name))
        return;
    json_object_set_new(m->bad_names, name, json_true());
    wh_error(A, "%s/%s: ignored: an instance file is named NAME.json with NAME made of 1 to %d "
             "letters, digits, '_', '-' or '.' (not starting with '.')", m->config_dir, name,
             MON_NAME_MAX);
}

static void load_file(mon_monitor *m, mon_instance *in, const struct stat *st)
{
    char err[1024];
    bool same = in->file_id_valid && !m->reload_all && in->file_dev == (uint64_t)st->st_dev &&
                in->file_ino == (uint64_t)st->st_ino && in->file_size == (uint64_t)st->st_size &&
                in->file_mtim.tv_sec == st->st_mtim.tv_sec &&
                in->file_mtim.tv_nsec == st->st_mtim.tv_nsec &&
                in->file_ctim.tv_sec == st->st_ctim.tv_sec &&
                in->file_ctim.tv_nsec == st->st_ctim.tv_nsec;
    if (same)
        return;
    in->file_id_valid = true;
    in->file_dev = (uint64_t)st->st_dev;
    in->file_ino = (uint64_t)st->st_ino;
    in->file_size = (uint64_t)st->st_size;
    in->file_mtim = st->st_mtim;
    in->file_ctim = st->st_ctim;
    mon_spec *spec = NULL;
    if (mon_spec_load(in->config_path, &spec, err, sizeof err) != WH_OK) {
        if (!in->config_error || strcmp(in->config_error, err) != 0)
            wh_error(A, "%s: bad instance file: %s%s", in->name, err,
                     in->spec ? "; keeping the last good configuration" : "");
        free(in->config_error);
        in->config_error = strdup(err);
        return;
    }
    mon_inst_apply_spec(m, in, spec);
}

/* Reads the config directory and starts, stops and restarts to match it.
 * If the directory cannot be read, nothing is stopped. */
static void scan(mon_monitor *m)
{
    char err[512], inst[MON_NAME_MAX + 1], path[4096];
    int64_t now = wh_mono_ms();
    m->rescan_pending = false;
    m->next_rescan = now + m->rescan_ms;
    watch_config_dir(m);
    DIR *d = opendir(m->config_dir);
    if (!d) {
        if (m->config_dir_ok)
            wh_error(A, "cannot read config directory %s: %s; publishers are left as they are",
                     m->config_dir, strerror(errno));
        m->config_dir_ok = false;
        return;
    }
    if (!m->config_dir_ok)
        wh_info(A, "reading config directory %s", m->config_dir);
    m->config_dir_ok = true;
    for (size_t i = 0; i < m->ninst; i++)
        m->inst[i]->file_present = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!mon_config_file_name(de->d_name, inst)) {
            if (!mon_config_ignored_name(de->d_name))
                bad_name(m, de->d_name);
            continue;
        }
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", m->config_dir, de->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        mon_instance *in = find(m, inst);
        if (!in && !(in = mon_inst_new(m, inst, err, sizeof err))) {
            wh_error(A, "%s: %s", path, err);
            continue;
        }
        in->file_present = true;
        in->missing_since = 0;
        load_file(m, in, &st);
    }
    closedir(d);
    m->reload_all = false;
    if (m->loading)
        return;
    for (size_t i = 0; i < m->ninst; i++) {
        mon_instance *in = m->inst[i];
        if (in->file_present || in->forget || !in->file_id_valid)
            continue;
        if (!in->missing_since) {
            in->missing_since = now;
            if (!m->rescan_pending || m->rescan_at > now + REMOVE_GRACE_MS) {
                m->rescan_pending = true;
                m->rescan_at = now + REMOVE_GRACE_MS;
            }
            continue;
        }
        if (now - in->missing_since < REMOVE_GRACE_MS) {
            m->rescan_pending = true;
            m->rescan_at = in->missing_since + REMOVE_GRACE_MS;
            continue;
        }
        in->file_id_valid = false;
        mon_inst_file_gone(m, in);
    }
}

typedef struct found_proc {
    pid_t pid;
    char  name[MON_NAME_MAX + 1];
} found_proc;

typedef struct found_list {
    found_proc *v;
    size_t      n, cap;
} found_list;

/* mon_proc_scan_env callback: rest is "NAME" of ".../instances/NAME". */
static void found_one(void *ctx, pid_t pid, const char *rest)
{
    found_list *l = ctx;
    char file[MON_NAME_MAX + 8];
    if (strlen(rest) > MON_NAME_MAX || getpgid(pid) != pid)
        return;                            /* not a group leader: a publisher's own child */
    snprintf(file, sizeof file, "%s.json", rest);
    if (!mon_config_file_name(file, NULL))
        return;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        found_proc *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].pid = pid;
    snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", rest);
    l->n++;
}

/* Adopts what still runs. Creates instances for records and processes
 * without a config file, so that they are adopted and then stopped. */
static void restore_all(mon_monitor *m)
{
    char path[4096], err[512], prefix[4200];
    found_list found = { NULL, 0, 0 };
    snprintf(prefix, sizeof prefix, "WORMHOLE_RUN_DIR=%s/instances/", m->run_dir);
    mon_proc_scan_env(prefix, found_one, &found);
    for (size_t i = 0; i < found.n; i++)
        if (!find(m, found.v[i].name) && !mon_inst_new(m, found.v[i].name, err, sizeof err))
            wh_error(A, "%s", err);

    snprintf(path, sizeof path, "%s/instances", m->run_dir);
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char file[MON_NAME_MAX + 8];
        if (strlen(de->d_name) > MON_NAME_MAX)
            continue;
        snprintf(file, sizeof file, "%.*s.json", MON_NAME_MAX, de->d_name);   /* fits: checked */
        if (!mon_config_file_name(file, NULL) || find(m, de->d_name))
            continue;
        snprintf(path, sizeof path, "%s/instances/%s/supervise.json", m->run_dir, de->d_name);
        if (access(path, F_OK) < 0)
            continue;
        if (!mon_inst_new(m, de->d_name, err, sizeof err))
            wh_error(A, "%s", err);
    }
    if (d)
        closedir(d);
    pid_t *pids = calloc(found.n ? found.n : 1, sizeof *pids);
    for (size_t i = 0; i < m->ninst; i++) {
        size_t k = 0;
        for (size_t j = 0; pids && j < found.n; j++)
            if (strcmp(found.v[j].name, m->inst[i]->name) == 0)
                pids[k++] = found.v[j].pid;
        mon_inst_restore(m, m->inst[i], pids, k);
    }
    free(pids);
    free(found.v);
}

/* ---- rolling restart ------------------------------------------------------ */

static void roll_clear(mon_monitor *m)
{
    for (size_t i = 0; i < m->roll.n; i++)
        free(m->roll.names[i]);
    free(m->roll.names);
    m->roll.names = NULL;
    m->roll.n = m->roll.i = 0;
    m->roll.active = m->roll.waiting = false;
}

uint64_t mon_monitor_roll_start(mon_monitor *m)
{
    if (m->roll.active || m->shutting_down)
        return 0;
    roll_clear(m);
    m->roll.names = calloc(m->ninst ? m->ninst : 1, sizeof *m->roll.names);
    if (!m->roll.names)
        return 0;
    for (size_t i = 0; i < m->ninst; i++) {
        mon_instance *in = m->inst[i];
        if (!in->forget && in->spec && in->spec->enabled &&
            (in->state == MON_STARTING || in->state == MON_RUNNING))
            m->roll.names[m->roll.n++] = strdup(in->name);
    }
    for (size_t i = 1; i < m->roll.n; i++)      /* name order: predictable for operators */
        for (size_t j = i; j > 0 && m->roll.names[j] &&
                           strcmp(m->roll.names[j - 1], m->roll.names[j]) > 0; j--) {
            char *t = m->roll.names[j];
            m->roll.names[j] = m->roll.names[j - 1];
            m->roll.names[j - 1] = t;
        }
    m->roll.active = true;
    m->roll.generation++;
    m->roll.result[0] = '\0';
    wh_info(A, "rolling restart %llu of %zu instance(s) begins",
            (unsigned long long)m->roll.generation, m->roll.n);
    return m->roll.generation;
}

static void roll_finish(mon_monitor *m, const char *result)
{
    mon_copy_utf8(m->roll.result, sizeof m->roll.result, result, SIZE_MAX);
    if (strcmp(result, "completed") == 0)
        wh_info(A, "rolling restart %llu completed", (unsigned long long)m->roll.generation);
    else
        wh_error(A, "rolling restart %llu aborted: %s", (unsigned long long)m->roll.generation,
                 result);
    roll_clear(m);
}

static void roll_step(mon_monitor *m, int64_t now)
{
    char msg[512];
    while (m->roll.active) {
        if (m->shutting_down) {
            roll_finish(m, "the monitor is shutting down");
            return;
        }
        if (m->roll.i >= m->roll.n) {
            roll_finish(m, "completed");
            return;
        }
        const char *name = m->roll.names[m->roll.i];
        mon_instance *in = name ? find(m, name) : NULL;
        if (!m->roll.waiting) {
            if (!in || !in->spec || !in->spec->enabled || in->pid <= 0 ||
                in->state == MON_STOPPING) {
                m->roll.i++;          /* gone, disabled or already being restarted */
                continue;
            }
            m->roll.old_pid = in->pid;
            m->roll.waiting = true;
            int64_t limit = in->spec->stop_timeout_ms + 
                            (in->spec->startup_timeout_ms > 0 ? in->spec->startup_timeout_ms
                                                              : 60000) + 5000;
            m->roll.deadline = now + limit;
            wh_info(A, "rolling restart: restarting %s (pid %d)", name, (int)in->pid);
            mon_inst_stop(m, in, "rolling restart", MON_AFTER_RESTART);
            return;
        }
        if (!in) {
            m->roll.waiting = false;
            m->roll.i++;
            continue;
        }
        if (in->pid > 0 && in->pid != m->roll.old_pid && mon_inst_healthy(in, now)) {
            wh_info(A, "rolling restart: %s is healthy again (pid %d)", name, (int)in->pid);
            m->roll.waiting = false;
            m->roll.i++;
            continue;
        }
        if (in->state == MON_BACKOFF || in->state == MON_FAILED || in->state == MON_IDLE) {
            snprintf(msg, sizeof msg, "%s did not come back after its restart (%s)", name,
                     in->nexits ? in->exits[0].reason : "stopped");
            roll_finish(m, msg);
            return;
        }
        if (now >= m->roll.deadline) {
            snprintf(msg, sizeof msg, "%s was not healthy in time after its restart", name);
            roll_finish(m, msg);
        }
        return;
    }
}

/* ---- control commands ------------------------------------------------------- */

static void request_reload(mon_monitor *m)
{
    wh_info(A, "reloading the config directory");
    m->reload_all = true;
    m->rescan_pending = true;
    m->rescan_at = wh_mono_ms();
}

json_t *mon_monitor_command(mon_monitor *m, const char *cmd)
{
    if (strcmp(cmd, "status") == 0)
        return mon_status_json(m);
    if (strcmp(cmd, "reload") == 0) {
        request_reload(m);
        return json_pack("{s:b, s:s}", "ok", 1, "message", "reload scheduled");
    }
    if (strcmp(cmd, "rolling-restart") == 0) {
        uint64_t g = mon_monitor_roll_start(m);
        if (!g)
            return json_pack("{s:b, s:s, s:I}", "ok", 0, "error",
                             m->shutting_down ? "the monitor is shutting down"
                                              : "a rolling restart is already in progress",
                             "generation", (json_int_t)m->roll.generation);
        return json_pack("{s:b, s:I, s:I}", "ok", 1, "generation", (json_int_t)g, "instances",
                         (json_int_t)m->roll.n);
    }
    return json_pack("{s:b, s:s}", "ok", 0, "error",
                     "unknown command (expected status, reload or rolling-restart)");
}

/* ---- events -------------------------------------------------------------------- */

static void begin_shutdown(mon_monitor *m, int sig)
{
    int64_t now = wh_mono_ms(), longest = 0;
    if (m->shutting_down) {
        wh_warn(A, "%s again: killing every publisher now", mon_signal_name(sig));
        for (size_t i = 0; i < m->ninst; i++)
            mon_inst_kill(m, m->inst[i]);
        return;
    }
    wh_info(A, "%s: stopping every publisher", mon_signal_name(sig));
    sd_notify_msg("STOPPING=1");
    m->shutting_down = true;
    for (size_t i = 0; i < m->ninst; i++) {
        mon_instance *in = m->inst[i];
        int64_t t = in->spec ? in->spec->stop_timeout_ms : 10000;
        if (t > longest)
            longest = t;
        mon_inst_stop(m, in, "monitor shutdown", MON_AFTER_IDLE);
    }
    m->shutdown_deadline = now + longest + SHUTDOWN_EXTRA_MS;
}

static void reap_children(mon_monitor *m)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
            return;
        pid_t pid = si.si_pid;
        /* Leftovers in the publisher's process group die with it; the group
         * id cannot be reused while the leader is an unreaped zombie. */
        kill(-pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        mon_instance *in = NULL;
        for (size_t i = 0; i < m->ninst && !in; i++)
            if (m->inst[i]->pid == pid && !m->inst[i]->adopted)
                in = m->inst[i];
        if (in)
            mon_inst_reaped(m, in, status);
        else
            wh_debug(A, "reaped unknown child %d", (int)pid);
    }
}

static void on_signal(mon_monitor *m)
{
    struct signalfd_siginfo si;
    while (read(m->sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap_children(m);
            break;
        case SIGTERM:
        case SIGINT:
            begin_shutdown(m, (int)si.ssi_signo);
            break;
        case SIGHUP:
            request_reload(m);
            break;
        case SIGUSR2:
            if (!mon_monitor_roll_start(m))
                wh_warn(A, "SIGUSR2: a rolling restart is already in progress");
            break;
        case SIGQUIT:
            wh_info(A, "SIGQUIT: exiting and leaving the publishers running");
            m->detach = true;
            break;
        }
    }
}

static void on_inotify(mon_monitor *m)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int64_t now = wh_mono_ms();
    for (;;) {
        ssize_t n = read(m->ino.fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                m->rescan_pending = true;
                m->rescan_at = now;
                for (size_t i = 0; i < m->ninst; i++) {
                    mon_inst_poll_health(m, m->inst[i], now);
                    mon_inst_read_output(m, m->inst[i]);
                }
                continue;
            }
            if (ev->wd == m->config_wd) {
                if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                    if (ev->mask & IN_IGNORED)
                        m->config_wd = -1;
                    m->rescan_pending = true;
                    m->rescan_at = now;
                } else if (ev->len && !mon_config_ignored_name(ev->name) && !m->rescan_pending) {
                    m->rescan_pending = true;
                    m->rescan_at = now + DEBOUNCE_MS;
                }
                continue;
            }
            for (size_t i = 0; i < m->ninst; i++) {
                mon_instance *in = m->inst[i];
                if (in->inotify_wd != ev->wd)
                    continue;
                if (ev->mask & IN_IGNORED)
                    in->inotify_wd = -1;
                else if (ev->len && strcmp(ev->name, "status.json") == 0)
                    in->status_pending = true;
                else if (ev->len && strcmp(ev->name, "output.log") == 0)
                    in->output_pending = true;
                break;
            }
        }
    }
    for (size_t i = 0; i < m->ninst; i++) {
        mon_instance *in = m->inst[i];
        if (in->output_pending && in->pid > 0)
            mon_inst_read_output(m, in);
        if (in->status_pending)
            mon_inst_poll_health(m, in, now);
        in->output_pending = in->status_pending = false;
    }
}

static void sweep(mon_monitor *m)
{
    size_t j = 0;
    for (size_t i = 0; i < m->ninst; i++) {
        mon_instance *in = m->inst[i];
        if (in->forget && in->pid <= 0) {
            wh_info(A, "%s: instance removed", in->name);
            mon_inst_remove_files(in);
            mon_inst_free(m, in);
        } else {
            m->inst[j++] = in;
        }
    }
    m->ninst = j;
}

static bool anything_running(const mon_monitor *m)
{
    for (size_t i = 0; i < m->ninst; i++)
        if (m->inst[i]->pid > 0)
            return true;
    return false;
}

/* ---- setup and the loop ---------------------------------------------------- */

static int setup(mon_monitor *m, const mon_options *opt)
{
    char err[1024];
    sigset_t set;
    m->epfd = m->lockfd = m->sig.fd = m->ino.fd = m->listener.fd = -1;
    m->config_wd = -1;
    m->config_dir_ok = true;
    m->rescan_ms = opt->rescan_ms > 0 ? opt->rescan_ms : 10000;
    m->config_dir = realpath(opt->config_dir, NULL);
    if (!m->config_dir) {
        fprintf(stderr, "wormhole-monitor: config directory %s: %s\n", opt->config_dir,
                strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(m->config_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "wormhole-monitor: %s is not a directory\n", m->config_dir);
        return -1;
    }
    if (mon_rundir_lock(opt->run_dir, &m->lockfd, err, sizeof err)) {
        fprintf(stderr, "wormhole-monitor: %s\n", err);
        return -1;
    }
    m->run_dir = realpath(opt->run_dir, NULL);
    m->bad_names = json_object();
    if (!m->run_dir || !m->bad_names)
        goto sys;
    if (opt->control_group) {
        if (mon_group_resolve(opt->control_group, &m->control_gid, err, sizeof err)) {
            fprintf(stderr, "wormhole-monitor: %s\n", err);
            return -1;
        }
        m->has_group = true;
    }
    /* The run directory holds publisher configs and output: owner only, or
     * traversal (not listing) for the control group to reach the socket. */
    if ((m->has_group && chown(m->run_dir, (uid_t)-1, m->control_gid) < 0) ||
        chmod(m->run_dir, m->has_group ? 0710 : 0700) < 0) {
        fprintf(stderr, "wormhole-monitor: cannot restrict run directory %s: %s\n", m->run_dir,
                strerror(errno));
        return -1;
    }
    m->default_command = mon_spawn_default_command();
    m->started_ms = wh_wall_ms();
    m->started_mono = wh_mono_ms();

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        goto sys;
    signal(SIGPIPE, SIG_IGN);
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    m->sig.kind = MON_K_SIGNAL;
    m->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    m->ino.kind = MON_K_INOTIFY;
    m->ino.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m->epfd < 0 || m->sig.fd < 0 || m->ino.fd < 0)
        goto sys;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->sig };
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sig.fd, &ev) < 0)
        goto sys;
    ev.data.ptr = &m->ino;
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->ino.fd, &ev) < 0)
        goto sys;
    if (mon_status_listen(m, err, sizeof err)) {
        fprintf(stderr, "wormhole-monitor: %s\n", err);
        return -1;
    }
    /* After the signals are blocked: libmicrohttpd's thread inherits the mask. */
    if (opt->metrics_listen &&
        mon_http_start(opt->metrics_listen, opt->metrics_token_file, &m->http, err, sizeof err)) {
        fprintf(stderr, "wormhole-monitor: %s\n", err);
        return -1;
    }
    if (m->http)
        wh_info(A, "metrics: serving http://%s/metrics%s", opt->metrics_listen,
                opt->metrics_token_file ? " (bearer token required)" : "");
    return 0;
sys:
    fprintf(stderr, "wormhole-monitor: setup failed: %s\n", strerror(errno));
    return -1;
}

/* Renders the metrics for the endpoint, at most every METRICS_EVERY_MS. */
static void refresh_metrics(mon_monitor *m, int64_t now)
{
    if (!m->http || now - m->metrics_at < METRICS_EVERY_MS)
        return;
    wh_buf b = WH_BUF_INIT;
    mon_metrics_render(m, now, &b);
    if (wh_buf_ok(&b))
        mon_http_publish(m->http, b.data ? b.data : "", b.len);
    wh_buf_free(&b);
    m->metrics_at = now;
}

static void teardown(mon_monitor *m)
{
    mon_http_free(m->http);   /* first: its thread stops before anything else goes */
    m->http = NULL;
    for (size_t i = 0; i < m->ninst; i++) {
        mon_instance *in = m->inst[i];
        if (in->log_offset_dirty || m->detach)
            mon_inst_persist(m, in);
        mon_inst_free(m, in);
    }
    free(m->inst);
    roll_clear(m);
    mon_status_close(m);
    if (m->sig.fd >= 0)
        close(m->sig.fd);
    if (m->ino.fd >= 0)
        close(m->ino.fd);
    if (m->epfd >= 0)
        close(m->epfd);
    if (m->lockfd >= 0)
        close(m->lockfd);
    json_decref(m->bad_names);
    free(m->config_dir);
    free(m->run_dir);
    free(m->default_command);
}

static int compute_timeout(mon_monitor *m, int64_t now)
{
    int64_t next = now + TICK_MS;
    if (m->rescan_pending && m->rescan_at < next && !m->shutting_down)
        next = m->rescan_at;
    if (m->next_rescan < next && !m->shutting_down)
        next = m->next_rescan;
    for (size_t i = 0; i < m->ninst; i++) {
        int64_t d = mon_inst_deadline(m->inst[i]);
        if (d < next)
            next = d;
    }
    int64_t c = mon_status_deadline(m);
    if (c < next)
        next = c;
    if (m->shutting_down && m->shutdown_deadline < next)
        next = m->shutdown_deadline;
    return next <= now ? 0 : (int)(next - now);
}

int mon_monitor_run(const mon_options *opt)
{
    mon_monitor mon;
    mon_monitor *m = &mon;
    memset(m, 0, sizeof *m);
    if (setup(m, opt) < 0) {
        teardown(m);
        return 1;
    }
    wh_info(A, "monitor pid %d: config %s, run directory %s, default command %s", (int)getpid(),
            m->config_dir, m->run_dir, m->default_command ? m->default_command : "(none found)");

    /* Startup: read every spec, adopt what still runs, then reconcile. */
    m->loading = true;
    scan(m);
    restore_all(m);
    m->loading = false;
    for (size_t i = 0; i < m->ninst; i++)
        mon_inst_reconcile(m, m->inst[i]);
    sweep(m);
    sd_notify_msg("READY=1");

    int64_t last_tick = 0;
    while (!m->detach) {
        int64_t now = wh_mono_ms();
        struct epoll_event evs[32];
        int n = epoll_wait(m->epfd, evs, 32, compute_timeout(m, now));
        if (n < 0 && errno != EINTR) {
            wh_error(A, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            mon_kind kind = *(mon_kind *)evs[i].data.ptr;
            switch (kind) {
            case MON_K_SIGNAL:
                on_signal(m);
                break;
            case MON_K_INOTIFY:
                on_inotify(m);
                break;
            case MON_K_LISTEN:
                mon_status_accept(m);
                break;
            case MON_K_CLIENT:
                mon_status_client_event(m, (mon_client *)evs[i].data.ptr, evs[i].events);
                break;
            case MON_K_PIDFD:
                mon_inst_pidfd_ready(m, (mon_instance *)evs[i].data.ptr);
                break;
            }
        }
        now = wh_mono_ms();
        if (m->rescan_pending && now >= m->rescan_at && !m->shutting_down)
            scan(m);
        if (now >= m->next_rescan && !m->shutting_down)
            scan(m);
        bool tick = now - last_tick >= TICK_MS;
        for (size_t i = 0; i < m->ninst; i++) {
            mon_instance *in = m->inst[i];
            if (tick || mon_inst_deadline(in) <= now)
                mon_inst_tick(m, in, now);
        }
        if (tick) {
            last_tick = now;
            if (getenv("WATCHDOG_USEC"))
                sd_notify_msg("WATCHDOG=1");
        }
        roll_step(m, now);
        mon_status_expire(m, now);
        if (now >= m->next_persist) {
            for (size_t i = 0; i < m->ninst; i++)
                if (m->inst[i]->log_offset_dirty)
                    mon_inst_persist(m, m->inst[i]);
            m->next_persist = now + PERSIST_EVERY_MS;
        }
        sweep(m);
        refresh_metrics(m, now);
        if (m->shutting_down) {
            if (!anything_running(m)) {
                wh_info(A, "every publisher has stopped; exiting");
                break;
            }
            if (now >= m->shutdown_deadline) {
                wh_error(A, "publishers still running %d ms after the stop timeout; exiting "
                         "anyway", SHUTDOWN_EXTRA_MS);
                break;
            }
        }
    }
    teardown(m);
    return 0;
}

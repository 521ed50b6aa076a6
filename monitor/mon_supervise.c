/* mon_supervise.c -- the life of one supervised instance (see mon_supervise.h). */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "monitor/mon_rundir.h"
#include "monitor/mon_spawn.h"
#include "monitor/mon_supervise.h"

#define A WH_AREA_MONITOR
#define DEFAULT_STOP_TIMEOUT_MS 10000

const char *mon_state_name(const mon_instance *in)
{
    switch (in->state) {
    case MON_IDLE:
        if (!in->spec)
            return "invalid";
        return in->spec->enabled ? "stopped" : "disabled";
    case MON_STARTING: return "starting";
    case MON_RUNNING:  return "running";
    case MON_STOPPING: return "stopping";
    case MON_BACKOFF:  return "backoff";
    case MON_FAILED:   return "failed";
    }
    return "?";
}

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int sys_pidfd_signal(int fd, int sig)
{
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
#else
    (void)fd;
    (void)sig;
    errno = ENOSYS;
    return -1;
#endif
}

static int64_t stop_timeout(const mon_instance *in)
{
    return in->spec ? in->spec->stop_timeout_ms : DEFAULT_STOP_TIMEOUT_MS;
}

static void set_state(mon_instance *in, mon_state st)
{
    if (in->state != st)
        wh_debug(A, "%s: %s -> %d", in->name, mon_state_name(in), (int)st);
    in->state = st;
}

static char *path_join(const char *a, const char *b)
{
    char *s = NULL;
    return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

mon_instance *mon_inst_new(mon_monitor *m, const char *name, char *errbuf, size_t errlen)
{
    mon_instance *in = calloc(1, sizeof *in);
    if (!in)
        goto nomem;
    in->kind = MON_K_PIDFD;
    in->pidfd = -1;
    in->inotify_wd = -1;
    mon_health_init(&in->health);
    mon_logtail_init(&in->log);
    snprintf(in->name, sizeof in->name, "%s", name);
    char file[MON_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.json", name);
    char *inst_root = path_join(m->run_dir, "instances");
    in->config_path = path_join(m->config_dir, file);
    in->dir = inst_root ? path_join(inst_root, name) : NULL;
    free(inst_root);
    if (!in->config_path || !in->dir)
        goto nomem;
    in->status_path = path_join(in->dir, "status.json");
    in->log_path = path_join(in->dir, "output.log");
    in->config_out = path_join(in->dir, "config.json");
    in->record_path = path_join(in->dir, "supervise.json");
    in->pidfile_path = path_join(in->dir, "publisher.pid");
    if (!in->status_path || !in->log_path || !in->config_out || !in->record_path ||
        !in->pidfile_path)
        goto nomem;
    if (mon_mkdirs(in->dir, errbuf, errlen))
        goto err;
    if (m->ino.fd >= 0) {
        in->inotify_wd = inotify_add_watch(m->ino.fd, in->dir,
                                           IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO);
        if (in->inotify_wd < 0)
            wh_warn(A, "%s: cannot watch %s (%s); polling it once a second", name, in->dir,
                    strerror(errno));
    }
    if (m->ninst == m->capinst) {
        size_t nc = m->capinst ? m->capinst * 2 : 16;
        mon_instance **ni = realloc(m->inst, nc * sizeof *ni);
        if (!ni)
            goto nomem;
        m->inst = ni;
        m->capinst = nc;
    }
    m->inst[m->ninst++] = in;
    return in;
nomem:
    snprintf(errbuf, errlen, "instance %s: out of memory", name);
err:
    mon_inst_free(m, in);
    return NULL;
}

void mon_inst_free(mon_monitor *m, mon_instance *in)
{
    if (!in)
        return;
    if (in->pidfd >= 0)
        close(in->pidfd);
    if (in->inotify_wd >= 0 && m->ino.fd >= 0)
        inotify_rm_watch(m->ino.fd, in->inotify_wd);
    mon_logtail_close(&in->log);
    mon_health_free(&in->health);
    mon_spec_free(in->spec);
    free(in->config_error);
    json_decref(in->argv);
    free(in->launch);
    free(in->config_path);
    free(in->dir);
    free(in->status_path);
    free(in->log_path);
    free(in->config_out);
    free(in->record_path);
    free(in->pidfile_path);
    free(in);
}

/* ---- output and status ----------------------------------------------- */

static void forward_line(void *ctx, const char *line, size_t len)
{
    const mon_instance *in = ctx;
    (void)len;
    if (strstr(line, "ERROR"))
        wh_error(A, "[%s] %s", in->name, line);
    else if (strstr(line, "WARN"))
        wh_warn(A, "[%s] %s", in->name, line);
    else
        wh_info(A, "[%s] %s", in->name, line);
}

void mon_inst_read_output(mon_monitor *m, mon_instance *in)
{
    char err[512];
    (void)m;
    if (in->log.fd < 0 && mon_logtail_open(&in->log, in->log_path, 0, err, sizeof err))
        return;
    uint64_t before = in->log.offset;
    if (mon_logtail_read(&in->log, forward_line, in) != WH_OK)
        wh_warn(A, "%s: cannot read %s: %s", in->name, in->log_path, strerror(errno));
    if (in->log.offset != before)
        in->log_offset_dirty = true;
}

void mon_inst_poll_health(mon_monitor *m, mon_instance *in, int64_t now)
{
    char err[512];
    (void)m;
    if (in->pid <= 0)
        return;
    int rc = mon_health_poll(&in->health, in->status_path, in->pid, now, err, sizeof err);
    if (rc < 0 && strcmp(err, in->health.last_error) != 0) {
        wh_warn(A, "%s: malformed status file: %s", in->name, err);
        mon_copy_utf8(in->health.last_error, sizeof in->health.last_error, err, SIZE_MAX);
    }
    if (in->state == MON_STARTING && in->health.ready) {
        set_state(in, MON_RUNNING);
        wh_info(A, "%s: pid %d is running (first healthy heartbeat after %lld ms)", in->name,
                (int)in->pid, (long long)(now - in->started_mono));
    }
}

/* ---- records ------------------------------------------------------------ */

void mon_inst_persist(mon_monitor *m, mon_instance *in)
{
    char err[512];
    mon_record r;
    (void)m;
    memset(&r, 0, sizeof r);
    r.pid = in->pid;
    r.starttime = in->starttime;
    mon_boot_id(r.boot_id);
    r.argv = in->argv;                /* borrowed: r is not cleared */
    r.launch = in->launch;
    r.started_ms = in->started_ms;
    r.restarts = in->restarts;
    r.log_offset = in->log.offset;
    r.nexits = in->nexits;
    memcpy(r.exits, in->exits, sizeof r.exits);
    if (mon_record_save(in->record_path, &r, err, sizeof err))
        wh_warn(A, "%s: cannot save the supervision record: %s", in->name, err);
    if (in->pid > 0) {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%d\n", (int)in->pid);
        if (wh_file_replace(in->pidfile_path, pid, (size_t)n, 0600, err, sizeof err))
            wh_warn(A, "%s: %s", in->name, err);
    } else {
        unlink(in->pidfile_path);
    }
    in->log_offset_dirty = false;
}

void mon_inst_remove_files(mon_instance *in)
{
    unlink(in->record_path);
    unlink(in->pidfile_path);
    unlink(in->status_path);
    unlink(in->config_out);
}

static void push_exit(mon_instance *in, const mon_exit *e)
{
    memmove(in->exits + 1, in->exits, (MON_EXITS_KEPT - 1) * sizeof in->exits[0]);
    in->exits[0] = *e;
    if (in->nexits < MON_EXITS_KEPT)
        in->nexits++;
}

/* ---- starting ----------------------------------------------------------- */

static void apply_verdict(mon_instance *in, mon_verdict v, int64_t delay, int64_t now)
{
    switch (v) {
    case MON_VERDICT_STOP:
        set_state(in, MON_IDLE);
        wh_info(A, "%s: not restarted (restart policy %s)", in->name,
                mon_restart_name(in->spec->policy.restart));
        break;
    case MON_VERDICT_RESTART:
        set_state(in, MON_BACKOFF);
        in->restart_at = now + delay;
        wh_info(A, "%s: restarting in %lld ms (failure %u since the last healthy run)", in->name,
                (long long)delay, in->rs.failures);
        break;
    case MON_VERDICT_FAILED:
        set_state(in, MON_FAILED);
        in->restart_at = now + delay;
        wh_error(A, "%s: crash loop (%u restarts within %lld ms): failed; retrying in %lld ms",
                 in->name, in->spec->policy.max_restarts, (long long)in->spec->policy.window_ms,
                 (long long)delay);
        break;
    }
}

static void spawn_failed(mon_monitor *m, mon_instance *in, const char *why, int64_t now)
{
    mon_exit e;
    memset(&e, 0, sizeof e);
    e.at_ms = wh_wall_ms();
    e.cause = MON_CAUSE_EXEC;
    e.code = -1;
    e.run_ms = 0;
    char reason[600];
    snprintf(reason, sizeof reason, "could not start: %s", why);
    mon_copy_utf8(e.reason, sizeof e.reason, reason, SIZE_MAX);
    push_exit(in, &e);
    wh_error(A, "%s: %s", in->name, e.reason);
    int64_t delay;
    mon_verdict v = mon_policy_decide(&in->spec->policy, &in->rs, true, false, 0, now, &delay);
    apply_verdict(in, v, delay, now);
    mon_inst_persist(m, in);
}

static char *argv_text(const json_t *argv)
{
    size_t i, n = 1;
    json_t *v;
    json_array_foreach(argv, i, v)
        n += json_string_length(v) + 1;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    json_array_foreach(argv, i, v) {
        if (i)
            *p++ = ' ';
        memcpy(p, json_string_value(v), json_string_length(v));
        p += json_string_length(v);
    }
    *p = '\0';
    return s;
}

void mon_inst_start(mon_monitor *m, mon_instance *in, bool automatic)
{
    char err[512];
    int64_t now = wh_mono_ms();
    assert(in->pid == 0);
    if (m->shutting_down || !in->spec || !in->spec->enabled || in->forget) {
        set_state(in, MON_IDLE);
        return;
    }
    const mon_spec *spec = in->spec;
    if (automatic) {
        mon_history_add(&in->rs.hist, now);
        in->restarts++;
    }
    /* The previous run's output is read to its end; the new run starts an empty file. */
    mon_inst_read_output(m, in);
    mon_logtail_flush(&in->log, forward_line, in);
    if (in->log.fd >= 0 && ftruncate(in->log.fd, 0) == 0)
        in->log.offset = in->log.punched = 0;
    mon_logtail_new_run(&in->log);
    mon_health_new_run(&in->health);
    in->stuck = in->killed = false;
    in->after = MON_AFTER_POLICY;
    in->stop_reason[0] = '\0';

    char *text = json_dumps(spec->publisher, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *program = NULL;
    json_t *argv = NULL;
    char **env = NULL;
    pid_t pid = 0;
    if (!text) {
        snprintf(err, sizeof err, "cannot encode the publisher config");
        goto fail;
    }
    if (wh_file_replace(in->config_out, text, strlen(text), 0600, err, sizeof err))
        goto fail;
    if (mon_spawn_resolve(spec->command, m->default_command, &program, err, sizeof err))
        goto fail;
    mon_spawn_ctx ctx = {
        .instance = in->name, .config = in->config_out, .run_dir = in->dir,
        .status_file = in->status_path, .log_file = in->log_path,
        .interval_ms = spec->stuck_timeout_ms > 0
                           ? (int)(spec->stuck_timeout_ms / 4 < MON_STATUS_INTERVAL_MIN_MS
                                       ? MON_STATUS_INTERVAL_MIN_MS : spec->stuck_timeout_ms / 4)
                           : 1000,
    };
    argv = mon_spawn_argv(spec, program, &ctx);
    env = argv ? mon_spawn_env(spec, &ctx) : NULL;
    if (!env) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    if (mon_spawn(program, argv, env, &ctx, &pid, err, sizeof err))
        goto fail;

    in->pid = pid;
    in->adopted = false;
    in->starttime = 0;
    mon_proc_stat(pid, &in->starttime, NULL);
    json_decref(in->argv);
    in->argv = argv;
    argv = NULL;
    free(in->launch);
    in->launch = strdup(spec->launch);
    in->started_mono = now;
    in->started_ms = wh_wall_ms();
    set_state(in, spec->stuck_timeout_ms > 0 ? MON_STARTING : MON_RUNNING);
    char *cmd = argv_text(in->argv);
    wh_info(A, "%s: started pid %d%s: %s", in->name, (int)pid,
            automatic ? " (automatic restart)" : "", cmd ? cmd : "");
    free(cmd);
    mon_inst_persist(m, in);
    goto out;
fail:
    spawn_failed(m, in, err, now);
out:
    free(text);
    free(program);
    json_decref(argv);
    mon_spawn_free_env(env);
}

/* ---- stopping ----------------------------------------------------------- */

/* Signals the process group; for an adopted process only while its pidfd
 * (or /proc identity) shows the leader is still the recorded process. */
static void signal_group(mon_instance *in, int sig)
{
    if (in->pid <= 0)
        return;
    if (in->adopted) {
        if (in->pidfd >= 0) {
            if (sys_pidfd_signal(in->pidfd, sig) < 0)
                return;
        } else {
            unsigned long long st;
            char state;
            if (mon_proc_stat(in->pid, &st, &state) || st != in->starttime || state == 'Z')
                return;
            kill(in->pid, sig);
        }
        kill(-in->pid, sig);
        return;
    }
    if (kill(-in->pid, sig) < 0)
        kill(in->pid, sig);   /* between fork and setsid the group does not exist yet */
}

static void begin_stop(mon_instance *in, const char *reason, mon_after after, bool stuck)
{
    assert(in->pid > 0);
    signal_group(in, SIGTERM);
    set_state(in, MON_STOPPING);
    in->stop_sent_mono = wh_mono_ms();
    in->after = after;
    in->stuck = stuck;
    in->killed = false;
    /* a short reason: cut to the field (the log line has it whole) */
    snprintf(in->stop_reason, sizeof in->stop_reason, "%.*s", (int)sizeof in->stop_reason - 1,
             reason);
}

void mon_inst_stop(mon_monitor *m, mon_instance *in, const char *reason, mon_after after)
{
    assert(after != MON_AFTER_POLICY);
    switch (in->state) {
    case MON_STARTING:
    case MON_RUNNING:
        wh_info(A, "%s: stopping pid %d (%s)", in->name, (int)in->pid, reason);
        begin_stop(in, reason, after, false);
        return;
    case MON_STOPPING:
        if (after == MON_AFTER_FORGET || in->after != MON_AFTER_FORGET ||
            after == MON_AFTER_RESTART) {
            in->after = after;
            if (!in->stuck)
                /* a short reason: cut to the field (the log line has it whole) */
    snprintf(in->stop_reason, sizeof in->stop_reason, "%.*s", (int)sizeof in->stop_reason - 1,
             reason);
        }
        return;
    case MON_IDLE:
    case MON_BACKOFF:
    case MON_FAILED:
        if (in->pid > 0) {            /* adopted and not yet classified */
            begin_stop(in, reason, after, false);
            return;
        }
        if (after == MON_AFTER_RESTART) {
            mon_runstate_reset(&in->rs);
            mon_inst_start(m, in, false);
        } else {
            set_state(in, MON_IDLE);
            if (after == MON_AFTER_FORGET)
                in->forget = true;
        }
        return;
    }
}

void mon_inst_kill(mon_monitor *m, mon_instance *in)
{
    (void)m;
    if (in->pid > 0 && !in->killed) {
        wh_warn(A, "%s: sending SIGKILL to pid %d", in->name, (int)in->pid);
        signal_group(in, SIGKILL);
        in->killed = true;
    }
}

/* ---- exits -------------------------------------------------------------- */

static void finish_exit(mon_monitor *m, mon_instance *in, mon_exit *e, int64_t now)
{
    char run[32];
    mon_inst_read_output(m, in);
    mon_logtail_flush(&in->log, forward_line, in);
    mon_inst_poll_health(m, in, now);
    e->pid = in->pid;
    e->at_ms = wh_wall_ms();
    e->run_ms = now - in->started_mono;
    mon_copy_utf8(e->error_line, sizeof e->error_line, mon_logtail_error_line(&in->log),
                  SIZE_MAX);
    const char *st = mon_health_str(&in->health, "state");
    const char *rep = mon_health_str(&in->health, "error");
    if (st && rep && strcmp(st, "exiting") == 0)
        mon_copy_utf8(e->report_error, sizeof e->report_error, rep, SIZE_MAX);
    push_exit(in, e);
    snprintf(run, sizeof run, "%lld.%03lld s", (long long)(e->run_ms / 1000),
             (long long)(e->run_ms % 1000));
    if (e->cause == MON_CAUSE_STOPPED || (e->cause == MON_CAUSE_EXIT && e->code == 0))
        wh_info(A, "%s: pid %d %s after %s", in->name, (int)e->pid, e->reason, run);
    else
        wh_warn(A, "%s: pid %d %s after %s; last output: %s%s%s", in->name, (int)e->pid,
                e->reason, run, e->error_line[0] ? e->error_line : "(none)",
                e->report_error[0] ? "; reported: " : "", e->report_error);

    if (in->pidfd >= 0) {
        close(in->pidfd);             /* also leaves the epoll set */
        in->pidfd = -1;
    }
    in->pid = 0;
    in->adopted = false;
    json_decref(in->argv);
    in->argv = NULL;
    free(in->launch);
    in->launch = NULL;
    mon_after after = in->after;
    bool stuck = in->stuck;
    in->after = MON_AFTER_POLICY;
    in->stuck = in->killed = false;

    switch (after) {
    case MON_AFTER_POLICY:
        if (m->shutting_down || !in->spec || !in->spec->enabled) {
            set_state(in, MON_IDLE);
        } else {
            bool failed = !(e->cause == MON_CAUSE_EXIT && e->code == 0);
            int64_t delay;
            mon_verdict v = mon_policy_decide(&in->spec->policy, &in->rs, failed, stuck,
                                              e->run_ms, now, &delay);
            apply_verdict(in, v, delay, now);
        }
        break;
    case MON_AFTER_RESTART:
        set_state(in, MON_IDLE);
        mon_inst_start(m, in, false);
        break;
    case MON_AFTER_IDLE:
        set_state(in, MON_IDLE);
        break;
    case MON_AFTER_FORGET:
        set_state(in, MON_IDLE);
        in->forget = true;
        break;
    }
    if (in->pid == 0)                 /* mon_inst_start persisted the new run already */
        mon_inst_persist(m, in);
}

/* The cause and the "what" prefix of an exit while stopping. */
static mon_cause stop_cause(const mon_instance *in, char *what, size_t n)
{
    what[0] = '\0';
    if (in->state != MON_STOPPING)
        return MON_CAUSE_EXIT;
    if (in->stuck) {
        snprintf(what, n, "%s", in->stop_reason);
        return MON_CAUSE_STUCK;
    }
    snprintf(what, n, "stopped by the monitor (%s)%s", in->stop_reason,
             in->killed ? " with SIGKILL after the stop timeout" : "");
    return MON_CAUSE_STOPPED;
}

void mon_inst_reaped(mon_monitor *m, mon_instance *in, int wstatus)
{
    char what[160];
    mon_exit e;
    memset(&e, 0, sizeof e);
    mon_cause cause = stop_cause(in, what, sizeof what);
    mon_exit_from_wait(&e, wstatus, cause, what);
    finish_exit(m, in, &e, wh_mono_ms());
}

static void adopted_exit(mon_monitor *m, mon_instance *in)
{
    char what[160];
    mon_exit e;
    memset(&e, 0, sizeof e);
    e.code = -1;
    mon_cause cause = stop_cause(in, what, sizeof what);
    e.cause = cause == MON_CAUSE_EXIT ? MON_CAUSE_UNKNOWN : cause;
    snprintf(e.reason, sizeof e.reason, "%s%sexited (status unknown: adopted from an earlier "
             "monitor)", what, what[0] ? "; " : "");
    finish_exit(m, in, &e, wh_mono_ms());
}

void mon_inst_pidfd_ready(mon_monitor *m, mon_instance *in)
{
    if (in->pid > 0 && in->adopted)
        adopted_exit(m, in);
}

/* For adopted processes without a pidfd: is the recorded process gone? */
static bool adopted_gone(const mon_instance *in)
{
    unsigned long long st;
    char state;
    if (!in->adopted || in->pidfd >= 0 || in->pid <= 0)
        return false;
    return mon_proc_stat(in->pid, &st, &state) != WH_OK || st != in->starttime || state == 'Z';
}

/* ---- timers ------------------------------------------------------------- */

static void stuck_kill(mon_instance *in, const char *why)
{
    wh_error(A, "%s: pid %d is %s; stopping it", in->name, (int)in->pid, why);
    begin_stop(in, why, MON_AFTER_POLICY, true);
}

void mon_inst_tick(mon_monitor *m, mon_instance *in, int64_t now)
{
    char why[96];
    if (in->pid > 0)
        mon_inst_read_output(m, in);
    switch (in->state) {
    case MON_STARTING:
    case MON_RUNNING:
        mon_inst_poll_health(m, in, now);
        if (adopted_gone(in)) {
            adopted_exit(m, in);
            return;
        }
        if (!in->spec || in->spec->stuck_timeout_ms <= 0)
            break;
        if (!in->health.seen) {
            int64_t limit = in->spec->startup_timeout_ms;
            if (limit > 0 && now - in->started_mono >= limit) {
                snprintf(why, sizeof why, "stuck: no heartbeat within %lld ms of the start",
                         (long long)limit);
                stuck_kill(in, why);
            }
        } else if (now - in->health.last_mono >= in->spec->stuck_timeout_ms) {
            snprintf(why, sizeof why, "stuck: no heartbeat for %lld ms",
                     (long long)(now - in->health.last_mono));
            stuck_kill(in, why);
        }
        break;
    case MON_STOPPING:
        if (adopted_gone(in)) {
            adopted_exit(m, in);
            return;
        }
        if (!in->killed && now - in->stop_sent_mono >= stop_timeout(in)) {
            wh_warn(A, "%s: pid %d did not stop within %lld ms of SIGTERM; sending SIGKILL",
                    in->name, (int)in->pid, (long long)stop_timeout(in));
            signal_group(in, SIGKILL);
            in->killed = true;
        }
        break;
    case MON_BACKOFF:
    case MON_FAILED:
        if (now >= in->restart_at)
            mon_inst_start(m, in, true);
        break;
    case MON_IDLE:
        break;
    }
}

int64_t mon_inst_deadline(const mon_instance *in)
{
    const mon_spec *s = in->spec;
    switch (in->state) {
    case MON_STARTING:
    case MON_RUNNING:
        if (!s || s->stuck_timeout_ms <= 0)
            return INT64_MAX;
        if (!in->health.seen)
            return s->startup_timeout_ms > 0 ? in->started_mono + s->startup_timeout_ms
                                             : INT64_MAX;
        return in->health.last_mono + s->stuck_timeout_ms;
    case MON_STOPPING:
        return in->killed ? INT64_MAX : in->stop_sent_mono + stop_timeout(in);
    case MON_BACKOFF:
    case MON_FAILED:
        return in->restart_at;
    case MON_IDLE:
        break;
    }
    return INT64_MAX;
}

/* ---- configuration changes ---------------------------------------------- */

bool mon_inst_has_process(const mon_instance *in)
{
    return in->pid > 0 || in->state == MON_BACKOFF || in->state == MON_FAILED;
}

bool mon_inst_healthy(const mon_instance *in, int64_t now)
{
    if (in->state != MON_RUNNING || in->pid <= 0)
        return false;
    if (in->spec && in->spec->stuck_timeout_ms > 0)
        return in->health.ready;
    return now - in->started_mono >= 1000;
}

void mon_inst_apply_spec(mon_monitor *m, mon_instance *in, mon_spec *spec)
{
    free(in->config_error);
    in->config_error = NULL;
    mon_spec *old = in->spec;
    if (old && strcmp(old->normalized, spec->normalized) == 0) {
        mon_spec_free(spec);
        return;
    }
    bool launch_changed = !old || strcmp(old->launch, spec->launch) != 0;
    in->spec = spec;
    if (old)
        wh_info(A, "%s: configuration changed%s", in->name,
                launch_changed ? "" : " (supervision settings only)");
    mon_spec_free(old);
    if (launch_changed)
        mon_runstate_reset(&in->rs);
    if (m->loading)
        return;
    if (!spec->enabled) {
        if (mon_inst_has_process(in) || in->state != MON_IDLE)
            mon_inst_stop(m, in, "disabled", MON_AFTER_IDLE);
        return;
    }
    switch (in->state) {
    case MON_IDLE:
        mon_inst_start(m, in, false);
        break;
    case MON_BACKOFF:
    case MON_FAILED:
        mon_runstate_reset(&in->rs);
        mon_inst_start(m, in, false);
        break;
    case MON_STARTING:
    case MON_RUNNING:
        if (!in->launch || strcmp(in->launch, spec->launch) != 0)
            mon_inst_stop(m, in, "config changed", MON_AFTER_RESTART);
        break;
    case MON_STOPPING:
        if (in->after == MON_AFTER_IDLE || in->after == MON_AFTER_FORGET)
            in->after = MON_AFTER_RESTART;
        break;
    }
}

void mon_inst_file_gone(mon_monitor *m, mon_instance *in)
{
    free(in->config_error);
    in->config_error = NULL;
    wh_info(A, "%s: instance file %s was removed", in->name, in->config_path);
    mon_inst_stop(m, in, "removed", MON_AFTER_FORGET);
}

/* ---- adoption ----------------------------------------------------------- */

/* Adopts pid: pidfd, epoll, health grace. argv and launch are taken over. */
static void adopt(mon_monitor *m, mon_instance *in, pid_t pid, unsigned long long starttime,
                  json_t *argv, char *launch, int64_t started_ms, int fd, int64_t now)
{
    in->pid = pid;
    in->starttime = starttime;
    in->argv = argv;
    in->launch = launch;
    in->started_ms = started_ms;
    int64_t age = wh_wall_ms() - started_ms;
    in->started_mono = now - (age > 0 ? age : 0);
    in->adopted = true;
    in->pidfd = fd;
    if (fd >= 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = in };
        if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            in->pidfd = -1;
        }
    }
    if (in->pidfd < 0)
        wh_warn(A, "%s: no pidfd for pid %d; checking it once a second", in->name, (int)pid);
    mon_health_new_run(&in->health);
    mon_health_poll(&in->health, in->status_path, pid, now, NULL, 0);
    in->health.seen = true;           /* a full stuck timeout from now */
    in->health.last_mono = now;
    bool ready = !in->spec || in->spec->stuck_timeout_ms <= 0 || in->health.ready;
    set_state(in, ready ? MON_RUNNING : MON_STARTING);
    wh_info(A, "%s: adopted %s pid %d (started %lld s ago)", in->name,
            ready ? "running" : "starting", (int)pid, (long long)(age / 1000));
    mon_inst_read_output(m, in);
}

/* Adopts a live process that has no record (see mon_inst_restore). */
static bool adopt_unrecorded(mon_monitor *m, mon_instance *in, pid_t pid, int64_t now)
{
    unsigned long long st;
    char state;
    if (mon_proc_stat(pid, &st, &state) != WH_OK || state == 'Z')
        return false;
    int fd = sys_pidfd_open(pid);
    unsigned long long st2;
    if (fd >= 0 && (mon_proc_stat(pid, &st2, &state) != WH_OK || st2 != st || state == 'Z')) {
        close(fd);
        return false;
    }
    json_t *argv = mon_proc_cmdline(pid);
    if (!argv) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    wh_warn(A, "%s: pid %d runs in this instance's directory without a record (the previous "
            "monitor died while starting it); adopting it to restart it", in->name, (int)pid);
    adopt(m, in, pid, st, argv, NULL, wh_wall_ms(), fd, now);
    return true;
}

void mon_inst_restore(mon_monitor *m, mon_instance *in, const pid_t *found, size_t nfound)
{
    char err[512];
    mon_record rec;
    int64_t now = wh_mono_ms();
    int rc = mon_record_load(in->record_path, &rec, err, sizeof err);
    if (rc == WH_ERR_NOT_FOUND)
        mon_logtail_open(&in->log, in->log_path, UINT64_MAX, err, sizeof err);
    if (rc && rc != WH_ERR_NOT_FOUND) {
        wh_warn(A, "%s: ignoring the supervision record: %s", in->name, err);
        mon_logtail_open(&in->log, in->log_path, UINT64_MAX, err, sizeof err);
    }
    if (rc == WH_OK) {
        in->restarts = rec.restarts;
        in->nexits = rec.nexits;
        memcpy(in->exits, rec.exits, sizeof in->exits);
        if (mon_logtail_open(&in->log, in->log_path, rec.log_offset, err, sizeof err))
            wh_warn(A, "%s: %s", in->name, err);
    }

    bool alive = rc == WH_OK && rec.pid > 0 && mon_record_alive(&rec);
    int fd = -1;
    if (alive) {
        fd = sys_pidfd_open(rec.pid);
        if (fd >= 0 && !mon_record_alive(&rec)) {   /* it ended between the checks */
            close(fd);
            fd = -1;
            alive = false;
        }
    }
    if (alive) {
        adopt(m, in, rec.pid, rec.starttime, json_incref(rec.argv),
              rec.launch ? strdup(rec.launch) : NULL, rec.started_ms, fd, now);
    } else if (rc == WH_OK && rec.pid > 0) {
        mon_exit e;
        memset(&e, 0, sizeof e);
        e.at_ms = wh_wall_ms();
        e.pid = rec.pid;
        e.cause = MON_CAUSE_UNKNOWN;
        e.code = -1;
        e.run_ms = -1;
        snprintf(e.reason, sizeof e.reason,
                 "exited while no monitor was running (exit status unknown)");
        mon_logtail_read(&in->log, forward_line, in);
        mon_logtail_flush(&in->log, forward_line, in);
        mon_copy_utf8(e.error_line, sizeof e.error_line, mon_logtail_error_line(&in->log),
                      SIZE_MAX);
        mon_health h;
        mon_health_init(&h);
        mon_health_poll(&h, in->status_path, rec.pid, now, err, sizeof err);
        const char *st = mon_health_str(&h, "state"), *rep = mon_health_str(&h, "error");
        if (st && rep && strcmp(st, "exiting") == 0)
            mon_copy_utf8(e.report_error, sizeof e.report_error, rep, SIZE_MAX);
        mon_health_free(&h);
        push_exit(in, &e);
        wh_warn(A, "%s: pid %d %s; last output: %s", in->name, (int)rec.pid, e.reason,
                e.error_line[0] ? e.error_line : "(none)");
    }
    for (size_t i = 0; i < nfound; i++) {
        if (found[i] == in->pid)
            continue;
        if (in->pid <= 0 && adopt_unrecorded(m, in, found[i], now))
            continue;
        wh_warn(A, "%s: killing pid %d: a second process of this instance without a record",
                in->name, (int)found[i]);
        kill(-found[i], SIGKILL);
        kill(found[i], SIGKILL);
    }
    if (rc == WH_OK)
        mon_record_clear(&rec);
    if (rc == WH_OK || in->pid > 0)
        mon_inst_persist(m, in);
}

void mon_inst_reconcile(mon_monitor *m, mon_instance *in)
{
    if (!in->file_present && !m->config_dir_ok)
        return;                        /* unreadable directory: change nothing */
    if (in->pid > 0) {
        if (!in->file_present)
            mon_inst_stop(m, in, "removed", MON_AFTER_FORGET);
        else if (!in->spec)
            ;                          /* invalid file: keep what runs */
        else if (!in->spec->enabled)
            mon_inst_stop(m, in, "disabled", MON_AFTER_IDLE);
        else if (!in->launch || strcmp(in->launch, in->spec->launch) != 0)
            mon_inst_stop(m, in, "config changed", MON_AFTER_RESTART);
        return;
    }
    if (!in->file_present) {
        in->forget = true;
        return;
    }
    if (in->spec && in->spec->enabled)
        mon_inst_start(m, in, false);
}

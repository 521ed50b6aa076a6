/* fake_publisher.c -- a stand-in for wormhole-publisher that misbehaves on request, for the monitor's tests.
 *
 * usage: fake_publisher --config FILE
 * FILE is the "publisher" object of an instance file. Keys (all optional):
 *   heartbeat_ms (100)            status file period; 0 = never write one
 *   ready_after_ms (0)            report "starting" until then, then "running"
 *   stop_heartbeat_after_ms (-1)  stop heartbeats after this long (simulates stuck)
 *   hang_if_file ("")             no heartbeats while this file exists
 *   exit_after_ms (-1)            exit with exit_code after this long
 *   exit_code (1)
 *   fail_if_file ("")             at start: exit with exit_code at once if this file exists
 *   crash_after_ms (-1)           kill itself with crash_signal after this long
 *   crash_signal (9)
 *   error_line ("")               written to stderr as "ERROR <text>" before exiting or crashing
 *   report_error (false)          also write a final status {"state":"exiting","error":...}
 *   ignore_sigterm (false)        ignore SIGTERM (the monitor must escalate to SIGKILL)
 *   term_delay_ms (0)             after SIGTERM, exit 0 after this delay
 *   log_every_ms (0)              write "tick N" to stdout this often
 *   lag_ms (7)                    reported lag
 *   journal ("")                  append "start PID INSTANCE", "exit PID CODE" lines here
 *   watch_pid (0)                 exit when this process is gone (test cleanup safety net)
 * Environment variables WORMHOLE_* and FAKE_* are appended to the journal as "env K=V". */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "protocol/status_file.h"

extern char **environ;

static volatile sig_atomic_t term_requested;

static void on_term(int sig)
{
    (void)sig;
    term_requested = 1;
}

static const char *journal_path;

static void journal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void journal(const char *fmt, ...)
{
    if (!journal_path || !*journal_path)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = open(journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) < 0)
            n = 0;
        close(fd);
    }
}

static int64_t geti(const json_t *c, const char *k, int64_t def)
{
    json_t *v = json_object_get(c, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static const char *gets_(const json_t *c, const char *k)
{
    const char *s = json_string_value(json_object_get(c, k));
    return s ? s : "";
}

static void finish(status_report *rep, const json_t *c, int code)
{
    const char *err = gets_(c, "error_line");
    if (*err) {
        fprintf(stderr, "ERROR %s\n", err);
        fprintf(stderr, "fake publisher: exiting after the error\n");
    }
    if (*err && json_is_true(json_object_get(c, "report_error")))
        status_report_exiting(rep, err);
    fflush(NULL);
    journal("exit %d %d", (int)getpid(), code);
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
    if (!config) {
        fprintf(stderr, "ERROR fake publisher: usage: fake_publisher --config FILE\n");
        return 2;
    }
    json_error_t jerr;
    json_t *c = json_load_file(config, 0, &jerr);
    if (!c) {
        fprintf(stderr, "ERROR fake publisher: %s: %s\n", config, jerr.text);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    journal_path = gets_(c, "journal");
    const char *inst = getenv("WORMHOLE_INSTANCE");
    journal("start %d %s", (int)getpid(), inst ? inst : "-");
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "WORMHOLE_", 9) == 0 || strncmp(*e, "FAKE_", 5) == 0)
            journal("env %s", *e);

    int64_t hb = geti(c, "heartbeat_ms", 100), ready_after = geti(c, "ready_after_ms", 0);
    int64_t stop_hb = geti(c, "stop_heartbeat_after_ms", -1);
    int64_t exit_after = geti(c, "exit_after_ms", -1), crash_after = geti(c, "crash_after_ms", -1);
    int code = (int)geti(c, "exit_code", 1), crash_sig = (int)geti(c, "crash_signal", 9);
    int64_t term_delay = geti(c, "term_delay_ms", 0), log_every = geti(c, "log_every_ms", 0);
    int64_t lag = geti(c, "lag_ms", 7);
    pid_t watch = (pid_t)geti(c, "watch_pid", 0);
    const char *hang_file = gets_(c, "hang_if_file"), *fail_file = gets_(c, "fail_if_file");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = json_is_true(json_object_get(c, "ignore_sigterm")) ? SIG_IGN : on_term;
    sigaction(SIGTERM, &sa, NULL);

    char err[256];
    status_report *rep = NULL;
    if (status_report_from_env(&rep, err, sizeof err))
        fprintf(stderr, "WARN fake publisher: %s\n", err);
    printf("fake publisher pid %d started (instance %s)\n", (int)getpid(), inst ? inst : "-");

    if (*fail_file && access(fail_file, F_OK) == 0) {
        finish(rep, c, code);
        status_report_free(rep);
        json_decref(c);
        return code;
    }
    int64_t start = wh_mono_ms(), next_hb = start, next_log = start + log_every, term_at = -1;
    uint64_t seq = 0, ticks = 0;
    for (;;) {
        int64_t now = wh_mono_ms(), t = now - start;
        if (watch > 0 && kill(watch, 0) < 0 && errno == ESRCH) {
            journal("orphaned %d", (int)getpid());
            break;
        }
        if (term_requested && term_at < 0) {
            printf("fake publisher: SIGTERM, stopping\n");
            term_at = now + term_delay;
        }
        if (term_at >= 0 && now >= term_at) {
            journal("exit %d 0", (int)getpid());
            status_report_free(rep);
            json_decref(c);
            return 0;
        }
        if (exit_after >= 0 && t >= exit_after) {
            finish(rep, c, code);
            status_report_free(rep);
            json_decref(c);
            return code;
        }
        if (crash_after >= 0 && t >= crash_after) {
            finish(rep, c, 128 + crash_sig);
            signal(crash_sig, SIG_DFL);
            raise(crash_sig);
        }
        bool hanging = (stop_hb >= 0 && t >= stop_hb) || (*hang_file && access(hang_file, F_OK) == 0);
        if (hb > 0 && now >= next_hb && !hanging) {
            char pos[64];
            snprintf(pos, sizeof pos, "fake-bin.000001:%llu", (unsigned long long)(++seq * 100));
            json_t *extra = json_pack("{s:I}", "seq", (json_int_t)seq);
            if (status_report_write(rep, t >= ready_after ? "running" : "starting", pos, lag,
                                    extra, err, sizeof err))
                fprintf(stderr, "WARN fake publisher: %s\n", err);
            json_decref(extra);
            next_hb = now + hb;
        }
        if (log_every > 0 && now >= next_log) {
            printf("tick %llu\n", (unsigned long long)++ticks);
            next_log = now + log_every;
        }
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    status_report_free(rep);
    json_decref(c);
    return 0;
}

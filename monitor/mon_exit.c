/* mon_exit.c -- describing and recording publisher exits (see mon_exit.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "monitor/mon_exit.h"

static const char *const cause_names[] = { "exit", "signal", "stuck", "stopped", "exec",
                                           "unknown" };

const char *mon_cause_name(mon_cause c)
{
    return (unsigned)c < sizeof cause_names / sizeof cause_names[0] ? cause_names[c] : "?";
}

const char *mon_signal_name(int sig)
{
    static _Thread_local char buf[32];
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, sizeof buf, "SIG%s", abbrev);
    else
        snprintf(buf, sizeof buf, "signal %d", sig);
    return buf;
}

void mon_exit_from_wait(mon_exit *e, int wstatus, mon_cause cause, const char *what)
{
    char how[96];
    e->code = -1;
    e->sig = 0;
    e->core = false;
    if (WIFEXITED(wstatus)) {
        e->code = WEXITSTATUS(wstatus);
        snprintf(how, sizeof how, "exited with code %d", e->code);
        e->cause = MON_CAUSE_EXIT;
    } else if (WIFSIGNALED(wstatus)) {
        e->sig = WTERMSIG(wstatus);
        e->core = WCOREDUMP(wstatus);
        snprintf(how, sizeof how, "killed by signal %d (%s)%s", e->sig, mon_signal_name(e->sig),
                 e->core ? ", core dumped" : "");
        e->cause = MON_CAUSE_SIGNAL;
    } else {
        snprintf(how, sizeof how, "ended with wait status 0x%x", (unsigned)wstatus);
        e->cause = MON_CAUSE_UNKNOWN;
    }
    if (cause == MON_CAUSE_STUCK || cause == MON_CAUSE_STOPPED)
        e->cause = cause;
    if (what && *what)
        snprintf(e->reason, sizeof e->reason, "%s; %s", what, how);
    else
        snprintf(e->reason, sizeof e->reason, "%s", how);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
    else return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

void mon_copy_utf8(char *dst, size_t n, const char *s, size_t len)
{
    size_t o = 0, i = 0;
    if (n == 0)
        return;
    while (i < len && s[i]) {
        size_t k = utf8_seq((const unsigned char *)s + i, len - i);
        if (k == 0) {
            if (o + 1 >= n)
                break;
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + k >= n)
            break;
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    dst[o] = '\0';
}

json_t *mon_exit_to_json(const mon_exit *e)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "at_ms", json_integer(e->at_ms));
    json_object_set_new(j, "pid", json_integer(e->pid));
    json_object_set_new(j, "cause", json_string(mon_cause_name(e->cause)));
    json_object_set_new(j, "code", e->code >= 0 ? json_integer(e->code) : json_null());
    json_object_set_new(j, "signal", e->sig ? json_integer(e->sig) : json_null());
    json_object_set_new(j, "signal_name", e->sig ? json_string(mon_signal_name(e->sig))
                                                 : json_null());
    json_object_set_new(j, "core_dumped", json_boolean(e->core));
    json_object_set_new(j, "run_ms", e->run_ms >= 0 ? json_integer(e->run_ms) : json_null());
    json_object_set_new(j, "reason", json_string(e->reason));
    json_object_set_new(j, "error_line", e->error_line[0] ? json_string(e->error_line)
                                                          : json_null());
    json_object_set_new(j, "reported_error", e->report_error[0] ? json_string(e->report_error)
                                                                : json_null());
    return j;
}

static void copy_str(char *dst, size_t n, const json_t *v)
{
    if (json_is_string(v))
        mon_copy_utf8(dst, n, json_string_value(v), json_string_length(v));
    else
        dst[0] = '\0';
}

void mon_exit_from_json(mon_exit *e, const json_t *j)
{
    memset(e, 0, sizeof *e);
    e->code = -1;
    e->run_ms = -1;
    e->cause = MON_CAUSE_UNKNOWN;
    if (!json_is_object(j))
        return;
    json_t *v;
    if (json_is_integer(v = json_object_get(j, "at_ms")))
        e->at_ms = json_integer_value(v);
    if (json_is_integer(v = json_object_get(j, "pid")))
        e->pid = (pid_t)json_integer_value(v);
    if (json_is_string(v = json_object_get(j, "cause")))
        for (unsigned i = 0; i < sizeof cause_names / sizeof cause_names[0]; i++)
            if (strcmp(json_string_value(v), cause_names[i]) == 0)
                e->cause = (mon_cause)i;
    if (json_is_integer(v = json_object_get(j, "code")))
        e->code = (int)json_integer_value(v);
    if (json_is_integer(v = json_object_get(j, "signal")))
        e->sig = (int)json_integer_value(v);
    e->core = json_is_true(json_object_get(j, "core_dumped"));
    if (json_is_integer(v = json_object_get(j, "run_ms")))
        e->run_ms = json_integer_value(v);
    copy_str(e->reason, sizeof e->reason, json_object_get(j, "reason"));
    copy_str(e->error_line, sizeof e->error_line, json_object_get(j, "error_line"));
    copy_str(e->report_error, sizeof e->report_error, json_object_get(j, "reported_error"));
}

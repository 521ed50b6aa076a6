/* mon_exit.h -- the record of one publisher exit: when, why, and what it said last. */
#ifndef MON_EXIT_H
#define MON_EXIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define MON_EXIT_LINE_MAX 1024
#define MON_EXITS_KEPT    8

typedef enum mon_cause {
    MON_CAUSE_EXIT,      /* exited with a code */
    MON_CAUSE_SIGNAL,    /* killed by a signal */
    MON_CAUSE_STUCK,     /* killed by the monitor for missing heartbeats */
    MON_CAUSE_STOPPED,   /* stopped by the monitor (config change, disable, shutdown, ...) */
    MON_CAUSE_EXEC,      /* could not be started */
    MON_CAUSE_UNKNOWN,   /* exited while not our child: status unknown */
} mon_cause;

typedef struct mon_exit {
    int64_t   at_ms;        /* wall clock, ms since the epoch */
    pid_t     pid;
    mon_cause cause;
    int       code;         /* exit code, or -1 */
    int       sig;          /* terminating signal, or 0 */
    bool      core;         /* dumped core */
    int64_t   run_ms;       /* how long it ran, or -1 if unknown */
    char      reason[256];  /* one sentence: "exited with code 3", "stuck: no heartbeat for ..." */
    char      error_line[MON_EXIT_LINE_MAX]; /* last ERROR line (or last line) of its output */
    char      report_error[MON_EXIT_LINE_MAX]; /* "error" of its final status, if any */
} mon_exit;

const char *mon_cause_name(mon_cause c);

/* Fills e->code/sig/core/cause from a waitpid status and writes e->reason.
 * what (may be NULL) prefixes the reason, e.g. "stuck: no heartbeat for 2000 ms". */
void mon_exit_from_wait(mon_exit *e, int wstatus, mon_cause cause, const char *what);

/* "SIGKILL" for 9, "signal 77" for unknown numbers. Static or thread-local storage. */
const char *mon_signal_name(int sig);

/* JSON form for status output and the run-dir record. New reference. */
json_t *mon_exit_to_json(const mon_exit *e);

/* Reads the JSON form back; unknown or missing fields keep defaults. */
void mon_exit_from_json(mon_exit *e, const json_t *j);

/* Copies s into dst (size n), replacing invalid UTF-8 with '?', and
 * truncating at a character boundary. */
void mon_copy_utf8(char *dst, size_t n, const char *s, size_t len);

#endif

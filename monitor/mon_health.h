/* mon_health.h -- the monitor's side of the status channel: reading heartbeats.
 *
 * The publisher replaces RUN_DIR/instances/NAME/status.json with one JSON
 * object per heartbeat (docs/MONITOR.md, "The status file"; the format's
 * writer and parser are protocol/status_file.h). Every
 * replacement is a heartbeat; the monitor times heartbeats with its own
 * monotonic clock, so the publisher's wall clock does not matter. */
#ifndef MON_HEALTH_H
#define MON_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "protocol/status_file.h"
#include "wormhole/error.h"

typedef struct mon_health {
    bool     have_id;       /* identity of the file last read */
    uint64_t dev, ino, size;
    struct timespec mtim, ctim;
    json_t  *report;        /* last valid status of the supervised pid (owned), or NULL */
    bool     seen;          /* a heartbeat arrived during this run */
    bool     ready;         /* a heartbeat with state "running" arrived during this run */
    int64_t  last_mono;     /* monotonic ms of the last heartbeat */
    char     last_error[256]; /* last complaint about the file, to log each problem once */
} mon_health;

void mon_health_init(mon_health *h);
void mon_health_free(mon_health *h);

/* Forgets the heartbeats of the previous run (keeps the file identity, so
 * an old file is not taken for a heartbeat of the new process). */
void mon_health_new_run(mon_health *h);

/* Checks path for a new heartbeat of pid. Returns 1 if the file was
 * replaced since the last call and holds a status of pid (h->report
 * updated), 0 if nothing new, or a negative code (with a sentence) when a
 * new file is malformed; a malformed replacement still counts as a
 * heartbeat (h->last_mono updated). */
int mon_health_poll(mon_health *h, const char *path, pid_t pid, int64_t now_mono, char *errbuf,
                    size_t errlen);

/* The report's string field, or NULL. */
const char *mon_health_str(const mon_health *h, const char *key);

/* The report's lag_ms, or -1. */
int64_t mon_health_lag(const mon_health *h);

#endif

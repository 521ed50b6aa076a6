/* mon_report.h -- the publisher's side of the monitor's status channel.
 *
 * A supervised process reports heartbeats, position and lag by replacing the
 * file named in $WORMHOLE_STATUS_FILE with one JSON object (write a temporary
 * file, then rename). docs/MONITOR.md, "The status file", is the contract;
 * this is its reference implementation. It needs only libc, jansson and
 * core/errbuf, so a publisher can compile it into its own executable.
 *
 * Every function accepts rep == NULL (the process is not supervised) and
 * then does nothing and succeeds. One mon_report belongs to one thread: the
 * one whose progress the heartbeats vouch for. */
#ifndef MON_REPORT_H
#define MON_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wormhole/error.h"

typedef struct mon_report mon_report;

/* Creates a reporter from $WORMHOLE_STATUS_FILE and
 * $WORMHOLE_STATUS_INTERVAL_MS. Sets *out to NULL and returns WH_OK when the
 * variable is unset. Caller frees with mon_report_free. */
int mon_report_from_env(mon_report **out, char *errbuf, size_t errlen);

/* Creates a reporter that writes path (interval_ms <= 0 means 1000). */
int mon_report_new(mon_report **out, const char *path, int interval_ms, char *errbuf,
                   size_t errlen);

void mon_report_free(mon_report *rep);

/* The heartbeat period the monitor asked for, in milliseconds (1000 when
 * rep is NULL). */
int mon_report_interval_ms(const mon_report *rep);

/* Writes one heartbeat: {"pid","ts","state","position","lag_ms", ...extra}.
 * state is "starting", "running", "stopping" or "exiting" (NULL = running);
 * position may be NULL; lag_ms < 0 means unknown (omitted); extra (may be
 * NULL, borrowed) is an object whose fields are added. Returns WH_ERR_IO
 * with a sentence in errbuf if the file cannot be replaced. */
int mon_report_write(mon_report *rep, const char *state, const char *position, int64_t lag_ms,
                     const json_t *extra, char *errbuf, size_t errlen);

/* Writes the final status {"state":"exiting","error":reason} (keeping the
 * last position and lag). Best effort: errors are ignored, because the
 * caller is about to exit anyway. */
void mon_report_exiting(mon_report *rep, const char *reason);

#endif

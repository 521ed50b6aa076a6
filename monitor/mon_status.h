/* mon_status.h -- `wormhole-monitor status`: the status document, the control socket, the client.
 *
 * The running monitor listens on RUN_DIR/monitor.sock (unix stream). A
 * client sends one command line ("status\n", "rolling-restart\n",
 * "reload\n") and reads one JSON document; the monitor then closes the
 * connection. Without a running monitor, `status` builds the same document
 * from the run directory's records (docs/MONITOR.md, "Status"). */
#ifndef MON_STATUS_H
#define MON_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "wormhole/error.h"

#include "monitor/mon.h"

/* The status document of the running monitor. New reference. */
json_t *mon_status_json(mon_monitor *m);

/* The status document built from RUN_DIR's records (no monitor running):
 * "monitor" is null and states are "unsupervised" (process alive) or
 * "stopped"; a run directory without records (none yet, or no such
 * directory) has no instances. New reference, or NULL with errbuf set when
 * the records cannot be read. */
json_t *mon_status_offline(const char *run_dir, char *errbuf, size_t errlen);

/* Prints the document as a table for people. */
void mon_status_print(FILE *out, const json_t *status);

/* Server side, on the monitor's thread. */
int  mon_status_listen(mon_monitor *m, char *errbuf, size_t errlen);
void mon_status_accept(mon_monitor *m);
void mon_status_client_event(mon_monitor *m, mon_client *c, uint32_t events);
void mon_status_expire(mon_monitor *m, int64_t now);
int64_t mon_status_deadline(const mon_monitor *m);   /* earliest client timeout, or INT64_MAX */
void mon_status_close(mon_monitor *m);

/* Client side: sends cmd to the monitor on run_dir and returns its reply.
 * WH_ERR_NOT_FOUND if no monitor listens there. */
int mon_ctl_request(const char *run_dir, const char *cmd, json_t **reply, char *errbuf,
                    size_t errlen);

#endif

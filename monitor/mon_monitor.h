/* mon_monitor.h -- the monitor's event loop: config directory, signals, children, control socket. */
#ifndef MON_MONITOR_H
#define MON_MONITOR_H

#include <stdint.h>

#include <jansson.h>

#include "monitor/mon.h"

typedef struct mon_options {
    const char *config_dir;
    const char *run_dir;
    int64_t     rescan_ms;       /* periodic rescan of the config directory */
    const char *control_group;   /* NULL, or a group whose members may use the socket */
    const char *metrics_listen;  /* NULL: no metrics endpoint; else ADDRESS:PORT (mon_http.h) */
    const char *metrics_token_file; /* NULL, or the bearer token scrapers must send */
} mon_options;

/* Runs the monitor until SIGTERM/SIGINT (stop every publisher, then
 * return 0) or SIGQUIT (return 0 leaving publishers running for the next
 * monitor to adopt). Returns 1 with a message on stderr if it cannot start
 * (bad directory, another monitor holds the run directory). */
int mon_monitor_run(const mon_options *opt);

/* Executes one control command ("status", "rolling-restart", "reload")
 * and returns the reply object (new reference). Used by the control socket. */
json_t *mon_monitor_command(mon_monitor *m, const char *cmd);

/* Starts a rolling restart of every instance that runs. Returns the
 * generation number, or 0 if one is already in progress. */
uint64_t mon_monitor_roll_start(mon_monitor *m);

#endif

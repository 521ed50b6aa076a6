/* mon_supervise.h -- one instance's life: start, stop, exit, restart policy, stuck detection, adoption.
 *
 * State machine (docs/MONITOR.md, "States"):
 *   IDLE -> STARTING -> RUNNING -> (exit) -> BACKOFF | FAILED | IDLE
 *   STARTING/RUNNING -> STOPPING -> (exit) -> what mon_after says
 *   BACKOFF/FAILED -> (timer) -> STARTING
 * All functions run on the monitor's thread. */
#ifndef MON_SUPERVISE_H
#define MON_SUPERVISE_H

#include <stdbool.h>

#include "monitor/mon.h"

/* Creates the instance NAME (run directory, inotify watch) and appends it
 * to m->inst. Returns NULL with a sentence in errbuf on failure. */
mon_instance *mon_inst_new(mon_monitor *m, const char *name, char *errbuf, size_t errlen);

/* Closes the instance's descriptors and frees it (the process, if any, is
 * left alone). Does not touch m->inst. */
void mon_inst_free(mon_monitor *m, mon_instance *in);

/* Starts the process now (from IDLE, BACKOFF or FAILED). automatic: a
 * restart decided by the policy (counted in restarts and the crash-loop
 * history). Does nothing while shutting down or without an enabled spec. */
void mon_inst_start(mon_monitor *m, mon_instance *in, bool automatic);

/* Asks the process to stop (SIGTERM to its group; SIGKILL after
 * stop_timeout_ms), then does what `after` says. Without a process, does
 * `after` at once. reason is shown in logs and the exit record. */
void mon_inst_stop(mon_monitor *m, mon_instance *in, const char *reason, mon_after after);

/* Sends SIGKILL to the process group at once (second shutdown signal). */
void mon_inst_kill(mon_monitor *m, mon_instance *in);

/* A child of ours was reaped with wait status wstatus. */
void mon_inst_reaped(mon_monitor *m, mon_instance *in, int wstatus);

/* The pidfd of an adopted process became readable: it has exited. */
void mon_inst_pidfd_ready(mon_monitor *m, mon_instance *in);

/* Timers: stuck detection, SIGKILL escalation, restarts; also polls the
 * status file and output as a fallback for missed inotify events. */
void mon_inst_tick(mon_monitor *m, mon_instance *in, int64_t now);

/* The earliest monotonic time at which mon_inst_tick has work, or INT64_MAX. */
int64_t mon_inst_deadline(const mon_instance *in);

/* inotify said the status file or the output file changed. */
void mon_inst_poll_health(mon_monitor *m, mon_instance *in, int64_t now);
void mon_inst_read_output(mon_monitor *m, mon_instance *in);

/* A new valid spec for the instance file (takes ownership). Starts, stops
 * or restarts as needed; while m is loading, only stores it. */
void mon_inst_apply_spec(mon_monitor *m, mon_instance *in, mon_spec *spec);

/* The instance file is gone: stop the process and drop the instance. */
void mon_inst_file_gone(mon_monitor *m, mon_instance *in);

/* Reads the run-directory record and adopts the recorded process if it
 * still runs (same boot, start time and command line). An exit that
 * happened while no monitor ran is recorded with cause "unknown".
 * found[] are live process-group leaders whose environment names this
 * instance's run directory (a monitor that died between fork and writing
 * the record leaves such a process): without a live recorded process the
 * first is adopted (and then restarted, as its config is unknown); any
 * other is killed, so there is never more than one publisher. */
void mon_inst_restore(mon_monitor *m, mon_instance *in, const pid_t *found, size_t nfound);

/* After startup: start, stop or restart what the specs and the adopted
 * processes disagree on. */
void mon_inst_reconcile(mon_monitor *m, mon_instance *in);

/* Has a process, or will start one by itself (BACKOFF, FAILED)? */
bool mon_inst_has_process(const mon_instance *in);

/* Healthy: running, and (with heartbeats) reported "running", or (without)
 * alive for at least a second. */
bool mon_inst_healthy(const mon_instance *in, int64_t now);

/* Writes supervise.json (and publisher.pid). */
void mon_inst_persist(mon_monitor *m, mon_instance *in);

/* Deletes the instance's record files (keeps output.log). */
void mon_inst_remove_files(mon_instance *in);

#endif

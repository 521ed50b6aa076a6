/* mon_rundir.h -- the monitor's run directory: lock, per-instance records, process identity.
 *
 * Layout (docs/MONITOR.md, "Run directory"):
 *   RUN_DIR/monitor.lock               flock'ed by the running monitor; holds its pid
 *   RUN_DIR/monitor.sock               control socket (status, rolling-restart, reload)
 *   RUN_DIR/instances/NAME/            one directory per instance
 *       supervise.json                 the monitor's record: pid, start time, argv, restarts, exits
 *       publisher.pid                  the pid alone, for people and scripts
 *       config.json                    the publisher's config for the current run
 *       status.json                    written by the publisher (heartbeats)
 *       output.log                     the publisher's stdout and stderr
 * The record is what lets a restarted monitor adopt a running publisher.
 * Directories are created 0700 (RUN_DIR itself 0710 with a control group)
 * and files 0600: they hold publisher configs and output (docs/SECURITY.md). */
#ifndef MON_RUNDIR_H
#define MON_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "wormhole/error.h"

#include "monitor/mon_exit.h"

/* Who may use the control socket: root, the monitor's own effective user,
 * and, when has_group, a peer whose primary group is group or who is a
 * member of it (looked up with getgrouplist). */
bool mon_peer_allowed(uid_t peer_uid, gid_t peer_gid, uid_t self, bool has_group, gid_t group);

/* Resolves a group name (or a decimal gid) into *gid. WH_ERR_NOT_FOUND with
 * a sentence in errbuf if there is no such group. */
int mon_group_resolve(const char *name, gid_t *gid, char *errbuf, size_t errlen);

/* Returns the first key named "password" with a non-empty string value
 * anywhere in doc (objects and arrays, any depth), or NULL. The monitor
 * refuses such publisher configs: they would be copied into the run
 * directory; secrets go in password_file or password_env. */
const char *mon_find_inline_secret(const json_t *doc);

/* Creates RUN_DIR and RUN_DIR/instances if needed and takes the lock
 * without waiting. *lockfd receives the open lock file (close-on-exec;
 * keep it open for the monitor's lifetime). If another monitor holds the
 * lock, returns WH_ERR_INVALID with "another monitor (pid N) runs on ...". */
int mon_rundir_lock(const char *run_dir, int *lockfd, char *errbuf, size_t errlen);

/* mkdir -p with mode 0750 for each created level. */
int mon_mkdirs(const char *path, char *errbuf, size_t errlen);


/* Process identity: the start time (clock ticks since boot, field 22 of
 * /proc/PID/stat) and state letter. Returns WH_OK, or WH_ERR_NOT_FOUND if
 * the process does not exist. */
int mon_proc_stat(pid_t pid, unsigned long long *starttime, char *state);

/* Does /proc/PID/cmdline equal argv (an array of strings)? */
bool mon_proc_cmdline_is(pid_t pid, const json_t *argv);

/* Reads /proc/PID/cmdline as a JSON array of strings (new reference), or NULL. */
json_t *mon_proc_cmdline(pid_t pid);

/* Calls fn for every live process (not a zombie) whose initial environment
 * has a variable starting with prefix (e.g. "WORMHOLE_RUN_DIR=/run/x/"),
 * with the rest of that entry. O(processes); used once at startup. */
void mon_proc_scan_env(const char *prefix, void (*fn)(void *ctx, pid_t pid, const char *rest),
                       void *ctx);

/* The kernel's boot id (36 characters + NUL), or "" if unavailable. */
void mon_boot_id(char out[40]);

/* What the monitor remembers about one instance across its own restarts. */
typedef struct mon_record {
    pid_t    pid;                 /* 0 = no process */
    unsigned long long starttime;
    char     boot_id[40];
    json_t  *argv;                /* array of strings (owned) */
    char    *launch;              /* mon_spec.launch of the run (owned) */
    int64_t  started_ms;          /* wall clock */
    uint64_t restarts;
    uint64_t log_offset;
    unsigned nexits;              /* exits[0] is the newest */
    mon_exit exits[MON_EXITS_KEPT];
} mon_record;

void mon_record_clear(mon_record *r);
int mon_record_save(const char *path, const mon_record *r, char *errbuf, size_t errlen);
/* Loads path; WH_ERR_NOT_FOUND if absent, WH_ERR_CORRUPT if unreadable. */
int mon_record_load(const char *path, mon_record *r, char *errbuf, size_t errlen);

/* Is the process in r still the one the record describes (same boot,
 * start time and command line, not a zombie)? */
bool mon_record_alive(const mon_record *r);

#endif

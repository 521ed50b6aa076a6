/* mon.h -- the monitor's shared state: the monitor, its instances and the event-loop tags.
 *
 * Everything here is owned and used by the monitor's single thread. */
#ifndef MON_H
#define MON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "monitor/mon_config.h"
#include "monitor/mon_exit.h"
#include "monitor/mon_health.h"
#include "monitor/mon_logtail.h"
#include "monitor/mon_policy.h"

/* What an epoll event belongs to; the first member of every watched object. */
typedef enum mon_kind {
    MON_K_SIGNAL = 1,
    MON_K_INOTIFY,
    MON_K_LISTEN,
    MON_K_CLIENT,
    MON_K_PIDFD,
} mon_kind;

typedef enum mon_state {
    MON_IDLE,        /* no process and none scheduled (disabled, invalid, stopped by policy) */
    MON_STARTING,    /* process runs, no "running" heartbeat yet */
    MON_RUNNING,     /* process runs and is healthy */
    MON_STOPPING,    /* SIGTERM sent (SIGKILL after stop_timeout_ms) */
    MON_BACKOFF,     /* waiting to restart */
    MON_FAILED,      /* crash loop: waiting to retry slowly */
} mon_state;

/* What happens when a process the monitor is stopping has exited. */
typedef enum mon_after {
    MON_AFTER_POLICY,   /* not a requested stop: ask the restart policy */
    MON_AFTER_RESTART,  /* start again at once (config change, rolling restart) */
    MON_AFTER_IDLE,     /* stay stopped (disabled, shutdown) */
    MON_AFTER_FORGET,   /* the instance file is gone: drop the instance */
} mon_after;

typedef struct mon_instance {
    mon_kind kind;                   /* MON_K_PIDFD: epoll tag for pidfd */
    char     name[MON_NAME_MAX + 1];
    char    *config_path;            /* CONFIG_DIR/NAME.json */
    char    *dir;                    /* RUN_DIR/instances/NAME */
    char    *status_path, *log_path, *config_out, *record_path, *pidfile_path;

    /* the instance file */
    bool     file_present;           /* seen by the latest scan */
    int64_t  missing_since;          /* monotonic ms the file was first found missing, or 0 */
    bool     file_id_valid;
    uint64_t file_dev, file_ino, file_size;
    struct timespec file_mtim, file_ctim;
    mon_spec *spec;                  /* last good config (owned), NULL if none yet */
    char    *config_error;           /* why the current file is not used (owned), or NULL */

    /* the process */
    mon_state state;
    pid_t    pid;                    /* 0 = none */
    int      pidfd;                  /* adopted processes only, else -1 */
    bool     adopted;                /* not our child: exit status unknown */
    unsigned long long starttime;
    json_t  *argv;                   /* argv of the current run (owned) */
    char    *launch;                 /* spec->launch of the current run (owned) */
    int64_t  started_mono, started_ms;
    int64_t  restart_at;             /* BACKOFF/FAILED: monotonic ms of the next start */
    mon_after after;                 /* STOPPING: what follows the exit */
    char     stop_reason[64];        /* STOPPING: why */
    bool     stuck;                  /* STOPPING: killed for missing heartbeats */
    int64_t  stop_sent_mono;
    bool     killed;                 /* SIGKILL sent */
    int      inotify_wd;             /* watch on dir, or -1 */

    mon_health  health;
    mon_logtail log;
    bool        log_offset_dirty;
    bool        output_pending, status_pending;  /* inotify said so; handled once per batch */

    /* history */
    uint64_t     restarts;           /* automatic restarts since the instance appeared */
    mon_runstate rs;
    unsigned     nexits;
    mon_exit     exits[MON_EXITS_KEPT];   /* exits[0] is the newest */
    bool         forget;             /* to be dropped at the end of this loop round */
} mon_instance;

typedef struct mon_client mon_client;
struct mon_http;

typedef struct mon_monitor {
    char    *config_dir;
    char    *run_dir;
    char    *default_command;        /* resolved wormhole-publisher, or NULL */
    int64_t  rescan_ms;
    int64_t  started_ms, started_mono;
    bool     has_group;              /* --control-group given */
    gid_t    control_gid;

    int      epfd, lockfd;
    struct { mon_kind kind; int fd; } sig, ino, listener;
    int      config_wd;
    bool     config_dir_ok;          /* last scan could read the directory */

    mon_instance **inst;
    size_t   ninst, capinst;

    struct mon_http *http;           /* the /metrics endpoint (mon_http.h), NULL when off */
    int64_t  metrics_at;             /* monotonic ms of the last rendering it serves */
    mon_client *clients;             /* linked list */
    unsigned    nclients;
    int64_t     refused_logged_ms;   /* when a control-socket refusal was last logged */
    uint64_t    refused_unlogged;    /* refusals since then, logged with the next line */

    bool     loading;                /* startup: specs are stored, nothing is started */
    bool     rescan_pending;
    int64_t  rescan_at;
    bool     reload_all;             /* next scan rereads every file (SIGHUP) */
    json_t  *bad_names;              /* file names already reported as unusable */
    int64_t  next_rescan;
    int64_t  next_persist;
    bool     shutting_down;
    int64_t  shutdown_deadline;
    bool     detach;                 /* exit leaving the publishers running */
    bool     quit;

    struct {                         /* rolling restart */
        bool     active;
        char   **names;
        size_t   n, i;
        bool     waiting;            /* current instance restarted, waiting for health */
        pid_t    old_pid;
        int64_t  deadline;
        uint64_t generation;
        char     result[256];
    } roll;
} mon_monitor;

/* Name of a state for status output: "idle" is shown as "disabled",
 * "stopped" or "invalid" depending on the instance. */
const char *mon_state_name(const mon_instance *in);

#endif

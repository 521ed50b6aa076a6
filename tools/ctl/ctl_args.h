/* ctl_args.h -- wormhole-ctl's command line: parsed and checked without touching ZooKeeper.
 *
 * Kept apart from the commands so the unit test check_ctl_args can run every
 * usage rule. Threads: reentrant. */
#ifndef WH_CTL_ARGS_H
#define WH_CTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"

typedef enum ctl_cmd {
    CTL_NONE = 0,
    CTL_HELP,
    CTL_APPS,      /* apps */
    CTL_APP,       /* app APP */
    CTL_RESET,     /* reset APP SHARD --to-position P | --to-logical L | --to-oldest */
    CTL_REMOVE,    /* remove APP */
    CTL_GC,        /* gc --older-than SECONDS */
    CTL_POLICY,    /* policy APP --on-purged stop|oldest */
    CTL_MOVE,      /* move SHARD [--to PUBLISHER] */
    CTL_INIT,      /* init [--publisher-id ID] */
    CTL_ADD_APP,   /* add-app APP [--app-id ID] [--publisher-id ID] */
    CTL_BOOTSTRAP, /* bootstrap APP --tables db.t1,db.t2 [--id ID] */
} ctl_cmd;

typedef enum ctl_reset_to {
    CTL_TO_NONE = 0,
    CTL_TO_POSITION,
    CTL_TO_LOGICAL,
    CTL_TO_OLDEST,
} ctl_reset_to;

/* Exit codes (wormhole-ctl --help, docs/RUNBOOK.md). */
enum {
    CTL_EXIT_OK      = 0,   /* done */
    CTL_EXIT_ERROR   = 1,   /* ZooKeeper unreachable, a node unreadable, no such app */
    CTL_EXIT_USAGE   = 2,   /* bad command line */
    CTL_EXIT_REFUSED = 3,   /* refused for safety (live publisher or instances; see --force) */
};

typedef struct ctl_args {
    ctl_cmd      cmd;
    const char  *zk;          /* "HOST:PORT[,...]/ROOT" */
    bool         json;
    bool         force;
    const char  *app, *shard;
    ctl_reset_to to;
    const char  *to_text;     /* the position text of --to-position / --to-logical */
    const char  *on_purged;   /* policy: "stop" or "oldest" */
    const char  *move_to;     /* move --to: the candidate to take the shard; NULL the best */
    const char  *tables;      /* bootstrap: "db.t1,db.t2" */
    const char  *boot_id;     /* bootstrap: the request's id (NULL: the time in ms) */
    int64_t      older_than_s;
    int64_t      timeout_ms;  /* connecting to ZooKeeper */
    const char  *zk_user;     /* ZooKeeper identity (docs/ZOOKEEPER.md), NULL none */
    const char  *zk_secret_file;
    const char  *publisher_id;/* init, add-app: the publishers' digest id "USER:HASH" */
    const char  *app_id;      /* add-app: the app's digest id */
} ctl_args;

/* Parses argv (options may come before or after the command's words).
 * Returns WH_OK, or WH_ERR_USAGE-like failure WH_ERR_CONFIG with the reason
 * in errbuf. "--help" gives cmd CTL_HELP. Strings borrow argv. */
int ctl_args_parse(ctl_args *a, int argc, char **argv, char *errbuf, size_t errlen);

#endif

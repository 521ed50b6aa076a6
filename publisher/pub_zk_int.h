/* pub_zk_int.h -- the ZooKeeper agent's state, shared by its two files: pub_zk.c (session, positions, assignment) and pub_zk_role.c (the shard's roles).
 *
 * Private to the agent: nothing else includes it. Every function here runs
 * on the agent thread, except the pub_zk.h API that reads the atomics. */
#ifndef WH_PUB_ZK_INT_H
#define WH_PUB_ZK_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/zk_acl.h"
#include "protocol/zk_client.h"
#include "protocol/zk_layout.h"
#include "publisher/pub.h"
#include "publisher/pub_health.h"
#include "publisher/pub_lease.h"

typedef struct pub_takeover pub_takeover;

typedef struct zk_pos {
    char    *app;
    wh_pos   pos;          /* newest acknowledged (from the loop) */
    int64_t  event_ms;     /* the log's event time at pos (ms since the epoch; 0 unknown) */
    uint64_t gen;          /* bumped on each change */
    uint64_t written_gen;  /* gen last written to ZooKeeper */
    int      version;      /* znode version for conditional writes; -2 = unknown */
    bool     known;        /* pos holds the stored or acknowledged position */
    bool     start;        /* pos is a new app's start, not yet delivered (pub_zk_note_start) */
    /* The flow FAILED (pub_zk_note_failed): its failure node is written and
     * the position node watched; a new position there revives it. */
    bool     failed;
    bool     failure_written;
    uint64_t reset_gen;    /* bumped when a failed flow's position was reset */
    zku_failure *failure;  /* malloc'd; valid while failed */
    bool     failure_delete; /* revived otherwise than by a reset (pub_zk_note_revived),
                                or acknowledging again: delete the failure node */
    bool     acked;          /* the flow acknowledged something in this run */
    char    *boot;         /* newest acknowledged bootstrap progress (node data), or NULL */
    uint64_t boot_gen, boot_written_gen;  /* tickets (pub_zk_note_boot) made and written */
    int      boot_failed_rc;  /* the ZooKeeper error of the last failed progress write, 0 */
} zk_pos;

struct pub_zk {
    publisher *pub;
    pthread_t  thread;
    bool       started;
    pthread_mutex_t mu;
    pthread_cond_t  cond;
    bool       stop;
    bool       dirty;        /* a watch fired: re-read apps and instances */
    atomic_bool reading;     /* the agent is reading the assignment (pub_zk_assign_settling) */
    bool       urgent;       /* a start waits for its write: flush now */
    bool       boot_urgent;  /* a bootstrap's next chunk waits for its progress: write it now */
    atomic_bool boot_news;   /* progress was written: the loop looks (pub_zk_take_boot_written) */
    bool       expired;
    bool       vacated;      /* the lease node's deletion was notified (since the last round) */
    bool       cands_event;  /* the candidates' folder changed (since the last round) */
    bool       other_event;  /* another notification than those */
    zhandle_t *zh;
    _Atomic uint64_t epoch;  /* written by the agent, read by the loop (pub_zk_epoch) */
    char       id[ZKU_ID_MAX + 1];
    /* the shard's paths (protocol/zk_layout.h), built once in pub_zk_new */
    char       reg_path[ZKU_PATH_MAX];
    char       epoch_path[ZKU_PATH_MAX];
    char       publishers_path[ZKU_PATH_MAX];
    char       apps_path[ZKU_PATH_MAX];
    int64_t    reg_session;

    /* assignment handed to the loop (under mu) */
    uint64_t   gen;
    pub_assign *assign;
    int        nassign;

    zk_pos    *pos;           /* under mu */
    int        npos, cappos;
    char       fatal[1024];   /* under mu */
    bool       has_fatal;
    atomic_bool connected;
    /* ZooKeeper identity (zookeeper.user; off: every node open) and the ids
     * this publisher's nodes get in their ACLs (protocol/zk_acl.h). */
    zku_auth    auth;
    zku_acl_ids ids;
    bool        auth_added;      /* zk thread: the credential is queued on the current handle */
    bool        auth_answered;   /* under mu: the server answered the current handle's auth */

    /* roles (pub_lease.c, docs/FAILOVER.md) */
    pub_lease  *lease;
    pub_health *health;
    atomic_bool registered;    /* our candidate node exists (written by this thread) */
    atomic_bool active;        /* we hold the lease (written by this thread) */
    atomic_int  handover;      /* 0; 1: the loop is asked to stop delivering; 2: it did */
    atomic_bool move_asked;    /* SIGUSR1: hand the shard over */
    atomic_bool lease_lost;    /* the lease is gone or not ours: the session expired, or a
                                * ping found it so; the loop must stop delivering */
    atomic_bool fenced;        /* the loop stopped delivering (pub_zk_fenced) while active */
    atomic_llong last_ok;      /* mono ms at which a ping that succeeded was sent */
    atomic_llong fence_ms;     /* no successful ping for this long: fence (0: not yet known) */
    int64_t     last_ping, last_step;
    pub_takeover *takeover;    /* prepared while standby and next in line */
};

/* ---- pub_zk.c, for pub_zk_role.c --------------------------------------------------------------- */

/* The agent's watcher: marks the agent dirty (a watched node changed). */
void pub_zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
/* Takes the shard with a new epoch, claiming the position nodes first. */
int  pub_zk_bump_epoch(pub_zk *z);
/* Creates the ephemeral publisher node with our epoch. */
int  pub_zk_create_registration(pub_zk *z);
/* Writes every changed position; returns how many are still pending. */
int  pub_zk_flush_positions(pub_zk *z);
/* Rebuilds the assignment from ZooKeeper and hands it to the loop. */
int  pub_zk_read_assignment(pub_zk *z);

/* ---- pub_zk.c, for pub_takeover.c ---------------------------------------------------------------- */

/* The assignment as ZooKeeper has it, without positions (a standby's
 * takeover claims them), watched; *out is malloc'd (pub_assign_free). */
int   pub_zk_build_assignment(pub_zk *z, pub_assign **out, int *n);
/* Reads a's bootstrap request and this shard's progress on it again, when a
 * has a request (a takeover prepared while standby: the progress node is not
 * watched and moved on meanwhile). Agent thread. */
void  pub_zk_refresh_boot(pub_zk *z, pub_assign *a);
/* Hands the loop the assignment as, n (taken). */
void  pub_zk_publish_assignment(pub_zk *z, pub_assign *as, int n);
/* app's position node path; ZBADARGUMENTS when the app's paths do not fit. */
int   pub_zk_pos_path(pub_zk *z, const char *app, char *buf, size_t len);
/* A position node's data parsed and localized (pos_from_node in pub_zk.c). */
int   pub_zk_pos_from_node(pub_zk *z, const char *data, size_t len, wh_pos *out, bool *start,
                           uint64_t *epoch, int64_t *event_ms, char *errbuf, size_t errlen);
/* A position node's data for p with our copy and epoch, and event_ms (the
 * log's event time at p, 0 unknown; never with start) (malloc'd), or NULL. */
char *pub_zk_pos_to_node(pub_zk *z, const wh_pos *p, bool start, uint64_t epoch,
                         int64_t event_ms);
/* Our publisher node's data with epoch (malloc'd), or NULL. */
char *pub_zk_registration_data(pub_zk *z, uint64_t epoch);
/* Records app's position as claimed (written) at the node's version. */
void  pub_zk_note_claim(pub_zk *z, const char *app, const wh_pos *pos, bool start, int version);

/* ---- pub_takeover.c: a takeover prepared while standby ------------------------------------------- */

pub_takeover *pub_takeover_new(void);
void pub_takeover_free(pub_takeover *t);
/* Forgets what was read (e.g. we are no longer next in line). */
void pub_takeover_forget(pub_takeover *t);
/* While standby and next in line (pub_lease_next): reads the shard's epoch,
 * the apps' position nodes (their versions) and whether our publisher node
 * exists, at most every 250 ms; and the assignment (watched) when reread or
 * not read yet. Reads only. Returns ZOK or the ZooKeeper error (then
 * nothing prepared is used). */
int  pub_takeover_prepare(pub_takeover *t, pub_zk *z, bool reread);
/* Takes the shard in one multi from what was prepared: the lease node, every
 * app's position claimed with the new epoch (each conditional on the version
 * read), the epoch node (conditional), our publisher node, and the move node
 * deleted when moving; then hands the loop the prepared assignment with the
 * claimed positions. ZOK: we are active with z->epoch; ZNODEEXISTS: another
 * candidate holds the lease; any other code: nothing was changed (not
 * prepared, or something moved since it was read): take the slow way. */
int  pub_takeover_commit(pub_takeover *t, pub_zk *z, bool moving);

/* ---- pub_zk_role.c, for the agent's thread in pub_zk.c ----------------------------------------- */

/* Creates the shard's parents and our candidate node with our health. */
int  pub_zk_register_candidate(pub_zk *z);
/* One round of the election: decides and acts (takes, hands over, asks);
 * a standby next in line prepares its takeover (dirty: a watch fired). */
int  pub_zk_lease_step(pub_zk *z, bool dirty);
/* While active: pings the lease asynchronously for the fencing bound. */
void pub_zk_lease_ping(pub_zk *z);
/* The loop fenced itself: resume (the lease is still ours) or drop it. */
void pub_zk_resolve_fence(pub_zk *z, bool up);
/* The loop stopped delivering for a hand-over: write positions, release. */
void pub_zk_finish_handover(pub_zk *z);
/* pub_health's callback: our health changed, decide again. */
void pub_zk_health_changed(void *ctx);

#endif

/* pub_lease.h -- a shard's election: candidate nodes, the lease, hand-overs (docs/FAILOVER.md).
 *
 * Every publisher started for a shard is a candidate: it keeps an ephemeral
 * node under shards/SHARD/candidates with its priority and health. The
 * active one holds the ephemeral lease node; the others are standby. The
 * rule that picks the holder (pub_lease_decide) is pure, so it is unit
 * tested; the ZooKeeper side (pub_lease_*) runs on the publisher's
 * ZooKeeper agent thread only (pub_zk.c), which fences with the epoch
 * (docs/ZOOKEEPER.md). */
#ifndef WH_PUB_LEASE_H
#define WH_PUB_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/zk_acl.h"
#include "protocol/zk_client.h"
#include "protocol/zk_layout.h"

#include "publisher/pub.h"

/* ---- the rule (pure) ---------------------------------------------------------------------- */

/* One registered candidate as read from its node. */
typedef struct pub_lease_cand {
    const char *id;
    int64_t     priority;
    bool        healthy;
    bool        starting;         /* its first health check has not ended (not healthy yet) */
} pub_lease_cand;

/* What one candidate knows when it decides. */
typedef struct pub_lease_view {
    const char *self;
    int64_t     self_priority;
    bool        self_healthy;
    int64_t     self_since;       /* ZooKeeper mtime of our node: when we last became healthy */
    bool        active;           /* we hold the lease */
    bool        held;             /* the lease node exists */
    const char *holder;           /* its holder's id (when held) */
    int64_t     holder_priority;
    bool        holder_restarted; /* the holder's id is registered by another session than
                                   * the lease's (it restarted): it stays when the lease goes */
    int64_t     lease_ctime;      /* ZooKeeper ctime of the lease node */
    const pub_lease_cand *cands;  /* every registered candidate, ourselves included */
    int         ncands;
    bool        move;             /* a move request is pending */
    const char *move_from;        /* "" any holder */
    const char *move_to;          /* "" the best other candidate */
    bool        failback;         /* lease.failback */
    int64_t     vacant_ms;        /* how long we have seen the lease vacant */
    int64_t     grace_ms;         /* lease.grace_ms */
    bool        holdoff;          /* we handed the lease over less than grace_ms ago */
    /* Our first round since we took the lease in an election (not a move), and
     * the candidates the round that decided it saw: a better healthy candidate
     * not among them registered between that read and the lease's creation. */
    bool        fresh_take;
    char *const *elected_on;
    int         nelected;
} pub_lease_view;

typedef enum pub_lease_action {
    PUB_LEASE_NONE = 0,
    PUB_LEASE_TAKE,           /* create the lease node, then bump the epoch */
    PUB_LEASE_HAND_OVER,      /* stop delivering, write positions, delete the lease */
    PUB_LEASE_ASK_FAILBACK,   /* write a move request to ourselves */
    PUB_LEASE_DROP_MOVE,      /* the pending move cannot be done: delete its node */
} pub_lease_action;

/* Index of the candidate that should hold the lease: the healthy one with
 * the highest priority, ties to the smaller id, never exclude (may be
 * NULL); -1 when none is healthy. */
int pub_lease_best(const pub_lease_cand *c, int n, const char *exclude);

/* Index of a starting candidate (first health check not ended) that would be
 * better than self if it turned out healthy, never exclude (may be NULL); -1
 * when none. A best candidate waits for it before taking a vacant lease. */
int pub_lease_better_starting(const pub_lease_view *v, const char *exclude);

/* Index of the better healthy candidate our fresh election missed (see
 * fresh_take): the new active hands the shard over to it; -1 none. */
int pub_lease_missed(const pub_lease_view *v);

/* The rule of docs/FAILOVER.md "Election":
 *  - the active hands over when it is unhealthy, or when a move request is
 *    addressed to it (or to any holder) and names a healthy candidate other
 *    than itself (or, without a name, one exists); an impossible request is
 *    dropped;
 *  - a healthy standby takes a vacant lease at once when it is the best
 *    candidate (the move's target first, the mover excluded) and no better
 *    candidate is still starting (pub_lease_better_starting), and after
 *    grace_ms of vacancy in any case (the best may be stuck);
 *  - a healthy standby asks for failback when failback is on, it is the best
 *    candidate, its priority is above the holder's, and it became healthy
 *    after the lease was taken (so a planned move away from it sticks). */
pub_lease_action pub_lease_decide(const pub_lease_view *v);

/* True when we are a healthy standby that would take the lease at once if
 * it fell vacant now: the best healthy candidate with the holder left out
 * (unless it restarted: its new candidate node stays). Such a standby
 * prepares its takeover (pub_takeover.c). */
bool pub_lease_next(const pub_lease_view *v);

/* The action's name for logs. */
const char *pub_lease_action_name(pub_lease_action a);

/* ---- the ZooKeeper side (the agent thread) ------------------------------------------------- */

typedef struct pub_lease pub_lease;

/* Builds the shard's role paths for candidate id; our nodes get the ACL of their kind for
 * ids (protocol/zk_acl.h). id and ids are borrowed and outlive l.
 * WH_ERR_CONFIG when they do not fit. */
int  pub_lease_new(const pub_config *cfg, const char *id, const zku_acl_ids *ids,
                    pub_lease **out, char *errbuf, size_t errlen);
void pub_lease_free(pub_lease *l);

/* Our health as the candidate node shows it. */
typedef struct pub_lease_health {
    bool        healthy;
    bool        starting;     /* the first check has not ended (then not healthy) */
    const char *why;          /* why not healthy */
} pub_lease_health;

/* Creates our candidate node (again, after a new session) with our health. */
int  pub_lease_register(pub_lease *l, zhandle_t *zh, const pub_lease_health *h);

/* What one round of the election saw and decided. */
typedef struct pub_lease_seen {
    pub_lease_action act;
    char holder[ZKU_ID_MAX + 1];  /* the lease holder; "" when vacant */
    bool moving;                  /* a move request is pending */
    bool next;                    /* pub_lease_next: we would take a vacant lease at once */
    bool missed;                  /* hand over: our election missed a better candidate */
} pub_lease_seen;

/* Rewrites our candidate node when our health changed, reads the
 * candidates, the lease and a move request (watching each with w, ctx) and
 * decides into *seen. Returns ZOK or the ZooKeeper error. */
int  pub_lease_step(pub_lease *l, zhandle_t *zh, watcher_fn w, void *ctx, bool active,
                    const pub_lease_health *h, pub_lease_seen *seen);

/* Creates the lease node for us: ZOK (we hold it), ZNODEEXISTS (another
 * does) or the error. moved: by a move request (pub_lease_took). */
int  pub_lease_acquire(pub_lease *l, zhandle_t *zh, bool moved);
/* The lease node's data for us (malloc'd; NULL on failure, logged), for a
 * takeover that creates it in a multi (pub_takeover.c); pub_lease_took
 * when that multi succeeded. */
char *pub_lease_data(pub_lease *l);
/* moved: the lease came by a move request (not an election). */
void  pub_lease_took(pub_lease *l, bool moved);
/* Deletes the lease node if it is ours and starts the hold-off. */
int  pub_lease_release(pub_lease *l, zhandle_t *zh);
/* Writes a move request from the current holder (from, "" any) to to ("" the
 * best other candidate); by says who asks. ZNODEEXISTS: one is pending. */
int  pub_lease_ask_move(pub_lease *l, zhandle_t *zh, const char *from, const char *to,
                        const char *by);
/* Deletes a pending move request (the new active, or one that cannot be done). */
int  pub_lease_clear_move(pub_lease *l, zhandle_t *zh);
/* The same without waiting for the answer (a new active whose takeover did not
 * see one: a request made meanwhile is stale). */
void pub_lease_clear_move_async(pub_lease *l, zhandle_t *zh);
/* The lease node's path (for the agent's ping and watcher). Any thread. */
const char *pub_lease_path(const pub_lease *l);
/* The candidates' folder (for the agent's watcher). Any thread. */
const char *pub_lease_cands_path(const pub_lease *l);

/* The quick round, when the only news since the last round is that the
 * lease node was deleted (vacated) or that the candidates changed: true when
 * the last round found us next in line (pub_lease_next), with no move
 * pending, no hold-off and no better candidate starting, we are healthy, the
 * candidates only left since (one read, re-arming their watch) and the lease
 * is vacant (vacated, or one more read, re-arming its watch): then we take the
 * lease without the round's other reads. False: run a round. */
bool pub_lease_quick_take(pub_lease *l, zhandle_t *zh, watcher_fn w, void *ctx, bool healthy,
                          bool vacated);

#endif

/* pub_zk_role.c -- the ZooKeeper agent's side of a shard's roles: candidacy, taking and handing over the lease, fencing (docs/FAILOVER.md).
 *
 * The rule and the role nodes are pub_lease.c's; this file drives them from
 * the agent thread (pub_zk.c) with the agent's epoch, positions and
 * assignment, and answers the loop's questions (pub.h, "Roles"). */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "publisher/pub_zk_int.h"

/* Creates the shard's parents and our candidate node with our health. */
int pub_zk_register_candidate(pub_zk *z)
{
    const char *root = z->pub->cfg.zk_root;
    int rc = zku_create_parents(z->zh, root, z->publishers_path, true, &z->ids);
    if (rc == ZOK)
        rc = zku_create_parents(z->zh, root, z->apps_path, true, &z->ids);
    if (rc != ZOK)
        return rc;
    char why[512];
    bool ok = pub_health_ok(z->health, why, sizeof why);
    pub_lease_health h = { ok, !pub_health_checked(z->health), why };
    rc = pub_lease_register(z->lease, z->zh, &h);
    if (rc == ZOK)
        atomic_store(&z->registered, true);
    return rc;
}

/* Forgets what we knew of positions (another active wrote them meanwhile)
 * and hands the loop an empty assignment. Caller holds mu. */
static void forget_locked(pub_zk *z, bool empty_assignment)
{
    for (int i = 0; i < z->npos; i++) {
        z->pos[i].known = false;
        z->pos[i].version = -2;
        z->pos[i].written_gen = z->pos[i].gen;
    }
    if (empty_assignment) {
        pub_assign_free(z->assign, z->nassign);
        z->assign = NULL;
        z->nassign = 0;
        z->gen++;
    }
}

/* We hold the lease, the epoch and the publisher node (the round that
 * decided so began at t0). */
static void activated(pub_zk *z, int64_t t0, const char *how)
{
    z->reg_session = zoo_client_id(z->zh)->client_id;
    atomic_store(&z->last_ok, t0);
    atomic_store(&z->lease_lost, false);
    atomic_store(&z->active, true);
    pthread_mutex_lock(&z->mu);
    z->dirty = true;
    pthread_mutex_unlock(&z->mu);
    wh_info(WH_AREA_ZK, "active: took the lease of shard %s; registered %s with epoch %" PRIu64
            " (%s, %lld ms)", z->pub->cfg.shard, z->reg_path, z->epoch, how,
            (long long)(wh_mono_ms() - t0));
}

/* Takes the lease, the epoch (claiming the positions first) and the
 * publisher node: in one multi from what was prepared while standby
 * (pub_takeover.c), which also hands the loop the assignment, or from what
 * it reads now when that fails; else the slow way, step by step, the
 * assignment following. A failure gives the lease back. */
static int become_active(pub_zk *z, bool moving)
{
    int64_t t0 = z->last_step;   /* the round that decided: its reads count */
    pthread_mutex_lock(&z->mu);
    forget_locked(z, false);
    pthread_mutex_unlock(&z->mu);
    int rc = pub_takeover_commit(z->takeover, z, moving);
    if (rc != ZOK && rc != ZNODEEXISTS && !z->has_fatal &&
        pub_takeover_prepare(z->takeover, z, false) == ZOK) {
        /* Not prepared, or something moved since (a planned move: the old
         * publisher wrote its positions last): read again, one more multi. */
        rc = pub_takeover_commit(z->takeover, z, moving);
    }
    if (rc == ZNODEEXISTS)
        return ZOK;   /* another candidate won: its lease watch makes us decide again */
    if (rc == ZOK) {
        if (!moving)
            pub_lease_clear_move_async(z->lease, z->zh);
        activated(z, t0, "one multi");
        return ZOK;
    }
    rc = pub_lease_acquire(z->lease, z->zh, moving);
    if (rc == ZNODEEXISTS)
        return ZOK;
    if (rc != ZOK)
        return rc;
    rc = pub_zk_bump_epoch(z);
    if (rc == ZOK && !z->has_fatal)
        rc = pub_zk_create_registration(z);
    if (rc != ZOK || z->has_fatal) {
        pub_lease_release(z->lease, z->zh);
        return rc;
    }
    pub_lease_clear_move(z->lease, z->zh);
    activated(z, t0, "step by step");
    /* The assignment at once (the epoch is ours: no check needed), so that the
     * takeover does not wait for another round of the election. */
    pthread_mutex_lock(&z->mu);
    z->dirty = false;
    pthread_mutex_unlock(&z->mu);
    rc = pub_zk_read_assignment(z);
    if (rc != ZOK) {
        pthread_mutex_lock(&z->mu);
        z->dirty = true;
        pthread_mutex_unlock(&z->mu);
    }
    return rc;
}

/* The loop stopped delivering (handover 2): writes the positions it had
 * acknowledged, deletes the publisher node and the lease, and is standby. */
void pub_zk_finish_handover(pub_zk *z)
{
    int64_t deadline = wh_mono_ms() + 5000;
    int pending;
    while ((pending = pub_zk_flush_positions(z)) > 0 && wh_mono_ms() < deadline && !z->has_fatal) {
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
    }
    if (pending > 0)
        wh_warn(WH_AREA_ZK, "handing shard %s over with %d positions not written: the next "
                "active publisher redelivers from older ones", z->pub->cfg.shard, pending);
    zoo_delete(z->zh, z->reg_path, -1);
    int rc = pub_lease_release(z->lease, z->zh);
    atomic_store(&z->active, false);
    pthread_mutex_lock(&z->mu);
    forget_locked(z, true);
    z->dirty = true;
    pthread_mutex_unlock(&z->mu);
    atomic_store(&z->handover, 0);
    pub_wake(z->pub);
    if (rc != ZOK)
        wh_warn(WH_AREA_ZK, "deleting the lease of shard %s: %s (it goes with our session)",
                z->pub->cfg.shard, zerror(rc));
    wh_info(WH_AREA_ZK, "standby: handed the lease of shard %s over (epoch %" PRIu64 ")",
            z->pub->cfg.shard, z->epoch);
}

/* The answer to a ping: the lease is still ours, or lost. */
typedef struct ping { pub_zk *z; int64_t sent; int64_t session; } ping;

static void ping_done(int rc, const struct Stat *st, const void *data)
{
    ping *pg = (ping *)data;
    if (rc == ZOK && st && st->ephemeralOwner == pg->session) {
        if (pg->sent > atomic_load(&pg->z->last_ok))
            atomic_store(&pg->z->last_ok, pg->sent);
    } else if (rc == ZNONODE || rc == ZOK) {
        atomic_store(&pg->z->lease_lost, true);
        pub_wake(pg->z->pub);
    }
    free(pg);
}

/* While active, asks ZooKeeper about the lease every sixth of the session
 * timeout, asynchronously: the loop fences itself when no answer came for
 * two thirds of it (pub_zk_fence_due), before the session can expire. */
void pub_zk_lease_ping(pub_zk *z)
{
    int64_t t = zoo_recv_timeout(z->zh), now = wh_mono_ms();
    if (t > 0)
        atomic_store(&z->fence_ms, t * 2 / 3);
    if (!atomic_load(&z->active) || now - z->last_ping < t / 6)
        return;
    ping *pg = malloc(sizeof *pg);
    if (!pg)
        return;
    *pg = (ping){ z, now, zoo_client_id(z->zh)->client_id };
    if (zoo_aexists(z->zh, pub_lease_path(z->lease), 0, ping_done, pg) != ZOK)
        free(pg);
    else
        z->last_ping = now;
}

/* Stops being active (the loop has closed its flows): forgets the
 * positions and hands the loop an empty assignment. */
static void drop_lease(pub_zk *z, const char *why)
{
    atomic_store(&z->active, false);
    pthread_mutex_lock(&z->mu);
    forget_locked(z, true);
    z->dirty = true;
    pthread_mutex_unlock(&z->mu);
    atomic_store(&z->handover, 0);
    atomic_store(&z->lease_lost, false);
    atomic_store(&z->fenced, false);
    pub_wake(z->pub);
    wh_warn(WH_AREA_ZK, "standby: lost the lease of shard %s (epoch %" PRIu64 "): %s",
            z->pub->cfg.shard, z->epoch, why);
}

/* The loop fenced itself (ZooKeeper was silent, or the lease was lost): once
 * ZooKeeper answers, either the lease is still ours in the same session (we
 * resume: the flows start again from their acknowledged positions) or it is
 * not (we are standby and the election runs again). */
void pub_zk_resolve_fence(pub_zk *z, bool up)
{
    if (atomic_load(&z->lease_lost)) {
        drop_lease(z, "our session expired or the lease node is no longer ours");
        return;
    }
    if (!up)
        return;
    struct Stat st;
    int64_t t0 = wh_mono_ms();
    int rc = zoo_exists(z->zh, pub_lease_path(z->lease), 0, &st);
    if (rc == ZOK && st.ephemeralOwner == zoo_client_id(z->zh)->client_id) {
        atomic_store(&z->last_ok, t0);
        atomic_store(&z->fenced, false);
        pthread_mutex_lock(&z->mu);
        z->gen++;           /* the same assignment again: the loop restarts the flows */
        z->dirty = true;
        pthread_mutex_unlock(&z->mu);
        pub_wake(z->pub);
        wh_info(WH_AREA_ZK, "ZooKeeper answers again and the lease of shard %s is still ours "
                "(epoch %" PRIu64 "): delivering again", z->pub->cfg.shard, z->epoch);
    } else if (rc == ZOK || rc == ZNONODE) {
        drop_lease(z, "the lease node is gone or held by another session");
    }
}

/* One round of the election: decides and acts. dirty: a watch fired since
 * the last round (a prepared assignment is read again). */
int pub_zk_lease_step(pub_zk *z, bool dirty)
{
    char why[512];
    pub_lease_seen seen;
    bool active = atomic_load(&z->active);
    bool ok = pub_health_ok(z->health, why, sizeof why);
    pub_lease_health h = { ok, !pub_health_checked(z->health), why };
    z->last_step = wh_mono_ms();
    pthread_mutex_lock(&z->mu);
    /* The lease deleted, or candidates changed (the old holder's node goes
     * with its session, and may be notified before the lease), and nothing else. */
    bool vacated = z->vacated;
    bool quick = (vacated || z->cands_event) && !z->other_event;
    if (vacated && z->other_event && !active)
        wh_debug(WH_AREA_ZK, "the lease was deleted, and other nodes changed: a full round");
    z->vacated = z->cands_event = z->other_event = false;
    pthread_mutex_unlock(&z->mu);
    if (quick && !active && !atomic_load(&z->move_asked) &&
        pub_lease_quick_take(z->lease, z->zh, pub_zk_watcher, z, ok, vacated)) {
        /* The lease is vacant and nothing else changed since the last round,
         * which found us next in line: take it now. A full round follows. */
        wh_debug(WH_AREA_ZK, "election: take (the lease is vacant; quick round)");
        int rc = become_active(z, false);
        pthread_mutex_lock(&z->mu);
        z->dirty = true;
        pthread_mutex_unlock(&z->mu);
        return rc;
    }
    int rc = pub_lease_step(z->lease, z->zh, pub_zk_watcher, z, active, &h, &seen);
    if (rc != ZOK)
        return rc;
    pub_lease_action act = seen.act;
    const char *holder = seen.holder;
    if (act != PUB_LEASE_NONE)
        wh_debug(WH_AREA_ZK, "election: %s (holder %s)", pub_lease_action_name(act),
                 holder[0] ? holder : "none");
    if (active && atomic_exchange(&z->move_asked, false))
        rc = pub_lease_ask_move(z->lease, z->zh, z->id, "", "signal");
    if (act == PUB_LEASE_NONE && seen.next && !active) {
        /* Next in line: read now what taking the shard needs. */
        int r = pub_takeover_prepare(z->takeover, z, dirty);
        if (r != ZOK)
            wh_debug(WH_AREA_ZK, "preparing the takeover of shard %s: %s", z->pub->cfg.shard,
                     zerror(r));
    } else if (act != PUB_LEASE_TAKE) {
        pub_takeover_forget(z->takeover);
    }
    switch (act) {
    case PUB_LEASE_TAKE:
        return become_active(z, seen.moving);
    case PUB_LEASE_HAND_OVER:
        if (atomic_load(&z->handover) == 0) {
            wh_info(WH_AREA_ZK, "handing shard %s over: %s", z->pub->cfg.shard,
                    seen.missed ? "a better candidate registered as we took it"
                    : ok ? "a move was asked" : why);
            atomic_store(&z->handover, 1);
            pub_wake(z->pub);
        }
        return ZOK;
    case PUB_LEASE_ASK_FAILBACK:
        rc = pub_lease_ask_move(z->lease, z->zh, holder, z->id, "failback");
        return rc == ZNODEEXISTS ? ZOK : rc;
    case PUB_LEASE_DROP_MOVE:
        wh_warn(WH_AREA_ZK, "dropping the move request of shard %s: no healthy candidate "
                "other than %s can take it", z->pub->cfg.shard, z->id);
        return pub_lease_clear_move(z->lease, z->zh);
    case PUB_LEASE_NONE:
        break;
    }
    return rc == ZNODEEXISTS ? ZOK : rc;
}

void pub_zk_health_changed(void *ctx)
{
    pub_zk *z = ctx;
    pthread_mutex_lock(&z->mu);
    z->dirty = true;
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
}

bool pub_zk_active(pub_zk *z)
{
    return atomic_load(&z->active);
}

bool pub_zk_registered(pub_zk *z)
{
    return atomic_load(&z->registered);
}

bool pub_zk_handover_requested(pub_zk *z)
{
    return atomic_load(&z->handover) == 1;
}

void pub_zk_handover_done(pub_zk *z)
{
    pthread_mutex_lock(&z->mu);
    atomic_store(&z->handover, 2);
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
}

void pub_zk_request_move(pub_zk *z)
{
    pthread_mutex_lock(&z->mu);
    atomic_store(&z->move_asked, true);
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
}

bool pub_zk_fence_due(pub_zk *z, int64_t now, char *why, size_t len)
{
    int64_t bound = atomic_load(&z->fence_ms), ok = atomic_load(&z->last_ok);
    if (!atomic_load(&z->active) || atomic_load(&z->fenced))
        return false;
    if (atomic_load(&z->lease_lost)) {
        snprintf(why, len, "fenced: the lease of shard %s is no longer ours (our ZooKeeper "
                 "session expired, or another session holds it): we stop delivering now",
                 z->pub->cfg.shard);
        return true;
    }
    if (bound <= 0 || now - ok <= bound)
        return false;
    snprintf(why, len, "fenced: no answer from ZooKeeper for %lld ms while holding the lease of "
             "shard %s (the bound is two thirds of the session timeout, %lld ms): our session "
             "may expire and a standby take over, so we stop delivering now until ZooKeeper "
             "answers", (long long)(now - ok), z->pub->cfg.shard, (long long)bound);
    return true;
}

void pub_zk_fenced(pub_zk *z)
{
    pthread_mutex_lock(&z->mu);
    atomic_store(&z->fenced, true);
    pthread_cond_signal(&z->cond);
    pthread_mutex_unlock(&z->mu);
}

bool pub_zk_is_fenced(pub_zk *z)
{
    return atomic_load(&z->fenced);
}

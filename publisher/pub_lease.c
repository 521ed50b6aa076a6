/* pub_lease.c -- a shard's election: the rule that picks the active publisher, and its candidate, lease and move nodes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "protocol/zk_layout.h"
#include "publisher/pub_lease.h"

/* ---- the rule ----------------------------------------------------------------------------- */

static bool better(const pub_lease_cand *a, const pub_lease_cand *b)
{
    return a->priority > b->priority || (a->priority == b->priority && strcmp(a->id, b->id) < 0);
}

int pub_lease_best(const pub_lease_cand *c, int n, const char *exclude)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!c[i].healthy || (exclude && *exclude && strcmp(c[i].id, exclude) == 0))
            continue;
        if (best < 0 || better(&c[i], &c[best]))
            best = i;
    }
    return best;
}

static const pub_lease_cand *find(const pub_lease_view *v, const char *id)
{
    for (int i = 0; i < v->ncands; i++)
        if (strcmp(v->cands[i].id, id) == 0)
            return &v->cands[i];
    return NULL;
}

static bool is_self(const pub_lease_view *v, int i)
{
    return i >= 0 && strcmp(v->cands[i].id, v->self) == 0;
}

/* The active's side: hand over, drop an impossible move, or go on. */
static pub_lease_action decide_active(const pub_lease_view *v)
{
    if (!v->self_healthy)
        return PUB_LEASE_HAND_OVER;
    if (pub_lease_missed(v) >= 0)
        return PUB_LEASE_HAND_OVER;
    if (!v->move || (v->move_from[0] && strcmp(v->move_from, v->self) != 0))
        return PUB_LEASE_NONE;
    if (v->move_to[0]) {
        const pub_lease_cand *t = find(v, v->move_to);
        if (!t || !t->healthy || strcmp(v->move_to, v->self) == 0)
            return PUB_LEASE_DROP_MOVE;
        return PUB_LEASE_HAND_OVER;
    }
    return pub_lease_best(v->cands, v->ncands, v->self) >= 0 ? PUB_LEASE_HAND_OVER
                                                             : PUB_LEASE_DROP_MOVE;
}

pub_lease_action pub_lease_decide(const pub_lease_view *v)
{
    if (v->active)
        return decide_active(v);
    if (!v->self_healthy)
        return PUB_LEASE_NONE;
    if (v->held) {
        if (!v->failback || v->move || !v->holder || strcmp(v->holder, v->self) == 0 ||
            v->self_priority <= v->holder_priority || v->self_since <= v->lease_ctime)
            return PUB_LEASE_NONE;
        return is_self(v, pub_lease_best(v->cands, v->ncands, NULL)) ? PUB_LEASE_ASK_FAILBACK
                                                                     : PUB_LEASE_NONE;
    }
    /* Vacant. After the grace anyone healthy takes it (also one in hold-off). */
    if (v->vacant_ms >= v->grace_ms)
        return PUB_LEASE_TAKE;
    if (v->holdoff)
        return PUB_LEASE_NONE;
    if (v->move && v->move_to[0]) {
        const pub_lease_cand *t = find(v, v->move_to);
        if (t && t->healthy)
            return strcmp(v->move_to, v->self) == 0 ? PUB_LEASE_TAKE : PUB_LEASE_NONE;
    }
    const char *mover = v->move ? v->move_from : NULL;
    if (!is_self(v, pub_lease_best(v->cands, v->ncands, mover)))
        return PUB_LEASE_NONE;
    /* Start-up: a better candidate registered but not checked yet may well be
     * healthy in a moment; wait for it (within the grace above). */
    return pub_lease_better_starting(v, mover) >= 0 ? PUB_LEASE_NONE : PUB_LEASE_TAKE;
}

/* True when we are the best healthy candidate (the mover left out). */
static bool pub_lease_best_is_self(const pub_lease_view *v)
{
    return is_self(v, pub_lease_best(v->cands, v->ncands, v->move ? v->move_from : NULL));
}

int pub_lease_missed(const pub_lease_view *v)
{
    if (!v->active || !v->fresh_take || v->move || !v->elected_on)
        return -1;
    int i = pub_lease_best(v->cands, v->ncands, NULL);
    if (i < 0 || is_self(v, i))
        return -1;
    for (int k = 0; k < v->nelected; k++)
        if (strcmp(v->elected_on[k], v->cands[i].id) == 0)
            return -1;   /* seen then: healthy or not, the election weighed it */
    return i;
}

int pub_lease_better_starting(const pub_lease_view *v, const char *exclude)
{
    pub_lease_cand self = { v->self, v->self_priority, true, false };
    for (int i = 0; i < v->ncands; i++)
        if (v->cands[i].starting && !v->cands[i].healthy && !is_self(v, i) &&
            !(exclude && *exclude && strcmp(v->cands[i].id, exclude) == 0) &&
            better(&v->cands[i], &self))
            return i;
    return -1;
}

bool pub_lease_next(const pub_lease_view *v)
{
    if (v->active || !v->self_healthy)
        return false;
    bool gone = v->held && !v->holder_restarted;   /* the holder leaves with its lease */
    return is_self(v, pub_lease_best(v->cands, v->ncands, gone ? v->holder : NULL));
}

const char *pub_lease_action_name(pub_lease_action a)
{
    switch (a) {
    case PUB_LEASE_NONE: return "none";
    case PUB_LEASE_TAKE: return "take";
    case PUB_LEASE_HAND_OVER: return "hand over";
    case PUB_LEASE_ASK_FAILBACK: return "ask for failback";
    case PUB_LEASE_DROP_MOVE: return "drop the move request";
    }
    return "?";
}

/* ---- the ZooKeeper side ------------------------------------------------------------------- */

struct pub_lease {
    const pub_config *cfg;
    const char *id;
    const zku_acl_ids *ids;       /* the ACL ids our nodes get (the agent's, protocol/zk_acl.h) */
    char cands_path[ZKU_PATH_MAX], self_path[ZKU_PATH_MAX];
    char lease_path[ZKU_PATH_MAX], move_path[ZKU_PATH_MAX];
    bool    registered_healthy;   /* the health our node holds */
    bool    registered_starting;
    char    registered_why[ZKU_HEALTH_REASON_MAX];
    bool    wait_logged;          /* the wait for a starting candidate is logged (this vacancy) */
    /* What the last round saw, for pub_lease_quick_take. */
    bool    last_quick;           /* next in line, no move, no hold-off, none starting better */
    char  **last_names;           /* the candidates' ids */
    int     nlast;
    int32_t cands_cversion;       /* the candidates folder's child version, as last read */
    int64_t self_since;           /* mtime of our node */
    int64_t vacant_since;         /* mono ms we first saw the lease vacant; 0 held */
    int64_t released_at;          /* mono ms of our last hand-over; 0 none */
    bool    fresh_take;           /* took the lease in an election; no full round since */
    char  **elect_names;          /* the candidates' ids the electing round saw */
    int     nelect;
};

int pub_lease_new(const pub_config *cfg, const char *id, const zku_acl_ids *ids,
                  pub_lease **out, char *errbuf, size_t errlen)
{
    pub_lease *l = calloc(1, sizeof *l);
    if (!l)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    l->cfg = cfg;
    l->id = id;
    l->ids = ids;
    if (zku_path_candidates(l->cands_path, sizeof l->cands_path, cfg->zk_root, cfg->shard) ||
        zku_path_candidate(l->self_path, sizeof l->self_path, cfg->zk_root, cfg->shard, id) ||
        zku_path_lease(l->lease_path, sizeof l->lease_path, cfg->zk_root, cfg->shard) ||
        zku_path_move(l->move_path, sizeof l->move_path, cfg->zk_root, cfg->shard)) {
        free(l);
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "zookeeper.root '%s', shard '%s' and id "
                         "'%s' make ZooKeeper paths longer than %d bytes", cfg->zk_root,
                         cfg->shard, id, ZKU_PATH_MAX - 1);
    }
    *out = l;
    return WH_OK;
}

/* Keeps a copy of the n ids the electing round saw (n 0: forgets them; out
 * of memory: forgets them too, and pub_lease_missed finds nothing). */
static void keep_elect_names(pub_lease *l, const char *const *ids, int n)
{
    for (int i = 0; i < l->nelect; i++)
        free(l->elect_names[i]);
    free(l->elect_names);
    l->elect_names = NULL;
    l->nelect = 0;
    if (n <= 0 || !(l->elect_names = calloc((size_t)n, sizeof(char *))))
        return;
    for (; l->nelect < n; l->nelect++)
        if (!(l->elect_names[l->nelect] = strdup(ids[l->nelect]))) {
            keep_elect_names(l, NULL, 0);
            return;
        }
}

static void forget_names(pub_lease *l)
{
    for (int i = 0; i < l->nlast; i++)
        free(l->last_names[i]);
    free(l->last_names);
    l->last_names = NULL;
    l->nlast = 0;
}

void pub_lease_free(pub_lease *l)
{
    if (!l)
        return;
    forget_names(l);
    keep_elect_names(l, NULL, 0);
    free(l);
}

const char *pub_lease_path(const pub_lease *l)
{
    return l->lease_path;
}

const char *pub_lease_cands_path(const pub_lease *l)
{
    return l->cands_path;
}

/* Keeps the round's view for pub_lease_quick_take. */
static void remember(pub_lease *l, const pub_lease_view *v, const struct String_vector *names)
{
    forget_names(l);
    l->last_quick = pub_lease_next(v) && v->held && !v->move && !v->holdoff &&
                    pub_lease_better_starting(v, NULL) < 0;
    if (!l->last_quick || !(l->last_names = calloc((size_t)names->count + 1, sizeof(char *)))) {
        l->last_quick = false;
        return;
    }
    for (int i = 0; i < names->count; i++)
        if (!(l->last_names[l->nlast++] = strdup(names->data[i]))) {
            l->last_quick = false;
            return;
        }
}

bool pub_lease_quick_take(pub_lease *l, zhandle_t *zh, watcher_fn w, void *ctx, bool healthy,
                          bool vacated)
{
    if (!l->last_quick || !healthy || healthy != l->registered_healthy) {
        if (vacated)
            wh_debug(WH_AREA_ZK, "the lease was deleted; the last round did not find us next "
                     "in line: a full round");
        return false;
    }
    l->last_quick = false;   /* once: the next round decides afresh */
    struct String_vector names = { 0, NULL };
    struct Stat pst;
    int32_t before = l->cands_cversion;
    if (zoo_wget_children2(zh, l->cands_path, w, ctx, &names, &pst) != ZOK)
        return false;
    /* Only departures since the last round: every child change was one of
     * them (a candidate that registered again, after a restart, counts two). */
    bool same = before >= 0 && pst.cversion - before == l->nlast - names.count;
    for (int i = 0; same && i < names.count; i++) {
        int k = 0;
        while (k < l->nlast && strcmp(l->last_names[k], names.data[i]) != 0)
            k++;
        same = k < l->nlast;   /* a newcomer may be better: a round decides */
    }
    if (!same)
        wh_debug(WH_AREA_ZK, "the lease was deleted, and candidates registered since the last "
                 "round (child version %d, was %d): a full round", (int)pst.cversion,
                 (int)before);
    deallocate_String_vector(&names);
    if (same && !vacated) {
        struct Stat st;
        same = zoo_wexists(zh, l->lease_path, w, ctx, &st) == ZNONODE;   /* still held: a round */
    }
    if (same && !l->vacant_since)
        l->vacant_since = wh_mono_ms();
    if (same)   /* we take on the last round's view */
        keep_elect_names(l, (const char *const *)l->last_names, l->nlast);
    return same;
}

static char *candidate_data(pub_lease *l, const pub_lease_health *h)
{
    zku_candidate c = { .priority = l->cfg->lease_priority, .healthy = h->healthy,
                        .starting = !h->healthy && h->starting, .pid = (int64_t)getpid() };
    char *data = NULL, err[256];
    snprintf(c.reason, sizeof c.reason, "%s", h->healthy ? "" : h->why);
    gethostname(c.host, sizeof c.host - 1);
    if (zku_candidate_to_json(&c, &data, err, sizeof err) != WH_OK)
        wh_warn(WH_AREA_ZK, "%s", err);
    return data;
}

/* Records the health our node now holds. */
static void registered(pub_lease *l, const pub_lease_health *h)
{
    l->registered_healthy = h->healthy;
    l->registered_starting = !h->healthy && h->starting;
    snprintf(l->registered_why, sizeof l->registered_why, "%s", h->why);
}

int pub_lease_register(pub_lease *l, zhandle_t *zh, const pub_lease_health *h)
{
    bool healthy = h->healthy;
    const char *why = h->why;
    int rc = zku_create_parents(zh, l->cfg->zk_root, l->cands_path, true, l->ids);
    char *data = candidate_data(l, h);
    if (rc != ZOK || !data) {
        free(data);
        return rc != ZOK ? rc : ZSYSTEMERROR;
    }
    rc = zku_create(zh, l->cfg->zk_root, l->self_path, data, ZOO_EPHEMERAL, l->ids);
    if (rc == ZNODEEXISTS) {
        /* Ours from an earlier session (or process) with this id. */
        zoo_delete(zh, l->self_path, -1);
        rc = zku_create(zh, l->cfg->zk_root, l->self_path, data, ZOO_EPHEMERAL, l->ids);
    }
    free(data);
    struct Stat st;
    if (rc == ZOK && (rc = zoo_exists(zh, l->self_path, 0, &st)) == ZOK) {
        registered(l, h);
        l->self_since = st.mtime;
        wh_info(WH_AREA_ZK, "registered %s as a candidate with priority %lld (%s%s)",
                l->self_path, (long long)l->cfg->lease_priority,
                healthy ? "healthy" : "unhealthy: ", healthy ? "" : why);
    }
    return rc;
}

/* Rewrites our node when our health changed. */
static int update_health(pub_lease *l, zhandle_t *zh, const pub_lease_health *h)
{
    bool healthy = h->healthy;
    const char *why = h->why;
    if (healthy == l->registered_healthy && (healthy || strcmp(why, l->registered_why) == 0) &&
        (healthy || h->starting == l->registered_starting))
        return ZOK;
    char *data = candidate_data(l, h);
    if (!data)
        return ZSYSTEMERROR;
    struct Stat st;
    int rc = zoo_set2(zh, l->self_path, data, (int)strlen(data), -1, &st);
    free(data);
    if (rc != ZOK)
        return rc;
    if (healthy != l->registered_healthy)
        wh_info(WH_AREA_ZK, "candidate %s is now %s%s", l->id,
                healthy ? "healthy" : "unhealthy: ", healthy ? "" : why);
    registered(l, h);
    if (healthy)
        l->self_since = st.mtime;
    return ZOK;
}

/* Reads every candidate node into c (ids point into names). */
static int read_candidates(pub_lease *l, zhandle_t *zh, watcher_fn w, void *ctx,
                           struct String_vector *names, pub_lease_cand *c, int64_t *owner,
                           int cap, int *n)
{
    struct Stat pst;
    int rc = zoo_wget_children2(zh, l->cands_path, w, ctx, names, &pst);
    l->cands_cversion = rc == ZOK ? pst.cversion : -1;
    *n = 0;
    for (int i = 0; rc == ZOK && i < names->count && *n < cap; i++) {
        char path[ZKU_PATH_MAX], buf[ZKU_ROLE_MAX], err[256];
        int len = sizeof buf - 1;
        zku_candidate cd;
        if (zku_path_candidate(path, sizeof path, l->cfg->zk_root, l->cfg->shard,
                               names->data[i]) != WH_OK)
            continue;
        struct Stat st;
        int r = zoo_get(zh, path, 0, buf, &len, &st);
        if (r == ZNONODE)
            continue;   /* gone meanwhile: the children watch fires */
        if (r != ZOK)
            return r;
        if (zku_candidate_from_json(buf, len < 0 ? 0 : (size_t)len, &cd, err, sizeof err)) {
            wh_warn(WH_AREA_ZK, "ignoring candidate %s: %s", path, err);
            continue;
        }
        c[*n] = (pub_lease_cand){ names->data[i], cd.priority, cd.healthy, cd.starting };
        owner[*n] = st.ephemeralOwner;
        (*n)++;
    }
    return rc;
}

/* Logs, once per vacancy, that we wait for a better candidate's first check. */
static void log_wait(pub_lease *l, const pub_lease_view *v, pub_lease_action act)
{
    int i = act == PUB_LEASE_NONE && !v->held && !v->active && v->self_healthy
                ? pub_lease_better_starting(v, v->move ? v->move_from : NULL) : -1;
    if (v->held || act == PUB_LEASE_TAKE)
        l->wait_logged = false;
    if (i < 0 || l->wait_logged || !pub_lease_best_is_self(v))
        return;
    l->wait_logged = true;
    wh_info(WH_AREA_ZK, "the lease of shard %s is vacant; waiting for candidate %s (priority "
            "%lld), whose first health check has not ended, for at most lease.grace_ms "
            "(%lld ms) of vacancy", l->cfg->shard, v->cands[i].id,
            (long long)v->cands[i].priority, (long long)v->grace_ms);
}

int pub_lease_step(pub_lease *l, zhandle_t *zh, watcher_fn w, void *ctx, bool active,
                   const pub_lease_health *h, pub_lease_seen *seen)
{
    bool healthy = h->healthy;
    enum { CAP = 256 };
    pub_lease_cand cands[CAP];
    int64_t owners[CAP], lease_owner = 0;
    struct String_vector names = { 0, NULL };
    char buf[ZKU_ROLE_MAX], err[256];
    int len, n = 0;
    struct Stat st;
    zku_lease lease = { .id = "" };
    zku_move move = { .from = "" };
    bool held = false, moving = false;
    int64_t now = wh_mono_ms(), ctime = 0;
    memset(seen, 0, sizeof *seen);
    l->last_quick = false;   /* a complete round sets it again (remember) */

    int rc = update_health(l, zh, h);
    if (rc == ZOK) {
        len = sizeof buf - 1;
        rc = zoo_wget(zh, l->lease_path, w, ctx, buf, &len, &st);
        if (rc == ZOK && !active && st.ephemeralOwner == zoo_client_id(zh)->client_id) {
            /* Ours while we are standby: a takeover whose answer was lost (the
             * connection dropped while the server applied it). Give it back: its
             * deletion's watch runs the election again. */
            wh_warn(WH_AREA_ZK, "the lease node %s is held by our session although we are "
                    "standby (a takeover whose answer was lost); deleting it", l->lease_path);
            rc = zoo_delete(zh, l->lease_path, st.version);
            return rc == ZNONODE || rc == ZBADVERSION ? ZOK : rc;   /* seen: none */
        } else if (rc == ZOK) {
            held = true;
            ctime = st.ctime;
            lease_owner = st.ephemeralOwner;
            if (zku_lease_from_json(buf, len < 0 ? 0 : (size_t)len, &lease, err, sizeof err))
                wh_warn(WH_AREA_ZK, "lease node %s: %s", l->lease_path, err);
        } else if (rc == ZNONODE) {
            rc = zoo_wexists(zh, l->lease_path, w, ctx, &st);
            if (rc == ZOK) {
                held = true;   /* created meanwhile: decide again at its watch */
                ctime = st.ctime;
            } else if (rc == ZNONODE) {
                rc = ZOK;
            }
        }
    }
    if (rc == ZOK) {
        len = sizeof buf - 1;
        rc = zoo_wget(zh, l->move_path, w, ctx, buf, &len, &st);
        if (rc == ZOK) {
            moving = zku_move_from_json(buf, len < 0 ? 0 : (size_t)len, &move, err,
                                        sizeof err) == WH_OK;
            if (!moving)
                wh_warn(WH_AREA_ZK, "move request %s: %s; ignored", l->move_path, err);
        } else if (rc == ZNONODE) {
            rc = zoo_wexists(zh, l->move_path, w, ctx, &st);
            rc = rc == ZNONODE ? ZOK : rc;
        }
    }
    if (rc == ZOK)
        rc = read_candidates(l, zh, w, ctx, &names, cands, owners, CAP, &n);
    if (rc != ZOK) {
        deallocate_String_vector(&names);
        return rc;
    }
    if (held)
        l->vacant_since = 0;
    else if (!l->vacant_since)
        l->vacant_since = now;
    snprintf(seen->holder, sizeof seen->holder, "%s", lease.id);
    /* The holder's id registered by another session than the lease's: it
     * restarted, and stays a candidate when the old lease goes. */
    bool restarted = false;
    for (int i = 0; held && i < n; i++)
        restarted |= strcmp(cands[i].id, lease.id) == 0 && owners[i] != lease_owner;
    pub_lease_view v = {
        .self = l->id, .self_priority = l->cfg->lease_priority, .self_healthy = healthy,
        .self_since = l->self_since, .active = active, .held = held, .holder = lease.id,
        .holder_priority = lease.priority, .holder_restarted = restarted,
        .lease_ctime = ctime, .cands = cands, .ncands = n,
        .move = moving, .move_from = move.from, .move_to = move.to,
        .failback = l->cfg->lease_failback, .vacant_ms = held ? 0 : now - l->vacant_since,
        .grace_ms = l->cfg->lease_grace_ms,
        .holdoff = l->released_at && now - l->released_at < l->cfg->lease_grace_ms,
        .fresh_take = active && l->fresh_take, .elected_on = l->elect_names,
        .nelected = l->nelect,
    };
    int missed = pub_lease_missed(&v);
    seen->missed = missed >= 0;
    if (missed >= 0)
        wh_info(WH_AREA_ZK, "took the lease of shard %s on a view that missed candidate %s "
                "(priority %lld, registered before the lease): handing the shard over to it",
                l->cfg->shard, cands[missed].id, (long long)cands[missed].priority);
    seen->act = pub_lease_decide(&v);
    if (active) {
        l->fresh_take = false;   /* one round: later changes are failback's */
        keep_elect_names(l, NULL, 0);
    } else if (seen->act == PUB_LEASE_TAKE) {
        keep_elect_names(l, (const char *const *)names.data, names.count);
    }
    seen->moving = moving;
    seen->next = pub_lease_next(&v);
    log_wait(l, &v, seen->act);
    remember(l, &v, &names);
    deallocate_String_vector(&names);
    return ZOK;
}

char *pub_lease_data(pub_lease *l)
{
    zku_lease lease = { .priority = l->cfg->lease_priority };
    char *data = NULL, err[256];
    snprintf(lease.id, sizeof lease.id, "%s", l->id);
    if (zku_lease_to_json(&lease, &data, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_ZK, "%s", err);
        return NULL;
    }
    return data;
}

void pub_lease_took(pub_lease *l, bool moved)
{
    l->fresh_take = !moved;
    l->vacant_since = 0;
    l->wait_logged = false;
}

int pub_lease_acquire(pub_lease *l, zhandle_t *zh, bool moved)
{
    char *data = pub_lease_data(l);
    if (!data)
        return ZSYSTEMERROR;
    int rc = zku_create(zh, l->cfg->zk_root, l->lease_path, data, ZOO_EPHEMERAL, l->ids);
    free(data);
    if (rc == ZOK)
        pub_lease_took(l, moved);
    return rc;
}

int pub_lease_release(pub_lease *l, zhandle_t *zh)
{
    struct Stat st;
    int rc = zoo_exists(zh, l->lease_path, 0, &st);
    if (rc == ZOK && st.ephemeralOwner == zoo_client_id(zh)->client_id)
        rc = zoo_delete(zh, l->lease_path, st.version);
    else if (rc == ZOK || rc == ZNONODE)
        rc = ZOK;   /* not ours (any more) */
    if (rc == ZOK)
        l->released_at = wh_mono_ms();
    return rc;
}

int pub_lease_ask_move(pub_lease *l, zhandle_t *zh, const char *from, const char *to,
                       const char *by)
{
    zku_move m;
    char *data = NULL, err[256];
    memset(&m, 0, sizeof m);
    snprintf(m.from, sizeof m.from, "%s", from);
    snprintf(m.to, sizeof m.to, "%s", to);
    snprintf(m.by, sizeof m.by, "%s", by);
    if (zku_move_to_json(&m, &data, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_ZK, "%s", err);
        return ZSYSTEMERROR;
    }
    int rc = zku_create(zh, l->cfg->zk_root, l->move_path, data, 0, l->ids);
    free(data);
    if (rc == ZOK)
        wh_info(WH_AREA_ZK, "asked shard %s to move from %s to %s (%s)", l->cfg->shard,
                *from ? from : "its active publisher", *to ? to : "the best other candidate",
                by);
    return rc;
}

int pub_lease_clear_move(pub_lease *l, zhandle_t *zh)
{
    int rc = zoo_delete(zh, l->move_path, -1);
    return rc == ZNONODE ? ZOK : rc;
}

static void cleared(int rc, const void *data)
{
    (void)rc;
    (void)data;
}

void pub_lease_clear_move_async(pub_lease *l, zhandle_t *zh)
{
    zoo_adelete(zh, l->move_path, -1, cleared, NULL);
}

/* pub_takeover.c -- a prepared takeover: the standby next in line reads what taking the shard needs, so that taking it is one ZooKeeper multi.
 *
 * The slow way (pub_zk_role.c become_active) takes the lease, then bumps
 * the epoch (reading the epoch node and every position node, claiming each
 * position, then the epoch), creates the publisher node, deletes a move
 * node and reads the assignment: some ten round trips, five of them writes
 * (each a ZooKeeper log sync). Here the reads are done before the lease is
 * vacant, and the writes go in one multi, conditional on the versions read:
 * if anything changed since (the old publisher wrote a position, another
 * candidate took the epoch), the multi fails as a whole and the slow way
 * runs. Nothing is delivered before the multi succeeded: the assignment is
 * handed to the loop only then. Runs on the agent thread only. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "publisher/pub_zk_int.h"

/* How often the claims' part is read again while standby. */
#define PREPARE_EVERY_MS 250

typedef struct tk_app {
    char    *app;
    int      version;     /* its position node's; -1: no node */
    bool     parent;      /* its positions/ node exists (read when the position node does not) */
    wh_pos   pos;         /* the node's position as this copy may use it (localized) */
    bool     start;
    uint64_t epoch;       /* the epoch the node carries */
    int64_t  event_ms;    /* the node's event time (kept by the claim; 0 unknown) */
} tk_app;

struct pub_takeover {
    bool        claims_ok;     /* the fields below were read */
    int64_t     claims_at;     /* mono ms of that read */
    uint64_t    epoch;         /* the epoch node's value */
    int         epoch_version; /* -1: no epoch node */
    int         reg_version;   /* our publisher node's; -1: none */
    tk_app     *apps;
    int         napps;
    pub_assign *assign;        /* the assignment, without positions */
    int         nassign;
    bool        assign_ok;
};

pub_takeover *pub_takeover_new(void)
{
    return calloc(1, sizeof(pub_takeover));
}

static void forget_claims(pub_takeover *t)
{
    for (int i = 0; i < t->napps; i++)
        free(t->apps[i].app);
    free(t->apps);
    t->apps = NULL;
    t->napps = 0;
    t->claims_ok = false;
}

void pub_takeover_forget(pub_takeover *t)
{
    if (!t)
        return;
    forget_claims(t);
    pub_assign_free(t->assign, t->nassign);
    t->assign = NULL;
    t->nassign = 0;
    t->assign_ok = false;
}

void pub_takeover_free(pub_takeover *t)
{
    pub_takeover_forget(t);
    free(t);
}

/* Reads app's position node into a (version, position, epoch). ZOK, or
 * ZBADARGUMENTS when the node is not one we can claim in a multi (too
 * large, unreadable: the slow way says why), or the ZooKeeper error. */
static int read_app(pub_zk *z, const char *app, tk_app *a)
{
    char path[ZKU_PATH_MAX], buf[ZKU_POSITION_MAX], err[512];
    int len = sizeof buf - 1;
    struct Stat st;
    memset(a, 0, sizeof *a);
    if (pub_zk_pos_path(z, app, path, sizeof path) != ZOK)
        return ZOK;   /* never assigned nor claimed (app_fits) */
    a->app = strdup(app);
    if (!a->app)
        return ZSYSTEMERROR;
    int rc = zoo_get(z->zh, path, 0, buf, &len, &st);
    if (rc == ZNONODE) {
        a->version = -1;
        char parent[ZKU_PATH_MAX];
        if (zku_path_positions(parent, sizeof parent, z->pub->cfg.zk_root, app) != WH_OK)
            return ZBADARGUMENTS;
        rc = zoo_exists(z->zh, parent, 0, NULL);
        a->parent = rc == ZOK;
        return rc == ZNONODE ? ZOK : rc;
    }
    if (rc != ZOK)
        return rc;
    if (st.dataLength > len)
        return ZBADARGUMENTS;
    a->version = st.version;
    if (len > 0 && pub_zk_pos_from_node(z, buf, (size_t)len, &a->pos, &a->start, &a->epoch,
                                        &a->event_ms, err, sizeof err) != WH_OK)
        return ZBADARGUMENTS;
    return ZOK;
}

/* The claims' part: the epoch node, every app's position node, our
 * publisher node. */
static int read_claims(pub_takeover *t, pub_zk *z)
{
    char buf[ZKU_EPOCH_MAX];
    int len = sizeof buf - 1;
    struct Stat st;
    struct String_vector apps = { 0, NULL };
    forget_claims(t);
    int rc = zoo_get(z->zh, z->epoch_path, 0, buf, &len, &st);
    if (rc == ZNONODE) {
        t->epoch = 0;
        t->epoch_version = -1;
    } else if (rc == ZOK) {
        t->epoch = zku_epoch_parse(buf, len < 0 ? 0 : (size_t)len);
        t->epoch_version = st.version;
    } else {
        return rc;
    }
    rc = zoo_exists(z->zh, z->reg_path, 0, &st);
    if (rc != ZOK && rc != ZNONODE)
        return rc;
    t->reg_version = rc == ZOK ? st.version : -1;
    rc = zoo_get_children(z->zh, z->apps_path, 0, &apps);
    if (rc == ZNONODE)
        rc = ZOK;
    if (rc == ZOK && apps.count > 0 && !(t->apps = calloc((size_t)apps.count, sizeof *t->apps)))
        rc = ZSYSTEMERROR;
    for (int i = 0; rc == ZOK && i < apps.count; i++) {
        rc = read_app(z, apps.data[i], &t->apps[t->napps]);
        if (t->apps[t->napps].app)
            t->napps++;
    }
    deallocate_String_vector(&apps);
    if (rc != ZOK) {
        forget_claims(t);
        return rc;
    }
    t->claims_ok = true;
    t->claims_at = wh_mono_ms();
    return ZOK;
}

int pub_takeover_prepare(pub_takeover *t, pub_zk *z, bool reread)
{
    int rc = ZOK;
    if (reread || !t->assign_ok) {
        pub_assign_free(t->assign, t->nassign);
        t->assign = NULL;
        t->nassign = 0;
        t->assign_ok = false;
        rc = pub_zk_build_assignment(z, &t->assign, &t->nassign);
        t->assign_ok = rc == ZOK;
    }
    if (rc == ZOK && (!t->claims_ok || wh_mono_ms() - t->claims_at >= PREPARE_EVERY_MS))
        rc = read_claims(t, z);
    return rc;
}

/* ---- the multi ------------------------------------------------------------------------------ */

/* The ops and what they point to, freed together. */
typedef struct tk_multi {
    zoo_op_t        *ops;
    zoo_op_result_t *res;
    struct Stat     *stats;
    zku_acl         *acls;
    char           **data;      /* one per op, NULL where none */
    char           (*paths)[ZKU_PATH_MAX];
    char           (*created)[ZKU_PATH_MAX];
    int              n, cap;
} tk_multi;

static int multi_init(tk_multi *m, int cap)
{
    memset(m, 0, sizeof *m);
    m->cap = cap;
    m->ops = calloc((size_t)cap, sizeof *m->ops);
    m->res = calloc((size_t)cap, sizeof *m->res);
    m->stats = calloc((size_t)cap, sizeof *m->stats);
    m->acls = calloc((size_t)cap, sizeof *m->acls);
    m->data = calloc((size_t)cap, sizeof *m->data);
    m->paths = calloc((size_t)cap, sizeof *m->paths);
    m->created = calloc((size_t)cap, sizeof *m->created);
    return m->ops && m->res && m->stats && m->acls && m->data && m->paths && m->created
               ? ZOK : ZSYSTEMERROR;
}

static void multi_free(tk_multi *m)
{
    for (int i = 0; m->data && i < m->n; i++)
        free(m->data[i]);
    free(m->ops);
    free(m->res);
    free(m->stats);
    free(m->acls);
    free(m->data);
    free(m->paths);
    free(m->created);
}

/* Adds a create of path with data (taken; NULL: none) and the ACL of its kind. */
static int add_create(tk_multi *m, pub_zk *z, const char *path, char *data, int flags)
{
    char err[256];
    int i = m->n;
    if (i == m->cap) {
        free(data);
        return ZSYSTEMERROR;
    }
    snprintf(m->paths[i], ZKU_PATH_MAX, "%s", path);
    m->data[i] = data;
    if (zku_acl_for_path(z->pub->cfg.zk_root, m->paths[i], &z->ids, &m->acls[i], err,
                         sizeof err) != WH_OK) {
        wh_warn(WH_AREA_ZK, "creating %s: %s", path, err);
        return ZBADARGUMENTS;
    }
    zoo_create_op_init(&m->ops[i], m->paths[i], data, data ? (int)strlen(data) : -1,
                       zku_acl_vector(&m->acls[i]), flags, m->created[i], ZKU_PATH_MAX);
    m->n++;
    return ZOK;
}

/* Adds a set of path to data (taken) at version. */
static int add_set(tk_multi *m, const char *path, char *data, int version)
{
    int i = m->n;
    if (i == m->cap || !data) {
        free(data);
        return ZSYSTEMERROR;
    }
    snprintf(m->paths[i], ZKU_PATH_MAX, "%s", path);
    m->data[i] = data;
    zoo_set_op_init(&m->ops[i], m->paths[i], data, (int)strlen(data), version, &m->stats[i]);
    m->n++;
    return ZOK;
}

static int add_delete(tk_multi *m, const char *path, int version)
{
    int i = m->n;
    if (i == m->cap)
        return ZSYSTEMERROR;
    snprintf(m->paths[i], ZKU_PATH_MAX, "%s", path);
    zoo_delete_op_init(&m->ops[i], m->paths[i], version);
    m->n++;
    return ZOK;
}

/* The epoch the takeover takes: above the epoch node's and every position's. */
static uint64_t target_epoch(const pub_takeover *t)
{
    uint64_t e = t->epoch + 1;
    for (int i = 0; i < t->napps; i++)
        if (t->apps[i].epoch >= e)
            e = t->apps[i].epoch + 1;
    return e;
}

/* Builds the ops: the lease first (op 0), the claims, the epoch, our
 * publisher node, the move node. *claim_op[i] is app i's position op. */
static int build_ops(tk_multi *m, pub_takeover *t, pub_zk *z, uint64_t epoch, bool moving,
                     int *claim_op)
{
    char path[ZKU_PATH_MAX], buf[ZKU_EPOCH_MAX];
    const pub_config *cfg = &z->pub->cfg;
    char *lease = pub_lease_data(z->lease);
    int rc = lease ? add_create(m, z, pub_lease_path(z->lease), lease, ZOO_EPHEMERAL)
                   : ZSYSTEMERROR;
    for (int i = 0; rc == ZOK && i < t->napps; i++) {
        tk_app *a = &t->apps[i];
        char *data = pub_zk_pos_to_node(z, &a->pos, a->start, epoch, a->event_ms);
        if (!data || pub_zk_pos_path(z, a->app, path, sizeof path) != ZOK) {
            free(data);
            return ZSYSTEMERROR;
        }
        if (a->version >= 0) {
            claim_op[i] = m->n;
            rc = add_set(m, path, data, a->version);
            continue;
        }
        /* No position yet: a placeholder with the epoch (as claim_position). */
        char parent[ZKU_PATH_MAX];
        if (!a->parent) {
            if (zku_path_positions(parent, sizeof parent, cfg->zk_root, a->app) != WH_OK) {
                free(data);
                return ZBADARGUMENTS;
            }
            rc = add_create(m, z, parent, NULL, 0);
        }
        claim_op[i] = m->n;
        if (rc == ZOK)
            rc = add_create(m, z, path, data, 0);
        else
            free(data);
    }
    zku_epoch_format(buf, sizeof buf, epoch);
    char *ep = strdup(buf);
    if (rc == ZOK)
        rc = !ep ? ZSYSTEMERROR
             : t->epoch_version >= 0 ? add_set(m, z->epoch_path, ep, t->epoch_version)
                                     : add_create(m, z, z->epoch_path, ep, 0);
    else
        free(ep);
    if (rc == ZOK && t->reg_version >= 0)
        rc = add_delete(m, z->reg_path, t->reg_version);   /* ours from an earlier session */
    char *reg = rc == ZOK ? pub_zk_registration_data(z, epoch) : NULL;
    if (rc == ZOK)
        rc = reg ? add_create(m, z, z->reg_path, reg, ZOO_EPHEMERAL) : ZSYSTEMERROR;
    if (rc == ZOK && moving && zku_path_move(path, sizeof path, cfg->zk_root, cfg->shard) == WH_OK)
        rc = add_delete(m, path, -1);
    return rc;
}

/* The first op that failed, for the log; -1 none. */
static int failed_op(const tk_multi *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->res[i].err != ZOK && m->res[i].err != ZRUNTIMEINCONSISTENCY)
            return i;
    return -1;
}

int pub_takeover_commit(pub_takeover *t, pub_zk *z, bool moving)
{
    if (!t->claims_ok || !t->assign_ok)
        return ZINVALIDSTATE;
    /* Every assigned app starts from its claim: one listed since the claims
     * were read has none here. */
    for (int k = 0; k < t->nassign; k++) {
        int i = 0;
        while (i < t->napps && strcmp(t->apps[i].app, t->assign[k].app) != 0)
            i++;
        if (i == t->napps) {
            forget_claims(t);
            return ZINVALIDSTATE;
        }
    }
    uint64_t epoch = target_epoch(t);
    tk_multi m;
    int *claim_op = calloc((size_t)t->napps + 1, sizeof *claim_op);
    int rc = claim_op ? multi_init(&m, 2 * t->napps + 6) : ZSYSTEMERROR;
    if (rc == ZOK)
        rc = build_ops(&m, t, z, epoch, moving, claim_op);
    int64_t t0 = wh_mono_ms();
    if (rc == ZOK) {
        atomic_fetch_add_explicit(&z->pub->zk_writes, (unsigned long long)m.n,
                                  memory_order_relaxed);
        rc = zoo_multi(z->zh, m.n, m.ops, m.res);
    }
    if (rc != ZOK) {
        int f = claim_op ? failed_op(&m) : -1;
        if (f == 0 && m.res[0].err == ZNODEEXISTS)
            rc = ZNODEEXISTS;   /* another candidate holds the lease */
        else
            wh_debug(WH_AREA_ZK, "the takeover multi of shard %s failed: %s%s%s",
                     z->pub->cfg.shard, zerror(f >= 0 ? m.res[f].err : rc),
                     f >= 0 ? " at " : "", f >= 0 ? m.paths[f] : "");
        forget_claims(t);
        if (claim_op)
            multi_free(&m);
        free(claim_op);
        return rc;
    }
    pub_lease_took(z->lease, moving);
    z->epoch = epoch;
    for (int i = 0; i < t->napps; i++) {
        tk_app *a = &t->apps[i];
        pub_zk_note_claim(z, a->app, &a->pos, a->start,
                          a->version >= 0 ? m.stats[claim_op[i]].version : 0);
        for (int k = 0; k < t->nassign; k++)
            if (strcmp(t->assign[k].app, a->app) == 0) {
                t->assign[k].pos = a->pos;
                t->assign[k].pos_start = a->start;
            }
    }
    wh_debug(WH_AREA_ZK, "took shard %s in one multi of %d ops, %lld ms",
             z->pub->cfg.shard, m.n, (long long)(wh_mono_ms() - t0));
    multi_free(&m);
    free(claim_op);
    /* A bootstrap's progress moves on while we stand by (its node is not
     * watched): read it again now that the old publisher has stopped, or
     * the bootstrap would resume from where it stood when we prepared. */
    for (int k = 0; k < t->nassign; k++)
        pub_zk_refresh_boot(z, &t->assign[k]);
    pub_zk_publish_assignment(z, t->assign, t->nassign);
    t->assign = NULL;
    t->nassign = 0;
    t->assign_ok = false;
    forget_claims(t);
    return ZOK;
}

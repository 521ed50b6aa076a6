/* zk_acl.c -- the ACL table of wormhole's znodes, path classification and digest ids (see zk_acl.h). */
#include <string.h>

#include <openssl/evp.h>

#include "core/errbuf.h"
#include "core/file.h"
#include "protocol/zk_acl.h"
#include "protocol/zk_layout.h"

typedef enum acl_role { ROLE_WORLD, ROLE_PUBLISHER, ROLE_APP } acl_role;

typedef struct acl_rule {
    acl_role role;
    int      perms;   /* ZOO_PERM_* */
} acl_rule;

/* ZooKeeper's permission bits (ZOO_PERM_* are variables, not constants;
 * tests/protocol/test_zk_acl.c checks these against them). */
#define R   1
#define W   2
#define C   4
#define D   8
#define A   16
#define ALL 31

/* THE table (docs/ZOOKEEPER.md, "Access control", shows it). Within one
 * kind no two rules have the same permissions (zku_acl_match tells the
 * roles apart by them). The admin is ZooKeeper's super user: in no ACL.
 *
 * ADMIN (A) on the instances folder and nodes: ZooKeeper shows a node's
 * digest ids only to a client with ADMIN on it (others read "user:x"); the
 * app needs the publishers' id to build its instance node's ACL, and the
 * publisher needs both full ids to check an instance node against its
 * folder. An app's ADMIN on its folder can harm only itself: a folder whose
 * ACL is not the table's is refused by the publishers. */
static const struct {
    const char *name;
    int nrules;
    acl_rule rule[ZKU_ACL_MAX];
} kinds[ZKU_NODE_KINDS] = {
    [ZKU_NODE_NONE]       = { "none", 0, { { 0, 0 } } },
    /* A marker that the layout is there; empty, nothing sensitive. */
    [ZKU_NODE_ROOT]       = { "root", 1, { { ROLE_WORLD, R } } },
    /* Apps are created by the admin (wormhole-ctl add-app); publishers list them. */
    [ZKU_NODE_APPS]       = { "apps", 1, { { ROLE_PUBLISHER, R } } },
    /* The app may change its settings; publishers read them and create the
     * app's positions and failures folders. */
    [ZKU_NODE_APP]        = { "app", 2, { { ROLE_APP, R | W }, { ROLE_PUBLISHER, R | C } } },
    /* Only the app's identity can register (and remove) its instances. */
    [ZKU_NODE_INSTANCES]  = { "instances", 2, { { ROLE_APP, R | C | D | A },
                                                { ROLE_PUBLISHER, R | A } } },
    [ZKU_NODE_INSTANCE]   = { "instance", 2, { { ROLE_APP, ALL }, { ROLE_PUBLISHER, R | A } } },
    /* Positions, failures and everything of a shard: the publishers' alone. */
    [ZKU_NODE_POSITIONS]  = { "positions", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_POSITION]   = { "position", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_FAILURES]   = { "failures", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_FAILURE]    = { "failure", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_SHARDS]     = { "shards", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_SHARD]      = { "shard", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_EPOCH]      = { "epoch", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_PUBLISHERS] = { "publishers", 1, { { ROLE_PUBLISHER, ALL } } },
    [ZKU_NODE_PUBLISHER]  = { "publisher", 1, { { ROLE_PUBLISHER, ALL } } },
    /* A bootstrap request is the admin's (wormhole-ctl bootstrap): the app reads
     * it, publishers read it and keep their progress under it, alone. */
    [ZKU_NODE_BOOTSTRAP]  = { "bootstrap", 2, { { ROLE_APP, R }, { ROLE_PUBLISHER, R | C } } },
    [ZKU_NODE_BOOT_PROGRESS] = { "bootstrap progress", 1, { { ROLE_PUBLISHER, ALL } } },
};

#undef R
#undef W
#undef C
#undef D
#undef A
#undef ALL

static const char *role_name(acl_role r)
{
    return r == ROLE_WORLD ? "world" : r == ROLE_PUBLISHER ? "publisher" : "app";
}

const char *zku_node_kind_name(zku_node_kind kind)
{
    return kind > ZKU_NODE_NONE && kind < ZKU_NODE_KINDS ? kinds[kind].name : "none";
}

/* ---- classification ---------------------------------------------------------------------- */

/* The next component of *p (after its '/'): its start and length; false at the end. */
static bool next_comp(const char **p, const char **comp, size_t *n)
{
    if (**p != '/')
        return false;
    *comp = *p + 1;
    const char *slash = strchr(*comp, '/');
    *n = slash ? (size_t)(slash - *comp) : strlen(*comp);
    *p = *comp + *n;
    return *n > 0;
}

static bool is(const char *comp, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(comp, word, n) == 0;
}

zku_node_kind zku_node_kind_of(const char *root, const char *path)
{
    size_t rn = strlen(root);
    if (!path || path[0] != '/')
        return ZKU_NODE_NONE;
    /* ROOT itself and its ancestors ("/a" of root "/a/b"). */
    size_t pn = strlen(path);
    if (pn <= rn && strncmp(root, path, pn) == 0 && (pn == rn || root[pn] == '/'))
        return ZKU_NODE_ROOT;
    if (strncmp(path, root, rn) != 0 || path[rn] != '/')
        return ZKU_NODE_NONE;
    const char *p = path + rn, *c[5];
    size_t n[5];
    int depth = 0;
    while (depth < 5 && next_comp(&p, &c[depth], &n[depth]))
        depth++;
    if (*p != '\0' || depth == 0)
        return ZKU_NODE_NONE;   /* deeper than any node, or an empty component */
    if (is(c[0], n[0], "apps")) {
        if (depth == 1)
            return ZKU_NODE_APPS;
        if (depth == 2)
            return ZKU_NODE_APP;
        static const struct { const char *word; zku_node_kind folder, child; } sub[] = {
            { "instances", ZKU_NODE_INSTANCES, ZKU_NODE_INSTANCE },
            { "positions", ZKU_NODE_POSITIONS, ZKU_NODE_POSITION },
            { "failures", ZKU_NODE_FAILURES, ZKU_NODE_FAILURE },
            { "bootstrap", ZKU_NODE_BOOTSTRAP, ZKU_NODE_BOOT_PROGRESS },
        };
        for (size_t k = 0; k < sizeof sub / sizeof sub[0] && depth <= 4; k++)
            if (is(c[2], n[2], sub[k].word))
                return depth == 3 ? sub[k].folder : sub[k].child;
        return ZKU_NODE_NONE;
    }
    if (is(c[0], n[0], "shards")) {
        if (depth == 1)
            return ZKU_NODE_SHARDS;
        if (depth == 3 && is(c[2], n[2], "epoch"))
            return ZKU_NODE_EPOCH;
        if (depth >= 3 && is(c[2], n[2], "publishers"))
            return depth == 3 ? ZKU_NODE_PUBLISHERS : depth == 4 ? ZKU_NODE_PUBLISHER
                                                                 : ZKU_NODE_SHARD;
        return ZKU_NODE_SHARD;   /* the shard's node, and what publishers keep under it */
    }
    return ZKU_NODE_NONE;
}

/* ---- building and matching ----------------------------------------------------------------- */

const struct ACL_vector *zku_acl_vector(zku_acl *acl)
{
    return &acl->vec;
}

static const char *role_id(acl_role r, const zku_acl_ids *ids)
{
    return r == ROLE_WORLD ? "anyone" : r == ROLE_PUBLISHER ? ids->publisher : ids->app;
}

int zku_acl_for(zku_node_kind kind, const zku_acl_ids *ids, zku_acl *out, char *errbuf,
                size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->vec.data = out->entry;
    if (kind <= ZKU_NODE_NONE || kind >= ZKU_NODE_KINDS)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "no ACL for a path outside wormhole's "
                         "ZooKeeper layout");
    if (!ids || !ids->enabled) {
        snprintf(out->id[0], sizeof out->id[0], "anyone");
        out->entry[0] = (struct ACL){ ZOO_PERM_ALL, { (char *)"world", out->id[0] } };
        out->vec.count = 1;
        return WH_OK;
    }
    for (int i = 0; i < kinds[kind].nrules; i++) {
        const acl_rule *r = &kinds[kind].rule[i];
        const char *id = role_id(r->role, ids);
        if (!id[0])
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "the ACL of a ZooKeeper %s node "
                             "names the %s identity, which is not known here",
                             kinds[kind].name, role_name(r->role));
        snprintf(out->id[i], sizeof out->id[i], "%s", id);
        out->entry[i] = (struct ACL){ r->perms,
                                      { (char *)(r->role == ROLE_WORLD ? "world" : "digest"),
                                        out->id[i] } };
    }
    out->vec.count = kinds[kind].nrules;
    return WH_OK;
}

int zku_acl_for_path(const char *root, const char *path, const zku_acl_ids *ids, zku_acl *out,
                     char *errbuf, size_t errlen)
{
    int rc = zku_acl_for(zku_node_kind_of(root, path), ids, out, errbuf, errlen);
    if (rc != WH_OK && zku_node_kind_of(root, path) == ZKU_NODE_NONE)
        return wh_seterr(errbuf, errlen, rc, "%s is not a node of wormhole's ZooKeeper layout "
                         "under %s", path, root);
    return rc;
}

/* "user:" and 28 characters of base64 ending in '=': not a redacted
 * "user:x" (what ZooKeeper shows to a client without ADMIN on the node). */
static bool valid_digest_id(const char *id)
{
    const char *colon = strchr(id, ':');
    if (!colon || strlen(id) >= ZKU_DIGEST_ID_MAX || strlen(colon + 1) != 28 ||
        colon[28] != '=')
        return false;
    char user[ZKU_USER_MAX + 1];
    snprintf(user, sizeof user, "%.*s", (int)(colon - id), id);
    return zku_valid_user(user);
}

bool zku_acl_match(zku_node_kind kind, const struct ACL_vector *acl, zku_acl_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    if (kind <= ZKU_NODE_NONE || kind >= ZKU_NODE_KINDS || !acl ||
        acl->count != kinds[kind].nrules)
        return false;
    bool used[ZKU_ACL_MAX] = { false };
    for (int i = 0; i < kinds[kind].nrules; i++) {
        const acl_rule *r = &kinds[kind].rule[i];
        const char *scheme = r->role == ROLE_WORLD ? "world" : "digest";
        int k;
        for (k = 0; k < acl->count; k++) {
            const struct ACL *e = &acl->data[k];
            if (!used[k] && e->perms == r->perms && e->id.scheme && e->id.id &&
                strcmp(e->id.scheme, scheme) == 0 &&
                (r->role == ROLE_WORLD ? strcmp(e->id.id, "anyone") == 0
                                       : valid_digest_id(e->id.id)))
                break;
        }
        if (k == acl->count)
            return false;
        used[k] = true;
        if (r->role == ROLE_PUBLISHER)
            snprintf(ids->publisher, sizeof ids->publisher, "%s", acl->data[k].id.id);
        else if (r->role == ROLE_APP)
            snprintf(ids->app, sizeof ids->app, "%s", acl->data[k].id.id);
    }
    ids->enabled = true;
    return true;
}

/* ---- digest ids ---------------------------------------------------------------------------- */

bool zku_valid_user(const char *user)
{
    size_t n = user ? strlen(user) : 0;
    if (n == 0 || n > ZKU_USER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (user[i] <= ' ' || user[i] > '~' || user[i] == ':')
            return false;
    return true;
}

int zku_digest_id(const char *user, const char *password, char *out, size_t len)
{
    if (!zku_valid_user(user) || !password)
        return WH_ERR_INVALID;
    size_t un = strlen(user);
    if (len < un + 1 + 28 + 1)
        return WH_ERR_LIMIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, user, un) == 1 && EVP_DigestUpdate(ctx, ":", 1) == 1 &&
              EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
    EVP_MD_CTX_free(ctx);   /* wipes its state */
    if (!ok)
        return WH_ERR_NOMEM;
    memcpy(out, user, un);
    out[un] = ':';
    EVP_EncodeBlock((unsigned char *)out + un + 1, md, 20);   /* 28 characters and a NUL */
    wh_secret_wipe(md, sizeof md);
    return WH_OK;
}

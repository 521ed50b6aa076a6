/* zk_acl.h -- who may do what on each kind of wormhole znode: the one ACL table (docs/ZOOKEEPER.md, "Access control").
 *
 * Every znode the project creates takes its ACL from here: a path of the
 * layout is classified into a node kind (zku_node_kind_of), and the table in
 * zk_acl.c says, for each kind, which role gets which permissions. The roles
 * are the world (anyone), the publishers (one ZooKeeper identity shared by
 * every publisher) and the app whose node it is (one identity per app). The
 * operators' admin identity is ZooKeeper's super user (superDigest), which
 * ZooKeeper lets through every ACL, so it appears in none.
 *
 * Identities are ZooKeeper "digest" ids: "user:base64(sha1(user:password))"
 * (zku_digest_id). When ZooKeeper authentication is off (ids->enabled
 * false), every kind's ACL is world:anyone with all permissions, as before
 * authentication existed.
 *
 * A new node kind gets its ACL with one enum value below, one row in the
 * table and one case in zku_node_kind_of (zk_acl.c); creators call
 * zku_acl_for_path (or zku_acl_for) and pass zku_acl_vector(&acl).
 *
 * Module prefix zku_ (the ZooKeeper side of the protocol, with zk_layout.h
 * and zk_client.h). Threads: every function is reentrant. */
#ifndef WH_ZK_ACL_H
#define WH_ZK_ACL_H

#include <stdbool.h>
#include <stddef.h>

#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>

#define ZKU_USER_MAX      128   /* characters of a ZooKeeper user name */
/* A digest id: user, ':', 28 characters of base64 SHA-1, NUL. */
#define ZKU_DIGEST_ID_MAX (ZKU_USER_MAX + 1 + 28 + 1)
#define ZKU_ACL_MAX       4     /* entries of one ACL */

typedef enum zku_node_kind {
    ZKU_NODE_NONE = 0,    /* not a path of the layout */
    ZKU_NODE_ROOT,        /* ROOT and its ancestors */
    ZKU_NODE_APPS,        /* ROOT/apps */
    ZKU_NODE_APP,         /* ROOT/apps/APP */
    ZKU_NODE_INSTANCES,   /* ROOT/apps/APP/instances */
    ZKU_NODE_INSTANCE,    /* ROOT/apps/APP/instances/INSTANCE */
    ZKU_NODE_POSITIONS,   /* ROOT/apps/APP/positions */
    ZKU_NODE_POSITION,    /* ROOT/apps/APP/positions/SHARD */
    ZKU_NODE_FAILURES,    /* ROOT/apps/APP/failures */
    ZKU_NODE_FAILURE,     /* ROOT/apps/APP/failures/SHARD */
    ZKU_NODE_SHARDS,      /* ROOT/shards */
    ZKU_NODE_SHARD,       /* ROOT/shards/SHARD, and any node under it not named below */
    ZKU_NODE_EPOCH,       /* ROOT/shards/SHARD/epoch */
    ZKU_NODE_PUBLISHERS,  /* ROOT/shards/SHARD/publishers */
    ZKU_NODE_PUBLISHER,   /* ROOT/shards/SHARD/publishers/ID */
    ZKU_NODE_BOOTSTRAP,   /* ROOT/apps/APP/bootstrap (a request, docs/BOOTSTRAP.md) */
    ZKU_NODE_BOOT_PROGRESS, /* ROOT/apps/APP/bootstrap/SHARD */
    ZKU_NODE_KINDS
} zku_node_kind;

/* The ids an ACL is built from. */
typedef struct zku_acl_ids {
    bool enabled;                        /* false: authentication is off, every ACL is open */
    char publisher[ZKU_DIGEST_ID_MAX];   /* the publishers' digest id; "" unknown */
    char app[ZKU_DIGEST_ID_MAX];         /* the node's app's digest id; "" unknown */
} zku_acl_ids;

/* One built ACL; self-contained (no allocation). Pass zku_acl_vector(&acl)
 * to zoo_create and friends; do not copy a zku_acl by value after that. */
typedef struct zku_acl {
    struct ACL        entry[ZKU_ACL_MAX];
    char              id[ZKU_ACL_MAX][ZKU_DIGEST_ID_MAX];
    struct ACL_vector vec;
} zku_acl;

/* The kind of path under root (a valid root, zk_layout.h); ZKU_NODE_NONE
 * for a path outside the layout. */
zku_node_kind zku_node_kind_of(const char *root, const char *path);

/* "root", "apps", "app", "instances", ... Static. */
const char *zku_node_kind_name(zku_node_kind kind);

/* Builds kind's ACL from ids into out. Returns WH_OK, or WH_ERR_CONFIG when
 * the ACL needs an id that ids does not have (errbuf names the kind and the
 * role) or kind is ZKU_NODE_NONE. */
int zku_acl_for(zku_node_kind kind, const zku_acl_ids *ids, zku_acl *out, char *errbuf,
                size_t errlen);

/* zku_acl_for of zku_node_kind_of(root, path). */
int zku_acl_for_path(const char *root, const char *path, const zku_acl_ids *ids, zku_acl *out,
                     char *errbuf, size_t errlen);

/* The vector of a built ACL (points into acl). */
const struct ACL_vector *zku_acl_vector(zku_acl *acl);

/* True if acl is exactly kind's ACL with authentication on (the same
 * entries, in any order, and no other), for some ids; then fills ids
 * (enabled true, the ids of the roles kind has; the others ""). An open
 * ACL, a world entry the table does not give, a missing or extra entry,
 * an id that is not a full digest id (ZooKeeper shows "user:x" to a
 * client without ADMIN on the node): false. */
bool zku_acl_match(zku_node_kind kind, const struct ACL_vector *acl, zku_acl_ids *ids);

/* True if user can be a ZooKeeper digest user name: 1..ZKU_USER_MAX
 * printable ASCII characters other than ':' and blanks. */
bool zku_valid_user(const char *user);

/* The digest id of user with password: "user:" + base64(SHA-1("user:password")),
 * as ZooKeeper's DigestAuthenticationProvider.generateDigest computes it.
 * Returns WH_OK, WH_ERR_INVALID (user not valid), WH_ERR_LIMIT (len
 * too small; ZKU_DIGEST_ID_MAX always suffices) or WH_ERR_NOMEM (libcrypto
 * could not hash). */
int zku_digest_id(const char *user, const char *password, char *out, size_t len);

#endif

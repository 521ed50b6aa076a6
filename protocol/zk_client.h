/* zk_client.h -- helpers around the ZooKeeper C client shared by publisher and subscriber library.
 *
 * Module prefix zku_ (shared with protocol/zk_layout.h: together they are
 * the ZooKeeper side of the protocol; this file holds what needs the client
 * library, zk_layout.h what does not).
 *
 * Authentication (docs/ZOOKEEPER.md, "Access control"): a process's
 * ZooKeeper identity is a user name and a secret file (zku_auth_load); the
 * credential goes to the server with the "digest" scheme (zku_auth_add)
 * right after zookeeper_init and again on every new session. The password
 * is never logged and is wiped by zku_auth_clear.
 *
 * Threads: zku_state_name is pure; zku_quiet sets the client library's
 * global log level (call it before zookeeper_init, from any thread);
 * zku_auth_load/_clear touch only their zku_auth; zku_auth_add any thread;
 * zku_auth_add_wait and zku_create_parents are synchronous calls on zh,
 * from any thread but the client's own completion thread. */
#ifndef WH_ZK_CLIENT_H
#define WH_ZK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The multi-threaded client (libzookeeper_mt) and its synchronous API. */
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>

#include "protocol/zk_acl.h"

/* Name of a ZooKeeper session state ("connected", "expired", ...). Static. */
const char *zku_state_name(int state);

/* Silences the client library's own log unless the "zk" debug area is on
 * (its connection-refused lines would flood the log during an outage; we log
 * the state changes ourselves). Call before zookeeper_init. */
void zku_quiet(void);

/* Creates path (a node of the layout under root) with data (NULL: none) and
 * mode, carrying the ACL of its kind for ids (protocol/zk_acl.h). The
 * ZooKeeper result; ZBADARGUMENTS, with a warning, when path has no ACL. */
int zku_create(zhandle_t *zh, const char *root, const char *path, const char *data, int mode,
               const zku_acl_ids *ids);

/* Creates every missing component of path as a persistent, empty znode
 * (ZNODEEXISTS is fine); the last component too when include_last. Each
 * node created takes the ACL of its kind (zk_acl.h) built from ids under
 * root; existing components are skipped without a create (ZooKeeper checks
 * the parent's CREATE permission before it reports ZNODEEXISTS).
 * Synchronous: blocks while ZooKeeper is unreachable until the client gives
 * up on the request. Returns a ZooKeeper code (ZOK; ZBADARGUMENTS for a path
 * that is not absolute or not shorter than 1024 bytes, or one whose ACL
 * needs an id that ids lacks). */
int zku_create_parents(zhandle_t *zh, const char *root, const char *path, bool include_last,
                       const zku_acl_ids *ids);

/* ---- authentication ---------------------------------------------------------------------- */

/* A process's ZooKeeper identity. All zero: no authentication. */
typedef struct zku_auth {
    char  user[ZKU_USER_MAX + 1];
    char *credential;                /* "user:password" (malloc'd), NULL: no authentication */
    char  id[ZKU_DIGEST_ID_MAX];     /* its digest id, zku_digest_id */
} zku_auth;

/* Loads the identity user with the password read from secret_file
 * (wh_file_read_secret: mode 0600 or stricter, owned by us or root; one
 * line). user NULL or "": no authentication (a is zeroed, WH_OK); user
 * without secret_file (or the reverse) is WH_ERR_CONFIG. Returns WH_OK or a
 * code with a sentence in errbuf naming the file, never the password. */
int zku_auth_load(zku_auth *a, const char *user, const char *secret_file, char *errbuf,
                  size_t errlen);

/* True if a holds an identity. */
bool zku_auth_on(const zku_auth *a);

/* Wipes and frees the credential; a is zeroed. Accepts NULL. */
void zku_auth_clear(zku_auth *a);

/* Queues a's credential on zh with the digest scheme (sent once connected,
 * and again by the client after each reconnect of the same session, ahead
 * of any request queued meanwhile); done(rc, data) runs once on the
 * completion thread: ZOK or ZAUTHFAILED (the session is then unusable) when
 * the server answered, ZCONNECTIONLOSS or ZCLOSING when the connection went
 * first (the credential is still sent on the next connection). Returns the
 * zoo_add_auth code. */
int zku_auth_add(zhandle_t *zh, const zku_auth *a, void_completion_t done, const void *data);

/* zku_auth_add and waits up to timeout_ms for the server's answer: ZOK,
 * ZAUTHFAILED, ZOPERATIONTIMEOUT (no answer: ZooKeeper unreachable) or the
 * zoo_add_auth code. */
int zku_auth_add_wait(zhandle_t *zh, const zku_auth *a, int64_t timeout_ms);

/* The ids a process with identity a builds ACLs from: enabled when a is on,
 * and a's id as the publisher's (publisher true) or the app's. */
void zku_auth_ids(const zku_auth *a, bool publisher, zku_acl_ids *ids);

#endif

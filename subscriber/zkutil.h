/* zkutil.h -- small helpers around the ZooKeeper C client shared by publisher and subscriber. */
#ifndef WH_ZKUTIL_H
#define WH_ZKUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* The multi-threaded client (libzookeeper_mt) and its synchronous API. */
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>

/* Name of a ZooKeeper session state ("connected", "expired", ...). Static. */
const char *zku_state_name(int state);

/* Silences the client library's own log unless the "zk" debug area is on
 * (its connection-refused lines would flood the log during an outage; we log
 * the state changes ourselves). Call before zookeeper_init. */
void zku_quiet(void);

/* Creates every missing component of path as a persistent, empty znode
 * (ZNODEEXISTS is fine). Synchronous: blocks while ZooKeeper is unreachable
 * until the client gives up on the request. Returns a ZooKeeper code (ZOK). */
int zku_create_parents(zhandle_t *zh, const char *path, bool include_last);

/* Splits "host:port[,host:port]/root/path" into the connect string and the
 * root (default "/wormhole" when there is no '/'). Writes into the caller's
 * buffers; returns false if either does not fit or the root is not a valid
 * absolute path. */
bool zku_split_connect(const char *spec, char *hosts, size_t hostlen, char *root,
                       size_t rootlen);

/* True if name is a valid single path component for apps, instances, shards:
 * 1..128 characters of [A-Za-z0-9._:-], not "." or "..". */
bool zku_valid_name(const char *name);

#endif

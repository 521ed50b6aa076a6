/* zk_client.h -- helpers around the ZooKeeper C client shared by publisher and subscriber library.
 *
 * Module prefix zku_ (shared with protocol/zk_layout.h: together they are
 * the ZooKeeper side of the protocol; this file holds what needs the client
 * library, zk_layout.h what does not).
 *
 * Threads: zku_state_name is pure; zku_quiet sets the client library's
 * global log level (call it before zookeeper_init, from any thread);
 * zku_create_parents is a synchronous call on zh, from any thread but the
 * client's own completion thread. */
#ifndef WH_ZK_CLIENT_H
#define WH_ZK_CLIENT_H

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
 * (ZNODEEXISTS is fine); the last component too when include_last.
 * Synchronous: blocks while ZooKeeper is unreachable until the client gives
 * up on the request. Returns a ZooKeeper code (ZOK; ZBADARGUMENTS for a path
 * that is not absolute or not shorter than 1024 bytes). */
int zku_create_parents(zhandle_t *zh, const char *path, bool include_last);

#endif

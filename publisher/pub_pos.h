/* pub_pos.h -- positions (wh_pos) in ZooKeeper JSON, and flow assignment. */
#ifndef WH_PUB_POS_H
#define WH_PUB_POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"
#include "wormhole/position.h"   /* wh_pos and its text forms */

/* The position znode's data: {"physical":..,"logical":..|null,"epoch":N,
 * "publisher":ID}. Returns a malloc'd string or NULL on OOM. */
char *pub_pos_to_json(const wh_pos *p, uint64_t epoch, const char *publisher);

/* Parses a position znode's data; *epoch gets its epoch (0 if absent).
 * Returns 0 or WH_ERR_PARSE (errbuf names the problem). */
int pub_pos_from_json(const char *data, size_t len, wh_pos *out, uint64_t *epoch,
                      char *errbuf, size_t errlen);

/* Rendezvous (highest random weight) hashing: the weight of instance for
 * shard. The flow of (shard, app) goes to the live instance with the
 * highest weight (ties: the smaller name), so when an instance leaves only
 * its own flows move, and when one joins it takes about 1/N of them. */
uint64_t pub_rendezvous_weight(const char *instance, const char *shard);

/* Index of the chosen instance among names[0..n), or -1 if n == 0. */
int pub_rendezvous_pick(const char *const *names, int n, const char *shard);

#endif

/* pub_pos.h -- positions owned by the publisher, their ZooKeeper JSON form, and flow assignment. */
#ifndef WH_PUB_POS_H
#define WH_PUB_POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"
#include "wormhole/update.h"

/* A position held by value (a wh_position points into a mapper's batch).
 * set false means "no position yet": start at the oldest update in the log. */
typedef struct pub_pos {
    bool     set;
    bool     has_log_name;
    bool     has_logical;
    char     log_name[256];
    uint64_t offset;
    char     logical[512];
    uint32_t index;
} pub_pos;

/* Copies an update's position. Names that do not fit are truncated and
 * reported by returning false (a bug in a mapper: names are short). */
bool pub_pos_from(pub_pos *dst, const wh_position *src);

/* A wh_position view of p (pointing into p); NULL if p is not set. */
const wh_position *pub_pos_view(const pub_pos *p, wh_position *view);

/* Text forms of docs/UPDATES.md: physical "FILE:OFFSET/INDEX" or
 * "SEQ/INDEX", logical "GTID/INDEX" ("" if none). */
void pub_pos_physical(const pub_pos *p, char *buf, size_t len);
void pub_pos_logical(const pub_pos *p, char *buf, size_t len);

bool pub_pos_equal(const pub_pos *a, const pub_pos *b);

/* Parses the text forms back (either may be NULL or ""; at least one must
 * be given). Returns 0 or WH_ERR_PARSE with the reason in errbuf. */
int pub_pos_parse(pub_pos *out, const char *physical, const char *logical, char *errbuf,
                  size_t errlen);

/* The position znode's data: {"physical":..,"logical":..|null,"epoch":N,
 * "publisher":ID}. Returns a malloc'd string or NULL on OOM. */
char *pub_pos_to_json(const pub_pos *p, uint64_t epoch, const char *publisher);

/* Parses a position znode's data; *epoch gets its epoch (0 if absent).
 * Returns 0 or WH_ERR_PARSE (errbuf names the problem). */
int pub_pos_from_json(const char *data, size_t len, pub_pos *out, uint64_t *epoch,
                      char *errbuf, size_t errlen);

/* Rendezvous (highest random weight) hashing: the weight of instance for
 * shard. The flow of (shard, app) goes to the live instance with the
 * highest weight (ties: the smaller name), so when an instance leaves only
 * its own flows move, and when one joins it takes about 1/N of them. */
uint64_t pub_rendezvous_weight(const char *instance, const char *shard);

/* Index of the chosen instance among names[0..n), or -1 if n == 0. */
int pub_rendezvous_pick(const char *const *names, int n, const char *shard);

#endif

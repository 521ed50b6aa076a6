/* pub_health.h -- whether this copy of the shard can serve it: the mapper's health check on a thread of its own.
 *
 * The check may block up to the mapper's connect timeout (a database that
 * does not answer), so it runs on its own thread and never on the
 * ZooKeeper agent's, which reads the outcome (pub_health_ok) and is told
 * of each change through changed(ctx). docs/FAILOVER.md "Health". */
#ifndef WH_PUB_HEALTH_H
#define WH_PUB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "publisher/pub.h"

typedef struct pub_health pub_health;

/* Creates a mapper of p's kind for health checks only and starts the thread
 * (first check at once, then every health.interval_ms). changed(ctx) is
 * called from that thread whenever the outcome changes. */
int  pub_health_start(publisher *p, void (*changed)(void *ctx), void *ctx, pub_health **out,
                      char *errbuf, size_t errlen);
/* True when the last check passed (false before the first one ends); why
 * gets the last failure's sentence (or ""). Any thread. */
bool pub_health_ok(pub_health *h, char *why, size_t len);
/* True once the first check has ended (the candidate node's "starting" is
 * its negation). Any thread. */
bool pub_health_checked(pub_health *h);
/* Stops the thread (waiting for a check under way) and frees. Accepts NULL. */
void pub_health_stop(pub_health *h);

#endif

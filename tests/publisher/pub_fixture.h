/* pub_fixture.h -- a publisher without servers for the flow unit tests: the synthetic mapper's settings, an eventfd, an epoll set and caravans; torn down with every flow left on it.
 *
 * Header-only, included by one test file each (test_flow_limits.c,
 * test_shared_enc.c); the test owns the publisher struct. */
#ifndef WH_TEST_PUB_FIXTURE_H
#define WH_TEST_PUB_FIXTURE_H

#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "publisher/pub.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"

/* Sets P up; marker_updates is the datamarker interval in updates. */
static inline void pub_fixture_setup(publisher *P, int64_t marker_updates)
{
    memset(P, 0, sizeof *P);
    P->cfg.shard = (char *)"s1";
    P->cfg.id = (char *)"test";
    P->cfg.mapper_name = (char *)"synthetic";
    P->cfg.frame_bytes = 1 << 20;
    P->cfg.heartbeat_ms = 1000;
    P->cfg.heartbeat_timeout_ms = 10000;
    P->cfg.connect_timeout_ms = 5000;
    P->cfg.backoff_min_ms = 100;
    P->cfg.backoff_max_ms = 5000;
    P->cfg.window_bytes = 1 << 30;
    P->cfg.marker_updates = marker_updates;
    P->cfg.marker_ms = 200;
    P->cfg.batch_size = 64;
    pub_apply_live(P);
    P->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    P->epfd = epoll_create1(EPOLL_CLOEXEC);
    P->caravans = pub_caravans_new(P);
}

/* Frees every flow still on P, its caravans and descriptors. */
static inline void pub_fixture_teardown(publisher *P)
{
    while (P->flows) {
        pub_flow *f = P->flows;
        P->flows = f->next;
        pub_flow_reset(f, NULL, true);
        pub_flow_free(f);
    }
    pub_caravans_free(P->caravans);
    close(P->efd);
    close(P->epfd);
}

#endif

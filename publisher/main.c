/* main.c -- wormhole-publisher: push one shard's updates to every subscriber app that wants them.
 *
 * The command line, start-up and the loop thread. The loop owns the flows
 * (pub_flow.h: one per subscriber app that has a live instance taking this
 * shard) and their sockets; it places each streaming flow in a caravan
 * (pub_caravan.h) that reads the log for it and queues what the loop sends.
 * The ZooKeeper agent (pub_zk.c) tells it the assignment and records
 * acknowledged positions. Exit status: 0 after SIGTERM/SIGINT, 1 on an
 * unrecoverable error (one ERROR line names it), 2 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "protocol/status_file.h"
#include "publisher/pub.h"
#include "publisher/pub_bootstrap.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"
#include "publisher/pub_schema.h"

#define TICK_MS 20

static publisher *the_pub;

static void on_signal(int sig)
{
    if (!the_pub)
        return;
    if (sig == SIGHUP)
        atomic_store(&the_pub->sig_hup, 1);
    else if (sig == SIGUSR1)
        atomic_store(&the_pub->sig_move, 1);
    else
        atomic_store(&the_pub->sig_term, 1);
    pub_wake(the_pub);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: wormhole-publisher --config FILE [--debug AREAS]\n"
        "       wormhole-publisher --check-config FILE\n"
        "       wormhole-publisher --help-config | --config-markdown\n"
        "\n"
        "Reads one datastore shard's log through a positions mapper and pushes each\n"
        "subscriber app's matching updates to one of its live instances, recording\n"
        "acknowledged positions in ZooKeeper (docs/PROTOCOL.md, docs/ZOOKEEPER.md).\n"
        "SIGTERM/SIGINT stop cleanly; SIGHUP reloads the delivery and log settings;\n"
        "SIGUSR1 hands the shard over to the best other candidate (docs/FAILOVER.md).\n"
        "--check-config validates FILE, the mapper's options included, prints OK and\n"
        "exits 0 (1 with the reason on stderr) without opening the log or connecting.\n");
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Acts on what a flow's I/O reported: records an acknowledged position,
 * wakes a caravan that waits for the flow, or takes a failed flow out of its
 * caravan and resets it (or, PUB_FLOW_STOPPED, fails it for good at its
 * acknowledged position: pub_flow.h). */
static void flow_outcome(publisher *p, pub_flow *f, int r)
{
    if (r & PUB_FLOW_ACKED) {
        pub_zk_note_acked(p->zk, f->app, &f->acked, f->acked_ts);
        char *boot = f->boot ? pub_boot_acked(f) : NULL;
        if (boot)
            pub_boot_set_ticket(f, pub_zk_note_boot(p->zk, f->app, boot));
        pub_caravan_kick(f);
    } else if (r & PUB_FLOW_TOOK) {
        pub_caravan_nudge(f);
    }
    if (r & PUB_FLOW_FAILED) {
        pub_caravan_leave(p->caravans, f);
        if (r & PUB_FLOW_STOPPED)
            pub_flow_fail_for_good(f, f->stop_rc, &f->acked, f->why);
        else
            pub_flow_reset(f, f->why, false);
    }
}

/* Takes back the flows caravans dropped: those that cannot take an update
 * (too large for their subscriber, or their filter does not fit the table:
 * stop_pending) fail for good, the others get a reader (a caravan) again,
 * as do flows that started streaming. With only_leavers, does nothing
 * unless a caravan dropped one. */
static void collect_and_place(publisher *p, bool only_leavers)
{
    if (!pub_caravans_collect(p->caravans) && only_leavers)
        return;
    for (pub_flow *f = p->flows; f; f = f->next) {
        if (f->state != FLOW_STREAMING || f->caravan)
            continue;
        int rc = pub_flow_stop_pending(f);
        if (rc) {
            f->stop_rc = rc;
            flow_outcome(p, f, PUB_FLOW_FAILED | PUB_FLOW_STOPPED);
        }
    }
    pub_caravans_place(p->caravans, p->flows);
}

/* The agent wrote bootstrap progress: the flows whose next chunk waited
 * for it may emit it (pub_bootstrap.h). */
static void boot_stored(publisher *p)
{
    for (pub_flow *f = p->flows; f; f = f->next)
        if (pub_boot_store_pending(f) && pub_boot_stored(f, pub_zk_boot_written(p->zk, f->app)))
            pub_caravan_kick(f);
}

/* Waits up to ms for socket events and handles them. */
static void poll_events(publisher *p, int ms)
{
    struct epoll_event evs[64];
    int n = epoll_wait(p->epfd, evs, 64, ms);
    pub_hello hello = { NULL, 0 };   /* asked of the agent when a connect completes */
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == &p->efd) {
            uint64_t v;
            ssize_t r = read(p->efd, &v, sizeof v);
            (void)r;
            continue;
        }
        /* Flows are freed only between polls; one reset by an earlier event
         * of this poll has fd -1 and is no longer in epoll. */
        pub_flow *f = evs[i].data.ptr;
        if (f->state == FLOW_CONNECTING && !hello.publisher)
            hello = (pub_hello){ pub_zk_fatal(p->zk) ? "" : p->cfg.id, pub_zk_epoch(p->zk) };
        if (f->fd >= 0)
            flow_outcome(p, f, pub_flow_event(f, evs[i].events, &hello));
    }
    /* Output the caravans queued since the last poll. */
    for (pub_flow *f = p->flows; f; f = f->next)
        if (atomic_exchange(&f->out_ready, false))
            flow_outcome(p, f, pub_flow_send(f));
}

static void tick(publisher *p, int64_t now)
{
    for (pub_flow *f = p->flows; f; f = f->next)
        flow_outcome(p, f, pub_flow_tick(f, now));
    collect_and_place(p, false);
    pub_caravans_merge(p->caravans);
    pub_caravans_reap(p->caravans);
    pub_caravans_check(p->caravans, p->flows);
}

static void drain(publisher *p, int ms);
static void close_flows(publisher *p, bool clean);

static void run(publisher *p)
{
    int64_t last_tick = 0;
    char fence[512];
    while (!atomic_load(&p->sig_term)) {
        poll_events(p, TICK_MS);
        if (atomic_exchange(&p->sig_hup, 0)) {
            pub_reload(p);
            for (pub_flow *f = p->flows; f; f = f->next)
                pub_flow_retry(f);   /* refused and misfit flows try again */
        }
        if (atomic_exchange(&p->sig_move, 0))
            pub_zk_request_move(p->zk);
        if (pub_zk_take_boot_written(p->zk))
            boot_stored(p);
        pub_caravans_fail_flows(p->caravans);
        const char *why = pub_zk_fatal(p->zk);
        if (why || (why = pub_caravans_failed(p->caravans)))
            pub_fatal(p, "%s", why);
        if (atomic_load(&p->has_fatal))
            return;
        /* Fenced by silence or a lost lease: stop before a standby can take
         * over (docs/FAILOVER.md "Fencing"); nothing is acknowledged after. */
        if (pub_zk_fence_due(p->zk, wh_mono_ms(), fence, sizeof fence)) {
            wh_warn(WH_AREA_PUBLISHER, "%s", fence);
            close_flows(p, false);
            pub_zk_fenced(p->zk);
        }
        if (pub_zk_handover_requested(p->zk)) {
            /* Planned hand-over: every flow acknowledges what it was sent, then
             * stops; the agent writes the positions and deletes the lease. */
            drain(p, 2000);
            close_flows(p, true);
            pub_zk_handover_done(p->zk);
        }
        pub_assign *as;
        int nas;
        if (!pub_zk_is_fenced(p->zk) &&
            pub_zk_take_assignment(p->zk, &p->assign_gen, &as, &nas)) {
            pub_assign_apply(p, as, nas);
            pub_assign_free(as, nas);
        }
        /* Leavers get a reader of their own at once, not at the next tick. */
        collect_and_place(p, true);
        int64_t now = wh_mono_ms();
        if (now - last_tick >= TICK_MS) {
            tick(p, now);
            last_tick = now;
        }
        pub_report_tick(p, now);
    }
}

/* Clean stop: queues a datamarker for what every streaming flow was sent,
 * then waits up to ms for them to be acknowledged. */
static void drain(publisher *p, int ms)
{
    int64_t deadline = wh_mono_ms() + ms;
    for (pub_flow *f = p->flows; f; f = f->next)
        if (f->state == FLOW_STREAMING) {
            pub_caravan_leave(p->caravans, f);
            pub_mutex_lock(&f->mu);
            pub_flow_mark_locked(f);
            pub_mutex_unlock(&f->mu);
            flow_outcome(p, f, pub_flow_send(f));
        }
    pub_caravans_reap(p->caravans);
    while (wh_mono_ms() < deadline) {
        bool pending = false;
        for (pub_flow *f = p->flows; f; f = f->next)
            pending |= f->state == FLOW_STREAMING && pub_flow_unacked_markers(f) > 0;
        if (!pending)
            break;
        poll_events(p, TICK_MS);
    }
}

/* Closes every flow (telling streaming instances that the shard is released
 * when stopping cleanly) and stops the readers. */
static void close_flows(publisher *p, bool clean)
{
    while (p->flows) {
        pub_flow *f = p->flows;
        p->flows = f->next;
        pub_caravan_leave(p->caravans, f);
        if (f->state == FLOW_STREAMING && clean)
            pub_flow_release(f);
        pub_flow_reset(f, NULL, true);
        pub_flow_free(f);
    }
    pub_caravans_reap(p->caravans);
}

/* ---- start-up ---------------------------------------------------------------------------------- */

/* Checks the mapper's options, so that a bad config fails at start, then
 * sets up the loop's epoll set, the signals and the ZooKeeper agent. */
static int start(publisher *p, char *err, size_t errlen)
{
    wh_mapper *m = NULL;
    int rc = wh_mapper_create(p->cfg.mapper_name, p->cfg.mapper_options, p->cfg.shard, true, &m,
                              err, errlen);
    if (rc != WH_OK)
        return wh_preferr(err, errlen, rc, "%s: mapper", p->config_path);
    _Static_assert(sizeof p->copy_id == WH_COPY_ID_MAX, "copy_id holds a mapper's identity");
    rc = wh_mapper_identify(m, p->copy_id, sizeof p->copy_id, err, errlen);
    wh_mapper_destroy(m);
    if (rc != WH_OK)
        return wh_preferr(err, errlen, rc, "%s: mapper", p->config_path);
    if (p->copy_id[0])
        wh_info(WH_AREA_PUBLISHER, "copy of shard %s: %s", p->cfg.shard, p->copy_id);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->caravans = pub_caravans_new(p);
    p->schemas = pub_schemas_new();
    if (p->efd < 0 || p->epfd < 0 || !p->caravans || !p->schemas)
        return wh_seterr(err, errlen, WH_ERR_IO, "epoll/eventfd: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->efd };
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev);
    the_pub = p;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = pub_zk_new(p, &p->zk, err, errlen)) != WH_OK)
        return rc;
    return pub_zk_start(p->zk, err, errlen);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 'C' },
        { "debug", required_argument, NULL, 'd' },
        { "help-config", no_argument, NULL, 'H' },
        { "config-markdown", no_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static publisher pub;
    publisher *p = &pub;
    const char *debug = NULL;
    char err[1024];
    int c, status = 1;
    bool check_only = false;

    wh_log_set_ident("wormhole-publisher");
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': p->config_path = optarg; break;
        case 'C': p->config_path = optarg; check_only = true; break;
        case 'd': debug = optarg; break;
        case 'H': wh_config_print_help(stdout, pub_config_fields); return 0;
        case 'M': pub_config_print_markdown(stdout); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!p->config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    p->epfd = p->efd = -1;
    if (pub_load_config(p, debug, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_PUBLISHER, "%s", err);
        goto out;
    }
    if (pub_tls_setup(p, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_PUBLISHER, "%s", err);
        goto out;
    }
    if (check_only) {
        if (wh_mapper_check(p->cfg.mapper_name, p->cfg.mapper_options, err, sizeof err)) {
            wh_error(WH_AREA_PUBLISHER, "%s: mapper: %s", p->config_path, err);
            goto out;
        }
        printf("OK   %s\n", p->config_path);
        status = 0;
        goto out;
    }
    if (status_report_from_env(&p->rep, err, sizeof err) != WH_OK)
        wh_warn(WH_AREA_PUBLISHER, "status file: %s", err);
    pub_report_write(p, "starting", NULL, -1, NULL);
    if (start(p, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_PUBLISHER, "%s", err);
        status_report_exiting(p->rep, err);
        goto out;
    }
    wh_info(WH_AREA_PUBLISHER, "publisher %s for shard %s (mapper %s, ZooKeeper %s%s)",
            p->cfg.id, p->cfg.shard, p->cfg.mapper_name, p->cfg.zk_connect, p->cfg.zk_root);

    run(p);
    if (atomic_load(&p->has_fatal)) {
        wh_error(WH_AREA_PUBLISHER, "%s", p->fatal);
        status_report_exiting(p->rep, p->fatal);
        /* Crash-only: no final positions on the way out of a failure. */
    } else {
        wh_info(WH_AREA_PUBLISHER, "stopping: recording final positions");
        pub_report_write(p, "stopping", NULL, -1, NULL);
        drain(p, 1000);
        status = 0;
    }
    close_flows(p, status == 0);
out:
    pub_zk_free(p->zk);
    pub_caravans_free(p->caravans);
    pub_schemas_free(p->schemas);
    the_pub = NULL;
    if (p->epfd >= 0) close(p->epfd);
    if (p->efd >= 0) close(p->efd);
    status_report_free(p->rep);
    wire_tls_ctx_free(p->tls);
    wh_config_free(pub_config_fields, &p->cfg);
    free(p->id_configured);
    return status;
}

/* pub_report.c -- the publisher's heartbeats to its monitor: state, position, lag, stopped flows and the figures of every flow in the status file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "protocol/status_file.h"
#include "publisher/pub.h"
#include "publisher/pub_bootstrap.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"
#include "protocol/zk_layout.h"

/* A reader stuck in its mapper this long stops the heartbeats. */
#define READER_STUCK_MS 30000

/* Whether a caravan's reader has not come back from its mapper for too
 * long (the first such is logged). */
static bool readers_stuck(publisher *p, int64_t now)
{
    pub_caravan_view v;
    for (uint32_t i = 0; pub_caravans_view(p->caravans, i, &v); i++)
        if (now - v.beat_ms > READER_STUCK_MS) {
            wh_warn(WH_AREA_PUBLISHER, "reader of caravan %llu has not come back from the "
                    "mapper for %lld s", (unsigned long long)v.id,
                    (long long)((now - v.beat_ms) / 1000));
            return true;
        }
    return false;
}

/* Lag: how far the slowest reader is behind the head of the log, by the
 * log's own event times (whole seconds in a binlog); -1 (unknown) without
 * readers or when the log has no times. pos gets a reader's position. */
static int64_t readers_lag(publisher *p, char *pos, size_t poslen)
{
    pub_caravan_view v;
    int64_t lag = -1, wall = wh_wall_ms();
    for (uint32_t i = 0; pub_caravans_view(p->caravans, i, &v); i++) {
        if (i == 0)
            lag = 0;
        if (v.last.set)
            wh_pos_format_physical(&v.last, pos, poslen);
        if (v.at_head || lag < 0)
            continue;
        if (!v.reading || v.last_ts <= 0)
            lag = -1;
        else if (wall - v.last_ts * 1000 > lag)
            lag = wall - v.last_ts * 1000;
    }
    return lag;
}

static const char *flow_state_name(pub_flow_state st)
{
    switch (st) {
    case FLOW_BACKOFF:    return "backoff";
    case FLOW_CONNECTING: return "connecting";
    case FLOW_HELLO:      return "hello";
    case FLOW_STREAMING:  return "streaming";
    case FLOW_FAILED:     return "failed";
    }
    return "unknown";
}

/* One flow's figures (docs/MONITOR.md, "Metrics"). Lag by event time: 0
 * when everything the flow's reader handed it is acknowledged and that
 * reader stands at the head of the log; else how old the acknowledged
 * position's event is (unknown until the first acknowledgement of this
 * run carries an event time). Loop thread; takes f->mu, then the
 * caravan's mu (not both at once). */
static int add_flow(publisher *p, json_t *extra, pub_flow *f, int64_t wall, int64_t behind,
                    int64_t retained)
{
    char at[WH_POS_PHYSICAL_TEXT_MAX] = "";
    status_flow fl = { .app = f->app, .state = flow_state_name(f->state), .lag_s = -1,
                       .behind_bytes = behind, .retained_bytes = retained,
                       .reconnects = f->reconnects,
                       .last_error = f->last_error,
                       .window_bytes = (uint64_t)atomic_load(&p->window_bytes) };
    pub_mutex_lock(&f->mu);
    fl.delivered_updates = f->delivered_updates;
    fl.delivered_bytes = f->delivered_bytes;
    fl.in_flight_bytes = pub_flow_unacked_bytes_locked(f);
    fl.acked_ts = f->acked_ts > 0 ? f->acked_ts : -1;
    bool drained = f->nmarkers == 0 && wh_pos_equal(&f->processed, &f->acked) && f->out.len == 0;
    if (f->acked.set && !f->acked_start)
        wh_pos_format_physical(&f->acked, at, sizeof at);
    pub_mutex_unlock(&f->mu);
    fl.acked_position = at;
    if (f->state == FLOW_STREAMING && drained && pub_caravan_flow_at_head(f)) {
        fl.lag_s = 0;
        if (fl.behind_bytes > 0)   /* it has everything: the span counts from its last
                                    * transaction's start (a position's offset) */
            fl.behind_bytes = 0;
    } else if (fl.acked_ts > 0) {
        fl.lag_s = wall / 1000 > fl.acked_ts ? wall / 1000 - fl.acked_ts : 0;
    }
    if (f->state == FLOW_FAILED) {
        fl.failure_code = zku_failure_code(f->failed_rc);
        fl.failure_reason = f->failed_why;
    }
    return status_add_flow(extra, &fl);
}

/* Every flow, every caravan and the publisher's counters (loop thread). */
static void add_figures(publisher *p, json_t *extra)
{
    int64_t wall = wh_wall_ms();
    status_counters c = {
        .shard = p->cfg.shard, .mapper = p->cfg.mapper_name,
        .updates_decoded = atomic_load_explicit(&p->updates_decoded, memory_order_relaxed),
        .batches_decoded = atomic_load_explicit(&p->batches_decoded, memory_order_relaxed),
        .zk_writes = atomic_load_explicit(&p->zk_writes, memory_order_relaxed),
    };
    status_set_counters(extra, &c);
    /* The log between each flow's acknowledged position and the head, and
     * from the oldest file kept to it (mappers whose log is made of files). */
    size_t n = 0, k = 0;
    for (pub_flow *f = p->flows; f; f = f->next)
        n++;
    wh_pos *acked = n ? malloc(n * sizeof *acked) : NULL;
    const wh_pos **ptrs = n ? malloc(n * sizeof *ptrs) : NULL;
    int64_t *spans = n ? malloc(2 * n * sizeof *spans) : NULL;
    bool spanned = false;
    if (acked && ptrs && spans) {
        for (pub_flow *f = p->flows; f; f = f->next, k++) {
            pub_mutex_lock(&f->mu);
            acked[k] = f->acked;
            pub_mutex_unlock(&f->mu);
            ptrs[k] = &acked[k];
        }
        char err[512];
        spanned = wh_mapper_log_span(p->cfg.mapper_name, p->cfg.mapper_options, ptrs, n, spans,
                                     spans + n, err, sizeof err) == WH_OK;
    }
    k = 0;
    for (pub_flow *f = p->flows; f; f = f->next, k++)
        add_flow(p, extra, f, wall, spanned ? spans[k] : -1, spanned ? spans[n + k] : -1);
    free(acked);
    free(ptrs);
    free(spans);
    pub_caravan_view v;
    for (uint32_t i = 0; pub_caravans_view(p->caravans, i, &v); i++) {
        char at[WH_POS_PHYSICAL_TEXT_MAX] = "";
        if (v.last.set)
            wh_pos_format_physical(&v.last, at, sizeof at);
        status_add_caravan(extra, v.id, at, v.members, v.reading && v.at_head);
    }
}

void pub_report_write(publisher *p, const char *state, const char *position, int64_t lag_ms,
                      const json_t *extra)
{
    char err[1024];
    if (!p->rep)
        return;
    if (status_report_write(p->rep, state, position, lag_ms, extra, err, sizeof err) != WH_OK) {
        /* A lost heartbeat: the monitor kills a publisher that sends none
         * for its stuck timeout, so say why, once per distinct reason (the
         * monitor records the last ERROR line as the reason of the kill). */
        p->status_failures = status_report_failures(p->rep);
        if (strcmp(err, p->status_error) != 0) {
            wh_error(WH_AREA_PUBLISHER, "%s (failed write %llu; heartbeats to the monitor are "
                     "lost while this lasts, and a supervised publisher is stopped as stuck "
                     "after its stuck timeout)", err, (unsigned long long)p->status_failures);
            snprintf(p->status_error, sizeof p->status_error, "%s", err);
        }
        return;
    }
    if (p->status_error[0]) {
        wh_info(WH_AREA_PUBLISHER, "status file written again after %llu failed write%s",
                (unsigned long long)p->status_failures, p->status_failures == 1 ? "" : "s");
        p->status_error[0] = '\0';
    }
}

/* The flow's running bootstrap, if any, into extra's "bootstraps". */
static void report_bootstrap(pub_flow *f, json_t **extra)
{
    pub_boot_view v;
    if (!f->boot || !pub_boot_view_get(f, &v) || (!*extra && !(*extra = json_object())))
        return;
    status_bootstrap sb = { .app = f->app, .id = v.id, .table = v.table[0] ? v.table : NULL,
                            .table_index = v.table_index, .tables = v.tables, .rows = v.rows,
                            .rows_acked = v.rows_acked, .table_rows = v.table_rows,
                            .estimate = v.estimate, .rows_per_sec = v.rows_per_sec,
                            .eta_s = v.eta_s, .reread = v.reread };
    status_add_bootstrap(*extra, &sb);
}

void pub_report_tick(publisher *p, int64_t now)
{
    /* Report at every interval, and at once when the state changes to
     * running, so a rolling restart need not wait a whole interval. */
    bool up = pub_zk_registered(p->zk);
    if (now - p->last_report < status_report_interval_ms(p->rep) && (p->running_reported || !up))
        return;
    p->last_report = now;
    if (up)
        p->running_reported = true;
    /* A heartbeat vouches for the readers too: a caravan stuck in its
     * mapper stops them, so the monitor restarts us. */
    if (readers_stuck(p, now))
        return;
    char pos[800] = "";
    int64_t lag = readers_lag(p, pos, sizeof pos);
    /* Flows stopped for good, so the monitor and the operator see them. */
    json_t *extra = json_object();
    if (extra)
        status_set_role(extra, pub_zk_active(p->zk) && !pub_zk_is_fenced(p->zk) ? "active"
                                                                                : "standby",
                        pub_zk_epoch(p->zk));
    for (pub_flow *f = p->flows; f; f = f->next) {
        if (f->state != FLOW_FAILED)
            continue;
        char at[800] = "";
        if (f->failed_pos.set)
            wh_pos_format_physical(&f->failed_pos, at, sizeof at);
        if (!extra)
            extra = json_object();
        if (extra)
            status_add_failed_flow(extra, f->app, zku_failure_code(f->failed_rc), f->failed_why,
                                   at, f->failed_since_ms);
    }
    /* Log bytes read and readers started, and flows waiting for a reader
     * (delivery.max_caravans). */
    uint64_t bytes_read, started;
    pub_caravans_counters(p->caravans, &bytes_read, &started);
    if (extra)
        status_set_reading(extra, bytes_read, started);
    for (pub_flow *f = p->flows; f && extra; f = f->next) {
        if (f->state != FLOW_STREAMING || f->caravan || !f->caravan_waiting_ms)
            continue;
        char at[800] = "";
        if (f->resume.set)
            wh_pos_format_physical(&f->resume, at, sizeof at);
        status_add_waiting_flow(extra, f->app, at, f->caravan_waiting_ms);
    }
    /* Bootstraps being served (docs/BOOTSTRAP.md). */
    for (pub_flow *f = p->flows; f; f = f->next)
        report_bootstrap(f, &extra);
    if (extra)
        add_figures(p, extra);
    /* Readers waiting for their start position to reach this copy's log. */
    pub_caravan_view v;
    for (uint32_t i = 0; pub_caravans_view(p->caravans, i, &v); i++) {
        if (!v.waiting_since_ms || (!extra && !(extra = json_object())))
            continue;
        char at[WH_POS_LOGICAL_TEXT_MAX];
        wh_pos_format_logical(&v.last, at, sizeof at);
        status_add_waiting_reader(extra, at, v.waiting_why, v.waiting_since_ms);
    }
    pub_report_write(p, p->running_reported ? "running" : "starting", pos[0] ? pos : NULL, lag,
                     extra);
    json_decref(extra);
}

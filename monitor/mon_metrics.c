/* mon_metrics.c -- renders what the publishers last reported, and the monitor's own figures, as Prometheus metrics (see mon_metrics.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/mon_metrics.h"
#include "monitor/mon_prom.h"
#include "monitor/mon_supervise.h"

/* A number from a JSON object, or false when absent / not a number. */
static bool num(const json_t *o, const char *key, double *v)
{
    const json_t *j = json_object_get(o, key);
    if (!json_is_number(j))
        return false;
    *v = json_number_value(j);
    return true;
}

/* ---- per publisher ------------------------------------------------------------------------- */

/* A publisher-level family whose value comes from the report's field key
 * (scaled), or from the monitor itself (key NULL: see pub_value). */
typedef struct pub_family {
    const char *name, *type, *help, *key;
    double      scale;
} pub_family;

static const pub_family pub_families[] = {
    { "wormhole_publisher_up", "gauge",
      "1 when the publisher process runs and is healthy (running, heartbeats arriving)", NULL, 1 },
    { "wormhole_publisher_restarts_total", "counter",
      "Automatic restarts of the publisher by the monitor since the instance appeared", NULL, 1 },
    { "wormhole_publisher_heartbeat_age_seconds", "gauge",
      "Seconds since the publisher's last status file heartbeat", NULL, 1 },
    { "wormhole_publisher_active", "gauge",
      "1 while the publisher holds its shard's lease (role active), 0 standby", NULL, 1 },
    { "wormhole_publisher_epoch", "gauge", "The shard epoch the publisher holds or last held",
      "epoch", 1 },
    { "wormhole_publisher_lag_seconds", "gauge",
      "How far the slowest reader is behind the head of the log, by event time", "lag_ms",
      0.001 },
    { "wormhole_publisher_caravans", "gauge", "Caravans (shared log readers) the publisher runs",
      NULL, 1 },
    { "wormhole_log_bytes_read_total", "counter",
      "Bytes of log read by all the publisher's readers", "log_bytes_read", 1 },
    { "wormhole_readers_started_total", "counter", "Log readers (caravans) the publisher started",
      "readers_started", 1 },
    { "wormhole_zk_writes_total", "counter", "Creates and sets the publisher sent to ZooKeeper",
      "zk_writes", 1 },
    { "wormhole_flows_unlisted", "gauge",
      "Flows the status file counts but does not list (over its bound)", "flows_unlisted", 1 },
    { "wormhole_status_write_failures_total", "counter",
      "Status file writes that failed in the publisher", "write_failures", 1 },
};

/* The value of family i for p; false: no sample. */
static bool pub_value(const pub_family *f, const mon_metrics_pub *p, double *v)
{
    if (strcmp(f->name, "wormhole_publisher_up") == 0) {
        *v = p->up ? 1 : 0;
        return true;
    }
    if (strcmp(f->name, "wormhole_publisher_restarts_total") == 0) {
        *v = (double)p->restarts;
        return true;
    }
    if (!p->report)
        return false;
    if (strcmp(f->name, "wormhole_publisher_heartbeat_age_seconds") == 0) {
        *v = (double)p->heartbeat_age_ms / 1000.0;
        return p->heartbeat_age_ms >= 0;
    }
    if (strcmp(f->name, "wormhole_publisher_active") == 0) {
        const char *role = json_string_value(json_object_get(p->report, "role"));
        *v = role && strcmp(role, "active") == 0 ? 1 : 0;
        return role != NULL;
    }
    if (strcmp(f->name, "wormhole_publisher_caravans") == 0) {
        const json_t *c = json_object_get(p->report, "caravans");
        double more = 0;
        num(p->report, "caravans_unlisted", &more);
        *v = (double)json_array_size(c) + more;
        return true;
    }
    if (!num(p->report, f->key, v))
        return false;
    *v *= f->scale;
    return true;
}

static void publisher_families(wh_buf *b, const mon_metrics_pub *pubs, size_t n)
{
    for (size_t k = 0; k < sizeof pub_families / sizeof pub_families[0]; k++) {
        const pub_family *f = &pub_families[k];
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            double v;
            if (!pub_value(f, &pubs[i], &v))
                continue;
            if (!any)
                mon_prom_family(b, f->name, f->type, f->help);
            any = true;
            mon_prom_label l[] = { { "shard", pubs[i].shard }, { "publisher", pubs[i].name } };
            mon_prom_sample(b, f->name, l, 2, v);
        }
    }
}

/* Decode counters (by mapper) and caravan members. */
static void mapper_and_caravans(wh_buf *b, const mon_metrics_pub *pubs, size_t n)
{
    static const struct { const char *name, *key, *help; } dec[] = {
        { "wormhole_mapper_updates_decoded_total", "updates",
          "Updates the publisher's mapper decoded from the log (rate: rows decoded per second)" },
        { "wormhole_mapper_batches_decoded_total", "batches",
          "Batches the publisher's mapper returned" },
    };
    for (size_t k = 0; k < 2; k++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            const json_t *d = pubs[i].report ? json_object_get(pubs[i].report, "decoded") : NULL;
            double v;
            if (!num(d, dec[k].key, &v))
                continue;
            if (!any)
                mon_prom_family(b, dec[k].name, "counter", dec[k].help);
            any = true;
            mon_prom_label l[] = { { "shard", pubs[i].shard }, { "publisher", pubs[i].name },
                                   { "mapper", json_string_value(json_object_get(d, "mapper")) } };
            mon_prom_sample(b, dec[k].name, l, 3, v);
        }
    }
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        size_t j;
        const json_t *c;
        json_array_foreach(pubs[i].report ? json_object_get(pubs[i].report, "caravans") : NULL, j,
                           c) {
            double v;
            if (!num(c, "members", &v))
                continue;
            if (!any)
                mon_prom_family(b, "wormhole_caravan_members", "gauge",
                                "Flows a caravan (one shared log reader) feeds");
            any = true;
            char id[24];
            snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(c, "id")));
            mon_prom_label l[] = { { "shard", pubs[i].shard }, { "publisher", pubs[i].name },
                                   { "caravan", id } };
            mon_prom_sample(b, "wormhole_caravan_members", l, 3, v);
        }
    }
}

/* ---- per flow ------------------------------------------------------------------------------ */

typedef struct flow_family {
    const char *name, *type, *help, *key;
} flow_family;

static const flow_family flow_families[] = {
    { "wormhole_flow_delivered_updates_total", "counter",
      "Updates the app's subscriber acknowledged (re-sent ones after a reconnect count again)",
      "delivered_updates" },
    { "wormhole_flow_delivered_bytes_total", "counter",
      "Frame bytes the app's subscriber acknowledged", "delivered_bytes" },
    { "wormhole_flow_lag_seconds", "gauge",
      "Seconds the app's acknowledged position is behind the head of the log, by event time",
      "lag_s" },
    { "wormhole_flow_acked_event_timestamp_seconds", "gauge",
      "Event time (Unix seconds) of the app's acknowledged position", "acked_ts" },
    { "wormhole_flow_behind_bytes", "gauge",
      "Log bytes between the app's acknowledged position and the head of the log (approximate)",
      "behind_bytes" },
    { "wormhole_flow_retained_bytes", "gauge",
      "Log bytes between the oldest log file still kept and the app's acknowledged position",
      "retained_bytes" },
    { "wormhole_flow_in_flight_bytes", "gauge", "Bytes sent to the app and not yet acknowledged",
      "in_flight_bytes" },
    { "wormhole_flow_window_bytes", "gauge", "The flow's window (delivery.window_bytes)",
      "window_bytes" },
    { "wormhole_flow_window_fill_ratio", "gauge",
      "In-flight bytes over the window (1: the flow waits for acknowledgements)", NULL },
    { "wormhole_flow_reconnects_total", "counter",
      "Connections to the app's subscriber reset after a failure", "reconnects" },
    { "wormhole_flow_failed", "gauge",
      "1 when the flow stopped for good (docs/RUNBOOK.md \"A flow failed\")", NULL },
};

static bool flow_value(const flow_family *f, const json_t *fl, double *v)
{
    if (f->key)
        return num(fl, f->key, v);
    if (strcmp(f->name, "wormhole_flow_failed") == 0) {
        *v = strcmp(json_string_value(json_object_get(fl, "state")), "failed") == 0 ? 1 : 0;
        return true;
    }
    double used, window;
    if (!num(fl, "in_flight_bytes", &used) || !num(fl, "window_bytes", &window) || window <= 0)
        return false;
    *v = used / window;
    return true;
}

static void flow_families_out(wh_buf *b, const mon_metrics_pub *pubs, size_t n)
{
    for (size_t k = 0; k < sizeof flow_families / sizeof flow_families[0]; k++) {
        const flow_family *f = &flow_families[k];
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            size_t j;
            const json_t *fl;
            json_array_foreach(pubs[i].report ? json_object_get(pubs[i].report, "flows") : NULL,
                               j, fl) {
                double v;
                if (!flow_value(f, fl, &v))
                    continue;
                if (!any)
                    mon_prom_family(b, f->name, f->type, f->help);
                any = true;
                mon_prom_label l[] = {
                    { "shard", pubs[i].shard }, { "app", json_string_value(json_object_get(fl, "app")) },
                    { "publisher", pubs[i].name } };
                mon_prom_sample(b, f->name, l, 3, v);
            }
        }
    }
}

/* One-hot state per flow, and the failure's code and reason as labels. */
static void flow_states(wh_buf *b, const mon_metrics_pub *pubs, size_t n)
{
    static const char *const states[] = { "backoff", "connecting", "hello", "streaming", "failed" };
    for (int pass = 0; pass < 2; pass++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            size_t j;
            const json_t *fl;
            json_array_foreach(pubs[i].report ? json_object_get(pubs[i].report, "flows") : NULL,
                               j, fl) {
                const char *app = json_string_value(json_object_get(fl, "app"));
                const char *st = json_string_value(json_object_get(fl, "state"));
                const json_t *fail = json_object_get(fl, "failure");
                if (pass == 1 && !json_is_object(fail))
                    continue;
                if (!any)
                    mon_prom_family(b, pass ? "wormhole_flow_failure_info" : "wormhole_flow_state",
                                    "gauge", pass ? "A stopped flow's failure code and reason (value 1)"
                                                  : "1 for the flow's current state");
                any = true;
                if (pass == 1) {
                    mon_prom_label l[] = {
                        { "shard", pubs[i].shard }, { "app", app }, { "publisher", pubs[i].name },
                        { "code", json_string_value(json_object_get(fail, "code")) },
                        { "reason", json_string_value(json_object_get(fail, "reason")) } };
                    mon_prom_sample(b, "wormhole_flow_failure_info", l, 5, 1);
                    continue;
                }
                for (size_t s = 0; s < sizeof states / sizeof states[0]; s++) {
                    mon_prom_label l[] = { { "shard", pubs[i].shard }, { "app", app },
                                           { "publisher", pubs[i].name }, { "state", states[s] } };
                    mon_prom_sample(b, "wormhole_flow_state", l, 4, strcmp(st, states[s]) == 0);
                }
            }
        }
    }
}

void mon_metrics_format(wh_buf *b, const mon_metrics_pub *pubs, size_t n)
{
    mon_prom_family(b, "wormhole_monitor_publishers", "gauge",
                    "Publisher instances the monitor knows (instance files)");
    mon_prom_sample(b, "wormhole_monitor_publishers", NULL, 0, (double)n);
    publisher_families(b, pubs, n);
    mapper_and_caravans(b, pubs, n);
    flow_families_out(b, pubs, n);
    flow_states(b, pubs, n);
}

/* The shard an instance serves: its report's, else its instance file's. */
static const char *instance_shard(const mon_instance *in)
{
    const char *s = in->health.report ? json_string_value(json_object_get(in->health.report, "shard"))
                                      : NULL;
    if (!s && in->spec)
        s = json_string_value(json_object_get(in->spec->publisher, "shard"));
    return s ? s : "";
}

void mon_metrics_render(mon_monitor *m, int64_t now, wh_buf *b)
{
    wh_buf_reset(b);
    mon_metrics_pub *pubs = calloc(m->ninst ? m->ninst : 1, sizeof *pubs);
    if (!pubs) {
        b->oom = true;
        return;
    }
    for (size_t i = 0; i < m->ninst; i++) {
        const mon_instance *in = m->inst[i];
        bool live = in->pid > 0;
        pubs[i] = (mon_metrics_pub){
            .name = in->name, .shard = instance_shard(in),
            .up = live && mon_inst_healthy(in, now), .restarts = in->restarts,
            .heartbeat_age_ms = live && in->health.seen ? now - in->health.last_mono : -1,
            .report = live ? in->health.report : NULL,
        };
    }
    mon_metrics_format(b, pubs, m->ninst);
    free(pubs);
}

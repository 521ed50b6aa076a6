/* mon_metrics.h -- the monitor's metrics: what its publishers last reported and its own supervision, as Prometheus text.
 *
 * The monitor thread renders (mon_metrics_render) from its instances and
 * the status files they last wrote (protocol/status_file.h); the HTTP
 * endpoint (mon_http.h) serves the latest rendering and never touches the
 * monitor's state. Names, labels and meanings: docs/MONITOR.md "Metrics". */
#ifndef MON_METRICS_H
#define MON_METRICS_H

#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "monitor/mon.h"

/* One publisher as the metrics see it: name, shard, whether it is up, its
 * automatic restarts, heartbeat age and last report (NULL: none, or not
 * running). Borrowed for the call. */
typedef struct mon_metrics_pub {
    const char   *name;
    const char   *shard;
    bool          up;
    uint64_t      restarts;
    int64_t       heartbeat_age_ms;   /* < 0: no heartbeat in this run */
    const json_t *report;
} mon_metrics_pub;

/* Appends the exposition of pubs[0..n) to b (families in a fixed order,
 * each with its HELP and TYPE lines). Pure: any thread. */
void mon_metrics_format(wh_buf *b, const mon_metrics_pub *pubs, size_t n);

/* Renders the monitor's instances at now (wh_mono_ms) into b (reset
 * first). Monitor thread. */
void mon_metrics_render(mon_monitor *m, int64_t now, wh_buf *b);

#endif

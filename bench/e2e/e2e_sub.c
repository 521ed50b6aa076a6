/* e2e_sub.c -- a measuring subscriber for the end-to-end benchmark and the publisher's tests.
 *
 * Joins an app through libwormhole, counts what arrives, and measures the
 * latency of each update from a nanosecond wall-clock column of the row
 * (--latency-column, default gen_ns: the synthetic mapper's generation time,
 * or a commit time written by the load generator) to the callback. Prints
 * one JSON object at the end. --stall-after N makes the callback block after
 * N updates (a stalled subscriber, for tests); --manual-ack acknowledges
 * each batch through wh_subscriber_ack instead of automatically. An empty
 * --latency-column only counts (bench/pipeline: no per-row lookup). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "protocol/zk_layout.h"
#include "wormhole/subscriber.h"

static wh_subscriber *sub;
static const char *lat_col = "gen_ns";
static long long want = -1, stall_after = -1, received, first_ns, last_ns;
static double *lat;
static size_t nlat, caplat;
static volatile sig_atomic_t stalled_forever;
static bool manual;

static void on_signal(int sig)
{
    (void)sig;
    stalled_forever = 0;
    wh_subscriber_stop(sub);
}

static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    (void)opaque;
    (void)d;
    long long wall = wh_wall_ns();
    if (!first_ns)
        first_ns = wh_mono_ns();
    for (size_t i = 0; *lat_col && i < n; i++) {
        const wh_row *r = &ups[i].after;
        int k = ups[i].has_after ? wh_row_find(r, lat_col, strlen(lat_col)) : -1;
        if (k >= 0 && r->values[k].type == WH_T_INT) {
            if (nlat == caplat) {
                caplat = caplat ? caplat * 2 : 1 << 16;
                double *p = realloc(lat, caplat * sizeof *p);
                if (!p)
                    return -1;
                lat = p;
            }
            lat[nlat++] = (double)(wall - r->values[k].n.i) / 1e6;
        }
    }
    received += (long long)n;
    last_ns = wh_mono_ns();
    if (stall_after >= 0 && received >= stall_after) {
        wh_info(WH_AREA_SUBSCRIBER, "stalling after %lld updates", received);
        stalled_forever = 1;
        while (stalled_forever)
            pause();
    }
    if (manual && wh_subscriber_ack(sub, d) != WH_OK)
        return -1;
    if (want >= 0 && received >= want)
        wh_subscriber_stop(sub);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (!nlat)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)(nlat - 1));
    return lat[k];
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "zk", required_argument, NULL, 'z' },
        { "app", required_argument, NULL, 'a' },
        { "filter", required_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "stall-after", required_argument, NULL, 's' },
        { "latency-column", required_argument, NULL, 'l' },
        { "skip", required_argument, NULL, 'k' },
        { "manual-ack", no_argument, NULL, 'm' },
        { "tls-ca", required_argument, NULL, 'A' },
        { "tls-cert", required_argument, NULL, 'C' },
        { "tls-key", required_argument, NULL, 'K' },
        { NULL, 0, NULL, 0 },
    };
    char hosts[1024], root[512], err[1024];
    const char *zk = NULL;
    long long skip = 0;
    wh_sub_options o;
    int c;
    wh_log_set_ident("e2e-sub");
    wh_sub_options_init(&o);
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'z': zk = optarg; break;
        case 'a': o.app = optarg; break;
        case 'f': o.filter = optarg; break;
        case 'n': want = atoll(optarg); break;
        case 's': stall_after = atoll(optarg); break;
        case 'l': lat_col = optarg; break;
        case 'k': skip = atoll(optarg); break;
        case 'm': manual = true; break;
        case 'A': o.tls_ca_file = optarg; break;
        case 'C': o.tls_cert_file = optarg; break;
        case 'K': o.tls_key_file = optarg; break;
        default:
            fprintf(stderr, "usage: e2e-sub --zk HOSTS/ROOT --app NAME [--filter EXPR] "
                    "[--count N] [--stall-after N] [--latency-column COL] [--skip N] "
                    "[--manual-ack] [--tls-ca FILE --tls-cert FILE --tls-key FILE]\n");
            return 2;
        }
    }
    if (!zk || !o.app || !zku_split_connect(zk, hosts, sizeof hosts, root, sizeof root)) {
        fprintf(stderr, "e2e-sub: --zk HOSTS/ROOT and --app are required\n");
        return 2;
    }
    o.zk_connect = hosts;
    o.zk_root = root;
    o.on_batch = on_batch;
    o.manual_ack = manual;
    if (wh_subscriber_new(&o, &sub, err, sizeof err) != WH_OK) {
        fprintf(stderr, "e2e-sub: %s\n", err);
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = wh_subscriber_run(sub, err, sizeof err);
    if (rc != WH_OK)
        fprintf(stderr, "e2e-sub: %s\n", err);
    wh_sub_stats st;
    wh_subscriber_stats(sub, &st);
    wh_subscriber_free(sub);
    /* Latency percentiles over all but the first skip samples (warm-up). */
    if ((size_t)skip < nlat) {
        memmove(lat, lat + skip, (nlat - (size_t)skip) * sizeof *lat);
        nlat -= (size_t)skip;
    } else {
        nlat = 0;
    }
    if (nlat)
        qsort(lat, nlat, sizeof *lat, cmp_double);
    double secs = last_ns > first_ns ? (double)(last_ns - first_ns) / 1e9 : 0;
    printf("{\"updates\":%lld,\"seconds\":%.3f,\"updates_per_s\":%.0f,\"bytes\":%llu,"
           "\"latency_ms\":{\"samples\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"p999\":%.3f,\"max\":%.3f}}\n",
           received, secs, secs > 0 ? (double)received / secs : 0,
           (unsigned long long)st.bytes, nlat, pct(50), pct(90), pct(99), pct(99.9),
           nlat ? lat[nlat - 1] : 0.0);
    free(lat);
    return rc == WH_OK ? 0 : 1;
}

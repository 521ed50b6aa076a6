/* multi_sub.c -- many subscriber apps in one process, for the caravan tests and benchmark.
 *
 * Usage: multi_sub --zk HOSTS/ROOT --prefix P --apps N [--count C] [--timeout S]
 *
 * Creates N instances of libwormhole, one per app P0..P(N-1) (each its own
 * app with no filter), starts them together (all created and bound first,
 * then registered at once from N threads, each instance then running on the
 * library's own thread) and counts the updates each receives. Prints "registered N" on stderr once
 * all are registered; with --count, exits 0 once every app has received at
 * least C updates (1 on --timeout, default 300 s), printing one JSON line
 * {"apps":N,"min":M,"max":X,"seconds":T}. Without --count it runs until
 * SIGTERM/SIGINT and prints the same line. One light process instead of N
 * wormhole-tail processes keeps 50 apps cheap under ASan. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "protocol/zk_layout.h"
#include "wormhole/subscriber.h"

typedef struct app_state {
    wh_subscriber *sub;
    char name[160];
    atomic_llong received;
    pthread_t starter;
    int start_rc;
    char err[1024];
} app_state;

static void *start_one(void *arg)
{
    app_state *a = arg;
    a->start_rc = wh_subscriber_start(a->sub, a->err, sizeof a->err);
    return NULL;
}

static volatile sig_atomic_t stop_now;

static void on_signal(int sig)
{
    (void)sig;
    stop_now = 1;
}

static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    app_state *a = opaque;
    (void)ups;
    (void)d;
    atomic_fetch_add(&a->received, (long long)n);
    return 0;
}

static void counts(app_state *apps, int n, long long *min, long long *max)
{
    *min = -1;
    *max = 0;
    for (int i = 0; i < n; i++) {
        long long r = atomic_load(&apps[i].received);
        if (*min < 0 || r < *min)
            *min = r;
        if (r > *max)
            *max = r;
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "zk", required_argument, NULL, 'z' },
        { "prefix", required_argument, NULL, 'p' },
        { "apps", required_argument, NULL, 'n' },
        { "count", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    char hosts[1024], root[512], err[1024];
    const char *zk = NULL, *prefix = NULL;
    int napps = 0, timeout_s = 300, c;
    long long want = -1;
    wh_log_set_ident("multi-sub");
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'z': zk = optarg; break;
        case 'p': prefix = optarg; break;
        case 'n': napps = atoi(optarg); break;
        case 'c': want = atoll(optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: multi_sub --zk HOSTS/ROOT --prefix P --apps N [--count C] "
                    "[--timeout S]\n");
            return 2;
        }
    }
    if (!zk || !prefix || napps <= 0 ||
        !zku_split_connect(zk, hosts, sizeof hosts, root, sizeof root)) {
        fprintf(stderr, "multi_sub: --zk HOSTS/ROOT, --prefix and --apps N > 0 are required\n");
        return 2;
    }
    app_state *apps = calloc((size_t)napps, sizeof *apps);
    if (!apps)
        return 1;
    int rc = 0;
    for (int i = 0; i < napps && rc == 0; i++) {
        wh_sub_options o;
        wh_sub_options_init(&o);
        snprintf(apps[i].name, sizeof apps[i].name, "%s%d", prefix, i);
        atomic_init(&apps[i].received, 0);
        o.zk_connect = hosts;
        o.zk_root = root;
        o.app = apps[i].name;
        o.on_batch = on_batch;
        o.opaque = &apps[i];
        o.zk_session_timeout_ms = 10000;
        if (wh_subscriber_new(&o, &apps[i].sub, err, sizeof err) != WH_OK) {
            fprintf(stderr, "multi_sub: app %s: %s\n", apps[i].name, err);
            rc = 1;
        }
    }
    int nthreads = 0;
    for (; rc == 0 && nthreads < napps; nthreads++)
        if (pthread_create(&apps[nthreads].starter, NULL, start_one, &apps[nthreads]) != 0) {
            fprintf(stderr, "multi_sub: cannot start a thread\n");
            rc = 1;
            break;
        }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(apps[i].starter, NULL);
        if (apps[i].start_rc != WH_OK) {
            fprintf(stderr, "multi_sub: app %s: %s\n", apps[i].name, apps[i].err);
            rc = 1;
        }
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int64_t t0 = wh_mono_ms();
    long long min = 0, max = 0;
    if (rc == 0) {
        fprintf(stderr, "registered %d\n", napps);
        for (;;) {
            counts(apps, napps, &min, &max);
            if (stop_now || (want >= 0 && min >= want))
                break;
            if (wh_mono_ms() - t0 > (int64_t)timeout_s * 1000) {
                fprintf(stderr, "multi_sub: timeout after %d s: the slowest app has %lld "
                        "updates of %lld\n", timeout_s, min, want);
                rc = 1;
                break;
            }
            nanosleep(&(struct timespec){ 0, 20 * 1000000 }, NULL);
        }
    }
    for (int i = 0; i < napps; i++)
        if (apps[i].sub)
            wh_subscriber_stop(apps[i].sub);
    for (int i = 0; i < napps; i++)
        wh_subscriber_free(apps[i].sub);
    counts(apps, napps, &min, &max);
    printf("{\"apps\":%d,\"min\":%lld,\"max\":%lld,\"seconds\":%.3f}\n", napps, min, max,
           (double)(wh_mono_ms() - t0) / 1000.0);
    free(apps);
    return rc;
}

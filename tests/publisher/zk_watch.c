/* zk_watch.c -- records every observed state of some znodes as JSON lines, for the fault tests.
 *
 * Usage: zk_watch CONNECT INTERVAL_MS [data:PATH | children:PATH]...
 *
 * Polls each PATH every INTERVAL_MS and prints one line on stdout each time
 * what it sees changes (flushed at once):
 *   {"t":MS,"round":N,"path":"P","kind":"data","version":V,"data":"..."}  (version -1: absent)
 *   {"t":MS,"round":N,"path":"P","kind":"children","children":["a"]}  (absent: [], "absent":true)
 * t is CLOCK_MONOTONIC milliseconds, round the number of the poll. The paths
 * are read in the order given, so a state first seen in a later round than
 * another one was written after that one was read. Writes that happen
 * between two polls are not seen, so checks on the output are "never seen
 * moving backwards". The session is re-created when it expires (a ZooKeeper
 * restart); failed reads are retried at the next poll. Runs until
 * SIGTERM/SIGINT; exit status 0, or 2 on bad usage. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef THREADED
#define THREADED /* zookeeper_mt: the synchronous API is declared only with THREADED */
#endif
#include <zookeeper/zookeeper.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/update_json.h"

#define ZW_MAX_PATHS 32
#define ZW_MAX_DATA 4096

typedef struct zw_path {
    const char *path;
    int children;        /* 1: watch the list of children, 0: the data */
    char *last;          /* the last printed line (without the time) */
} zw_path;

static volatile sig_atomic_t zw_stop;

static void zw_on_signal(int sig)
{
    (void)sig;
    zw_stop = 1;
}

/* Reads one path into line (its JSON members without the time); returns 0,
 * or -1 if the read failed for a reason other than the node's absence. */
static int zw_read(zhandle_t *zh, const zw_path *w, wh_buf *line)
{
    wh_buf_reset(line);
    wh_buf_puts(line, "\"path\":");
    wh_json_put_string(line, w->path, strlen(w->path));
    if (w->children) {
        struct String_vector v = { 0, NULL };
        int rc = zoo_get_children(zh, w->path, 0, &v);
        if (rc == ZNONODE) {
            wh_buf_puts(line, ",\"kind\":\"children\",\"children\":[],\"absent\":true");
            return wh_buf_ok(line) ? 0 : -1;
        }
        if (rc != ZOK)
            return -1;
        wh_buf_puts(line, ",\"kind\":\"children\",\"children\":[");
        for (int i = 0; i < v.count; i++) {
            if (i)
                wh_buf_putc(line, ',');
            wh_json_put_string(line, v.data[i], strlen(v.data[i]));
        }
        wh_buf_putc(line, ']');
        deallocate_String_vector(&v);
        return wh_buf_ok(line) ? 0 : -1;
    }
    char buf[ZW_MAX_DATA];
    int len = sizeof buf;
    struct Stat st;
    int rc = zoo_get(zh, w->path, 0, buf, &len, &st);
    if (rc == ZNONODE) {
        wh_buf_puts(line, ",\"kind\":\"data\",\"version\":-1,\"data\":null");
        return wh_buf_ok(line) ? 0 : -1;
    }
    if (rc != ZOK)
        return -1;
    wh_buf_printf(line, ",\"kind\":\"data\",\"version\":%d,\"data\":", st.version);
    wh_json_put_string(line, buf, len < 0 ? 0 : (size_t)len);
    return wh_buf_ok(line) ? 0 : -1;
}

int main(int argc, char **argv)
{
    zw_path paths[ZW_MAX_PATHS];
    int n = 0;
    if (argc < 4 || argc - 3 > ZW_MAX_PATHS) {
        fprintf(stderr, "usage: zk_watch CONNECT INTERVAL_MS [data:PATH | children:PATH]...\n");
        return 2;
    }
    int interval = atoi(argv[2]);
    if (interval < 1)
        interval = 20;
    for (int i = 3; i < argc; i++) {
        memset(&paths[n], 0, sizeof paths[n]);
        if (strncmp(argv[i], "data:/", 6) == 0) {
            paths[n].path = argv[i] + 5;
        } else if (strncmp(argv[i], "children:/", 10) == 0) {
            paths[n].path = argv[i] + 9;
            paths[n].children = 1;
        } else {
            fprintf(stderr, "zk_watch: '%s' is not data:PATH or children:PATH\n", argv[i]);
            return 2;
        }
        n++;
    }
    struct sigaction sa = { .sa_handler = zw_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    zoo_set_debug_level((ZooLogLevel)0);   /* 0: the client logs nothing */

    zhandle_t *zh = NULL;
    wh_buf line = WH_BUF_INIT;
    long long round = 0;
    while (!zw_stop) {
        round++;
        if (!zh || zoo_state(zh) == ZOO_EXPIRED_SESSION_STATE ||
            zoo_state(zh) == ZOO_AUTH_FAILED_STATE) {
            if (zh)
                zookeeper_close(zh);
            zh = zookeeper_init(argv[1], NULL, 10000, NULL, NULL, 0);
        }
        if (zh && zoo_state(zh) == ZOO_CONNECTED_STATE) {
            for (int i = 0; i < n; i++) {
                if (zw_read(zh, &paths[i], &line) != 0)
                    continue;
                if (paths[i].last && strcmp(paths[i].last, line.data) == 0)
                    continue;
                free(paths[i].last);
                paths[i].last = strdup(line.data);
                printf("{\"t\":%lld,\"round\":%lld,%s}\n", (long long)wh_mono_ms(), round,
                       line.data);
                fflush(stdout);
            }
        }
        struct timespec ts = { interval / 1000, (long)(interval % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (zh)
        zookeeper_close(zh);
    for (int i = 0; i < n; i++)
        free(paths[i].last);
    wh_buf_free(&line);
    return 0;
}

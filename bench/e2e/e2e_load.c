/* e2e_load.c -- steady write load on MariaDB for the commit-to-callback latency benchmark.
 *
 * Inserts rows into bench.lat at a fixed rate, each row carrying commit_ns:
 * the CLOCK_REALTIME nanoseconds just before its statement is sent (with
 * autocommit, the statement is its commit). e2e-sub --latency-column
 * commit_ns measures from there to its callback. Prints one JSON object,
 * with the percentiles of the statements' own round trips (commit_ms: what
 * MariaDB takes to commit, which commit-to-callback includes). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile of sorted v[0..n), in ms. */
static double pct_ms(const long long *v, long long n, double p)
{
    return n ? (double)v[(long long)(p / 100.0 * (double)(n - 1))] / 1e6 : 0;
}

#include "core/buf.h"
#include "core/clock.h"

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 's' },
        { "rate", required_argument, NULL, 'r' },
        { "seconds", required_argument, NULL, 't' },
        { "rows", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 },
    };
    const char *sock = NULL;
    long long rate = 20000, seconds = 10, rows = 20;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': sock = optarg; break;
        case 'r': rate = atoll(optarg); break;
        case 't': seconds = atoll(optarg); break;
        case 'k': rows = atoll(optarg); break;
        default:
            fprintf(stderr, "usage: e2e-load --socket PATH [--rate N] [--seconds S] [--rows K]\n");
            return 2;
        }
    }
    if (!sock || rate <= 0 || seconds <= 0 || rows <= 0) {
        fprintf(stderr, "e2e-load: --socket is required; rate, seconds, rows > 0\n");
        return 2;
    }
    MYSQL *db = mysql_init(NULL);
    if (!db || !mysql_real_connect(db, NULL, "root", NULL, NULL, 0, sock, 0)) {
        fprintf(stderr, "e2e-load: connect %s: %s\n", sock, db ? mysql_error(db) : "no memory");
        return 1;
    }
    const char *setup[] = {
        "CREATE DATABASE IF NOT EXISTS bench",
        "CREATE TABLE IF NOT EXISTS bench.lat (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "commit_ns BIGINT NOT NULL, pad VARCHAR(32))",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++)
        if (mysql_query(db, setup[i])) {
            fprintf(stderr, "e2e-load: %s: %s\n", setup[i], mysql_error(db));
            return 1;
        }
    wh_buf q = WH_BUF_INIT;
    long long total = rate * seconds, done = 0, start = wh_mono_ns(), stmts = 0;
    long long *rtt = malloc((size_t)(total / rows + 2) * sizeof *rtt);
    if (!rtt) {
        fprintf(stderr, "e2e-load: out of memory\n");
        return 1;
    }
    while (done < total) {
        long long due = (long long)((double)(wh_mono_ns() - start) * (double)rate / 1e9);
        if (due - done < rows && due < total) {
            struct timespec ts = { 0, 200000 };
            nanosleep(&ts, NULL);
            continue;
        }
        long long k = total - done < rows ? total - done : rows;
        wh_buf_reset(&q);
        wh_buf_puts(&q, "INSERT INTO bench.lat (commit_ns, pad) VALUES ");
        long long t = wh_wall_ns();
        for (long long i = 0; i < k; i++)
            wh_buf_printf(&q, "%s(%lld,'load-%lld')", i ? "," : "", t, done + i);
        long long sent = wh_mono_ns();
        if (mysql_real_query(db, q.data, q.len)) {
            fprintf(stderr, "e2e-load: insert: %s\n", mysql_error(db));
            return 1;
        }
        rtt[stmts] = wh_mono_ns() - sent;
        done += k;
        stmts++;
    }
    double secs = (double)(wh_mono_ns() - start) / 1e9;
    qsort(rtt, (size_t)stmts, sizeof *rtt, cmp_ll);
    printf("{\"rows\":%lld,\"statements\":%lld,\"seconds\":%.2f,\"rows_per_s\":%.0f,"
           "\"commit_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}\n", done,
           stmts, secs, (double)done / secs, pct_ms(rtt, stmts, 50), pct_ms(rtt, stmts, 99),
           pct_ms(rtt, stmts, 99.9), pct_ms(rtt, stmts, 100));
    free(rtt);
    wh_buf_free(&q);
    mysql_close(db);
    return 0;
}

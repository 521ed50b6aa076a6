/* bench_bootstrap.c -- bootstrap read throughput: a table read from MariaDB in primary-key chunks through the snapshot reader, converted to typed updates and encoded as the publisher sends them.
 *
 * usage: bench_bootstrap --socket PATH --table DB.TABLE [--chunk N] [--no-encode]
 * Reads the whole table as a bootstrap does (mappers/snapshot.h: one short
 * consistent-snapshot transaction per chunk, the binlog position of each),
 * encodes every chunk into UPDATES frames (protocol/wire_batch.h) unless
 * --no-encode, and prints one JSON object: rows, chunks, seconds, rows/s,
 * encoded MB, and the CPU seconds this process used (user + system: what
 * the reader costs, whatever the machine's load). The figure is what one publisher flow can read and frame; the
 * network and the subscriber come on top (tests/publisher/test_bootstrap.py
 * measures end to end). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "bench/bootstrap/bench_snapshot.h"

int main(int argc, char **argv)
{
    const char *socket = NULL, *table = NULL;
    long chunk = 10000;
    bool encode = true;
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' }, { "table", required_argument, NULL, 't' },
        { "chunk", required_argument, NULL, 'c' },  { "no-encode", no_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': socket = optarg; break;
        case 't': table = optarg; break;
        case 'c': chunk = strtol(optarg, NULL, 10); break;
        case 'n': encode = false; break;
        default:
            fprintf(stderr, "usage: bench_bootstrap --socket PATH --table DB.TABLE [--chunk N] "
                    "[--no-encode]\n");
            return 2;
        }
    }
    const char *dot = table ? strchr(table, '.') : NULL;
    if (!socket || !dot || chunk < 1) {
        fprintf(stderr, "bench_bootstrap: --socket and --table DB.TABLE are required\n");
        return 2;
    }
    char db[256];
    snprintf(db, sizeof db, "%.*s", (int)(dot - table), table);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "binlog_dir", "/nonexistent", "socket", socket,
                          "user", "root", "ssl_mode", "disabled");
    char err[1024];
    wh_snapshot *s;
    if (wh_snapshot_open("mysql", o, "s1", &s, err, sizeof err) != WH_OK) {
        fprintf(stderr, "bench_bootstrap: %s\n", err);
        return 1;
    }
    bench_snapshot_totals t;
    if (bench_snapshot_read_all(s, db, dot + 1, chunk, encode, &t, err, sizeof err) != WH_OK) {
        fprintf(stderr, "bench_bootstrap: %s\n", err);
        return 1;
    }
    uint64_t rows = t.rows, chunks = t.chunks, bytes = t.bytes;
    double secs = t.seconds;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    printf("{\"rows\":%llu,\"chunks\":%llu,\"chunk_rows\":%ld,\"seconds\":%.3f,"
           "\"rows_per_sec\":%.0f,\"encoded_mb\":%.1f,\"cpu_sec\":%.3f}\n",
           (unsigned long long)rows, (unsigned long long)chunks, chunk, secs, rows / secs,
           bytes / 1e6, cpu);
    json_decref(o);
    wh_snapshot_close(s);
    return 0;
}

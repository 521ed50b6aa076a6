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

#include "core/buf.h"
#include "core/clock.h"
#include "mappers/snapshot.h"
#include "protocol/wire.h"

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
    wire_enc enc;
    wire_enc_init(&enc);
    wh_buf out = { 0 };
    json_t *after = NULL;
    uint64_t rows = 0, chunks = 0, bytes = 0;
    int64_t t0 = wh_mono_ns();
    for (;;) {
        wh_snapshot_chunk ch;
        if (wh_snapshot_read(s, db, dot + 1, after, (uint32_t)chunk, &ch, err, sizeof err) !=
            WH_OK) {
            fprintf(stderr, "bench_bootstrap: %s\n", err);
            return 1;
        }
        rows += ch.n;
        chunks++;
        if (encode && ch.n) {
            wh_buf_reset(&out);
            wire_enc_begin(&enc, &out, "s1");
            for (uint32_t i = 0; i < ch.n; i++)
                if (wire_enc_add(&enc, &ch.rows[i]) != WH_OK) {
                    fprintf(stderr, "bench_bootstrap: encoding failed\n");
                    return 1;
                }
            wire_enc_end(&enc);
            bytes += out.len;
        }
        json_decref(after);
        after = ch.last_key ? json_deep_copy(ch.last_key) : NULL;
        if (ch.done)
            break;
    }
    double secs = (double)(wh_mono_ns() - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    printf("{\"rows\":%llu,\"chunks\":%llu,\"chunk_rows\":%ld,\"seconds\":%.3f,"
           "\"rows_per_sec\":%.0f,\"encoded_mb\":%.1f,\"cpu_sec\":%.3f}\n",
           (unsigned long long)rows, (unsigned long long)chunks, chunk, secs, rows / secs,
           bytes / 1e6, cpu);
    json_decref(after);
    json_decref(o);
    wh_buf_free(&out);
    wire_enc_free(&enc);
    wh_snapshot_close(s);
    return 0;
}

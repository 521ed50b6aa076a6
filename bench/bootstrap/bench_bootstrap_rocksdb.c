/* bench_bootstrap_rocksdb.c -- bootstrap read throughput from RocksDB: a column family read in key chunks through the snapshot reader (a secondary instance), converted to updates and encoded as the publisher sends them.
 *
 * usage: bench_bootstrap_rocksdb --db DIR --cf NAME [--chunk N] [--no-encode]
 * Reads the whole column family as a bootstrap does (mappers/rocksdb/
 * rdb_snapshot.c: catch-up, then an iterator from after the last key, per
 * chunk, with the WAL sequence of each), encodes every chunk into UPDATES
 * frames (protocol/wire_batch.h) unless --no-encode, and prints one JSON
 * object: keys, chunks, seconds, keys/s, encoded MB. The network and the
 * subscriber come on top (tests/publisher/test_bootstrap_rocksdb.py measures
 * end to end). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bench/bootstrap/bench_snapshot.h"

int main(int argc, char **argv)
{
    const char *db = NULL, *cf = NULL;
    long chunk = 10000;
    bool encode = true;
    static const struct option opts[] = {
        { "db", required_argument, NULL, 'd' }, { "cf", required_argument, NULL, 'c' },
        { "chunk", required_argument, NULL, 'k' }, { "no-encode", no_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'c': cf = optarg; break;
        case 'k': chunk = strtol(optarg, NULL, 10); break;
        case 'n': encode = false; break;
        default:
            fprintf(stderr, "usage: bench_bootstrap_rocksdb --db DIR --cf NAME [--chunk N] "
                    "[--no-encode]\n");
            return 2;
        }
    }
    if (!db || !cf || chunk < 1) {
        fprintf(stderr, "bench_bootstrap_rocksdb: --db and --cf are required\n");
        return 2;
    }
    json_t *o = json_pack("{s:s}", "db", db);
    char err[1024];
    wh_snapshot *s;
    if (wh_snapshot_open("rocksdb", o, "s1", &s, err, sizeof err) != WH_OK) {
        fprintf(stderr, "bench_bootstrap_rocksdb: %s\n", err);
        return 1;
    }
    bench_snapshot_totals t;
    if (bench_snapshot_read_all(s, "", cf, chunk, encode, &t, err, sizeof err) != WH_OK) {
        fprintf(stderr, "bench_bootstrap_rocksdb: %s\n", err);
        return 1;
    }
    uint64_t keys = t.rows, chunks = t.chunks, bytes = t.bytes;
    double secs = t.seconds;
    printf("{\"keys\":%llu,\"chunks\":%llu,\"chunk_keys\":%ld,\"seconds\":%.3f,"
           "\"keys_per_sec\":%.0f,\"encoded_mb\":%.1f}\n", (unsigned long long)keys,
           (unsigned long long)chunks, chunk, secs, keys / secs, bytes / 1e6);
    json_decref(o);
    wh_snapshot_close(s);
    return 0;
}

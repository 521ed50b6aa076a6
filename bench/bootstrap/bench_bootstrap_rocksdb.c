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

#include "core/buf.h"
#include "core/clock.h"
#include "mappers/snapshot.h"
#include "protocol/wire.h"

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
    wire_enc enc;
    wire_enc_init(&enc);
    wh_buf out = { 0 };
    json_t *after = NULL;
    uint64_t keys = 0, chunks = 0, bytes = 0;
    int64_t t0 = wh_mono_ns();
    for (;;) {
        wh_snapshot_chunk ch;
        if (wh_snapshot_read(s, "", cf, after, (uint32_t)chunk, &ch, err, sizeof err) != WH_OK) {
            fprintf(stderr, "bench_bootstrap_rocksdb: %s\n", err);
            return 1;
        }
        keys += ch.n;
        chunks++;
        if (encode && ch.n) {
            wh_buf_reset(&out);
            wire_enc_begin(&enc, &out, "s1");
            for (uint32_t i = 0; i < ch.n; i++)
                if (wire_enc_add(&enc, &ch.rows[i]) != WH_OK) {
                    fprintf(stderr, "bench_bootstrap_rocksdb: encoding failed\n");
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
    printf("{\"keys\":%llu,\"chunks\":%llu,\"chunk_keys\":%ld,\"seconds\":%.3f,"
           "\"keys_per_sec\":%.0f,\"encoded_mb\":%.1f}\n", (unsigned long long)keys,
           (unsigned long long)chunks, chunk, secs, keys / secs, bytes / 1e6);
    json_decref(after);
    json_decref(o);
    wh_buf_free(&out);
    wire_enc_free(&enc);
    wh_snapshot_close(s);
    return 0;
}

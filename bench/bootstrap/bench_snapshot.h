/* bench_snapshot.h -- the read loop both bootstrap benches time: every chunk of one table through a snapshot reader, encoded as the publisher sends it.
 *
 * Header-only (each bench is one executable). The caller opens the reader
 * (mappers/snapshot.h) for its datastore and prints the figures. */
#ifndef WH_BENCH_SNAPSHOT_H
#define WH_BENCH_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/clock.h"
#include "mappers/snapshot.h"
#include "protocol/wire.h"

typedef struct bench_snapshot_totals {
    uint64_t rows, chunks, bytes;   /* bytes: encoded UPDATES frames (0 without encoding) */
    double   seconds;               /* wall time of the whole read */
} bench_snapshot_totals;

/* Reads db.table (db "" for a RocksDB column family) in chunks of `chunk`
 * rows from the first key to the last, encoding each chunk into one UPDATES
 * frame when encode is set; fills *t. WH_OK, or the reader's error with a
 * sentence in err. */
static inline int bench_snapshot_read_all(wh_snapshot *s, const char *db, const char *table,
                                          long chunk, bool encode, bench_snapshot_totals *t,
                                          char *err, size_t errlen)
{
    wire_enc enc;
    wire_enc_init(&enc);
    wh_buf out = { 0 };
    json_t *after = NULL;
    int rc = WH_OK;
    *t = (bench_snapshot_totals){ 0 };
    int64_t t0 = wh_mono_ns();
    for (;;) {
        wh_snapshot_chunk ch;
        rc = wh_snapshot_read(s, db, table, after, (uint32_t)chunk, &ch, err, errlen);
        if (rc != WH_OK)
            break;
        t->rows += ch.n;
        t->chunks++;
        if (encode && ch.n) {
            wh_buf_reset(&out);
            wire_enc_begin(&enc, &out, "s1");
            for (uint32_t i = 0; i < ch.n && rc == WH_OK; i++)
                rc = wire_enc_add(&enc, &ch.rows[i]);
            if (rc != WH_OK) {
                snprintf(err, errlen, "encoding row %llu failed (%s)",
                         (unsigned long long)t->rows, wh_err_name(rc));
                break;
            }
            wire_enc_end(&enc);
            t->bytes += out.len;
        }
        json_decref(after);
        after = ch.last_key ? json_deep_copy(ch.last_key) : NULL;
        if (ch.done)
            break;
    }
    t->seconds = (double)(wh_mono_ns() - t0) / 1e9;
    json_decref(after);
    wh_buf_free(&out);
    wire_enc_free(&enc);
    return rc;
}

#endif

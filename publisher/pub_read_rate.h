/* pub_read_rate.h -- the read-rate cap of catch-up caravans: a token bucket over log bytes.
 *
 * A caravan that is not the lead reads at most delivery.catchup_read_bytes_per_s
 * bytes of log per second (docs/CONFIG.md), so that apps recovering from far
 * behind do not take the database host's disk from the database. The reader
 * accounts the bytes of each batch it read and pauses for as long as this
 * says before reading again. Pure arithmetic: one object per caravan thread,
 * no lock. Module prefix: pub_read_rate_. */
#ifndef WH_PUB_READ_RATE_H
#define WH_PUB_READ_RATE_H

#include <stdint.h>

typedef struct pub_read_rate {
    double  tokens;    /* bytes that may be read now without a pause (negative: owed) */
    int64_t last_ms;   /* when tokens was brought up to date */
} pub_read_rate;

/* An empty bucket at now_ms (wh_mono_ms()). */
void pub_read_rate_init(pub_read_rate *r, int64_t now_ms);

/* Accounts n bytes read at now_ms under a cap of rate bytes per second
 * (<= 0: no cap, and the bucket stays empty). Returns how many milliseconds
 * the reader must pause before it reads again (0: none). The bucket holds
 * at most a quarter second of the rate, so over any window of T seconds a
 * capped reader reads at most rate * (T + 0.25) bytes plus its last batch. */
int64_t pub_read_rate_take(pub_read_rate *r, uint64_t n, int64_t rate, int64_t now_ms);

#endif

/* binlog_payload.h -- MySQL 8.0.20+ transaction payload events: a whole
 * transaction's events, zstd-compressed (binlog_transaction_compression=ON)
 * or stored plainly, inside one event.
 *
 * The payload is decompressed as a stream into a bounded window, and its
 * inner events (which carry no checksums) are handed out one at a time, so a
 * large compressed transaction never has to be inflated whole. An inner
 * event larger than the window grows it to that event's size. */
#ifndef BINLOG_PAYLOAD_H
#define BINLOG_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappers/mysql/binlog_event.h"

/* Compression types of the payload header. */
#define BINLOG_PAYLOAD_ZSTD 0
#define BINLOG_PAYLOAD_NONE 255

/* binlog_payload_next's answer when the window must be refilled first. */
#define BINLOG_PAYLOAD_REFILL 1

typedef struct binlog_payload binlog_payload;

binlog_payload *binlog_payload_new(size_t window);
void binlog_payload_free(binlog_payload *pl);

/* Starts iterating the payload event ev (which must stay in memory until the
 * iteration ends). fde describes the binlog; inner events are framed with
 * its header length and no checksum. Returns 0, WH_ERR_CORRUPT or
 * WH_ERR_UNSUPPORTED (unknown compression) with errbuf. */
int binlog_payload_begin(binlog_payload *pl, const binlog_event *ev, const binlog_fde *fde,
                         char *errbuf, size_t errlen);

/* Whether an iteration is in progress. */
bool binlog_payload_active(const binlog_payload *pl);

/* The next inner event: 0 with *ev set (valid until the next refill),
 * BINLOG_PAYLOAD_REFILL if the window holds no complete event and must be
 * refilled (which invalidates earlier inner events), WH_ERR_EOF when the
 * payload is exhausted (the iteration then ends), or WH_ERR_CORRUPT. */
int binlog_payload_next(binlog_payload *pl, binlog_event *ev, char *errbuf, size_t errlen);

/* Moves the unread bytes to the window's start and decompresses more. */
int binlog_payload_refill(binlog_payload *pl, char *errbuf, size_t errlen);

/* Byte offset of the next inner event within the uncompressed payload. */
uint64_t binlog_payload_offset(const binlog_payload *pl);

/* Ends the iteration early (e.g. on seek). */
void binlog_payload_end(binlog_payload *pl);

#endif

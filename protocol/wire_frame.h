/* wire_frame.h -- the push protocol's frames: layout, types, limits, and their CRC32C (docs/PROTOCOL.md).
 *
 * A frame is
 *     u32 BE length | u8 type | payload (length - 1 bytes) | u32 BE CRC32C
 * where length counts type + payload and the CRC (core/crc32c.h) covers
 * length, type and payload. Every payload is one MessagePack map with small
 * integer keys (protocol/msgpack.h, protocol/wire_msg.h, protocol/wire_batch.h).
 *
 * Threads: all functions are reentrant; a wh_buf is used by one thread at a
 * time. */
#ifndef WH_WIRE_FRAME_H
#define WH_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wormhole/error.h"

#define WIRE_VERSION      1
#define WIRE_HEADER_LEN   5               /* length + type */
#define WIRE_TRAILER_LEN  4               /* CRC32C */
#define WIRE_OVERHEAD     (4u + WIRE_TRAILER_LEN)   /* bytes of a frame outside its length */

/* Limits (docs/PROTOCOL.md, "Limits"). */
#define WIRE_FRAME_MAX    (64u << 20)     /* largest frame length anyone sends or accepts */
#define WIRE_FRAME_MIN    (16u << 10)     /* every receiver accepts frames this long: room for
                                             a HELLO, or a first part, with the longest position */
#define WIRE_HELLO_MAX    (64u << 10)     /* bytes a subscriber takes before a HELLO */
#define WIRE_CONTROL_MAX  (64u << 10)     /* frames a publisher takes from a subscriber */
#define WIRE_UPDATE_MAX   (256ull << 20)  /* default bound of a reassembled update */

typedef enum wire_type {
    WIRE_HELLO        = 1,   /* publisher -> subscriber: opens a flow */
    WIRE_HELLO_OK     = 2,   /* subscriber -> publisher: flow accepted */
    WIRE_ERROR        = 3,   /* either way: refusal or fatal error, then close */
    WIRE_UPDATES      = 4,   /* publisher -> subscriber: a batch of updates */
    WIRE_DATAMARKER   = 5,   /* publisher -> subscriber: position checkpoint */
    WIRE_ACK          = 6,   /* subscriber -> publisher: datamarker processed */
    WIRE_HEARTBEAT    = 7,   /* either way: liveness */
    WIRE_SHARD_NOTICE = 8,   /* publisher -> subscriber: shard released */
    WIRE_UPDATES_PART = 9,   /* publisher -> subscriber: a piece of an update too large for a
                                frame (protocol/wire_part.h), only to a peer that asked */
    WIRE__MAX         = 9
} wire_type;

/* Names of frame types ("HELLO", ...); "UNKNOWN" otherwise. Static storage. */
const char *wire_type_name(int type);

/* Appends a frame header of type to b and returns the frame's start offset
 * for wire_frame_end. The payload is then appended to b directly. */
size_t wire_frame_begin(wh_buf *b, int type);

/* Patches the length of the frame started at start and appends its CRC.
 * Returns 0, WH_ERR_NOMEM if b ran out of memory, or WH_ERR_LIMIT if the
 * frame exceeds WIRE_FRAME_MAX (the frame is then removed from b). */
int wire_frame_end(wh_buf *b, size_t start);

/* Looks for one complete frame at the start of p[0..n). Returns WH_OK and
 * sets type, payload (pointing into p), plen and *consumed (the frame's size);
 * WH_ERR_AGAIN if more bytes are needed; WH_ERR_LIMIT if the length exceeds
 * max_len; WH_ERR_CORRUPT if the length is 0 or the CRC does not match. On
 * error errbuf says why. Never reads past p + n. */
int wire_frame_parse(const uint8_t *p, size_t n, uint32_t max_len, int *type,
                     const uint8_t **payload, size_t *plen, size_t *consumed,
                     char *errbuf, size_t errlen);

#endif

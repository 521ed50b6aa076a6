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
#define WIRE_FRAME_MAX    (64u << 20)     /* default limit on length */

typedef enum wire_type {
    WIRE_HELLO        = 1,   /* publisher -> subscriber: opens a flow */
    WIRE_HELLO_OK     = 2,   /* subscriber -> publisher: flow accepted */
    WIRE_ERROR        = 3,   /* either way: refusal or fatal error, then close */
    WIRE_UPDATES      = 4,   /* publisher -> subscriber: a batch of updates */
    WIRE_DATAMARKER   = 5,   /* publisher -> subscriber: position checkpoint */
    WIRE_ACK          = 6,   /* subscriber -> publisher: datamarker processed */
    WIRE_HEARTBEAT    = 7,   /* either way: liveness */
    WIRE_SHARD_NOTICE = 8,   /* publisher -> subscriber: shard released */
    WIRE__MAX         = 8
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

/* wire_part.h -- UPDATES_PART: an update too large for one frame, split into parts and reassembled.
 *
 * An update whose UPDATES frame would exceed the frame limit travels as the
 * payload of that frame (a whole UPDATES map holding exactly this one
 * update) cut into consecutive chunks, each in an UPDATES_PART frame
 * (docs/PROTOCOL.md, "UPDATES_PART"):
 *
 *     key 1  total   unsigned: bytes of the whole UPDATES payload
 *     key 2  offset  unsigned: where this chunk starts in it
 *     key 3  chunk   bin: one or more bytes of it
 *     key 4  pos     the update's position; in the first part (offset 0) only
 *
 * The parts of one update come in order and back to back: the first at
 * offset 0, each next one where the previous ended, the last one ending at
 * total, and no frame of another type between the first and the last. A
 * receiver buffers at most the bound it announced (HELLO_OK key 4) and
 * refuses a larger total on the first part, before buffering anything.
 * A publisher sends parts only to a subscriber whose HELLO_OK announced
 * that bound; an older subscriber never sees them.
 *
 * The splitter works in place, so a publisher holds one copy of a large
 * update, not two; the reassembler allocates exactly the announced total
 * and frees it once the update is handled.
 *
 * Threads: all functions are reentrant; a buffer or reassembler is used by
 * one thread at a time. */
#ifndef WH_WIRE_PART_H
#define WH_WIRE_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "protocol/wire_frame.h"
#include "protocol/wire_msg.h"
#include "wormhole/error.h"

/* Bytes of an UPDATES_PART frame around its chunk: the frame's length,
 * type and CRC, the map with fixed-width total and offset, and the chunk's
 * bin32 header; the first part adds 1 + the encoded position's length. */
#define WIRE_PART_OVERHEAD 36u

/* ---- splitting (the publisher) ------------------------------------------------------------ */

/* Turns the frame that starts at start in b into UPDATES_PART frames whose
 * length is at most frame_max each. The frame's header was written by
 * wire_frame_begin, its payload (an UPDATES map) runs from start +
 * WIRE_HEADER_LEN to b->len, and its length and CRC are not written yet.
 * pos[0..poslen) is the update's position as wire_put_pos wrote it, copied
 * into the first part; it must not point into b. Works in place: b grows
 * only by the parts' headers. Returns WH_OK, WH_ERR_INVALID (frame_max
 * leaves no room for a chunk next to the position), or WH_ERR_NOMEM (b then
 * holds nothing from start on). */
int wire_part_split(wh_buf *b, size_t start, uint32_t frame_max, const uint8_t *pos,
                    size_t poslen);

/* ---- reassembling (the subscriber) -------------------------------------------------------- */

/* One UPDATES_PART payload, decoded; chunk and pos point into the payload. */
typedef struct wire_part {
    uint64_t       total;
    uint64_t       offset;
    const uint8_t *chunk;
    uint32_t       chunk_len;
    wire_pos       pos;        /* present only in a first part */
} wire_part;

/* Decodes an UPDATES_PART payload: total, offset and a non-empty chunk are
 * required, the position too when offset is 0; unknown keys are skipped.
 * Returns WH_OK or WH_ERR_PROTOCOL with the reason in errbuf. */
int wire_part_decode(const uint8_t *payload, size_t len, wire_part *out, char *errbuf,
                     size_t errlen);

/* The reassembly state of one connection. */
typedef struct wire_asm {
    uint8_t *data;      /* total bytes (malloc'd) from an update's first part until a reset */
    uint64_t total;     /* bytes of the update being reassembled */
    uint64_t got;       /* bytes of it received */
    uint64_t max;       /* bound on total */
    char     pos[WIRE_POS_TEXT_MAX];   /* its position as text, for messages */
} wire_asm;

/* Prepares an idle reassembler for updates of at most max bytes. */
void wire_asm_init(wire_asm *a, uint64_t max);

/* Releases the memory of an update, complete or not; a can be used again.
 * Call it once a complete update is handled, so that its memory does not
 * stay with the connection (wire_asm_frame would free it only at the next
 * update). */
void wire_asm_reset(wire_asm *a);

/* True while an update is incomplete (its first part came, its last not). */
static inline bool wire_asm_busy(const wire_asm *a) { return a->data && a->got < a->total; }

/* Feeds one received frame of type with its payload. Returns:
 *   WH_OK with *out NULL: the frame is not a part and none is expected:
 *       handle it as usual;
 *   WH_ERR_AGAIN: a part, taken; more are to come;
 *   WH_OK with *out, *outlen: the part completed an update: out[0..outlen)
 *       is its UPDATES payload, valid until the next wire_asm_frame or
 *       wire_asm_reset (call it once the update is handled);
 *   WH_ERR_LIMIT: the first part of an update larger than max; errbuf
 *       names its position and size (the connection's flow must stop);
 *   WH_ERR_PROTOCOL: a part out of order, missing or too long, a total
 *       that changed, a malformed part, or another frame type in the
 *       middle of an update; WH_ERR_NOMEM.
 * After an error the reassembler is reset and the connection must close. */
int wire_asm_frame(wire_asm *a, int type, const uint8_t *payload, size_t plen,
                   const uint8_t **out, size_t *outlen, char *errbuf, size_t errlen);

#endif

/* wire_batch.h -- the push protocol's UPDATES frame: a batch of updates, encoded and decoded.
 *
 * One frame holds the shard, the updates (each a map of small integer keys)
 * and the column-name tables the rows refer to, written once per batch
 * (docs/PROTOCOL.md, "UPDATES"). The decoder takes untrusted input from the
 * network: every count is bounded by the bytes that back it, so a hostile
 * frame cannot make it allocate more than a small multiple of its size.
 *
 * Threads: an encoder is used by one thread at a time; decoding is
 * reentrant. */
#ifndef WH_WIRE_BATCH_H
#define WH_WIRE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "protocol/msgpack.h"
#include "protocol/wire_frame.h"
#include "protocol/wire_msg.h"
#include "protocol/wire_part.h"
#include "wormhole/error.h"
#include "wormhole/update.h"

/* Encoder of UPDATES frames. Reuse one encoder for many frames: its
 * name-table cache keeps its memory, so steady state allocates nothing.
 *
 * Frames never exceed the encoder's frame limit (wire_enc_limit): an
 * update that would take the open frame over it goes into a frame of its
 * own (wire_enc_add ends the open frame and begins the next one), and an
 * update too large even alone is split into UPDATES_PART frames
 * (protocol/wire_part.h) when the frame holding it ends, if the peer takes
 * them; otherwise wire_enc_add refuses it with WH_ERR_LIMIT. */
typedef struct wire_enc {
    wh_buf  *out;
    const char *shard;      /* of the open frame; the caller's string */
    size_t   frame_start;
    size_t   count_at;      /* offset of the array32 header whose count is patched */
    uint32_t count;
    struct wire_names {
        const char *const *names;
        const char *const *alias;   /* the last other array found equal by content */
        uint32_t count;
    } *tables;
    uint32_t ntables, cap_tables;
    size_t   names_bytes;   /* encoded size of tables[0..ntables) */
    size_t   pos_at, pos_len;  /* the first update's position in out */
    uint32_t frame_max;     /* limit on a frame's length; 0 until wire_enc_limit */
    bool     parts;         /* the peer reassembles UPDATES_PART */
    bool     oom;
    wh_buf   scratch;       /* a position copied out of the way of a split */
    uint64_t frames;        /* frames ended, a split update counting once */
    uint64_t splits;        /* updates sent as UPDATES_PART */
} wire_enc;

void wire_enc_init(wire_enc *e);
void wire_enc_free(wire_enc *e);

/* Sets the frame limit (WIRE_HEADER_LEN + 64 .. WIRE_FRAME_MAX; a
 * connection uses the smaller of its own target and the peer's announced
 * limit) and whether an update too large for a frame may be split into
 * UPDATES_PART frames (the peer announced a reassembly bound). Without a
 * call, the limit is WIRE_FRAME_MAX and parts are off. Takes effect at the
 * next wire_enc_begin. */
void wire_enc_limit(wire_enc *e, uint32_t frame_max, bool parts);

/* Sets the limits for the peer whose HELLO_OK is hello_ok (wire_msg_decode
 * checked its range): frames of at most the smaller of own_max (the
 * sender's own target, clamped to WIRE_FRAME_MIN..WIRE_FRAME_MAX) and the
 * peer's announced limit (WIRE_FRAME_MAX when it announced none: an older
 * peer), and parts only when the peer announced an update bound. */
void wire_enc_peer(wire_enc *e, uint32_t own_max, const wire_msg *hello_ok);

/* Starts an UPDATES frame in out for updates of shard (which must stay
 * valid until wire_enc_end). */
void wire_enc_begin(wire_enc *e, wh_buf *out, const char *shard);

/* Appends one update, ending the open frame and beginning another one first
 * when the update would take it over the frame limit (see above). u->shard
 * is not written per update (the batch has it). Returns 0, WH_ERR_NOMEM, or
 * WH_ERR_LIMIT when u alone exceeds the frame limit and parts are off: u is
 * then not added, and the open frame holds the updates before it. */
int wire_enc_add(wire_enc *e, const wh_update *u);

/* Finishes the frame (writes the name tables, patches counts, appends the
 * CRC), or splits it into UPDATES_PART frames if its one update exceeds the
 * frame limit; a frame without updates is removed. Returns 0, WH_ERR_NOMEM
 * or WH_ERR_LIMIT (the frame is then removed from out). */
int wire_enc_end(wire_enc *e);

/* A decoded batch: updates[0..count) in arena memory; value strings of
 * STRING/BYTES/DECIMAL/JSON/ENUM/SET point into the payload, so the batch is
 * valid while both the arena and the payload are. */
typedef struct wire_batch {
    const char *shard;
    wh_update  *updates;
    uint32_t    count;
} wire_batch;

/* Decodes an UPDATES payload. Returns 0, WH_ERR_NOMEM, or WH_ERR_PROTOCOL
 * with errbuf naming the update index and field that was malformed. */
int wire_batch_decode(const uint8_t *payload, size_t len, wh_arena *arena, wire_batch *out,
                      char *errbuf, size_t errlen);

#endif

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
#include "wormhole/error.h"
#include "wormhole/update.h"

/* Encoder of one UPDATES frame. Reuse one encoder for many frames: its
 * name-table cache keeps its memory, so steady state allocates nothing. */
typedef struct wire_enc {
    wh_buf  *out;
    size_t   frame_start;
    size_t   count_at;      /* offset of the array32 header whose count is patched */
    uint32_t count;
    struct wire_names { const char *const *names; uint32_t count; } *tables;
    uint32_t ntables, cap_tables;
    bool     oom;
} wire_enc;

void wire_enc_init(wire_enc *e);
void wire_enc_free(wire_enc *e);

/* Starts an UPDATES frame in out for updates of shard. */
void wire_enc_begin(wire_enc *e, wh_buf *out, const char *shard);

/* Appends one update. u->shard is not written per update (the batch has
 * it). Returns 0 or WH_ERR_NOMEM. */
int wire_enc_add(wire_enc *e, const wh_update *u);

/* Finishes the frame (writes the name tables, patches counts, appends the
 * CRC). Returns 0, WH_ERR_NOMEM or WH_ERR_LIMIT (frame removed from out). */
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

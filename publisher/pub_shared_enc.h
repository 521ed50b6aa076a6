/* pub_shared_enc.h -- a caravan's encodings of its current batch, shared by the members that would encode the same bytes.
 *
 * A flow's UPDATES frames for one batch depend only on which of the batch's
 * updates pass its filter, where it stops (a table its filter does not
 * fit), its frame limit and whether its subscriber takes UPDATES_PART
 * (wire_batch.h): nothing per flow (no sequence, epoch or TLS) is in them.
 * So the caravan thread encodes a batch once per distinct (selection, frame
 * limit, parts) and every further member with the same key copies the bytes
 * into its output (pub_flow_encode_shared_locked). The filter still runs
 * for every member; datamarkers, positions, windows and TLS stay per flow.
 *
 * Bounds: at most PUB_SHARED_ENC_MAX encodings are kept per batch (a member
 * with a new key beyond that encodes for itself, as without sharing); each
 * holds exactly the bytes one member queues for the batch, so they are
 * bounded by the batch (delivery.batch_size updates, each within its
 * mapper's event limit), and a buffer that grew past PUB_SHARED_ENC_KEEP
 * bytes is freed when the next batch begins: between batches at most
 * PUB_SHARED_ENC_MAX x PUB_SHARED_ENC_KEEP bytes (8 MiB) stay allocated.
 * The selection bitmaps hold one bit per update of the batch. A caravan
 * with one member does not use it (nothing to share, no copy kept).
 *
 * Threads: one caravan thread owns a pub_shared_enc; nothing else touches
 * it. */
#ifndef WH_PUB_SHARED_ENC_H
#define WH_PUB_SHARED_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wormhole/update.h"

/* Encodings kept per batch: distinct filter results among a caravan's members. */
#define PUB_SHARED_ENC_MAX 8
/* A buffer above this capacity is freed at the next batch (memory a large batch took). */
#define PUB_SHARED_ENC_KEEP (1u << 20)

typedef struct pub_shared_entry {
    int       n;            /* updates of the batch processed: the batch's n, or fewer */
    uint32_t  frame_max;    /* the encoder's frame limit */
    bool      parts;        /* ... and whether it split oversized updates */
    bool      all;          /* every one of the n updates selected (no filter, or all pass) */
    uint32_t  sent;         /* updates selected */
    uint64_t *sel;          /* !all: the selection, one bit per update (n bits) */
    uint32_t  selwords;     /* capacity of sel in words */
    uint64_t  frames;       /* frames the encoding counts (wire_enc.frames) */
    uint64_t  splits;       /* ... and updates split into parts */
    wh_buf    bytes;        /* the frames */
} pub_shared_entry;

typedef struct pub_shared_enc {
    const wh_update *ups;   /* the batch the entries encode (identity check only) */
    int       nups;
    pub_shared_entry e[PUB_SHARED_ENC_MAX];
    uint32_t  count;        /* entries filled for this batch */
    uint64_t *sel;          /* the member being encoded: its selection */
    uint32_t  selwords;
    uint64_t  hits, misses; /* members served from an entry / encoded themselves */
} pub_shared_enc;

void pub_shared_enc_init(pub_shared_enc *s);
/* Frees the buffers; s may be reused after pub_shared_enc_init. Accepts NULL. */
void pub_shared_enc_free(pub_shared_enc *s);

/* Starts the batch ups[0..n): drops the previous batch's encodings. */
void pub_shared_enc_begin(pub_shared_enc *s, const wh_update *ups, int n);

/* A zeroed selection bitmap for n (<= the batch's) updates, or NULL (out of
 * memory: the member then encodes without sharing). Valid until the next
 * call of _selection or _begin. */
uint64_t *pub_shared_enc_selection(pub_shared_enc *s, int n);

/* The encoding of the current batch for n updates with the selection sel
 * (all: every update, sel ignored) of sent updates, frame limit frame_max
 * and parts; NULL if there is none yet. */
const pub_shared_entry *pub_shared_enc_find(pub_shared_enc *s, int n, bool all, const uint64_t *sel,
                                            uint32_t sent, uint32_t frame_max, bool parts);

/* Records bytes[0..len) as that encoding (the same key as _find), if there
 * is room (PUB_SHARED_ENC_MAX) and memory; otherwise keeps nothing. */
void pub_shared_enc_put(pub_shared_enc *s, int n, bool all, const uint64_t *sel, uint32_t sent,
                        uint32_t frame_max, bool parts, const void *bytes, size_t len,
                        uint64_t frames, uint64_t splits);

#endif

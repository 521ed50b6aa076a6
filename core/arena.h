/* arena.h -- a bump allocator for per-batch memory.
 *
 * A mapper decodes a batch of updates into an arena and resets it before the
 * next batch, so the hot path allocates nothing once the arena has grown to
 * the batch's working size. Memory is kept between resets (bounded by the
 * largest batch); allocations are 16-byte aligned. Not thread-safe. */
#ifndef WH_ARENA_H
#define WH_ARENA_H

#include <stddef.h>

typedef struct wh_arena_chunk wh_arena_chunk;

typedef struct wh_arena {
    wh_arena_chunk *head;      /* chunk being filled */
    wh_arena_chunk *chunks;    /* all chunks, for freeing */
    size_t          total;     /* bytes owned by all chunks */
} wh_arena;

#define WH_ARENA_INIT { NULL, NULL, 0 }

/* Returns n bytes valid until the next wh_arena_reset/free, or NULL. */
void *wh_arena_alloc(wh_arena *a, size_t n);

/* Copies n bytes (plus a terminating NUL) into the arena. */
char *wh_arena_strndup(wh_arena *a, const char *s, size_t n);

/* Forgets every allocation; keeps one chunk's memory for reuse. */
void wh_arena_reset(wh_arena *a);

/* Releases all memory. a may be reused afterwards. */
void wh_arena_free(wh_arena *a);

#endif

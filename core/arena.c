/* arena.c -- chunked bump allocation (see arena.h). */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

#define ARENA_CHUNK_MIN (64 * 1024)

struct wh_arena_chunk {
    wh_arena_chunk *next;
    size_t          size;     /* usable bytes in data */
    size_t          used;
    _Alignas(16) unsigned char data[];
};

void *wh_arena_alloc(wh_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    wh_arena_chunk *c = a->head;
    if (c && c->size - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    /* Reuse a later chunk kept by reset if it fits, else allocate. */
    for (c = c ? c->next : NULL; c; c = c->next) {
        if (c->size >= n) {
            c->used = n;
            a->head = c;
            return c->data;
        }
    }
    size_t size = n > ARENA_CHUNK_MIN ? n : ARENA_CHUNK_MIN;
    c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = n;
    /* Insert after head so that reset can walk chunks in fill order. */
    if (a->head) {
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->chunks;
        a->chunks = c;
    }
    a->head = c;
    a->total += size;
    return c->data;
}

char *wh_arena_strndup(wh_arena *a, const char *s, size_t n)
{
    char *p = wh_arena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Keeps the chunks but marks them empty. A chunk far larger than the usual
 * working size (one huge row) is released so memory stays bounded. */
void wh_arena_reset(wh_arena *a)
{
    wh_arena_chunk **pp = &a->chunks;
    while (*pp) {
        wh_arena_chunk *c = *pp;
        if (c->size > 16 * ARENA_CHUNK_MIN) {
            *pp = c->next;
            a->total -= c->size;
            free(c);
            continue;
        }
        c->used = 0;
        pp = &c->next;
    }
    a->head = a->chunks;
}

void wh_arena_free(wh_arena *a)
{
    wh_arena_chunk *c = a->chunks;
    while (c) {
        wh_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = a->chunks = NULL;
    a->total = 0;
}

/* pub_shared_enc.c -- a caravan's per-batch encodings shared by members with the same selection (see pub_shared_enc.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "publisher/pub_shared_enc.h"

static uint32_t words_for(int n)
{
    return (uint32_t)(((size_t)n + 63) / 64);
}

/* Makes *bits hold at least words words; false on out of memory. */
static bool bits_reserve(uint64_t **bits, uint32_t *cap, uint32_t words)
{
    if (words <= *cap)
        return true;
    uint32_t want = *cap ? *cap : 16;
    while (want < words)
        want *= 2;
    uint64_t *b = realloc(*bits, want * sizeof *b);
    if (!b)
        return false;
    *bits = b;
    *cap = want;
    return true;
}

void pub_shared_enc_init(pub_shared_enc *s)
{
    memset(s, 0, sizeof *s);
}

void pub_shared_enc_free(pub_shared_enc *s)
{
    if (!s)
        return;
    for (uint32_t k = 0; k < PUB_SHARED_ENC_MAX; k++) {
        free(s->e[k].sel);
        wh_buf_free(&s->e[k].bytes);
    }
    free(s->sel);
    memset(s, 0, sizeof *s);
}

void pub_shared_enc_begin(pub_shared_enc *s, const wh_update *ups, int n)
{
    for (uint32_t k = 0; k < s->count; k++) {
        if (s->e[k].bytes.cap > PUB_SHARED_ENC_KEEP)
            wh_buf_free(&s->e[k].bytes);
        else
            wh_buf_reset(&s->e[k].bytes);
    }
    s->count = 0;
    s->ups = ups;
    s->nups = n;
}

uint64_t *pub_shared_enc_selection(pub_shared_enc *s, int n)
{
    assert(n >= 0 && n <= s->nups);
    uint32_t words = words_for(n);
    if (!bits_reserve(&s->sel, &s->selwords, words ? words : 1))
        return NULL;
    memset(s->sel, 0, (words ? words : 1) * sizeof *s->sel);
    return s->sel;
}

static bool same_key(const pub_shared_entry *e, int n, bool all, const uint64_t *sel, uint32_t sent,
                     uint32_t frame_max, bool parts)
{
    if (e->n != n || e->all != all || e->sent != sent || e->frame_max != frame_max ||
        e->parts != parts)
        return false;
    return all || memcmp(e->sel, sel, words_for(n) * sizeof *sel) == 0;
}

const pub_shared_entry *pub_shared_enc_find(pub_shared_enc *s, int n, bool all, const uint64_t *sel,
                                            uint32_t sent, uint32_t frame_max, bool parts)
{
    assert(n <= s->nups);
    for (uint32_t k = 0; k < s->count; k++)
        if (same_key(&s->e[k], n, all, sel, sent, frame_max, parts)) {
            s->hits++;
            return &s->e[k];
        }
    s->misses++;
    return NULL;
}

void pub_shared_enc_put(pub_shared_enc *s, int n, bool all, const uint64_t *sel, uint32_t sent,
                        uint32_t frame_max, bool parts, const void *bytes, size_t len,
                        uint64_t frames, uint64_t splits)
{
    if (s->count == PUB_SHARED_ENC_MAX)
        return;
    pub_shared_entry *e = &s->e[s->count];
    uint32_t words = words_for(n);
    if (!all && !bits_reserve(&e->sel, &e->selwords, words ? words : 1))
        return;
    wh_buf_reset(&e->bytes);
    wh_buf_append(&e->bytes, bytes, len);
    if (!wh_buf_ok(&e->bytes)) {
        wh_buf_free(&e->bytes);
        return;
    }
    if (!all && words)
        memcpy(e->sel, sel, words * sizeof *sel);
    e->n = n;
    e->all = all;
    e->sent = sent;
    e->frame_max = frame_max;
    e->parts = parts;
    e->frames = frames;
    e->splits = splits;
    s->count++;
}

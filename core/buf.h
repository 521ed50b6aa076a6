/* buf.h -- a growable byte buffer for building output (JSON lines, frames).
 *
 * Reused across records: wh_buf_reset keeps the allocation, so a hot loop
 * does not allocate once the buffer has reached its working size. Appends
 * that fail to allocate set buf->oom and become no-ops; check it once at the
 * end with wh_buf_ok(). */
#ifndef WH_BUF_H
#define WH_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct wh_buf {
    char  *data;
    size_t len;
    size_t cap;
    bool   oom;
    bool   borrowed;   /* data is the caller's storage (wh_buf_borrow): never realloc'd or freed */
} wh_buf;

#define WH_BUF_INIT { NULL, 0, 0, false, false }

void wh_buf_free(wh_buf *b);                      /* releases memory; b can be reused */
bool wh_buf_reserve_slow(wh_buf *b, size_t extra);
void wh_buf_printf(wh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Starts b empty over the caller's storage mem[0..cap): appends go there, with
 * no allocation, while they fit (with the NUL); the first that does not fit
 * moves the contents to the heap, which b then owns as usual. Either way
 * release b with wh_buf_free (it never frees mem), and compare b->data with
 * mem to know where the text is. */
static inline void wh_buf_borrow(wh_buf *b, char *mem, size_t cap)
{
    b->data = cap ? mem : NULL;
    b->len = 0;
    b->cap = cap;
    b->oom = false;
    b->borrowed = cap != 0;
    if (cap)
        mem[0] = '\0';
}

static inline bool wh_buf_reserve(wh_buf *b, size_t extra)
{
    return (b->cap - b->len > extra) ? true : wh_buf_reserve_slow(b, extra);
}
static inline void wh_buf_reset(wh_buf *b) { b->len = 0; b->oom = false; }
static inline bool wh_buf_ok(const wh_buf *b) { return !b->oom; }

static inline void wh_buf_append(wh_buf *b, const void *p, size_t n)
{
    if (n == 0 || !wh_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void wh_buf_puts(wh_buf *b, const char *s) { wh_buf_append(b, s, strlen(s)); }
static inline void wh_buf_putc(wh_buf *b, char c)
{
    if (!wh_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

#endif

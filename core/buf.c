/* buf.c -- growth and formatted appends for wh_buf. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"

void wh_buf_free(wh_buf *b)
{
    if (!b->borrowed)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    b->borrowed = false;
}

/* Grows to at least len + extra + 1 (room for a terminating NUL), doubling. */
bool wh_buf_reserve_slow(wh_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    size_t need = b->len + extra + 1;
    if (need < b->len) {
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = b->borrowed ? malloc(cap) : realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    if (b->borrowed) {               /* leave the caller's storage: copy what is there */
        memcpy(p, b->data, b->len);
        b->borrowed = false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void wh_buf_printf(wh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !wh_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

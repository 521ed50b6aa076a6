/* msgpack.h -- the MessagePack writer (to a wh_buf) and bounds-checked reader used by the push protocol.
 *
 * Only what the protocol needs: nil, bool, integers, floats, str, bin,
 * array, map and ext, each written in its shortest form (except
 * mp_put_array32, whose count is patched later).
 *
 * The reader never trusts its input: every length and count is checked
 * against the bytes that remain (an array of n needs at least n bytes, a map
 * 2n), so nothing is allocated in proportion to a count before the bytes
 * backing it have been seen.
 *
 * Threads: all functions are reentrant; a wh_buf or mp_reader is used by one
 * thread at a time. */
#ifndef WH_MSGPACK_H
#define WH_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

/* ---- writing (appends to b; failures set b->oom, see core/buf.h) ------------------ */

/* The writers of the short forms (small integers, short strings, small
 * arrays and maps, nil, bool) are inline: an UPDATES frame is mostly made
 * of them (bench/pipeline). The _any functions write any value, in its
 * shortest form; call the inline names. */
void mp_put_uint_any(wh_buf *b, uint64_t v);
void mp_put_int_any(wh_buf *b, int64_t v);
void mp_put_str_any(wh_buf *b, const char *s, size_t len);
void mp_put_array_any(wh_buf *b, uint32_t n);
void mp_put_map_any(wh_buf *b, uint32_t n);

/* One byte, straight into b when it has room (and for the NUL that wh_buf keeps). */
static inline void mp_put_byte(wh_buf *b, uint8_t c)
{
    if (b->cap - b->len > 1) {
        b->data[b->len++] = (char)c;
        b->data[b->len] = '\0';
    } else {
        wh_buf_putc(b, (char)c);
    }
}

static inline void mp_put_nil(wh_buf *b) { mp_put_byte(b, 0xc0); }
static inline void mp_put_bool(wh_buf *b, bool v) { mp_put_byte(b, v ? 0xc3 : 0xc2); }

static inline void mp_put_uint(wh_buf *b, uint64_t v)
{
    if (v < 128)
        mp_put_byte(b, (uint8_t)v);
    else
        mp_put_uint_any(b, v);
}

static inline void mp_put_int(wh_buf *b, int64_t v)
{
    if (v >= 0 && v < 128)
        mp_put_byte(b, (uint8_t)v);
    else
        mp_put_int_any(b, v);
}

static inline void mp_put_str(wh_buf *b, const char *s, size_t len)
{
    if (len < 32 && b->cap - b->len > len + 1) {
        b->data[b->len] = (char)(0xa0 | len);
        if (len)
            memcpy(b->data + b->len + 1, s, len);
        b->len += len + 1;
        b->data[b->len] = '\0';
    } else {
        mp_put_str_any(b, s, len);
    }
}

static inline void mp_put_array(wh_buf *b, uint32_t n)
{
    if (n <= 15)
        mp_put_byte(b, (uint8_t)(0x90 | n));
    else
        mp_put_array_any(b, n);
}

static inline void mp_put_map(wh_buf *b, uint32_t n)
{
    if (n <= 15)
        mp_put_byte(b, (uint8_t)(0x80 | n));
    else
        mp_put_map_any(b, n);
}

void mp_put_float(wh_buf *b, float v);
void mp_put_double(wh_buf *b, double v);
void mp_put_cstr(wh_buf *b, const char *s);   /* NULL writes nil */
void mp_put_bin(wh_buf *b, const void *p, size_t len);
/* Only the header of a bin of len bytes; the caller appends the bytes. */
void mp_put_bin_header(wh_buf *b, uint32_t len);
void mp_put_ext(wh_buf *b, int8_t type, const void *p, uint32_t len);

/* An array header in its 5-byte form whatever n is, so that the count can
 * be patched once known: returns its offset in b for mp_patch_array32. */
size_t mp_put_array32(wh_buf *b, uint32_t n);
/* Rewrites the count of the array32 header at offset at (b must be ok). */
void mp_patch_array32(wh_buf *b, size_t at, uint32_t n);

/* ---- reading ------------------------------------------------------------------------ */

typedef struct mp_reader {
    const uint8_t *p, *end;
} mp_reader;

/* Kinds of the next object, from its first byte. */
typedef enum mp_kind {
    MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT32, MP_FLOAT64, MP_STR, MP_BIN,
    MP_ARRAY, MP_MAP, MP_EXT, MP_BAD
} mp_kind;

/* Kind of the next object; MP_BAD at the end of input or on byte 0xc1. */
mp_kind mp_peek(const mp_reader *r);

/* Each reader returns true and advances on success, false (not advancing)
 * if the next object is of another kind or is truncated. Strings and bins
 * point into the input (not NUL-terminated). */
bool mp_get_uint(mp_reader *r, uint64_t *v);     /* any non-negative integer */
bool mp_get_int(mp_reader *r, int64_t *v);       /* any integer fitting int64 */
bool mp_get_double(mp_reader *r, double *v);     /* float32 or float64 */
bool mp_get_str(mp_reader *r, const char **s, uint32_t *len);
bool mp_get_bin(mp_reader *r, const uint8_t **p, uint32_t *len);
bool mp_get_array(mp_reader *r, uint32_t *n);    /* n <= bytes remaining */
bool mp_get_map(mp_reader *r, uint32_t *n);      /* 2n <= bytes remaining */
bool mp_get_ext(mp_reader *r, int8_t *type, const uint8_t **p, uint32_t *len);
/* Skips one object (nesting at most depth levels). */
bool mp_skip(mp_reader *r, int depth);

/* The short forms are read inline (a subscriber decodes mostly those); the
 * functions above read every form. */
static inline bool mp_get_nil(mp_reader *r)
{
    if (r->p >= r->end || *r->p != 0xc0)
        return false;
    r->p++;
    return true;
}

static inline bool mp_get_bool(mp_reader *r, bool *v)
{
    if (r->p >= r->end || (*r->p != 0xc2 && *r->p != 0xc3))
        return false;
    *v = *r->p++ == 0xc3;
    return true;
}

static inline bool mp_get_fixuint(mp_reader *r, uint64_t *v)
{
    if (r->p < r->end && *r->p <= 0x7f) {
        *v = *r->p++;
        return true;
    }
    return mp_get_uint(r, v);
}

static inline bool mp_get_fixint(mp_reader *r, int64_t *v)
{
    if (r->p < r->end && (*r->p <= 0x7f || *r->p >= 0xe0)) {
        *v = (int8_t)*r->p++;
        return true;
    }
    return mp_get_int(r, v);
}

static inline bool mp_get_fixstr(mp_reader *r, const char **s, uint32_t *len)
{
    if (r->p < r->end && (*r->p & 0xe0) == 0xa0) {
        uint32_t n = *r->p & 0x1f;
        if ((size_t)(r->end - r->p) - 1 < n)
            return false;
        *s = (const char *)r->p + 1;
        *len = n;
        r->p += 1 + n;
        return true;
    }
    return mp_get_str(r, s, len);
}

static inline bool mp_get_fixarray(mp_reader *r, uint32_t *n)
{
    if (r->p < r->end && (*r->p & 0xf0) == 0x90) {
        uint32_t k = *r->p & 0x0f;
        if ((size_t)(r->end - r->p) - 1 < k)
            return false;
        *n = k;
        r->p++;
        return true;
    }
    return mp_get_array(r, n);
}

static inline bool mp_get_fixmap(mp_reader *r, uint32_t *n)
{
    if (r->p < r->end && (*r->p & 0xf0) == 0x80) {
        uint32_t k = *r->p & 0x0f;
        if (((size_t)(r->end - r->p) - 1) / 2 < k)
            return false;
        *n = k;
        r->p++;
        return true;
    }
    return mp_get_map(r, n);
}

#endif

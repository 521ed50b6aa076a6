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

#include "core/buf.h"

/* ---- writing (appends to b; failures set b->oom, see core/buf.h) ------------------ */

void mp_put_nil(wh_buf *b);
void mp_put_bool(wh_buf *b, bool v);
void mp_put_uint(wh_buf *b, uint64_t v);
void mp_put_int(wh_buf *b, int64_t v);
void mp_put_float(wh_buf *b, float v);
void mp_put_double(wh_buf *b, double v);
void mp_put_str(wh_buf *b, const char *s, size_t len);
void mp_put_cstr(wh_buf *b, const char *s);   /* NULL writes nil */
void mp_put_bin(wh_buf *b, const void *p, size_t len);
/* Only the header of a bin of len bytes; the caller appends the bytes. */
void mp_put_bin_header(wh_buf *b, uint32_t len);
void mp_put_array(wh_buf *b, uint32_t n);
void mp_put_map(wh_buf *b, uint32_t n);
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
bool mp_get_nil(mp_reader *r);
bool mp_get_bool(mp_reader *r, bool *v);
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

#endif

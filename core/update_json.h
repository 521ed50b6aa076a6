/* update_json.h -- the JSON line form of an update (docs/UPDATES.md).
 *
 * Rendering is a hand-written streaming writer rather than jansson's object
 * tree: it allocates nothing per update (the caller's wh_buf is reused) and
 * keeps unsigned 64-bit integers exact, which jansson's json_int_t cannot.
 * Applications reach the same renderer through the public wh_update_json
 * and wh_update_json_alloc (include/wormhole/json.h, defined in
 * update_json.c); the functions here are internal and not exported. */
#ifndef WH_UPDATE_JSON_H
#define WH_UPDATE_JSON_H

#include "core/buf.h"
#include "wormhole/error.h"
#include "wormhole/position.h"   /* wh_position_physical/logical: the text forms */
#include "wormhole/update.h"

/* Appends u as one JSON object followed by '\n' to out. Returns 0, or
 * WH_ERR_NOMEM if out could not grow (out->oom is set and the partial line
 * is dropped). */
int wh_update_to_json(const wh_update *u, wh_buf *out);

/* Appends one value in its JSON form (see docs/UPDATES.md). ABSENT renders
 * as nothing; callers skip absent columns. */
void wh_json_put_value(wh_buf *out, const wh_value *v);

/* Appends s as a JSON string literal (quoted, escaped). Invalid UTF-8 bytes
 * are written as U+FFFD; values of type STRING are valid UTF-8 by contract.
 * Here and in wh_json_put_value, a failure to grow sets out->oom and
 * appends nothing. */
void wh_json_put_string(wh_buf *out, const char *s, size_t len);

/* ---- the JSON string escaper of the whole tree -----------------------------
 * The body of a JSON string literal (no quotes): '"' and '\\' escaped with a
 * backslash, "\\n", "\\r", "\\t", other controls as "\\u00xx", DEL and
 * valid UTF-8 as they are, each byte of invalid UTF-8 as U+FFFD. Scans 16
 * bytes at a time for the bytes that need work. */

/* Writes "\\b" and "\\f" for backspace and form feed (as MySQL and the
 * filter printer do) instead of "\\u0008" and "\\u000c". */
#define WH_JSON_ESC_BF 0x1u

/* Bytes wh_json_escape may store past the end of the text it writes. */
#define WH_JSON_ESC_SLACK 8

/* Appends the escaped body of s to out. A failure to grow sets out->oom
 * and appends nothing. */
void wh_json_put_escaped(wh_buf *out, const char *s, size_t len, unsigned flags);

/* The length of the escaped body of s, exactly as wh_json_escape writes it. */
size_t wh_json_escaped_len(const char *s, size_t len, unsigned flags);

/* Writes the escaped body of s at dst, which must have room for
 * wh_json_escaped_len(s, len, flags) + WH_JSON_ESC_SLACK bytes (escapes are
 * stored 8 bytes at a time); returns the end of the text. Writes no NUL. */
char *wh_json_escape(char *dst, const char *s, size_t len, unsigned flags);

#endif

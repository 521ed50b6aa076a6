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

/* Formats a position's text forms ("FILE:OFFSET/INDEX" or "SEQ/INDEX";
 * "GTID/INDEX"). Return the length, or 0 if the logical part is unknown. */
size_t wh_position_physical(const wh_position *p, char *buf, size_t buflen);
size_t wh_position_logical(const wh_position *p, char *buf, size_t buflen);

#endif

/* update_json.h -- the JSON line form of an update (docs/UPDATES.md).
 *
 * Rendering is a hand-written streaming writer rather than jansson's object
 * tree: it allocates nothing per update (the caller's wh_buf is reused) and
 * keeps unsigned 64-bit integers exact, which jansson's json_int_t cannot. */
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

#endif
